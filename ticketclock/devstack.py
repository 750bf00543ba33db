"""`ticketclock dev`: the Temporal dev server, a worker and the API as one supervised group.

The supervisor is single-threaded: one loop relays every child's output (prefixed by its name),
notices a child that dies, and reacts to SIGINT/SIGTERM. Each child runs in its own session so the
whole process group can be signalled (and killed after a timeout), and on Linux it is also told to
terminate if the supervisor itself disappears, so a stray child never outlives the stack (both
from plumbing/processes.py, the one supervisor design the benchmarks and drills use too).
Tickets live in `<TICKETCLOCK_DATA_DIR>/temporal.sqlite` and survive restarts.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import IO, Any

from plumbing.binaries import temporal_cli
from plumbing.processes import dev_server_argv, exit_status, signal_group, spawn
from plumbing.settings import Settings, data_path
from workflows.contract import SEARCH_ATTRIBUTES, search_attribute_cli_flags

DB_FILENAME = "temporal.sqlite"
LOCK_FILENAME = "dev.lock"
# The running stack's dev token, readable by its owner only, so `make demo` in another terminal
# finds it; removed when the stack stops.
TOKEN_FILENAME = "dev.token"  # noqa: S105 - a file name, not a secret
TEMPORAL_READY_TIMEOUT_S = 60.0
SEARCH_ATTRIBUTE_GRACE_S = 10.0  # how long start-dev may take to register them itself
API_READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0  # per stage; the worker's graceful shutdown is 15 s
# Variables the dev stack controls for its children: a remote cluster's TLS or API key must not
# leak onto the local plaintext dev server.
_REMOTE_ONLY = (
    "TICKETCLOCK_TEMPORAL_TLS",
    "TICKETCLOCK_TEMPORAL_TLS_CERT",
    "TICKETCLOCK_TEMPORAL_TLS_KEY",
    "TICKETCLOCK_TEMPORAL_TLS_CA",
    "TICKETCLOCK_TEMPORAL_API_KEY",
)

# The ticket the printed `curl` (and the end-to-end test) creates.
SAMPLE_POLICY = "confluence-health-check"
SAMPLE_TIER = "standard"
SAMPLE_SEVERITY = "sev2"


class DevStackError(RuntimeError):
    """The stack cannot start (port taken, data dir locked, server not ready); exit code 2."""


def sample_ticket(key: str = "DEMO-1") -> dict[str, Any]:
    """The body of `POST /v1/tickets` that the banner's `curl` sends."""
    return {
        "key": key,
        "policy": SAMPLE_POLICY,
        "tier": SAMPLE_TIER,
        "severity": SAMPLE_SEVERITY,
        "subject": "Wiki search returns nothing",
        "customer": {"name": "Acme Corp"},
    }


# -- children ------------------------------------------------------------------------------------
@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    pending: bytes = b""
    quiet: bool = False  # set once stopping: the dev server logs dozens of expected warnings
    signalled_at: float | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal_group(self, sig: int) -> None:
        signal_group(self.proc, sig)


class DevStack:
    def __init__(self, settings: Settings, *, out: IO[str] | None = None) -> None:
        self.settings = settings
        self.out = out or sys.stdout
        self.data_dir = data_path(settings)
        self.db = self.data_dir / DB_FILENAME
        self.token = settings.dev_token or secrets.token_urlsafe(32)
        self.token_generated = not settings.dev_token
        self.temporal_address = f"127.0.0.1:{settings.temporal_port}"
        host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host  # noqa: S104
        self.api_url = f"http://{host}:{settings.api_port}"
        self.ui_url = f"http://127.0.0.1:{settings.ui_port}"
        self.children: list[Child] = []
        self.selector = selectors.DefaultSelector()
        self.stop_reason: str | None = None
        self.force = False

    # -- entry point -----------------------------------------------------------------------------
    def run(self) -> int:
        previous = {
            sig: signal.signal(sig, self._on_signal)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
        try:
            with self._lock():
                self._check_ports()
                return self._run_locked()
        except DevStackError as exc:
            self.say(f"ticketclock dev: {exc}")
            return 2
        finally:
            self.stop_all()
            with contextlib.suppress(FileNotFoundError):
                (self.data_dir / TOKEN_FILENAME).unlink()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run_locked(self) -> int:
        self.say(f"ticketclock dev: starting Temporal dev server (tickets kept in {self.db})")
        self.start(self._temporal_child())
        if not self.wait_for(self._temporal_ready, TEMPORAL_READY_TIMEOUT_S, "Temporal dev server"):
            return self.finish()
        self.ensure_search_attributes()
        # The console destination is on unless turned off: a breach in the dev stack is printed.
        console = os.environ.get("TICKETCLOCK_NOTIFY_CONSOLE", "true")
        self.start(self._python_child("worker", {"TICKETCLOCK_NOTIFY_CONSOLE": console}))
        ui_url = os.environ.get("TICKETCLOCK_TEMPORAL_UI_URL", self.ui_url)
        self.start(
            self._python_child(
                "api", {"TICKETCLOCK_DEV_TOKEN": self.token, "TICKETCLOCK_TEMPORAL_UI_URL": ui_url}
            )
        )
        self._write_token()
        if not self.wait_for(self._api_ready, API_READY_TIMEOUT_S, f"API at {self.api_url}"):
            return self.finish()
        self.pump(0.3)  # let the children's start-up lines come first
        self.banner()
        while self.stop_reason is None and self.dead_child() is None:
            self.pump(0.5)
        return self.finish()

    def finish(self) -> int:
        """Stop everything; 0 after Ctrl-C, 1 naming the child whose death stopped the stack."""
        dead = self.dead_child() if self.stop_reason is None else None
        if dead is not None and dead.proc is not None:
            self.drain(dead)
            status = exit_status(dead.proc.returncode)
            self.say(
                f"ticketclock dev: {dead.name} exited unexpectedly ({status}); stopping the others"
            )
        elif self.stop_reason:
            self.say(f"ticketclock dev: {self.stop_reason}: stopping api, worker, temporal")
        self.stop_all()
        if dead is not None:
            return 1
        self.say("ticketclock dev: stopped; tickets are kept (run `make run` again to resume)")
        return 0

    # -- signals, lock, ports --------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stop_reason is None:
            self.stop_reason = f"received {signal.Signals(signum).name}"
        else:
            self.force = True  # a second Ctrl-C: kill now

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        import fcntl

        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DevStackError(
                f"TICKETCLOCK_DATA_DIR: cannot create {self.data_dir}: {exc}"
            ) from exc
        with open(self.data_dir / LOCK_FILENAME, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DevStackError(
                    f"another `ticketclock dev` is using {self.data_dir}; stop it first "
                    "(or set TICKETCLOCK_DATA_DIR to another directory)"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _check_ports(self) -> None:
        wanted = {
            "TICKETCLOCK_TEMPORAL_PORT": ("127.0.0.1", self.settings.temporal_port),
            "TICKETCLOCK_UI_PORT": ("127.0.0.1", self.settings.ui_port),
            "TICKETCLOCK_API_PORT": (self.settings.api_host, self.settings.api_port),
        }
        if self.settings.metrics_port is not None:
            wanted["TICKETCLOCK_METRICS_PORT"] = (
                self.settings.api_host,
                self.settings.metrics_port,
            )
        seen: dict[int, str] = {}
        for name, (host, port) in wanted.items():
            if port in seen:
                raise DevStackError(f"{name}: port {port} is also {seen[port]}")
            seen[port] = name
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                # As the servers themselves do: a port in TIME_WAIT is free, a listener is not.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((host, port))
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE:
                        raise DevStackError(f"{name}: cannot bind {host}:{port}: {exc}") from exc
                    raise DevStackError(
                        f"{name}: port {port} is in use (another `ticketclock dev`?); "
                        f"stop it or set {name}"
                    ) from None

    def _write_token(self) -> None:
        path = self.data_dir / TOKEN_FILENAME
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.token + "\n")

    # -- children --------------------------------------------------------------------------------
    def _temporal_child(self) -> Child:
        try:
            cli = temporal_cli()
        except FileNotFoundError as exc:
            raise DevStackError(str(exc)) from None
        argv = dev_server_argv(
            cli,
            db=self.db,
            port=self.settings.temporal_port,
            ui_port=self.settings.ui_port,
            namespace=self.settings.temporal_namespace,
            search_attribute_flags=search_attribute_cli_flags(),
        )
        if self.settings.codec_keys:  # the UI decodes payloads through the API's codec server
            argv += ["--ui-codec-endpoint", f"{self.api_url}/codec"]
        return Child("temporal", argv, dict(os.environ))

    def _python_child(self, command: str, extra: dict[str, str]) -> Child:
        env = {k: v for k, v in os.environ.items() if k not in _REMOTE_ONLY}
        env.pop("TICKETCLOCK_DEV_TOKEN", None)
        env.update(
            TICKETCLOCK_TEMPORAL_ADDRESS=self.temporal_address,
            PYTHONUNBUFFERED="1",
            **extra,
        )
        return Child(command, [sys.executable, "-m", "ticketclock.cli", command], env)

    def start(self, child: Child) -> Child:
        try:
            child.proc = spawn(child.argv, env=child.env, stdout=subprocess.PIPE)
        except OSError as exc:
            raise DevStackError(f"cannot start {child.name} ({child.argv[0]}): {exc}") from exc
        assert child.proc.stdout is not None
        os.set_blocking(child.proc.stdout.fileno(), False)
        self.selector.register(child.proc.stdout, selectors.EVENT_READ, child)
        self.children.append(child)
        self.say(f"ticketclock dev: started {child.name} (pid {child.proc.pid})")
        return child

    def dead_child(self) -> Child | None:
        return next((c for c in self.children if c.proc and c.proc.poll() is not None), None)

    # -- output ----------------------------------------------------------------------------------
    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def _emit(self, child: Child, data: bytes, final: bool = False) -> None:
        child.pending += data
        *lines, child.pending = child.pending.split(b"\n")
        if final and child.pending:
            lines.append(child.pending)
            child.pending = b""
        if child.quiet:
            return
        width = max(len(c.name) for c in self.children)
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            self.out.write(f"{child.name:<{width}} | {text}\n")
        self.out.flush()

    def _read(self, child: Child, stream: IO[bytes]) -> bool:
        """Relay what is available; False at end of stream."""
        try:
            data = os.read(stream.fileno(), 65536)
        except BlockingIOError:
            return True
        if not data:
            self.selector.unregister(stream)
            self._emit(child, b"", final=True)
            return False
        self._emit(child, data)
        return True

    def pump(self, timeout: float) -> None:
        """Relay children's output for up to `timeout` seconds (returns early on a signal)."""
        if not self.selector.get_map():
            time.sleep(timeout)
            return
        for key, _ in self.selector.select(timeout):
            self._read(key.data, key.fileobj)  # type: ignore[arg-type]

    def drain(self, child: Child, timeout: float = 2.0) -> None:
        """The last words of an exited child."""
        if child.proc is None or child.proc.stdout is None:
            return
        stream = child.proc.stdout
        end = time.monotonic() + timeout
        while self._registered(stream) and time.monotonic() < end:
            if not self._read(child, stream):
                break
            time.sleep(0.01)

    def _registered(self, stream: IO[bytes]) -> bool:
        try:
            self.selector.get_key(stream)
        except KeyError:
            return False
        return True

    # -- readiness -------------------------------------------------------------------------------
    def wait_for(self, check: Callable[[], bool], timeout: float, what: str) -> bool:
        """Pump output until `check()` passes; False if stopped or a child died meanwhile."""
        end = time.monotonic() + timeout
        while True:
            if self.stop_reason is not None or self.dead_child() is not None:
                return False
            if check():
                return True
            if time.monotonic() > end:
                raise DevStackError(f"{what} not ready after {timeout:.0f}s (see its output above)")
            self.pump(0.25)

    def _temporal(self, *args: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own argv, no shell
            [
                temporal_cli(),
                *args,
                "--address",
                self.temporal_address,
                "--namespace",
                self.settings.temporal_namespace,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def _temporal_ready(self) -> bool:
        try:
            health = self._temporal("operator", "cluster", "health", timeout=5)
            if health.returncode != 0 or "SERVING" not in health.stdout:
                return False
            ns = self._temporal("operator", "namespace", "describe", timeout=5)
        except subprocess.TimeoutExpired:
            return False
        return ns.returncode == 0

    def _search_attributes(self) -> dict[str, str] | None:
        try:
            listed = self._temporal("operator", "search-attribute", "list", "--output", "json")
        except subprocess.TimeoutExpired:
            return None
        if listed.returncode != 0:
            return None
        try:
            custom = json.loads(listed.stdout).get("customAttributes") or {}
        except json.JSONDecodeError:
            return None
        return {str(k): str(v) for k, v in custom.items()}

    def ensure_search_attributes(self) -> None:
        """Every contract search attribute exists with its type (created if start-dev did not)."""
        expected = {
            k.name: f"INDEXED_VALUE_TYPE_{k.indexed_value_type.name}" for k in SEARCH_ATTRIBUTES
        }
        flags = search_attribute_cli_flags()
        cli_types = dict(f.split("=", 1) for f in flags[1::2])
        end = time.monotonic() + SEARCH_ATTRIBUTE_GRACE_S
        have: dict[str, str] = {}
        while time.monotonic() < end and self.stop_reason is None:
            have = self._search_attributes() or {}
            if all(name in have for name in expected):
                break
            self.pump(0.25)
        for name, kind in expected.items():
            if name not in have:
                created = self._temporal(
                    "operator",
                    "search-attribute",
                    "create",
                    "--name",
                    name,
                    "--type",
                    cli_types[name],
                )
                if created.returncode != 0 and "already exists" not in created.stderr.lower():
                    raise DevStackError(
                        f"cannot register search attribute {name}: {created.stderr.strip()}"
                    )
            elif have[name] != kind:
                raise DevStackError(
                    f"search attribute {name} is {have[name]} in {self.db} but the contract says "
                    f"{kind}; move that file away to start afresh"
                )

    def _api_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/healthz", timeout=1) as reply:  # noqa: S310
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    # -- banner ----------------------------------------------------------------------------------
    def banner(self) -> None:
        body = json.dumps(sample_ticket(), separators=(",", ":"))
        namespace, queue = self.settings.temporal_namespace, self.settings.task_queue
        token_note = (
            "generated for this run; set TICKETCLOCK_DEV_TOKEN to keep one across runs"
            if self.token_generated
            else "from TICKETCLOCK_DEV_TOKEN"
        )
        lines = [
            "",
            "ticketclock dev stack is up. Ctrl-C stops everything; tickets are kept in",
            f"  {self.db}",
            "",
            f"  API            {self.api_url}",
            f"  Board          {self.api_url}/board (sign in with the dev token below)",
            f"  OpenAPI docs   {self.api_url}/docs",
            f"  Temporal UI    {self.ui_url}",
            f"  Temporal gRPC  {self.temporal_address} (namespace {namespace}, queue {queue})",
            "",
            f"  Dev token (all scopes, {token_note}):",
            f"    {self.token}",
            "",
            "  Open a ticket:",
            f"    curl -sS -X POST {self.api_url}/v1/tickets \\",
            f'      -H "Authorization: Bearer {self.token}" \\',
            '      -H "Content-Type: application/json" \\',
            f"      -d '{body}'",
            "  Then look at it:",
            f'    curl -sS -H "Authorization: Bearer {self.token}" \\',
            f"      {self.api_url}/v1/tickets/DEMO-1",
            "  A few tickets from every policy: make demo (in another terminal)",
            "",
        ]
        self.say("\n".join(lines))

    # -- stopping --------------------------------------------------------------------------------
    def stop_all(self) -> None:
        """Clients first (api, worker), then the server: SIGTERM, wait, then SIGKILL the group."""
        stages = [
            [c for c in self.children if c.name != "temporal"],
            [c for c in self.children if c.name == "temporal"],
        ]
        for stage in stages:
            self._stop(stage)
        for child in self.children:
            child.signal_group(signal.SIGKILL)  # any stray grandchild of an exited child
            if child.proc is not None and child.proc.stdout is not None:
                if self._registered(child.proc.stdout):
                    self.selector.unregister(child.proc.stdout)
                child.proc.stdout.close()
        self.children = [c for c in self.children if c.running]

    def _stop(self, stage: list[Child]) -> None:
        live = [c for c in stage if c.running]
        for child in live:
            if child.signalled_at is None:
                child.signalled_at = time.monotonic()
                child.quiet = child.name == "temporal"
                child.signal_group(signal.SIGTERM)
        end = time.monotonic() + STOP_TIMEOUT_S
        while any(c.running for c in live) and time.monotonic() < end and not self.force:
            self.pump(0.1)
        for child in live:
            if child.running:
                self.say(f"ticketclock dev: {child.name} did not stop in time; killing it")
                child.signal_group(signal.SIGKILL)
            if child.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.proc.wait(timeout=5)
                self.drain(child, timeout=0.5)


def run(settings: Settings) -> int:
    return DevStack(settings).run()
