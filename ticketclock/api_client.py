"""The one HTTP client for ticketclock's own API, used by every CLI command that talks to it.

`ticketclock tickets`, `ticketclock demo` and `ticketclock report` differ in what they ask and how
they word a refusal; how they reach the API (base URL, bearer token, timeout), what a transport
failure says and how an error body is read are here, once.

    with ApiClient(url, token) as api:
        reply = api.request("GET", "/v1/tickets")   # httpx.Response, any status
        if not reply.is_success:
            kind, message, field = error_parts(reply)

A transport failure (nothing listening, a timeout, a URL that is not http(s)) raises
`ApiUnreachable` with one line naming the URL and TICKETCLOCK_API_URL.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx

DEFAULT_TIMEOUT_S = 30.0


class ApiUnreachable(Exception):
    """No answer from the API at all; the message is one line saying what to check."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _reason(exc: Exception) -> str:
    text = str(exc)
    return "connection refused" if "refused" in text.lower() else (text or type(exc).__name__)


class ApiClient:
    """ticketclock's API at `url` (no trailing /v1) with a bearer `token`."""

    def __init__(self, url: str, token: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        try:
            self.http = httpx.Client(
                base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
            )
        except httpx.InvalidURL as exc:
            raise ApiUnreachable(f"TICKETCLOCK_API_URL: {url!r} is not a URL ({exc})") from None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request (`kwargs` as httpx takes them); any status comes back as a response."""
        try:
            return self.http.request(method, path, **kwargs)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise ApiUnreachable(
                f"TICKETCLOCK_API_URL: {self.url!r} is not an http(s) URL ({exc})"
            ) from None
        except httpx.ConnectError as exc:
            raise ApiUnreachable(
                f"cannot reach the API at {self.url} ({_reason(exc)}); is it running? "
                "Check TICKETCLOCK_API_URL"
            ) from None
        except httpx.TimeoutException:
            raise ApiUnreachable(
                f"the API at {self.url} did not answer within {self.timeout:g} s"
            ) from None
        except httpx.TransportError as exc:
            raise ApiUnreachable(
                f"cannot reach the API at {self.url} ({_reason(exc)}); check TICKETCLOCK_API_URL"
            ) from None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def error_parts(reply: httpx.Response) -> tuple[str, str, str | None]:
    """(type, message, field) of an API error body (`{"error": {...}}`); the status text when the
    answer is not one (a proxy's HTML page, say)."""
    try:
        error = reply.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if not isinstance(error, dict):
        text = " ".join(reply.text.split())[:200] or reply.reason_phrase
        return reply.reason_phrase or "Error", text, None
    field = error.get("field")
    return (
        str(error.get("type") or "Error"),
        str(error.get("message") or reply.reason_phrase),
        field if isinstance(field, str) else None,
    )


def error_text(reply: httpx.Response) -> str:
    """The message of an API error body, or the start of whatever came back instead."""
    return error_parts(reply)[1]
