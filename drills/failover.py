"""Drill: two workers, `kill -9` one of them again and again; the other takes over within seconds.

    python -m drills.failover [--quick] [--tickets 1000] [--kills 20] [--target 30] [--window 180]

Production runs several workers. This drill runs two on one dev server (the same task queue),
opens tickets of the `drill-seconds` policy over `--window` seconds (every 4th acknowledged at
once) so their warnings and breaches fall due throughout, and meanwhile kills one worker, chosen
at random, with SIGKILL every few seconds (`--kills` times, one random moment in each of as many
equal slots of the drill), starting it again at once. Only one worker is ever down at a time.

Expected, as in `worker_kill` (same key rules): every required idempotency key reaches the webhook
receiver, no other key does, a repeated key carries the same body (a transport duplicate), every
ticket answers and shows its notifications delivered. And, because a second worker is alive all
along, breaches stay on time: **breach lateness p99 <= 3 s** (`--late-p99`), lateness being the
first arrival of a breach's key minus its `due_at`. A lone killed worker makes breaches up to a
minute late; what lets the survivor take over fast: the worker's sticky timeout
(TICKETCLOCK_WORKER_STICKY_TIMEOUT_S, see the README) and activity heartbeats; docs/benchmarks.md
says what each kill costs and which timeout covers it.

The last line is the verdict: `failover: PASS tickets=... kills=... keys=... late_p50_s=...
late_p99_s=... late_max_s=...` (or `FAIL ...`).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import WorkflowHandle

from harness.stack import (
    RETRY_SETTLE_S,
    Arrival,
    Ledgers,
    Proc,
    Stack,
    await_after_kills,
    iso,
    judge,
    ledgers,
    nondeterminism,
    open_planned,
    open_stack,
    pct,
    print_findings,
    summary,
)
from workflows.messages import TicketView
from workflows.ticket import TicketWorkflow

Handle = WorkflowHandle[TicketWorkflow, TicketView]

# The bar of issue 12: with a second worker alive, breaches are at most seconds late.
LATE_P99_S = 3.0


async def restart(stack: Stack, proc: Proc) -> float:
    """Start `proc` (a worker) again; seconds until it polls the task queue. The shared stack
    knows one worker (`stack.worker`): point it at `proc` for the start, which waits for *its*
    poller (identity `<pid>@...`)."""
    stack.worker = proc
    return await stack.start_worker()


async def drill(stack: Stack, workers: list[Proc], args: argparse.Namespace) -> bool:
    assert stack.receiver is not None
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    start = 0.15 * args.window
    horizon = args.window + args.target  # roughly when the last event falls due
    slot = (horizon - start) / max(1, args.kills)
    moments = [start + (i + rng.uniform(0.1, 0.9)) * slot for i in range(args.kills)]
    kills: list[str] = []
    restarts_failed: list[str] = []

    async def killer() -> None:
        for moment in moments:
            await asyncio.sleep(max(0.0, t0 + moment - time.monotonic()))
            victim = rng.choice([w for w in workers if w.alive] or workers)
            pid = victim.pid
            victim.kill9()
            try:
                back = await restart(stack, victim)
            except (TimeoutError, RuntimeError) as exc:  # judged below, not a traceback
                restarts_failed.append(f"{victim.name} pid {pid}: {str(exc)[:200]}")
                continue
            kills.append(
                f"t={time.monotonic() - t0:.1f}s {victim.name} pid {pid} back in {back:.1f}s"
            )
            print(f"  kill -9 #{len(kills)}: {kills[-1]}", flush=True)

    killing = asyncio.create_task(killer())
    try:
        plan = await open_planned(
            stack, args.tickets, window=args.window, target=args.target, prefix="FO"
        )
    except BaseException:
        killing.cancel()
        raise
    await await_after_kills(stack, plan, killing, t0=t0, settle_s=args.settle)
    ledger, flaky = await patient_ledgers(plan.handles)
    plan.expect(ledger.views)  # final: judged from each ticket's own ledger
    receiver = stack.receiver
    arrivals = receiver.snapshot()
    delivery = judge(arrivals, plan.required, receiver.torn(), plan.optional)
    broken = nondeterminism(stack)
    lateness = breach_lateness(arrivals)
    late = list(lateness.values())
    over = sorted((k for k, v in lateness.items() if v > args.late_p99), key=lambda k: -lateness[k])
    p50, p99, worst = pct(late, 50), pct(late, 99), max(late, default=0.0)

    print(
        f"expected: {len(plan.required)} distinct idempotency keys, each exactly once "
        f"(+ up to {len(plan.optional)} optional warnings: timer raced the ack, or skipped "
        f"by design because the deadline was first computed after it was due: {plan.skipped})"
    )
    print("  (transport duplicates allowed only as a repeated key with an identical body);")
    print("  every ticket answers, takes its Update, and shows its notifications delivered;")
    print(f"  breach lateness p99 <= {args.late_p99:g}s with the other worker alive")
    print(f"happened: {delivery.describe()}")
    print(
        f"  ledger: {ledger.answered}/{len(plan.handles)} tickets answered, "
        f"{len(ledger.not_delivered)} notifications not delivered"
        + (f": {', '.join(ledger.not_delivered[:5])}" if ledger.not_delivered else "")
    )
    print_findings(
        (
            ("acknowledgements never applied (reported, not failing)", plan.errors),
            ("Updates retried (workflow not ready), allowed", plan.retries),
            ("workers that did not come back", restarts_failed),
            ("queries failed for good (ticket stuck)", ledger.query_errors),
            ("queries failed at first, answered when asked again (allowed)", flaky),
            ("nondeterminism in worker logs", broken),
            ("breaches later than the p99 bar", [f"{k}: {lateness[k]:.1f}s late" for k in over]),
            ("timeouts in the histories of those tickets", await why_late(stack, over)),
        )
    )
    print(
        f"  kills: {len(kills)} of {args.kills}; breach lateness over {len(late)} breaches: "
        f"p50 {p50:.2f}s, p99 {p99:.2f}s, max {worst:.2f}s"
    )
    ok = (
        delivery.ok
        and not ledger.not_delivered
        and not ledger.query_errors
        and not broken
        and ledger.answered == len(plan.handles)
        and len(kills) == args.kills
        and bool(late)
        and p99 <= args.late_p99
    )
    # Details first, the fixed verdict line last.
    print(
        summary(
            "  details",
            expected=delivery.expected,
            received=delivery.requests,
            missing=len(delivery.missing),
            unexpected=len(delivery.unexpected),
            duplicates=sum(delivery.duplicates.values()),
            conflicting=len(delivery.conflicting),
            torn=delivery.torn,
            undelivered=len(ledger.not_delivered),
            stuck=len(ledger.query_errors),
            update_retries=len(plan.retries),
            skipped_warnings=plan.skipped,
            nondeterministic_runs=len(broken),
        )
    )
    print(
        f"failover: {'PASS' if ok else 'FAIL'} tickets={len(plan.handles)} kills={len(kills)} "
        f"keys={delivery.distinct} late_p50_s={p50:.2f} late_p99_s={p99:.2f} "
        f"late_max_s={worst:.2f}"
    )
    return ok


QUERY_ATTEMPTS = 4
QUERY_PAUSE_S = 5.0


async def patient_ledgers(handles: Sequence[Handle]) -> tuple[Ledgers, list[str]]:
    """Every ticket's ledger; a ticket whose query failed is asked again (a few times, 5 s apart)
    before it counts as stuck. A query goes first to the worker that has the ticket cached; the
    server answered "no poller seen for task queue recently" for tickets last cached on a killed
    worker. Returns the ledgers and the first failures of the tickets that answered later."""
    ledger = await ledgers(handles)
    flaky: list[str] = []
    for _ in range(QUERY_ATTEMPTS - 1):
        if not ledger.query_errors:
            break
        failed = {error.split(":", 1)[0]: error for error in ledger.query_errors}
        await asyncio.sleep(QUERY_PAUSE_S)
        again = await ledgers([h for h in handles if h.id in failed], settle_s=0)
        flaky += [failed[ticket] for ticket in again.views]
        ledger = Ledgers(
            answered=ledger.answered + again.answered,
            not_delivered=ledger.not_delivered + again.not_delivered,
            query_errors=again.query_errors,
            views={**ledger.views, **again.views},
        )
    return ledger, flaky


async def why_late(stack: Stack, late_keys: Sequence[str], limit: int = 100) -> list[str]:
    """What the histories of the tickets with late breaches show: which timeouts a kill cost them
    (a workflow task waiting on the dead worker's sticky queue, a task or a delivery the dead worker
    held until its start-to-close or heartbeat timeout, then retried). One line per cause, with
    how many tickets had it."""
    found: Counter[str] = Counter()
    tickets = sorted({key.split(":", 1)[0] for key in late_keys})[:limit]
    for workflow_id in tickets:
        seen: set[str] = set()
        handle = stack.client.get_workflow_handle(workflow_id)
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                kind = event.workflow_task_timed_out_event_attributes.timeout_type
                seen.add(f"workflow task {TimeoutType.Name(kind)[13:].lower()} timeout")
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
                failure = event.activity_task_timed_out_event_attributes.failure
                kind = failure.timeout_failure_info.timeout_type
                seen.add(f"activity {TimeoutType.Name(kind)[13:].lower()} timeout")
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                # A retried attempt (history keeps only the last): why the one before it ended.
                started = event.activity_task_started_event_attributes
                if started.attempt > 1:
                    seen.add(f"activity retried after: {started.last_failure.message[:80]}")
        found.update(seen or {"no timeout in history (slow, not failed over)"})
    return [f"{n} of {len(tickets)} tickets: {cause}" for cause, n in found.most_common()]


def breach_lateness(arrivals: Sequence[Arrival]) -> dict[str, float]:
    """Seconds each breach arrived after its `due_at`, by key: the first arrival of each key (a
    transport duplicate later is no later notification)."""
    first: dict[str, float] = {}
    for a in sorted(arrivals, key=lambda a: a.at):
        if a.key in first:
            continue
        body = a.json()
        due = body.get("due_at")
        if body.get("event") == "breach" and isinstance(due, str):
            first[a.key] = a.at - iso(due).timestamp()
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="120 tickets, 5 kills, ~2 minutes")
    parser.add_argument("--tickets", type=int, default=None, help="default 1000 (quick 120)")
    parser.add_argument("--kills", type=int, default=None, help="default 20 (quick 5)")
    parser.add_argument("--target", type=float, default=None, help="first_response s (30)")
    parser.add_argument("--window", type=float, default=None, help="opening window s (180; 30)")
    parser.add_argument(
        "--settle",
        type=float,
        default=RETRY_SETTLE_S,
        help="after the last kill, wait at least this long for retried deliveries",
    )
    parser.add_argument(
        "--late-p99", type=float, default=LATE_P99_S, help="the bar for breach lateness p99 (s)"
    )
    parser.add_argument(
        "--worker-env",
        type=_env_pair,
        action="append",
        default=[],
        metavar="TICKETCLOCK_X=V",
        help="a setting for both workers, e.g. TICKETCLOCK_WORKER_STICKY_TIMEOUT_S=10 (the SDK "
        "default, to see the lateness this drill guards against); repeatable",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, SQLite)")
    args = parser.parse_args(argv)
    args.tickets = args.tickets or (120 if args.quick else 1000)
    args.kills = args.kills if args.kills is not None else (5 if args.quick else 20)
    args.target = args.target or 30.0
    # Full size opens 1,000 tickets at 5.6/s, a seventh of the API's measured capacity (37/s): the
    # drill measures failover, not saturation (1,000 in 90 s saturated two shared cores, and every
    # kill then costs a replay of each of the dead worker's pending tickets on top).
    args.window = args.window if args.window is not None else (30.0 if args.quick else 180.0)
    args.seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(
        f"failover: 2 workers; {args.tickets} tickets over {args.window:g}s, first_response "
        f"{args.target:g}s, {args.kills} x kill -9 of a random worker, restarted at once "
        f"(seed {args.seed})" + "".join(f"; {name}={value}" for name, value in args.worker_env),
        flush=True,
    )
    seconds = {"first_response": args.target, "next_update": args.target}
    return 0 if asyncio.run(_run(args, seconds)) else 1


async def _run(args: argparse.Namespace, seconds: dict[str, float]) -> bool:
    extra = dict(args.worker_env)
    async with open_stack(policy_seconds=seconds, worker=False, keep=args.keep, log=_say) as stack:
        workers = []
        try:
            for name in ("worker-a", "worker-b"):  # logs <name>-<n>.log, read as worker-*.log
                proc = stack._worker_proc(extra)
                proc.name = name
                workers.append(proc)
                took = await restart(stack, proc)
                _say(f"{name} up in {took:.1f}s (pid {proc.pid})")
            return await drill(stack, workers, args)
        finally:
            for proc in workers:
                proc.stop()


def _env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("TICKETCLOCK_"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected TICKETCLOCK_NAME=value")
    return name, value


def _say(line: str) -> None:
    print(f"  {line}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
