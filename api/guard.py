"""The refusals that come before anything reads a request, in this order (docs/api.md):

1. **413** a body over the limit: from its `Content-Length` at once, before auth and before a
   byte of it is read; a body without one (chunked) is cut off with 413 as soon as it passes
   the limit.
2. **401 / 403** the bearer token of a route that needs one: before the body is parsed, so a
   caller without a token learns nothing about what a valid body looks like.
3. **429** over the token's rate limit (`TICKETCLOCK_RATE_LIMIT` per minute, a burst of
   `TICKETCLOCK_RATE_BURST`), with `Retry-After`.

Only then does the route parse and check the request (422). Every refusal is the JSON error
shape. The route dependencies (`api.auth.require`) check the token again: they document the
scheme in OpenAPI and keep a route safe if it is ever mounted without this layer.

Also here: the access-log filter that keeps token-like query parameters out of the logs.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import SESSION_SCOPE, cookie_value, find_token, required_scope, session_token
from api.errors import ApiError, TrackedSend, error_response
from plumbing.redact import redact_query
from plumbing.settings import ApiToken, Settings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20


class BodyTooLarge(StarletteHTTPException):
    """A body (without Content-Length) that went past the limit while being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body: larger than {limit} bytes")


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "PayloadTooLarge",
        f"body: larger than {limit} bytes",
        field="body",
        headers={"Connection": "close"},
    )


# -- rate limits -------------------------------------------------------------------------------
class RateLimiter:
    """A token bucket per API token (by name: configured tokens only, so the table is bounded).

    `per_minute` requests a minute refill continuously, up to `burst` at once. One process's
    view: several API replicas each allow the rate.
    """

    def __init__(
        self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, at)
        self._lock = threading.Lock()

    def acquire(self, name: str) -> float:
        """0 if the request may go; else the seconds until it could."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(name, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return 0.0
            self._buckets[name] = (tokens, now)
            return (1.0 - tokens) / self.rate


def rate_limiter(settings: Settings) -> RateLimiter | None:
    if settings.rate_limit <= 0:
        return None
    return RateLimiter(settings.rate_limit, settings.rate_burst)


# -- the middleware ----------------------------------------------------------------------------
@dataclass
class _Counter:
    limit: int
    seen: int = 0


class RequestGuard:
    """Pure ASGI, outside the routes and their exception handlers (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limiter = limiter
        self._rules: tuple[_Rule, ...] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await _answer(refusal, scope, receive, send)
            return
        counter = _Counter(self.max_body_bytes)

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                counter.seen += len(message.get("body", b""))
                if counter.seen > counter.limit:
                    raise BodyTooLarge(counter.limit)
            return message

        sent = TrackedSend(send)
        try:
            await self.app(scope, counted_receive, sent)
        except BodyTooLarge:
            # Read by something that does not answer it itself (FastAPI's routes do).
            if sent.started:
                raise
            await _answer(too_large(self.max_body_bytes), scope, receive, send)

    def _refusal(self, scope: Scope) -> ApiError | None:
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            return too_large(self.max_body_bytes)
        app: Any = scope.get("app")
        if app is None:
            return None
        if self._rules is None:  # on the first request: every route is declared by then
            self._rules = route_rules(app)
        needed = _scope_needed(self._rules, scope)
        if needed is None:
            return None
        token = _token(scope, app.state.settings)
        no_bearer = _header(scope, b"authorization") is None
        if isinstance(token, ApiError) and no_bearer and needed == SESSION_SCOPE:
            # No bearer token: a browser's read-only session cookie (api/auth.py) may do.
            cookie = cookie_value(_header(scope, b"cookie"))
            token = session_token(cookie, app.state.settings.api_tokens) or token
        if isinstance(token, ApiError):
            return token
        if needed not in token.scopes:
            log.info("token %r lacks scope %s for %s", token.name, needed, scope.get("path"))
            return ApiError(403, "Forbidden", f"this token lacks the {needed!r} scope")
        if self.limiter is not None:
            wait = self.limiter.acquire(token.name)
            if wait > 0:
                retry = max(1, math.ceil(wait))
                log.info("token %r over its rate limit on %s", token.name, scope.get("path"))
                return ApiError(
                    429,
                    "RateLimited",
                    f"too many requests for this token; retry in {retry} s",
                    headers={"Retry-After": str(retry)},
                )
        return None


async def _answer(error: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(
        error.status, error.type, error.message, field=error.field, headers=error.headers
    )
    await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1").strip())
    return None


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "Unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def _token(scope: Scope, settings: Settings) -> ApiToken | ApiError:
    header = _header(scope, b"authorization") or ""
    scheme, _, presented = header.partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        return _unauthorized("missing bearer token (Authorization: Bearer <token>)")
    token = find_token(presented, settings.api_tokens)
    if token is None:
        log.info("rejected an unknown bearer token on %s", scope.get("path"))
        return _unauthorized("invalid bearer token")
    return token


@dataclass(frozen=True)
class _Rule:
    path: re.Pattern[str]
    methods: frozenset[str]
    scope: str


def route_rules(app: Any) -> tuple[_Rule, ...]:
    """Every route that needs a token: its path regex, methods and the scope it requires."""
    rules = []
    for context in iter_route_contexts(app.routes):
        needed = required_scope(context.original_route)
        path, methods = context.path, context.methods
        if needed is None or not isinstance(path, str) or not methods:
            continue
        regex, _, _ = compile_path(path)
        rules.append(_Rule(regex, frozenset(methods), needed))
    return tuple(rules)


def _scope_needed(rules: tuple[_Rule, ...], scope: Scope) -> str | None:
    """The scope the route serving this request requires (None: no such route, or no token)."""
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    method = scope.get("method", "")
    for rule in rules:
        if rule.path.match(path):
            return rule.scope if method in rule.methods else None
    return None


# -- access log --------------------------------------------------------------------------------
class RedactTokens(logging.Filter):
    """On uvicorn's access logger: token-like query parameters never reach a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str) and not record.args:
            record.msg = redact_query(record.msg)
        return True


def install_access_log_filter(logger_name: str = "uvicorn.access") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
