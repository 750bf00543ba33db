"""The Temporal Web UI as an operator sees a ticket, checked in a real (headless) Chromium.

A dev server with its UI, the worker and the API; one ticket opened and acted on through the API.
Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`): no extra
package, no downloaded browser. The pages must show the ticket's summary and details, the
current-details clock table and the first_response timer's summary.

The screenshot of the User Metadata page lands in the test's tmp dir; with
UPDATE_SCREENSHOTS=1 it also replaces docs/ui-ticket.png (shown in the README).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from plumbing.binaries import temporal_cli
from plumbing.processes import free_port
from tests.support.api import ALL, Served, api_settings
from ticketclock.worker import build_worker
from workflows.contract import SEARCH_ATTRIBUTES, ticket_workflow_id

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
DOC_SCREENSHOT = ROOT / "docs" / "ui-ticket.png"
KEY = "ZD-48213"  # this test's own server: a readable key for the screenshot
PAGE_PATIENCE_S = 30.0
VIEWPORT = {"width": 1400, "height": 900}


# -- Chromium --------------------------------------------------------------------------------------
def _which_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium() -> str:
    """Chromium's path, or a skip: the tests never install anything (`make browser` does)."""
    found = _which_chromium()
    if found is None:
        pytest.skip(
            "Chromium is not installed (no `chromium` or `chromium-browser` on PATH): "
            "`make browser` installs it (as root, with apt-get); `make test` runs it first"
        )
    return found


class DevTools:
    """A headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4)."""

    def __init__(self, executable: str, profile: str) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def pipes_on_3_and_4() -> None:
            # Move both ends above any fd they could clobber, then onto 3 and 4 (inheritable).
            read_end = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.proc = subprocess.Popen(
            [
                executable,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            pass_fds=(3, 4),
            preexec_fn=pipes_on_3_and_4,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "TZ": "UTC", "LANG": "en_US.UTF-8"},
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._id = 0
        self.session: str | None = None

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> Any:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" not in self._buffer:
                left = deadline - time.monotonic()
                ready, _, _ = select.select([self._from_chrome], [], [], max(left, 0))
                if not ready:
                    raise TimeoutError(f"Chromium did not answer {method} in {timeout} s")
                chunk = os.read(self._from_chrome, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"Chromium exited (code {self.proc.poll()})")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:  # anything else is an event: not needed here
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def open_tab(self) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"})
        attached = self.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        self.session = attached["sessionId"]
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {**VIEWPORT, "deviceScaleFactor": 1, "mobile": False},
        )

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result["result"].get("value")

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.call("Browser.close", timeout=10)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


# The page's text, and that of its same-origin frames (the UI renders markdown in iframes).
PAGE_TEXT = """(() => {
  const texts = [document.body ? document.body.innerText : ""];
  for (const frame of document.querySelectorAll("iframe")) {
    try { texts.push(frame.contentDocument.body.innerText); } catch (e) {}
  }
  return {url: location.href, text: texts.join("\\n")};
})()"""


@dataclass
class Page:
    url: str
    text: str


def visit(browser: DevTools, url: str, ready: Callable[[str], bool]) -> Page:
    """Load `url` and wait until its text satisfies `ready` (the UI is a single-page app)."""
    browser.call("Page.navigate", {"url": url})
    deadline = time.monotonic() + PAGE_PATIENCE_S
    while True:
        time.sleep(0.5)
        page = Page(**browser.evaluate(PAGE_TEXT))
        if ready(page.text) or time.monotonic() > deadline:
            return page


# -- the stack -------------------------------------------------------------------------------------
@dataclass
class Ui:
    base: str
    client: Client
    api: httpx.AsyncClient


@pytest.fixture
async def ui() -> AsyncIterator[Ui]:
    ui_port = free_port()
    env = await WorkflowEnvironment.start_local(
        ui=True,
        ui_port=ui_port,
        dev_server_existing_path=temporal_cli(),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
    )
    settings = api_settings("ui-browser")

    async def client_factory() -> Client:
        return env.client

    try:
        async with (
            build_worker(env.client, settings),
            Served(create_app(settings, client_factory)) as served,
            httpx.AsyncClient(
                base_url=served.url, headers={"Authorization": f"Bearer {ALL}"}, timeout=30
            ) as api,
        ):
            yield Ui(f"http://127.0.0.1:{ui_port}", env.client, api)
    finally:
        await env.shutdown()


async def test_a_ticket_in_the_web_ui(ui: Ui, tmp_path: Path) -> None:
    executable = await asyncio.to_thread(chromium)

    # A Sev1 ticket, answered and handed to engineering: three clocks to show.
    body = {
        "key": KEY,
        "policy": "confluence-health-check",
        "tier": "standard",
        "severity": "sev1",
        "customer": {"name": "Acme Corp"},
        "channel": "portal",
        "subject": "Confluence is down for the EU team",
        "opened_at": (datetime.now(UTC) - timedelta(minutes=20)).isoformat(),
    }
    created = await ui.api.post("/v1/tickets", json=body)
    assert created.status_code == 201, created.text
    eta = (datetime.now(UTC) + timedelta(minutes=45)).isoformat()
    acted = await ui.api.post(
        f"/v1/tickets/{KEY}/acknowledge",
        json={"actor": "agent:jane", "message": "On it", "next_update_eta": eta},
    )
    assert acted.status_code == 200, acted.text
    acted = await ui.api.post(f"/v1/tickets/{KEY}/engineering-ack", json={"actor": "eng:oncall"})
    assert acted.status_code == 200, acted.text
    view = acted.json()
    first = next(c for c in view["clocks"] if c["clock"] == "first_response")
    incident = next(c for c in view["clocks"] if c["clock"] == "incident_commander")
    warning = first["warnings"][0]
    timer_summary = f"first_response warning ({warning['label']}) at {warning['text']} — Sev1, 24h"
    summary = "confluence-health-check standard Sev1: Confluence is down for the EU team"

    wid = ticket_workflow_id(KEY)
    run_id = (await ui.client.get_workflow_handle(wid).describe()).run_id
    run_url = f"{ui.base}/namespaces/default/workflows/{wid}/{run_id}"
    shot = tmp_path / "ui-ticket.png"

    def browse() -> dict[str, Page]:
        profile = tempfile.mkdtemp(dir=tmp_path)
        browser = DevTools(executable, profile)
        try:
            browser.open_tab()
            pages = {
                # The ticket's own address opens its latest run on the Timeline tab.
                "timeline": visit(
                    browser,
                    f"{ui.base}/namespaces/default/workflows/{wid}",
                    lambda text: timer_summary in text,
                ),
                "history": visit(
                    browser,
                    f"{run_url}/history",
                    lambda text: "Timer Started" in text and timer_summary in text,
                ),
                "metadata": visit(
                    browser,
                    f"{run_url}/user-metadata",
                    lambda text: summary in text and incident["due_text"] in text,
                ),
            }
            png = browser.call("Page.captureScreenshot", {"format": "png"})["data"]
            shot.write_bytes(base64.b64decode(png))
            return pages
        finally:
            browser.close()

    pages = await asyncio.to_thread(browse)

    timeline = pages["timeline"]
    assert timeline.url.startswith(f"{run_url}/timeline"), timeline.url
    assert timer_summary in timeline.text, timeline.text[-2000:]
    assert "compute_deadline" in timeline.text

    history = pages["history"]
    assert "Timer Started" in history.text
    assert timer_summary in history.text, history.text[-2000:]

    metadata = pages["metadata"].text
    for wanted in (
        summary,  # the static summary the API sets
        f"Ticket {KEY}",  # the static details (markdown, rendered)
        "Current Details",
        "clock\t#\tstatus\tdue\ttarget",  # the current-details table's header...
        f"first_response\t1\tmet\t{first['due_text']}\t24h",  # ...and its rows
        f"incident_commander\t1\trunning\t{incident['due_text']}\t15m",
        "next_update\t1\trunning",
    ):
        assert wanted in metadata, f"{wanted!r} not on the User Metadata page:\n{metadata}"

    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOC_SCREENSHOT.write_bytes(png)
