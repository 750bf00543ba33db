"""Bearer tokens with scopes, from settings (`TICKETCLOCK_API_TOKENS`, `TICKETCLOCK_DEV_TOKEN`).

Every configured token is compared, in constant time, on every request, so timing tells nothing
about which (or whether a) token matched. A token value is never logged nor echoed in an error;
logs name the token's `name` only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from plumbing.settings import ApiToken

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="An API token from TICKETCLOCK_API_TOKENS.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _digest(value: str) -> bytes:
    # Equal-length digests, so compare_digest does not even leak the token's length.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def find_token(presented: str, tokens: tuple[ApiToken, ...]) -> ApiToken | None:
    """The configured token equal to `presented`, checking all of them whatever matches first."""
    wanted = _digest(presented)
    found: ApiToken | None = None
    for token in tokens:
        if hmac.compare_digest(wanted, _digest(token.token)) and found is None:
            found = token
    return found


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "Unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def is_loopback(host: str | None) -> bool:
    """Whether `host` is a loopback IP address (a name, even 'localhost', is not)."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bearer_scope(
    request: Request,
    scope: str,
    *,
    missing: str,
    logger: logging.Logger,
    who: str,
    headers: Mapping[str, str] | None = None,
) -> ApiToken:
    """The configured token the request's `Authorization: Bearer ...` presents, if it has `scope`.

    401 with `missing` (and `WWW-Authenticate: Bearer`) when there is no bearer token, 401 for an
    unknown one (logged on `logger` as `who`'s), 403 for one without `scope`; `headers` go on
    each of those answers.
    """
    extra = dict(headers or {})
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiError(
            401, "Unauthorized", missing, headers={"WWW-Authenticate": "Bearer", **extra}
        )
    token = find_token(presented.strip(), request.app.state.settings.api_tokens)
    if token is None:
        logger.info("%s: rejected an unknown bearer token", who)
        raise ApiError(401, "Unauthorized", "invalid bearer token", headers=extra)
    if scope not in token.scopes:
        raise ApiError(403, "Forbidden", f"this token lacks the {scope!r} scope", headers=extra)
    return token


# -- browser sessions ------------------------------------------------------------------------------
# A browser signs in once (POST /signin with a token) and then holds this cookie: HttpOnly (no
# script reads it), SameSite=Strict (no other site's page sends it), read scope only, 8 hours.
# Stateless: the cookie names the token and its expiry, signed with the token's own value, so
# every API replica checks it and removing the token from the settings ends its sessions.
SESSION_COOKIE = "ticketclock_session"
SESSION_SCOPE = "tickets:read"
SESSION_SECONDS = 8 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _session_mac(token: ApiToken, payload: str) -> bytes:
    key = hashlib.sha256(b"ticketclock session\0" + token.token.encode("utf-8", "surrogatepass"))
    return hmac.new(key.digest(), payload.encode(), hashlib.sha256).digest()


def issue_session(token: ApiToken, now: float | None = None) -> str:
    """The cookie value for a browser signed in with `token` (which must carry the read scope)."""
    expires = int((time.time() if now is None else now) + SESSION_SECONDS)
    payload = _b64(json.dumps({"n": token.name, "e": expires}, separators=(",", ":")).encode())
    return f"{payload}.{_b64(_session_mac(token, payload))}"


def session_token(
    value: str | None, tokens: tuple[ApiToken, ...], now: float | None = None
) -> ApiToken | None:
    """The read-only identity a session cookie stands for; None when absent, forged or expired."""
    if not value or len(value) > 1024 or value.count(".") != 1:
        return None
    payload, mac = value.split(".")
    try:
        claims = json.loads(_unb64(payload))
        presented = _unb64(mac)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("n"), str):
        return None
    expires = claims.get("e")
    if not isinstance(expires, int) or expires < (time.time() if now is None else now):
        return None
    found: ApiToken | None = None
    for token in tokens:  # every token compared, as for bearer tokens
        if token.name == claims["n"] and hmac.compare_digest(
            presented, _session_mac(token, payload)
        ):
            found = found or token
    if found is None or SESSION_SCOPE not in found.scopes:
        return None
    return ApiToken(found.name, found.token, frozenset({SESSION_SCOPE}))


def cookie_value(header: str | None, name: str = SESSION_COOKIE) -> str | None:
    """One cookie's value from a Cookie header."""
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip()
    return None


def require(scope: str) -> Callable[[Request, Credentials], Awaitable[ApiToken]]:
    """A dependency admitting requests whose bearer token carries `scope` (401 / 403 otherwise)."""

    async def check(request: Request, credentials: Credentials) -> ApiToken:
        if (credentials is None or not credentials.credentials) and scope == SESSION_SCOPE:
            tokens = request.app.state.settings.api_tokens
            session = session_token(request.cookies.get(SESSION_COOKIE), tokens)
            if session is not None:
                return session
        if credentials is None or not credentials.credentials:
            raise _unauthorized("missing bearer token (Authorization: Bearer <token>)")
        token = find_token(credentials.credentials, request.app.state.settings.api_tokens)
        if token is None:
            log.info("rejected an unknown bearer token on %s", request.url.path)
            raise _unauthorized("invalid bearer token")
        if scope not in token.scopes:
            log.info("token %r lacks scope %s for %s", token.name, scope, request.url.path)
            raise ApiError(403, "Forbidden", f"this token lacks the {scope!r} scope")
        return token

    check.required_scope = scope  # type: ignore[attr-defined]  # read by `required_scope`
    return check


def required_scope(route: Any) -> str | None:
    """The scope a route's `require(...)` dependency asks for; None if it needs no token."""
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant is not None else []
    while stack:
        dependency = stack.pop()
        needed = getattr(dependency.call, "required_scope", None)
        if isinstance(needed, str):
            return needed
        stack.extend(dependency.dependencies)
    return None


CanCreate = Annotated[ApiToken, Depends(require("tickets:create"))]
CanAct = Annotated[ApiToken, Depends(require("tickets:act"))]
CanRead = Annotated[ApiToken, Depends(require("tickets:read"))]
