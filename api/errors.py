"""One error shape for every failure: `{"error": {"type", "message", "field"}}`.

Handlers raise `ApiError` (or let a gateway/policy error through); the handlers installed here turn
each into its status code. Nothing reaches the client as a traceback: an unexpected exception is
logged server-side and answered with a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.bounds import OutOfBounds
from api.temporal_gateway import (
    ActionRefused,
    InvalidPageToken,
    TemporalUnavailable,
    TicketExists,
    TicketNotFound,
)
from policies.errors import PolicyError
from workflows.contract import InvalidTicketKey

log = logging.getLogger(__name__)

RETRY_AFTER_S = "5"
# FastAPI's 400 detail when a request body cannot be read as JSON text at all.
BODY_PARSE_FAILED = "There was an error parsing the body"


class ApiError(Exception):
    """An answer other than 2xx, raised from a handler."""

    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


def error_response(
    status: int,
    type: str,
    message: str,
    *,
    field: str | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"type": type, "message": message, "field": field}
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status, headers=dict(headers or {}))


def field_path(loc: Sequence[int | str]) -> str:
    """`("body", "customer", "timezone")` -> `customer.timezone`; `("query", "x")` -> `x`."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    if not parts:
        return "body"
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _validation_message(field: str, raw: str) -> str:
    message = raw.removeprefix("Value error, ")
    return message if message.startswith(f"{field}:") else f"{field}: {message}"


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Input values are left out on purpose: they may be large, and they are the caller's own data.
    details = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            # loc is ("body", <character offset>): the field is the body itself.
            at = err.get("loc", ("body", "?"))[-1]
            why = (err.get("ctx") or {}).get("error", "invalid JSON")
            details.append({"field": "body", "message": f"body: not JSON ({why} at {at})"})
            continue
        field = field_path(err.get("loc", ()))
        details.append({"field": field, "message": _validation_message(field, err.get("msg", ""))})
    first = details[0] if details else {"field": "body", "message": "body: invalid request"}
    return error_response(
        422, "ValidationError", first["message"], field=first["field"], details=details
    )


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.type, exc.message, field=exc.field, headers=exc.headers)


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        headers = {**(exc.headers or {}), "Allow": _allowed_methods(request)}
        message = f"method {request.method} not allowed here; allowed: {headers['Allow']}"
        return error_response(405, "MethodNotAllowed", message, headers=headers)
    if exc.status_code == 400 and exc.detail == BODY_PARSE_FAILED:
        # FastAPI's answer to a body that is not even text (say, invalid UTF-8): bad input like
        # any other, so 422 naming the body, as documented for every route that takes one.
        message = "body: not JSON (it could not be decoded as UTF-8 text)"
        return error_response(422, "ValidationError", message, field="body")
    kinds = {404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}
    headers = dict(exc.headers or {})
    if exc.status_code == 413:
        headers["Connection"] = "close"  # the rest of the body is not read
    return error_response(
        exc.status_code,
        kinds.get(exc.status_code, "HttpError"),
        str(exc.detail),
        field="body" if exc.status_code == 413 else None,
        headers=headers,
    )


async def _policy_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PolicyError)
    return error_response(422, "PolicyError", str(exc), field=exc.field)


async def _out_of_bounds(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OutOfBounds)
    return error_response(422, "ValidationError", str(exc), field=exc.field)


async def _invalid_key(_: Request, exc: Exception) -> JSONResponse:
    return error_response(422, "ValidationError", str(exc), field="key")


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TicketNotFound)
    return error_response(404, "TicketNotFound", f"key: no ticket {exc.key!r}", field="key")


async def _exists(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TicketExists)
    return error_response(
        409,
        "TicketExists",
        f"key: ticket {exc.key!r} already exists with a different request body",
        field="key",
    )


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ActionRefused)
    return error_response(409, exc.type, exc.message, field=exc.field)


async def _bad_cursor(_: Request, exc: Exception) -> JSONResponse:
    message = "cursor: not a cursor this API handed out for these filters"
    return error_response(422, "ValidationError", message, field="cursor")


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.warning("Temporal unavailable: %s", exc)
    return error_response(
        503,
        "TemporalUnavailable",
        "Temporal is unreachable or did not answer in time; retry shortly",
        headers={"Retry-After": RETRY_AFTER_S},
    )


def install_error_handlers(app: FastAPI) -> None:
    handlers = {
        RequestValidationError: _validation_error,
        ApiError: _api_error,
        StarletteHTTPException: _http_error,
        PolicyError: _policy_error,
        InvalidTicketKey: _invalid_key,
        OutOfBounds: _out_of_bounds,
        TicketNotFound: _not_found,
        TicketExists: _exists,
        ActionRefused: _refused,
        InvalidPageToken: _bad_cursor,
        TemporalUnavailable: _unavailable,
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)
    app.add_middleware(CatchAllMiddleware)


class TrackedSend:
    """An ASGI `send` that notes whether the response has started (its headers went out), after
    which an error can no longer be answered with a response of its own."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class CatchAllMiddleware:
    """Answers an unhandled exception with a 500 JSON body carrying no details, and logs it.

    Pure ASGI, inside Starlette's own error middleware, so the exception stops here: the client
    never sees a traceback and the server logs it once.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = TrackedSend(send)
        try:
            await self.app(scope, receive, sent)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if sent.started:
                raise
            response = error_response(500, "InternalError", "internal error")
            await response(scope, receive, send)
