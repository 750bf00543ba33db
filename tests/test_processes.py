"""The one process supervisor (plumbing/processes.py) and the CLI's command groups.

`ticketclock dev`, the benchmarks and the drills start their children through `spawn`: each in its
own session, dying with its parent (PR_SET_PDEATHSIG, set by an exec wrapper rather than a
`preexec_fn`, which is unsafe once threads run). Checked here with real processes.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.receivers import WebhookReceiver
from plumbing.processes import (
    dev_server_argv,
    exit_status,
    free_ports,
    listening,
    signal_group,
    spawn,
)
from ticketclock import cli

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (dead, not yet reaped by its new parent) counts as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _execd(pid: int, command: bytes = b"sleep", timeout: float = 10.0) -> bool:
    """Whether the wrapper has exec'd the real command (same pid) within `timeout`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == command:
            return True
        time.sleep(0.02)
    return False


# A parent that spawns `sleep 60` through `spawn`, prints the child's pid, then waits to be killed.
_PARENT = """\
import subprocess, sys, time
from plumbing.processes import spawn
child = spawn(["sleep", "60"], env={"PATH": "/usr/bin:/bin"}, stdout=subprocess.DEVNULL)
print(child.pid, flush=True)
time.sleep(60)
"""


@linux_only
def test_a_child_dies_with_its_parent(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _alive(child)
        # The pid is the real command's, not the wrapper's.
        assert _execd(child)
        parent.kill()
        parent.wait(timeout=10)
        assert _wait_gone(child), f"child {child} outlived its parent"
    finally:
        parent.kill()
        parent.wait(timeout=10)


@linux_only
def test_spawning_while_threads_run_still_ties_the_child_to_us() -> None:
    """The situation `preexec_fn` is unsafe in: a receiver's threads are running."""
    with WebhookReceiver():
        assert threading.active_count() > 1
        child = spawn(["sleep", "60"], env={"PATH": "/usr/bin:/bin"}, stdout=subprocess.DEVNULL)
        try:
            assert _execd(child.pid), "the pid is the real command's"
            assert os.getsid(child.pid) == child.pid, "the child leads its own session"
            status = Path(f"/proc/{child.pid}/status").read_text()
            assert f"PPid:\t{os.getpid()}\n" in status
        finally:
            signal_group(child, signal.SIGKILL)
            assert child.wait(timeout=10) == -signal.SIGKILL


def test_a_missing_command_fails_at_spawn() -> None:
    with pytest.raises(FileNotFoundError):
        spawn(["no-such-command-here"], env={"PATH": "/usr/bin:/bin"}, stdout=subprocess.DEVNULL)


def test_free_ports_are_distinct_and_unused() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    assert not any(listening(p) for p in ports)


def test_the_dev_server_command_line() -> None:
    argv = dev_server_argv(
        "temporal",
        db=Path("/tmp/x.sqlite"),
        port=7233,
        search_attribute_flags=["--search-attribute", "A=Keyword"],
    )
    assert argv[:3] == ["temporal", "server", "start-dev"]
    assert "--headless" in argv and "--ui-port" not in argv
    pragmas = [argv[i + 1] for i, a in enumerate(argv) if a == "--sqlite-pragma"]
    assert pragmas == ["journal_mode=wal", "synchronous=1"]
    assert argv[argv.index("--search-attribute") + 1] == "A=Keyword"
    with_ui = dev_server_argv(
        "temporal",
        db=Path("/tmp/x.sqlite"),
        port=7233,
        ui_port=8233,
        namespace="tickets",
        search_attribute_flags=[],
    )
    assert with_ui[with_ui.index("--ui-port") + 1] == "8233" and "--headless" not in with_ui
    assert with_ui[with_ui.index("--namespace") + 1] == "tickets"


def test_exit_status_names_the_signal() -> None:
    assert exit_status(-signal.SIGKILL) == "killed by SIGKILL"
    assert exit_status(3) == "exit code 3"


def test_the_cli_registers_every_group() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = set(sub.choices)
    assert {"policy", "dev", "worker", "api", "tickets", "demo", "report"} <= commands


def test_a_missing_command_group_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    """It used to be dropped without a word (the command simply was not there)."""
    monkeypatch.setattr(cli, "_GROUPS", (*cli._GROUPS, "ticketclock.cli_gone"))
    with pytest.raises(ModuleNotFoundError, match="ticketclock.cli_gone"):
        cli.build_parser()
