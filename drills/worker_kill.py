"""Drill: `kill -9` the worker again and again; every notification still arrives exactly once.

    python -m drills.worker_kill [--quick] [--tickets 1000] [--kills 10] [--target 60]

Tickets of the `drill-seconds` policy are opened over `--window` seconds (every 4th acknowledged
at once), so their warnings and breaches fall due while the drill runs. Meanwhile the worker
subprocess is killed with SIGKILL `--kills` times at random moments (creation included) and
started again each time. Expected: every expected idempotency key reaches the webhook receiver,
no other key does, and a key that arrives twice (a delivery retried after the worker died between
sending it and reporting it) carries the same body: a transport duplicate, allowed and reported.
Every ticket's ledger must show each notification `delivered`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time

from harness.stack import (
    RETRY_SETTLE_S,
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
    verdict,
)


async def drill(stack: Stack, args: argparse.Namespace) -> bool:
    assert stack.receiver is not None and stack.worker is not None
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    horizon = args.window + args.target  # roughly when the last event falls due
    moments = sorted(rng.uniform(0.2 * args.window, horizon) for _ in range(args.kills))
    kills: list[str] = []

    async def killer() -> None:
        for moment in moments:
            await asyncio.sleep(max(0.0, t0 + moment - time.monotonic()))
            pid = stack.worker.pid if stack.worker else 0
            assert stack.worker is not None
            stack.worker.kill9()
            back = await stack.start_worker()
            kills.append(f"t={time.monotonic() - t0:.1f}s pid {pid} back in {back:.1f}s")
            print(f"  kill -9 #{len(kills)}: {kills[-1]}", flush=True)

    killing = asyncio.create_task(killer())
    plan = await open_planned(stack, args.tickets, window=args.window, target=args.target)
    await await_after_kills(stack, plan, killing, t0=t0, settle_s=args.settle)
    ledger = await ledgers(plan.handles)
    plan.expect(ledger.views)  # final: judged from each ticket's own ledger
    receiver = stack.receiver
    delivery = judge(receiver.snapshot(), plan.required, receiver.torn(), plan.optional)
    broken = nondeterminism(stack)
    # How late breaches arrived (receipt - due): kills delay timers that fall due meanwhile.
    late = [a.at - due for a in stack.receiver.snapshot() if (due := _due(a.json())) is not None]

    print(
        f"expected: {len(plan.required)} distinct idempotency keys, each exactly once "
        f"(+ up to {len(plan.optional)} optional warnings: timer raced the ack, or skipped "
        f"by design because the deadline was first computed after it was due: {plan.skipped})"
    )
    print("  (transport duplicates allowed only as a repeated key with an identical body);")
    print("  every ticket answers, takes its Update, and shows its notifications delivered")
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
            ("queries failed", ledger.query_errors),
            ("nondeterminism in worker logs", broken),
        )
    )
    print(
        f"  kills: {len(kills)} of {args.kills}; breach lateness over {len(late)} breaches: "
        f"p50 {pct(late, 50):.1f}s, p99 {pct(late, 99):.1f}s, max {max(late, default=0):.1f}s"
    )
    ok = (
        delivery.ok
        and not ledger.not_delivered
        and not ledger.query_errors
        and not broken
        and ledger.answered == len(plan.handles)
        and len(kills) == args.kills
    )
    print(
        verdict(
            "worker_kill",
            ok,
            tickets=len(plan.handles),
            kills=len(kills),
            expected=delivery.expected,
            received=delivery.requests,
            distinct=delivery.distinct,
            missing=len(delivery.missing),
            unexpected=len(delivery.unexpected),
            duplicates=sum(delivery.duplicates.values()),
            conflicting=len(delivery.conflicting),
            torn=delivery.torn,
            undelivered=len(ledger.not_delivered),
            stuck=len(ledger.query_errors),
            ack_refused=len(plan.errors),
            update_retries=len(plan.retries),
            skipped_warnings=plan.skipped,
            nondeterministic_runs=len(broken),
            breach_late_p50_s=pct(late, 50),
            breach_late_p99_s=pct(late, 99),
            breach_late_max_s=max(late, default=0.0),
        )
    )
    return ok


def _due(body: dict[str, object]) -> float | None:
    due = body.get("due_at")
    return iso(due).timestamp() if isinstance(due, str) and body.get("event") == "breach" else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="100 tickets, 3 kills")
    parser.add_argument("--tickets", type=int, default=None, help="default 1000 (quick 100)")
    parser.add_argument("--kills", type=int, default=None, help="default 10 (quick 3)")
    parser.add_argument("--target", type=float, default=None, help="first_response s (60; 20)")
    parser.add_argument("--window", type=float, default=None, help="opening window s (60; 10)")
    parser.add_argument(
        "--settle",
        type=float,
        default=RETRY_SETTLE_S,
        help="after the last kill, wait at least this long for retried deliveries",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, SQLite)")
    args = parser.parse_args(argv)
    args.tickets = args.tickets or (100 if args.quick else 1000)
    args.kills = args.kills if args.kills is not None else (3 if args.quick else 10)
    args.target = args.target or (20.0 if args.quick else 60.0)
    args.window = args.window if args.window is not None else (10.0 if args.quick else 60.0)
    args.seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(
        f"worker_kill: {args.tickets} tickets over {args.window:g}s, first_response "
        f"{args.target:g}s, {args.kills} x kill -9 of the worker at random moments "
        f"(seed {args.seed})"
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
