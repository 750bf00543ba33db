"""Drill: stop and restart the Temporal dev server mid-run; every ticket resumes, every clock fires.

    python -m drills.server_restart [--quick] [--tickets 200] [--restarts TERM,KILL] [--down 5]

Tickets of the `drill-seconds` policy are opened over `--window` seconds (every 4th acknowledged
at once) so their warnings and breaches fall due during the run. While they are due, the dev
server is stopped (SIGTERM, then SIGKILL for the next restart, as `--restarts` lists), kept down
for `--down` seconds and started again on the same SQLite file (WAL, synchronous=1) and port.
The worker subprocess is left alone; if it exits during an outage it is started again, and that
is reported. Expected: every expected notification key arrives (exactly once, transport
duplicates reported), every ticket answers a `status` query and accepts an Update (`close`)
after the last restart, and every ledger shows its notifications delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time

from temporalio.client import (
    RPCTimeoutOrCancelledError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError

from harness.stack import (
    Stack,
    await_keys,
    bounded,
    judge,
    ledgers,
    nondeterminism,
    open_planned,
    open_stack,
    print_findings,
    update_patiently,
    verdict,
)
from workflows.messages import Close, TicketView
from workflows.ticket import DELIVERY_TIMEOUT, TicketWorkflow

SETTLE_S = DELIVERY_TIMEOUT.total_seconds() + 30


async def drill(stack: Stack, args: argparse.Namespace) -> bool:
    assert stack.receiver is not None and stack.worker is not None
    t0 = time.monotonic()
    signals = [getattr(signal, f"SIG{name.strip().upper()}") for name in args.restarts.split(",")]
    # Restarts spread over the time the clocks fall due (first warning .. last breach).
    first, last = 0.75 * args.target, args.window + args.target
    moments = [first + (last - first) * (k + 1) / (len(signals) + 1) for k in range(len(signals))]
    restarts: list[str] = []
    worker_exits: list[str] = []

    async def restarter() -> None:
        for moment, sig in zip(moments, signals, strict=True):
            await asyncio.sleep(max(0.0, t0 + moment - time.monotonic()))
            code = stack.stop_server(sig)
            stopped = time.monotonic()
            await asyncio.sleep(args.down)
            took = await stack.start_server()
            restarts.append(
                f"t={stopped - t0:.1f}s {signal.Signals(sig).name} (exit {code}), "
                f"down {time.monotonic() - stopped:.1f}s, serving again in {took:.1f}s"
            )
            print(f"  restart #{len(restarts)}: {restarts[-1]}", flush=True)

    async def watch_worker() -> None:
        while True:
            await asyncio.sleep(0.5)
            if stack.worker is not None and not stack.worker.alive:
                code = stack.worker.popen.returncode if stack.worker.popen else None
                worker_exits.append(f"exit {code} at t={time.monotonic() - t0:.1f}s")
                print(f"  worker exited ({worker_exits[-1]}); starting it again", flush=True)
                await stack.start_worker()

    restarting = asyncio.create_task(restarter())
    watching = asyncio.create_task(watch_worker())
    try:
        plan = await open_planned(stack, args.tickets, window=args.window, target=args.target)
        print(
            f"  opened {len(plan.handles)} tickets ({plan.acked} acknowledged) in "
            f"{time.monotonic() - t0:.1f}s; {len(plan.required)} notifications expected",
            flush=True,
        )
        await restarting
        deadline = time.monotonic() + max(0.0, plan.last_due - time.time()) + SETTLE_S
        await await_keys(stack.receiver, plan.required, deadline)
        ledger = await ledgers(plan.handles)
        plan.expect(ledger.views)  # final: judged from each ticket's own ledger
        receiver = stack.receiver
        delivery = judge(receiver.snapshot(), plan.required, receiver.torn(), plan.optional)
        closed: list[str] = []
        refused: list[str] = []

        async def close(handle: WorkflowHandle[TicketWorkflow, TicketView]) -> None:
            try:
                await update_patiently(
                    handle, Close(actor="agent:drill", reason="drill over"), plan.retries
                )
            except (RPCError, WorkflowUpdateFailedError, RPCTimeoutOrCancelledError) as exc:
                refused.append(f"{handle.id}: close refused: {type(exc).__name__}: {exc}")
                return
            closed.append(handle.id)

        await bounded(plan.handles, close, 20)
        broken = nondeterminism(stack)
    finally:
        watching.cancel()
        restarting.cancel()

    print(
        f"expected: {len(plan.required)} distinct idempotency keys, each exactly once "
        f"(+ up to {len(plan.optional)} optional warnings: timer raced the ack, or skipped "
        f"by design because the deadline was first computed after it was due: {plan.skipped});"
    )
    print(f"  every ticket ({len(plan.handles)}) answers `status` and accepts `close` afterwards")
    print(f"happened: {delivery.describe()}")
    print(
        f"  {ledger.answered}/{len(plan.handles)} tickets answered, {len(closed)} accepted close, "
        f"{len(ledger.not_delivered)} notifications not delivered"
        + (f": {', '.join(ledger.not_delivered[:5])}" if ledger.not_delivered else "")
    )
    print_findings(
        (
            ("acknowledgements never applied (reported, not failing)", plan.errors),
            ("Updates retried (workflow not ready), allowed", plan.retries),
            ("queries failed", ledger.query_errors),
            ("closes refused", refused),
            ("nondeterminism in worker logs", broken),
        )
    )
    print(
        f"  restarts: {len(restarts)} of {len(signals)}; worker exits: {len(worker_exits)}"
        + (f" ({'; '.join(worker_exits)})" if worker_exits else "")
    )
    ok = (
        delivery.ok
        and not ledger.not_delivered
        and not ledger.query_errors
        and not broken
        and ledger.answered == len(closed) == len(plan.handles)
        and len(restarts) == len(signals)
    )
    print(
        verdict(
            "server_restart",
            ok,
            tickets=len(plan.handles),
            restarts=len(restarts),
            expected=delivery.expected,
            received=delivery.requests,
            distinct=delivery.distinct,
            missing=len(delivery.missing),
            unexpected=len(delivery.unexpected),
            duplicates=sum(delivery.duplicates.values()),
            resumed=ledger.answered,
            closed=len(closed),
            undelivered=len(ledger.not_delivered),
            stuck=len(ledger.query_errors),
            ack_refused=len(plan.errors),
            update_retries=len(plan.retries),
            skipped_warnings=plan.skipped,
            nondeterministic_runs=len(broken),
            worker_exits=len(worker_exits),
        )
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="40 tickets")
    parser.add_argument("--tickets", type=int, default=None, help="default 200 (quick 40)")
    parser.add_argument("--target", type=float, default=None, help="first_response s (40; 20)")
    parser.add_argument("--window", type=float, default=None, help="opening window s (20; 5)")
    parser.add_argument("--restarts", default="TERM,KILL", help="signals, one per restart")
    parser.add_argument("--down", type=float, default=5.0, help="seconds the server stays down")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, SQLite)")
    args = parser.parse_args(argv)
    args.tickets = args.tickets or (40 if args.quick else 200)
    args.target = args.target or (20.0 if args.quick else 40.0)
    args.window = args.window if args.window is not None else (5.0 if args.quick else 20.0)
    print(
        f"server_restart: {args.tickets} tickets over {args.window:g}s, first_response "
        f"{args.target:g}s; dev server restarts by {args.restarts}, {args.down:g}s down each"
    )
    seconds = {"first_response": args.target, "next_update": args.target}
    return 0 if asyncio.run(_run(args, seconds)) else 1


async def _run(args: argparse.Namespace, seconds: dict[str, float]) -> bool:
    async with open_stack(policy_seconds=seconds, keep=args.keep, log=_say) as stack:
        return await drill(stack, args)


def _say(line: str) -> None:
    print(f"  {line}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
