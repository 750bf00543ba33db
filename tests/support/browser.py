"""A real headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`):
no extra package, no downloaded browser. Installed by `make browser`; missing, the test skips.
Used by tests/test_ui_browser.py and tests/test_codec_browser.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

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


def table_text(text: str) -> str:
    """A page's text with the current-details table's em-space gaps (workflows/views.py) taken
    out, so its cells read `first_response\t1\tmet`, as innerText separates them."""
    return re.sub(r"[\u2003 ]*\t[\u2003 ]*", "\t", text)
