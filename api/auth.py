"""Bearer tokens with scopes, from settings (`TICKETCLOCK_API_TOKENS`, `TICKETCLOCK_DEV_TOKEN`).

Every configured token is compared, in constant time, on every request, so timing tells nothing
about which (or whether a) token matched. A token value is never logged nor echoed in an error;
logs name the token's `name` only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
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


def require(scope: str) -> Callable[[Request, Credentials], Awaitable[ApiToken]]:
    """A dependency admitting requests whose bearer token carries `scope` (401 / 403 otherwise)."""

    async def check(request: Request, credentials: Credentials) -> ApiToken:
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
