"""Scale: many open tickets on one worker; memory, history size and cache recovery.

    python -m bench.scale [--quick] [--tickets 10000] [--concurrency 20] [--recover 1000]

Opens `--tickets` tickets (the `drill-seconds` policy with day-long targets, so nothing fires) on
one worker subprocess, waits until the worker is idle, then reports:

- worker RSS and dev server RSS (and the SQLite file's size) with every ticket open;
- events per ticket for a typical life (created as the API creates it, acknowledge, 3 updates,
  resolve, open and complete the review), counted from that ticket's real history
  (`fetch_history`), and its size as JSON;
- time to recover the worker cache after a restart: the worker is stopped and started again, and
  the clock runs until `--recover` `status` queries on distinct tickets have all answered (each
  one replays its ticket's history into the new worker's cache).

Goals: RSS <= 1 GiB (each process), <= 200 events per typical ticket.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid

from harness.stack import Stack, bounded, idle, mib, open_stack, pct, summary
from workflows.contract import ticket_workflow_id
from workflows.messages import (
    Acknowledge,
    Action,
    AgentUpdate,
    CompleteReview,
    OpenReview,
    Resolve,
)
from workflows.ticket import TicketWorkflow
from workflows.updates import execute_action

GOAL_RSS = 1024**3
GOAL_EVENTS = 200
DAY_S = 86400.0
IDLE_LIMIT_S = 900.0  # how long the worker may take to work through the opened tickets


async def typical_life(stack: Stack) -> tuple[int, int, list[str]]:
    """Events and history bytes of one ticket taken through a typical life."""
    key = f"LIFE-{uuid.uuid4().hex[:6]}"
    handle = await stack.create_ticket(key, stack.resolve("sev1"), subject="typical life")
    steps: list[tuple[str, Action]] = [
        ("acknowledge", Acknowledge(actor="agent:a", message="on it")),
        *[("update", AgentUpdate(actor="agent:a", message=f"#{n}")) for n in (1, 2, 3)],
        ("resolve", Resolve(actor="agent:a", solution="fixed")),
        ("open_review", OpenReview(actor="lead:b", link="x")),
        ("complete_review", CompleteReview(actor="lead:b")),
    ]
    for _, body in steps:
        await execute_action(handle, body)
    await asyncio.sleep(1.0)  # the met notifications' deliveries finish
    history = await handle.fetch_history()
    return len(history.events), len(history.to_json()), ["create"] + [s[0] for s in steps]


async def measure(stack: Stack, n: int, concurrency: int, recover: int) -> dict[str, float]:
    out: dict[str, float] = {}
    run = uuid.uuid4().hex[:6]
    sla = stack.resolve("sev3")
    keys = [f"SC-{run}-{i}" for i in range(n)]
    t0 = time.monotonic()
    step = max(1, n // 10)
    for start in range(0, n, step):
        chunk = keys[start : start + step]
        await bounded(chunk, lambda key: stack.open_ticket(key, sla), concurrency)
        print(f"  opened {start + len(chunk)}/{n} ({time.monotonic() - t0:.0f}s)", flush=True)
    out["create_per_s"] = n / (time.monotonic() - t0)
    busy = await idle(stack.worker, quiet_s=1.0, limit_s=IDLE_LIMIT_S)
    out["drain_s"] = time.monotonic() - t0
    print(f"  worker idle {busy:.0f}s after the last start ({out['drain_s']:.0f}s in all)")
    assert stack.worker is not None
    out["worker_rss"] = stack.worker.rss()
    out["server_rss"] = stack.server.rss()
    out["db_bytes"] = sum(p.stat().st_size for p in stack.workdir.glob("temporal.sqlite*"))

    events, size, life = await typical_life(stack)
    out["events"] = events
    out["history_bytes"] = size
    print(f"  typical life ({', '.join(life)}): {events} events, {size / 1024:.0f} KiB of JSON")

    # Restart the worker (graceful stop, then start) and time the cache coming back.
    stack.worker.stop()
    t0 = time.monotonic()
    out["worker_start_s"] = await stack.start_worker()
    sample = random.Random(7).sample(keys, min(recover, n))

    async def query(key: str) -> None:
        handle = stack.client.get_workflow_handle(ticket_workflow_id(key))
        await handle.query(TicketWorkflow.status)

    latencies = await bounded(sample, query, concurrency)
    out["recover_s"] = time.monotonic() - t0
    out["recover_queries"] = len(sample)
    out["recover_p99_ms"] = pct(latencies, 99) * 1e3
    out["worker_rss_after"] = stack.worker.rss()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1,000 tickets")
    parser.add_argument("--tickets", type=int, default=None, help="open tickets (10,000)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--recover", type=int, default=1000, help="distinct tickets queried")
    args = parser.parse_args(argv)
    n = args.tickets or (1000 if args.quick else 10_000)
    recover = min(args.recover, n)
    print(f"scale: {n} open tickets on one worker, then a worker restart and {recover} queries")
    out = asyncio.run(_run(n, args.concurrency, recover))
    rss_ok = max(out["worker_rss"], out["worker_rss_after"], out["server_rss"]) <= GOAL_RSS
    events_ok = out["events"] <= GOAL_EVENTS
    print(
        f"  worker RSS {mib(out['worker_rss']):.0f} MiB open, "
        f"{mib(out['worker_rss_after']):.0f} MiB after recovery; dev server RSS "
        f"{mib(out['server_rss']):.0f} MiB; SQLite {mib(out['db_bytes']):.0f} MiB"
    )
    print(
        f"  recovery: worker polling after {out['worker_start_s']:.1f}s, "
        f"{out['recover_queries']:.0f} queries answered after {out['recover_s']:.1f}s "
        f"(p99 {out['recover_p99_ms']:.0f} ms)"
    )
    print(f"  goal: RSS <= 1 GiB -> {'met' if rss_ok else 'MISSED'}")
    print(
        f"  goal: <= {GOAL_EVENTS} events per typical ticket -> {'met' if events_ok else 'MISSED'}"
    )
    print(
        summary(
            "scale",
            tickets=n,
            worker_rss_mib=mib(out["worker_rss"]),
            worker_rss_after_mib=mib(out["worker_rss_after"]),
            server_rss_mib=mib(out["server_rss"]),
            db_mib=mib(out["db_bytes"]),
            events_per_ticket=int(out["events"]),
            history_kib=out["history_bytes"] / 1024,
            recover_s=out["recover_s"],
            recover_queries=int(out["recover_queries"]),
            create_per_s=out["create_per_s"],
        )
    )
    return 0


async def _run(n: int, concurrency: int, recover: int) -> dict[str, float]:
    async with open_stack(policy_seconds=DAY_S, log=lambda s: print(f"  {s}")) as stack:
        return await measure(stack, n, concurrency, recover)


if __name__ == "__main__":
    sys.exit(main())
