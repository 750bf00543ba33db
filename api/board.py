"""The operator's board (`/board`), browser sign-in (`/signin`, `/signout`) and offline API docs.

The board answers "what breaches next, and what already did?": breached tickets, then the
ones at risk (warned, or under an hour left), then the rest by next deadline, each with a
countdown and a link to its Temporal UI page; filters by policy, rank and tier; it refreshes
itself. Its data come from `GET /v1/tickets` with the browser's session cookie.

A browser never puts a token in a URL: `/signin` exchanges a token (typed into a form) for an
HttpOnly, SameSite=Strict session cookie good for the read scope only (api/auth.py).

Every page and asset is served from here: no script, style, font or image from another host
(Swagger UI comes from the pinned `swagger-ui-bundle-v2` package).
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from api.auth import (
    SESSION_COOKIE,
    SESSION_SCOPE,
    SESSION_SECONDS,
    find_token,
    issue_session,
    session_token,
)
from plumbing.settings import Settings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
SIGNIN_FORM_MAX = 8192

# Pages with our own script only: nothing inline, nothing from elsewhere.
BOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Swagger UI's page starts it with an inline script (FastAPI's template); its files are ours.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


def mount_assets(app: object) -> None:
    """/static (the board's files) and /docs-assets (Swagger UI's), both from this machine."""
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")


def temporal_ui_url(settings: Settings) -> str:
    return (settings.temporal_ui_url or f"http://127.0.0.1:{settings.ui_port}").rstrip("/")


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/board"
    return target


def _page(title: str, body: str, *, script: bool = False) -> str:
    js = '<script src="/static/board.js" defer></script>' if script else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/board.css">
{js}
</head>
<body>
{body}
</body>
</html>
"""


def _html(text: str, status: int = 200, csp: str = BOARD_CSP) -> HTMLResponse:
    return HTMLResponse(
        text,
        status_code=status,
        headers={
            "Content-Security-Policy": csp,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _signed_in(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return session_token(request.cookies.get(SESSION_COOKIE), settings.api_tokens) is not None


def _signin_form(next_path: str, error: str | None = None) -> str:
    problem = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return _page(
        "Sign in · ticketclock",
        f"""<main class="signin">
<h1>ticketclock</h1>
<p>Sign in with an API token that has the <code>tickets:read</code> scope (<code>make run</code>
prints its dev token). The browser keeps a read-only session for 8 hours; the token itself is
not stored.</p>
{problem}
<form method="post" action="/signin">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required
 autofocus>
<input type="hidden" name="next" value="{escape(next_path)}">
<button type="submit">Sign in</button>
</form>
</main>""",
    )


@router.get("/signin")
async def signin_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _html(_signin_form(_safe_next(next)))


@router.post("/signin")
async def signin(request: Request) -> Response:
    raw = await request.body()
    if len(raw) > SIGNIN_FORM_MAX:
        return _html(_signin_form("/board", "The form is too large."), 413)
    form = parse_qs(raw.decode("utf-8", "replace"), max_num_fields=4)
    presented = (form.get("token") or [""])[0].strip()
    next_path = _safe_next((form.get("next") or [""])[0])
    settings: Settings = request.app.state.settings
    token = find_token(presented, settings.api_tokens) if presented else None
    if token is None or SESSION_SCOPE not in token.scopes:
        log.info("browser sign-in refused (%s)", "no such token" if token is None else "scope")
        message = (
            "That token is not valid."
            if token is None
            else "That token lacks the tickets:read scope."
        )
        return _html(_signin_form(next_path, message), 401)
    log.info("browser signed in with token %r (read only)", token.name)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issue_session(token),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/signout")
async def signout() -> Response:
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/board", status_code=303)


@router.get("/board")
async def board(request: Request) -> Response:
    if not _signed_in(request):
        return RedirectResponse(f"/signin?next={quote('/board')}", status_code=303)
    settings: Settings = request.app.state.settings
    ui = escape(temporal_ui_url(settings))
    namespace = escape(settings.temporal_namespace)
    body = f"""<header>
<h1>What breaches next</h1>
<nav>
<a href="/v1/reports/sla.html">SLA report</a>
<a href="/docs">API docs</a>
<a href="{ui}/namespaces/{namespace}/workflows">Temporal UI</a>
<form method="post" action="/signout"><button type="submit">Sign out</button></form>
</nav>
</header>
<main id="board" data-ui="{ui}" data-namespace="{namespace}">
<form id="filters" class="filters">
<label>Policy <select name="policy"><option value="">all</option></select></label>
<label>Rank <select name="rank"><option value="">all</option>
<option value="1">1 (most urgent)</option><option value="2">2</option>
<option value="3">3</option><option value="4">4</option></select></label>
<label>Tier <select name="tier"><option value="">all</option></select></label>
<span id="status" class="muted" aria-live="polite">loading…</span>
</form>
<section>
<h2>Breached <span id="breached-count" class="count"></span></h2>
<table id="breached"><thead><tr><th>Ticket</th><th>Policy</th><th>Severity</th>
<th>Tier</th><th>Breached clocks</th><th>Next deadline</th><th>Time left</th><th></th></tr>
</thead><tbody></tbody></table>
</section>
<section>
<h2>Due next <span id="due-count" class="count"></span></h2>
<table id="due"><thead><tr><th>Ticket</th><th>Policy</th><th>Severity</th><th>Tier</th>
<th>Clock</th><th>Due</th><th>Time left</th><th>Business time left</th><th>State</th><th></th>
</tr></thead><tbody></tbody></table>
</section>
<p class="muted">At risk: a warning went out or under an hour is left. Refreshes every 15 s;
time left counts down each second. Rank is the common urgency across policies (1: P1, Sev1,
Urgent); each policy's own name is shown.</p>
</main>"""
    return _html(_page("Board · ticketclock", body, script=True))


@router.get("/docs")
async def docs(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title="ticketclock API",
        swagger_js_url="/docs-assets/swagger-ui-bundle.js",
        swagger_css_url="/docs-assets/swagger-ui.css",
        swagger_favicon_url="/docs-assets/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )
    return _html(bytes(page.body).decode(), csp=DOCS_CSP)
