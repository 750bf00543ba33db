"""Timer lateness: how long after a warning or breach is due its webhook reaches the receiver.

    python -m bench.timer_lateness [--quick] [--m 300] [--target 60] [--window 30]

M tickets of the `drill-seconds` test policy (first_response `--target` seconds, warning at 75%)
are opened at an even pace over `--window` seconds, so their warnings and breaches fall due over a
window of the same length. A local webhook receiver timestamps each request on arrival.

Lateness = arrival - due: for a breach, `due_at` from the payload; for a warning, the warning
instant `at` from the ticket's ledger (`status` query). It is split into `fire` (the payload's
`occurred_at`, the workflow's time when the timer fired, minus due) and `deliver` (arrival minus
`occurred_at`). Goal: p99 <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid

from harness.stack import Stack, iso, judge, open_stack, pct, summary
from workflows.ticket import TicketWorkflow

GOAL_P99_S = 1.0
GRACE_S = 60.0  # after the last breach is due, how long stragglers may take


async def measure(stack: Stack, m: int, target: float, window: float) -> dict[str, list[float]]:
    assert stack.receiver is not None
    run = uuid.uuid4().hex[:6]
    sla = stack.resolve("sev1")
    keys = [f"TL-{run}-{i}" for i in range(m)]
    t0 = time.monotonic()
    handles = []
    for i, key in enumerate(keys):
        # An even pace: ticket i opens at t0 + i * window / m (never earlier).
        delay = t0 + i * window / m - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        handles.append(await stack.open_ticket(key, sla))
    print(f"  opened {m} tickets in {time.monotonic() - t0:.1f}s")

    expected = {
        f"ticket-{key}:first_response:1:{event}"
        for key in keys
        for event in ("warning:1", "breach")
    }
    end = time.monotonic() + target + window + GRACE_S
    while time.monotonic() < end and not expected <= stack.receiver.seen_keys():
        await asyncio.sleep(0.5)
    arrivals = stack.receiver.snapshot()
    delivery = judge(arrivals, expected)
    print(f"  {delivery.describe()}")

    # The warning instants, from each ticket's ledger.
    warning_at: dict[str, float] = {}
    for handle in handles:
        view = await handle.query(TicketWorkflow.status)
        for cycle in view.clocks:
            if cycle.clock == "first_response" and cycle.warnings:
                warning_at[handle.id] = cycle.warnings[0].at.timestamp()
    out: dict[str, list[float]] = {k: [] for k in ("all", "warning", "breach", "fire", "deliver")}
    seen: set[str] = set()
    for arrival in arrivals:
        if arrival.key in seen:  # a transport duplicate: the first arrival counts
            continue
        seen.add(arrival.key)
        body = arrival.json()
        event = body["event"]
        due = (
            iso(body["due_at"]).timestamp()
            if event == "breach"
            else warning_at[body["workflow_id"]]
        )
        occurred = iso(body["occurred_at"]).timestamp()
        out["all"].append(arrival.at - due)
        out[event].append(arrival.at - due)
        out["fire"].append(occurred - due)
        out["deliver"].append(arrival.at - occurred)
    out["missing"] = [float(len(delivery.missing))]
    out["duplicates"] = [float(sum(delivery.duplicates.values()))]
    dues = sorted(warning_at.values())
    out["due_window"] = [dues[-1] - dues[0] if dues else 0.0]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="60 tickets, 20 s target, 10 s window")
    parser.add_argument("--m", type=int, default=None, help="tickets (default 300)")
    parser.add_argument("--target", type=float, default=None, help="first_response seconds (60)")
    parser.add_argument("--window", type=float, default=None, help="opening window seconds (30)")
    args = parser.parse_args(argv)
    m = args.m or (60 if args.quick else 300)
    target = args.target or (20.0 if args.quick else 60.0)
    window = args.window if args.window is not None else (10.0 if args.quick else 30.0)
    print(
        f"timer_lateness: {m} tickets opened over {window:g}s, first_response {target:g}s "
        f"(warning at 75%), webhook receiver on 127.0.0.1"
    )
    out = asyncio.run(_run(m, target, window))
    for name in ("all", "warning", "breach", "fire", "deliver"):
        values = out[name]
        if values:
            print(
                f"  {name:<8} n={len(values):<5} p50 {pct(values, 50) * 1e3:7.1f} ms   "
                f"p99 {pct(values, 99) * 1e3:7.1f} ms   max {max(values) * 1e3:7.1f} ms"
            )
    p99 = pct(out["all"], 99)
    missing = int(out["missing"][0])
    met = p99 <= GOAL_P99_S and missing == 0
    print(f"  goal: p99 <= {GOAL_P99_S:g} s, none missing -> {'met' if met else 'MISSED'}")
    print(
        summary(
            "timer_lateness",
            p50_ms=pct(out["all"], 50) * 1e3,
            p99_ms=p99 * 1e3,
            max_ms=max(out["all"], default=float("nan")) * 1e3,
            fire_p99_ms=pct(out["fire"], 99) * 1e3,
            deliver_p99_ms=pct(out["deliver"], 99) * 1e3,
            warning_p99_ms=pct(out["warning"], 99) * 1e3,
            breach_p99_ms=pct(out["breach"], 99) * 1e3,
            notifications=len(out["all"]),
            missing=missing,
            duplicates=int(out["duplicates"][0]),
            m=m,
            due_window_s=out["due_window"][0],
        )
    )
    return 0 if missing == 0 else 1


async def _run(m: int, target: float, window: float) -> dict[str, list[float]]:
    seconds = {"first_response": target}
    async with open_stack(policy_seconds=seconds, log=lambda s: print(f"  {s}")) as stack:
        return await measure(stack, m, target, window)


if __name__ == "__main__":
    sys.exit(main())
