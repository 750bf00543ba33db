"""End to end: `ticketclock dev` (what `make run` runs) through real HTTP, a real dev server and
a real worker, twice on one data dir, stopped by Ctrl-C and by a child's death."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from plumbing.processes import free_ports, listening

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Stack:
    """One `ticketclock dev` run: its process and everything it printed so far."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    fresh: queue.Queue[str] = field(default_factory=queue.Queue)

    def pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self.fresh.put(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, needle: str, timeout: float = START_TIMEOUT_S) -> None:
        end = time.monotonic() + timeout
        while needle not in self.text:
            if self.proc.poll() is not None and self.fresh.empty():
                time.sleep(0.2)  # let the reader finish
                if needle in self.text:
                    return
                pytest.fail(f"`ticketclock dev` exited ({self.proc.returncode}):\n{self.text}")
            if time.monotonic() > end:
                pytest.fail(f"no {needle!r} after {timeout}s:\n{self.text}")
            with contextlib.suppress(queue.Empty):
                self.fresh.get(timeout=0.2)

    def banner_value(self, pattern: str) -> str:
        match = re.search(pattern, self.text)
        assert match, f"{pattern!r} not in the output:\n{self.text}"
        return match.group(1)

    def child_pids(self) -> dict[str, int]:
        return {
            m.group(1): int(m.group(2))
            for m in re.finditer(r"started (\w+) \(pid (\d+)\)", self.text)
        }

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        """Ctrl-C in a terminal: the signal goes to the supervisor's whole process group."""
        os.killpg(self.proc.pid, sig)
        return self.wait()

    def wait(self) -> int:
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`ticketclock dev` did not stop in {STOP_TIMEOUT_S}s:\n{self.text}")


@contextlib.contextmanager
def dev_stack(env: dict[str, str]) -> Iterator[Stack]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ticketclock.cli", "dev"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    stack = Stack(proc)
    reader = threading.Thread(target=stack.pump, daemon=True)
    reader.start()
    try:
        yield stack
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        for pid in stack.child_pids().values():  # never leave a stray server behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        reader.join(timeout=5)


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    api, temporal, ui = free_ports(3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETCLOCK_")}
    env.update(
        TICKETCLOCK_DATA_DIR=str(tmp_path / "data"),
        TICKETCLOCK_API_PORT=str(api),
        TICKETCLOCK_TEMPORAL_PORT=str(temporal),
        TICKETCLOCK_UI_PORT=str(ui),
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
    )
    return env


def _ports(env: dict[str, str]) -> list[int]:
    return [int(env[f"TICKETCLOCK_{n}_PORT"]) for n in ("API", "TEMPORAL", "UI")]


def _assert_all_gone(stack: Stack, env: dict[str, str]) -> None:
    pids = stack.child_pids()
    assert set(pids) == {"temporal", "worker", "api"}, stack.text
    end = time.monotonic() + 10
    while time.monotonic() < end and (
        any(alive(p) for p in pids.values()) or any(listening(p) for p in _ports(env))
    ):
        time.sleep(0.2)
    assert [name for name, pid in pids.items() if alive(pid)] == [], stack.text
    assert [port for port in _ports(env) if listening(port)] == [], stack.text


def _ready(api: str) -> None:
    assert httpx.get(f"{api}/healthz", timeout=5).status_code == 200
    end = time.monotonic() + 30
    while True:
        reply = httpx.get(f"{api}/readyz", timeout=5)
        if reply.status_code == 200 or time.monotonic() > end:
            break
        time.sleep(0.5)
    assert reply.status_code == 200, reply.text


def test_dev_stack_serves_stops_and_keeps_tickets(stack_env: dict[str, str]) -> None:
    # First run: the printed curl's body opens a ticket; Ctrl-C stops every child; exit 0.
    with dev_stack(stack_env) as stack:
        stack.wait_for("dev stack is up")
        api = stack.banner_value(r"API\s+(http://\S+)")
        assert stack.banner_value(r"OpenAPI docs\s+(\S+)") == f"{api}/docs"
        assert f"Temporal UI    http://127.0.0.1:{stack_env['TICKETCLOCK_UI_PORT']}" in stack.text
        token = stack.banner_value(r"Dev token \(all scopes[^\n]*\n\s+(\S+)")
        body = json.loads(stack.banner_value(r"-d '(\{.*\})'"))
        assert f"curl -sS -X POST {api}/v1/tickets" in stack.text
        token_file = Path(stack_env["TICKETCLOCK_DATA_DIR"]) / "dev.token"
        assert token_file.read_text().strip() == token  # for `make demo`
        assert token_file.stat().st_mode & 0o077 == 0
        _ready(api)
        auth = {"Authorization": f"Bearer {token}"}
        created = httpx.post(f"{api}/v1/tickets", json=body, headers=auth, timeout=30)
        assert created.status_code == 201, created.text
        ticket = created.json()
        assert ticket["key"] == body["key"]
        assert ticket["policy"] == body["policy"]

        # `make demo` finds the running stack and its token on its own.
        demo = subprocess.run(
            [sys.executable, "-m", "ticketclock.cli", "demo", "--per-policy", "2"],
            cwd=ROOT,
            env=stack_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert f"DEMO-{body['policy']}-1" in demo.stdout

        assert stack.stop(signal.SIGINT) == 0, stack.text
        assert "stopped" in stack.lines[-1], stack.text
        _assert_all_gone(stack, stack_env)
        assert not token_file.exists()

    # Second run on the same data dir: the ticket is still there, still running.
    with dev_stack(stack_env) as stack:
        stack.wait_for("dev stack is up")
        token2 = stack.banner_value(r"Dev token \(all scopes[^\n]*\n\s+(\S+)")
        assert token2 != token  # generated per run unless TICKETCLOCK_DEV_TOKEN is set
        _ready(api)
        again = httpx.get(
            f"{api}/v1/tickets/{body['key']}",
            headers={"Authorization": f"Bearer {token2}"},
            timeout=30,
        )
        assert again.status_code == 200, again.text
        assert again.json()["opened_at"] == ticket["opened_at"]
        assert again.json()["status"] == ticket["status"]

        # A child dying stops the others; the exit is non-zero and names it.
        os.kill(stack.child_pids()["worker"], signal.SIGKILL)
        assert stack.wait() == 1, stack.text
        assert "worker exited unexpectedly (killed by SIGKILL)" in stack.text
        _assert_all_gone(stack, stack_env)


def test_dev_stack_refuses_a_busy_port(stack_env: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", int(stack_env["TICKETCLOCK_API_PORT"])))
        busy.listen()
        with dev_stack(stack_env) as stack:
            assert stack.wait() == 2
            stack.wait_for("TICKETCLOCK_API_PORT", timeout=5)
            assert "started" not in stack.text
