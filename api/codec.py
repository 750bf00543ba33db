"""The codec server: Temporal's remote codec protocol, so the UI and the CLI show decoded payloads.

    POST /codec/decode   {"payloads": [{"metadata": {...base64...}, "data": "<base64>"}, ...]}
    POST /codec/encode   the same shape; the answer has as many payloads, in the same order

Point the Temporal UI at it (`temporal server start-dev --ui-codec-endpoint
http://127.0.0.1:8000/codec`, or the UI's "Codec Server" setting) and the CLI
(`temporal workflow show --codec-endpoint http://127.0.0.1:8000/codec`). The keys are the API's
own `TICKETCLOCK_CODEC_KEYS`; the API port needs nothing new.

Who may call it: decoding reveals ticket data, so a caller on the loopback interface (the dev UI in
the operator's browser, the CLI on the same machine) needs no token, when it sends no `Origin`
(the CLI) or the dev UI's own origin (`http://127.0.0.1:<TICKETCLOCK_UI_PORT>` or localhost);
any other caller needs a bearer token with `tickets:read` (the CLI's `--codec-auth "Bearer ..."`)
or, with no `Authorization` header, the board's session cookie (`/signin`; read scope): a UI
started with `TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true` on the same site sends it.
Answers carry the CORS headers the UI needs (it calls from its own origin, with `X-Namespace` and
possibly credentials); preflight `OPTIONS` is answered without a token.

A payload the keys cannot open is a 400 naming why (unknown key id, tampered), and is counted in
`ticketclock_codec_failures`: never passed through as if decoded.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.auth import SESSION_COOKIE, check_bearer_scope, is_loopback, session_token
from api.errors import ApiError
from plumbing.codec import CodecError, EncryptionCodec, is_encrypted
from plumbing.temporal_client import codec as make_codec

log = logging.getLogger(__name__)

router = APIRouter(prefix="/codec", include_in_schema=False)

READ_SCOPE = "tickets:read"
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Namespace",
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Max-Age": "600",
    "Vary": "Origin",
}


def _codec(request: Request) -> EncryptionCodec | None:
    state = request.app.state
    if not hasattr(state, "codec"):
        state.codec = make_codec(state.settings)
    codec: EncryptionCodec | None = state.codec
    return codec


def _cors(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin")
    return {**CORS_HEADERS, "Access-Control-Allow-Origin": origin} if origin else {}


def _loopback(host: str | None) -> bool:
    return is_loopback(host) or host == "localhost"


def _dev_ui_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser: the CLI or a script on this machine
    parts = urlsplit(origin)
    return _loopback(parts.hostname) and parts.port == request.app.state.settings.ui_port


def _authorize(request: Request) -> None:
    client = request.client.host if request.client else None
    if _loopback(client) and _dev_ui_origin(request):
        return
    tokens = request.app.state.settings.api_tokens
    header = request.headers.get("authorization", "")
    if not header and session_token(request.cookies.get(SESSION_COOKIE), tokens) is not None:
        return  # the board's session cookie: read scope, as a bearer token with tickets:read
    check_bearer_scope(
        request,
        READ_SCOPE,
        missing="the codec server needs a bearer token with tickets:read (or the board's session"
        " cookie, from /signin) from this address",
        logger=log,
        who="codec server",
        headers=_cors(request),
    )


async def _payloads(request: Request) -> Payloads:
    body = await request.body()
    try:
        return json_format.Parse(body or b"{}", Payloads(), ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError) as exc:
        raise ApiError(
            422,
            "ValidationError",
            f'body: not {{"payloads": [...]}} ({exc})',
            field="body",
            headers=_cors(request),
        ) from None


def _answer(request: Request, payloads: Payloads) -> Response:
    return Response(
        json_format.MessageToJson(payloads, indent=None),
        media_type="application/json",
        headers=_cors(request),
    )


@router.options("/{operation}")
async def preflight(request: Request, operation: str) -> Response:
    return Response(status_code=200, headers=_cors(request))


@router.post("/decode")
async def decode(request: Request) -> Response:
    _authorize(request)
    payloads = await _payloads(request)
    codec = _codec(request)
    try:
        if codec is None:
            if any(is_encrypted(p) for p in payloads.payloads):
                raise CodecError(
                    "unknown_key", "payload is encrypted but TICKETCLOCK_CODEC_KEYS is not set"
                )
            decoded = list(payloads.payloads)
        else:
            decoded = [codec.decrypt(p) for p in payloads.payloads]
    except CodecError as exc:
        log.warning("codec server: cannot decode (%s): %s", exc.reason, exc)
        raise ApiError(400, "CodecError", str(exc), headers=_cors(request)) from None
    return _answer(request, Payloads(payloads=decoded))


@router.post("/encode")
async def encode(request: Request) -> Response:
    _authorize(request)
    payloads = await _payloads(request)
    codec = _codec(request)
    encoded = (
        list(payloads.payloads) if codec is None else [codec.encrypt(p) for p in payloads.payloads]
    )
    return _answer(request, Payloads(payloads=encoded))
