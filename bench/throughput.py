"""Ticket creation throughput: `POST /v1/tickets` against bare `start_workflow` on one dev server.

    python -m bench.throughput [--quick] [--n 1000] [--concurrency 20] [--batch 100]

One run, one dev server: tickets are created through the real HTTP API (a subprocess) with a real
worker (a subprocess) running them, and a trivial workflow is started directly with the Temporal
client (its in-process worker runs it), in alternating batches so both see the same server state.
A third series, `direct`, starts `TicketWorkflow` with the client (no HTTP, no policy resolve, no
settle query) to show where the difference goes.

The `minimal` series compares like with like: the benchmark's own client (no HTTP) does
update-with-start of a one-file workflow (bench/minimal.py) whose Update is answered from its first
workflow task with a small result, run by a separate worker process with the same sandboxed
runner as ticketclock's worker. `ratio` is tickets/s over minimal/s (goal >= 0.5, the median of
three `--quick` runs); `bare_per_s` stays for reference (a bare start returns before any workflow
code runs).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.minimal import TASK_QUEUE as MINIMAL_QUEUE
from bench.minimal import Minimal
from harness.stack import Proc, Stack, bounded, clean_env, idle, open_stack, pct, summary

GOAL_RATIO = 0.5
GOAL_WORKER_CPU_MS = 10.0
BARE_QUEUE = "bench-bare"
# A realistic ticket: a catalogue policy on a business-hours calendar.
TICKET = {"policy": "confluence-health-check", "tier": "standard", "severity": "sev2"}


@workflow.defn(name="BenchNoop")
class Noop:
    """The bare workflow: one workflow task, no activity, no timer."""

    @workflow.run
    async def run(self) -> None:
        return None


Series = dict[str, list[float]]
CPU_OF = ("server", "worker", "api", "bench")


async def measure(
    stack: Stack, minimal_worker: Proc, n: int, concurrency: int, batch: int, direct: bool
) -> Series:
    run = uuid.uuid4().hex[:6]
    sla = stack.resolve("sev3")
    failures: list[str] = []

    async with stack.http(timeout=60) as http:

        async def ticket(i: int) -> None:
            resp = await http.post("/v1/tickets", json={"key": f"TP-{run}-{i}", **TICKET})
            if resp.status_code != 201:
                failures.append(f"ticket {i}: {resp.status_code} {resp.text[:200]}")

        async def bare(i: int) -> None:
            await stack.client.start_workflow(Noop.run, id=f"bare-{run}-{i}", task_queue=BARE_QUEUE)

        async def direct_ticket(i: int) -> None:
            await stack.open_ticket(f"TD-{run}-{i}", sla)

        async def minimal(i: int) -> None:
            start = WithStartWorkflowOperation(
                Minimal.run,
                id=f"minimal-{run}-{i}",
                task_queue=MINIMAL_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
            await stack.client.execute_update_with_start_workflow(
                Minimal.opened, start_workflow_operation=start
            )

        kinds: dict[str, Callable[[int], Awaitable[None]]] = {
            "ticket": ticket,
            "minimal": minimal,
            "bare": bare,
        }
        if direct:
            kinds["direct"] = direct_ticket
        # Warm-up (not counted): connections, caches, the API's first client.
        for fn in kinds.values():
            await bounded([-(k + 1) for k in range(min(20, n))], fn, concurrency)
        series: Series = {name: [] for name in kinds}
        walls: dict[str, float] = dict.fromkeys(kinds, 0.0)
        base = {"server": stack.server, "worker": stack.worker, "api": stack.api}
        cpu: dict[str, dict[str, float]] = {name: dict.fromkeys(CPU_OF, 0.0) for name in kinds}
        for start in range(0, n, batch):
            items = list(range(start, min(n, start + batch)))
            for name, fn in kinds.items():
                # The minimal series' worker is its own process: charge its CPU as "worker".
                procs = {**base, "worker": minimal_worker if name == "minimal" else stack.worker}
                before = _cpu(procs)
                t0 = time.perf_counter()
                series[name] += await bounded(items, fn, concurrency)
                walls[name] += time.perf_counter() - t0
                # Work the batch left behind (the worker finishing what was started) is charged
                # to its CPU but not to the next batch's time.
                await idle(procs["worker"])
                for who, used in _cpu(procs).items():
                    cpu[name][who] += used - before[who]
    if failures:
        raise RuntimeError(f"{len(failures)} ticket creations failed, e.g. {failures[0]}")
    for name, wall in walls.items():
        series[f"{name}_wall"] = [wall]
        for who in CPU_OF:
            series[f"{name}_cpu_{who}"] = [cpu[name][who] / n]
    return series


def _cpu(procs: dict[str, Proc | None]) -> dict[str, float]:
    used = {who: proc.cpu() if proc else 0.0 for who, proc in procs.items()}
    used["bench"] = time.process_time()
    return used


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="200 of each (under two minutes)")
    parser.add_argument("--n", type=int, default=None, help="tickets and bare workflows each")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100, help="alternate every this many")
    parser.add_argument("--no-direct", action="store_true", help="skip the direct series")
    parser.add_argument(
        "--codec", action="store_true", help="encrypt payloads (a fresh TICKETCLOCK_CODEC_KEYS)"
    )
    args = parser.parse_args(argv)
    if args.codec:  # the API, the worker and the bench's own client all get it (harness/stack.py)
        os.environ["TICKETCLOCK_CODEC_KEYS"] = "bench:" + base64.b64encode(os.urandom(32)).decode()
    codec = "on" if os.environ.get("TICKETCLOCK_CODEC_KEYS") else "off"
    n = args.n or (200 if args.quick else 1000)
    print(
        f"throughput: {n} tickets via POST /v1/tickets vs {n} bare start_workflow, "
        f"concurrency {args.concurrency}, alternating batches of {args.batch}, codec {codec}"
    )
    series = asyncio.run(_run(n, args.concurrency, args.batch, not args.no_direct))
    kinds = ("ticket", "minimal", "bare", "direct")
    rates = {k: n / series[f"{k}_wall"][0] for k in kinds if k in series}
    for name in rates:
        lat = series[name]
        print(
            f"  {name:<7} {rates[name]:7.1f}/s   p50 {pct(lat, 50) * 1e3:7.1f} ms   "
            f"p99 {pct(lat, 99) * 1e3:7.1f} ms   max {max(lat) * 1e3:7.1f} ms"
        )
    print("  CPU ms per item (2 cores shared by all four processes):")
    for name in rates:
        per = {who: series[f"{name}_cpu_{who}"][0] * 1e3 for who in CPU_OF}
        print(
            f"  {name:<7} "
            + "  ".join(f"{who} {ms:5.1f}" for who, ms in per.items())
            + f"  total {sum(per.values()):5.1f}"
        )
    ratio = rates["ticket"] / rates["minimal"]
    met = "met" if ratio >= GOAL_RATIO else "MISSED"
    print(f"  goal: tickets/s >= {GOAL_RATIO} x minimal/s (sandbox on) -> {met}")
    worker_ms = series["ticket_cpu_worker"][0] * 1e3
    met = "met" if worker_ms <= GOAL_WORKER_CPU_MS else "MISSED"
    print(f"  goal: worker CPU per ticket <= {GOAL_WORKER_CPU_MS:g} ms -> {met}")
    extra = {"direct_per_s": rates["direct"]} if "direct" in rates else {}
    extra["ticket_cpu_ms"] = sum(series[f"ticket_cpu_{who}"][0] for who in CPU_OF) * 1e3
    extra["worker_cpu_ms"] = series["ticket_cpu_worker"][0] * 1e3
    extra["bare_cpu_ms"] = sum(series[f"bare_cpu_{who}"][0] for who in CPU_OF) * 1e3
    print(
        summary(
            "throughput",
            tickets_per_s=rates["ticket"],
            minimal_per_s=rates["minimal"],
            bare_per_s=rates["bare"],
            ratio=ratio,
            sandbox="on",
            ticket_p50_ms=pct(series["ticket"], 50) * 1e3,
            ticket_p99_ms=pct(series["ticket"], 99) * 1e3,
            bare_p50_ms=pct(series["bare"], 50) * 1e3,
            bare_p99_ms=pct(series["bare"], 99) * 1e3,
            **extra,
            n=n,
            concurrency=args.concurrency,
            codec=codec,
        )
    )
    return 0


async def _run(n: int, concurrency: int, batch: int, direct: bool) -> Series:
    async with open_stack(api=True, receiver=False, log=lambda s: print(f"  {s}")) as stack:
        bare_worker = Worker(
            stack.client,
            task_queue=BARE_QUEUE,
            workflows=[Noop],
            workflow_runner=UnsandboxedWorkflowRunner(),
        )
        # The minimal program's worker: a separate process, the same sandboxed runner as ours.
        env = clean_env({"TICKETCLOCK_TEMPORAL_ADDRESS": stack.address})
        minimal_worker = Proc(
            "minimal", [sys.executable, "-m", "bench.minimal"], env, stack.workdir
        )
        minimal_worker.start()
        try:
            async with bare_worker:
                return await measure(stack, minimal_worker, n, concurrency, batch, direct)
        finally:
            minimal_worker.stop()


if __name__ == "__main__":
    sys.exit(main())
