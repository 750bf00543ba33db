"""Child processes that never outlive their parent, free ports and the dev server's command line.

One supervisor design for `ticketclock dev` (ticketclock/devstack.py), the benchmarks and the
drills (harness/stack.py):

- every child runs in its own session, so its whole process group can be signalled and, after a
  timeout, killed;
- on Linux every child is also told to terminate if its parent disappears (PR_SET_PDEATHSIG), by a
  tiny exec wrapper that sets the flag and then exec's the real command, so the pid stays the real
  command's. No `preexec_fn`: it runs Python between fork and exec, which is unsafe once the parent
  has threads (an SMTP or webhook receiver, the Temporal SDK's runtime).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

_EXEC_WRAPPER = """\
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    os._exit(1)
os.execvp(sys.argv[2], sys.argv[2:])
"""


def die_with_parent(argv: Sequence[str]) -> list[str]:
    """`argv` behind the death-signal wrapper (Linux; elsewhere `argv` as is).

    The signal goes when the *thread* that started the child ends: start children from the main
    thread (or one that lives as long as they should)."""
    if not sys.platform.startswith("linux"):
        return list(argv)
    return [sys.executable, "-c", _EXEC_WRAPPER, str(os.getpid()), *argv]


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    stdout: int | IO[bytes],
    cwd: str | Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` (no shell) in its own session, dying with us; stderr joins `stdout`.

    A command that does not exist raises `FileNotFoundError` here, as `Popen` would without the
    wrapper, rather than as a child that exits at once."""
    if shutil.which(argv[0], path=env.get("PATH", os.defpath)) is None:
        raise FileNotFoundError(errno.ENOENT, "no such executable", argv[0])
    return subprocess.Popen(  # noqa: S603 - our own argv, no shell
        die_with_parent(argv),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=cwd,
    )


def signal_group(proc: subprocess.Popen[bytes] | None, sig: int) -> None:
    """`sig` to the child's whole process group (it leads its own session); gone is fine."""
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def signal_one(proc: subprocess.Popen[bytes] | None, sig: int) -> None:
    """`sig` to the child alone (a drill's `kill -9` of one process); gone is fine."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """`n` distinct ports nobody listens on right now (all held open until all are chosen)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (also handy for "connection refused" tests)."""
    return free_ports(1, host)[0]


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on `host:port` right now."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def dev_server_argv(
    cli: str,
    *,
    db: Path,
    port: int,
    search_attribute_flags: Sequence[str],
    ui_port: int | None = None,
    namespace: str = "default",
    log_level: str = "warn",
) -> list[str]:
    """`temporal server start-dev` on 127.0.0.1 with a SQLite file in WAL mode.

    `search_attribute_flags` are the contract's `--search-attribute Name=Type` flags
    (workflows.contract.search_attribute_cli_flags: passed in, plumbing imports nothing of ours).
    No `ui_port`: headless."""
    argv = [cli, "server", "start-dev", "--db-filename", str(db), "--port", str(port)]
    argv += ["--ui-port", str(ui_port)] if ui_port is not None else ["--headless"]
    argv += ["--ip", "127.0.0.1", "--log-level", log_level]
    argv += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=1"]
    argv += list(search_attribute_flags)
    if namespace != "default":
        argv += ["--namespace", namespace]
    return argv


def exit_status(returncode: int) -> str:
    """`exit code N` or `killed by SIGNAME`."""
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"
