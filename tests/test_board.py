"""The board's pages, browser sign-in and offline docs, in-process (issue 16).

A browser reaches the board and the HTML report without a token in a URL: a sign-in form turns
a token into an HttpOnly, SameSite=Strict cookie good for reading only. No page the API serves
loads a script, style, font or image from another host. (tests/test_ui_browser.py drives the
same pages in headless Chromium against a real stack.)
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from hypothesis import given
from hypothesis import strategies as st

from api.app import create_app
from api.auth import SESSION_COOKIE, issue_session, session_token
from plumbing.settings import ApiToken
from tests.support.api import ALL, READER, api_settings
from tests.support.fakes import FakeGateway

WRITER = "e2e-write-only-token-0123456789"
FORM = {"content-type": "application/x-www-form-urlencoded"}
BASE = "http://board.test"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings("board")
    writer = ApiToken("writer", WRITER, frozenset({"tickets:create"}))
    settings = type(settings)(**{**settings.__dict__, "api_tokens": (*settings.api_tokens, writer)})
    app = create_app(settings, gateway=FakeGateway())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def sign_in(http: httpx.AsyncClient, token: str, next_path: str = "/board") -> httpx.Response:
    return await http.post("/signin", data={"token": token, "next": next_path})


async def test_the_board_asks_a_browser_to_sign_in_and_never_takes_a_token_in_the_url(
    http: httpx.AsyncClient,
) -> None:
    first = await http.get("/board")
    assert first.status_code == 303 and first.headers["location"] == "/signin?next=/board"
    form = await http.get("/signin", params={"next": "/board"})
    assert form.status_code == 200
    assert 'method="post"' in form.text and 'type="password"' in form.text
    signed = await sign_in(http, READER)
    assert signed.status_code == 303 and signed.headers["location"] == "/board"
    assert READER not in signed.headers["location"]
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert READER not in cookie  # the token is not in the cookie either
    page = await http.get("/board")
    assert page.status_code == 200 and "What breaches next" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_a_session_reads_and_only_reads(http: httpx.AsyncClient) -> None:
    await sign_in(http, ALL)  # even a token with every scope gives the browser reading only
    listed = await http.get("/v1/tickets", params={"rank": "1"})
    assert listed.status_code == 200, listed.text
    report = await http.get("/v1/reports/sla.html")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    created = await http.post("/v1/tickets", json={"key": "X-1"})
    assert created.status_code == 401
    acted = await http.post("/v1/tickets/X-1/acknowledge", json={"actor": "a"})
    assert acted.status_code == 401
    await http.post("/signout")
    assert (await http.get("/v1/tickets")).status_code == 401


async def test_sign_in_refuses_unknown_and_unreadable_tokens(http: httpx.AsyncClient) -> None:
    bad = await sign_in(http, "not-a-token-at-all-0000")
    assert bad.status_code == 401 and "not valid" in bad.text and "set-cookie" not in bad.headers
    writer = await sign_in(http, WRITER)
    assert writer.status_code == 401 and "tickets:read" in writer.text
    assert "set-cookie" not in writer.headers


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "\\\\evil", "x"])
async def test_sign_in_goes_nowhere_but_this_site(http: httpx.AsyncClient, target: str) -> None:
    signed = await sign_in(http, READER, target)
    assert signed.status_code == 303 and signed.headers["location"] == "/board"


async def test_the_order_of_refusals_holds_for_a_session(http: httpx.AsyncClient) -> None:
    await sign_in(http, READER)
    big = await http.request(
        "GET", "/v1/tickets", content=b"x" * (2 << 20), headers={"content-type": "text/plain"}
    )
    assert big.status_code == 413  # the body limit first, cookie or not
    forged = httpx.Cookies({SESSION_COOKIE: "eyJuIjoiZTJlIiwiZSI6OTk5OTk5OTk5OX0.AAAA"})
    http.cookies = forged
    assert (await http.get("/v1/tickets")).status_code == 401


TOKENS = (ApiToken("reader", READER, frozenset({"tickets:read"})),)


def test_a_session_expires_and_survives_no_byte_changed() -> None:
    now = time.time()
    value = issue_session(TOKENS[0], now=now)
    assert session_token(value, TOKENS, now=now + 60) is not None
    assert session_token(value, TOKENS, now=now + 9 * 3600) is None  # 8 hours
    other = (ApiToken("reader", "another-reader-token-0123456789", frozenset({"tickets:read"})),)
    assert session_token(value, other, now=now) is None  # the token changed: sessions end


@given(st.integers(0, 200), st.integers(1, 255))
def test_any_changed_byte_breaks_a_session(position: int, flip: int) -> None:
    value = issue_session(TOKENS[0], now=1_000_000.0)
    raw = bytearray(value.encode())
    index = position % len(raw)
    raw[index] = (raw[index] ^ flip) or 1
    changed = raw.decode("latin-1")
    if changed != value:
        assert session_token(changed, TOKENS, now=1_000_001.0) is None


# -- offline: nothing from another host ------------------------------------------------------------
class Refs(HTMLParser):
    """Every URL a page would load: scripts, styles, icons, images, fonts, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "srcset", "poster", "data"):
            if found.get(name):
                self.urls.append(str(found[name]))
        if tag == "link" and found.get("href"):
            self.urls.append(str(found["href"]))
        if found.get("style"):
            self.inline.append(str(found["style"]))
        self._in_script = tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline.append(data)


CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)|@import\s+['"]([^'"]+)""")
PAGES = ("/board", "/signin", "/docs", "/v1/reports/sla.html")


def _foreign(url: str, page: str) -> bool:
    absolute = urljoin(BASE + page, url.strip())
    parts = urlsplit(absolute)
    return parts.scheme not in ("data", "blob") and parts.netloc != urlsplit(BASE).netloc


def _get_paths(app: object) -> list[str]:
    """Every GET route without path parameters the app serves."""
    paths = []
    for context in iter_route_contexts(app.routes):  # type: ignore[attr-defined]
        path, methods = context.path, context.methods or set()
        if isinstance(path, str) and "GET" in methods and "{" not in path:
            paths.append(path)
    return paths


async def test_no_page_loads_anything_from_another_host(http: httpx.AsyncClient) -> None:
    await sign_in(http, READER)
    app = http._transport.app  # type: ignore[attr-defined]
    html_pages = []
    for path in _get_paths(app):
        reply = await http.get(path)
        if reply.headers.get("content-type", "").startswith("text/html"):
            html_pages.append(path)
    assert set(PAGES) <= set(html_pages), html_pages
    for page in html_pages:
        reply = await http.get(page)
        assert reply.status_code == 200, (page, reply.text[:200])
        refs = Refs()
        refs.feed(reply.text)
        if page != "/v1/reports/sla.html":  # the report is self-contained: it loads nothing
            assert refs.urls, f"{page} loads nothing? the parser missed its assets"
        foreign = [u for u in refs.urls if _foreign(u, page)]
        for text in refs.inline:  # inline CSS and the docs' start-up script
            foreign += [
                m[0] or m[1] for m in CSS_URL.finditer(text) if _foreign(m[0] or m[1], page)
            ]
            foreign += re.findall(r"""['"](https?://[^'"]+)['"]""", text)
        assert not foreign, f"{page} loads from another host: {foreign}"
        for url in refs.urls:  # each asset is served here, and a stylesheet loads nothing foreign
            asset = await http.get(urljoin(page, url))
            assert asset.status_code == 200, url
            if url.endswith(".css"):
                urls = [m[0] or m[1] for m in CSS_URL.finditer(asset.text)]
                assert not [u for u in urls if _foreign(u, url)], (url, urls)
    assert (await http.get("/redoc")).status_code == 404  # FastAPI's CDN ReDoc page is gone


async def test_the_docs_are_swagger_ui_from_the_pinned_package(http: httpx.AsyncClient) -> None:
    page = await http.get("/docs")
    assert "/docs-assets/swagger-ui-bundle.js" in page.text and "cdn" not in page.text.lower()
    bundle = await http.get("/docs-assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 500_000
    assert "validatorUrl" in page.text  # no validator badge image from validator.swagger.io
