"""The `minimal` series' program: the smallest workflow answered the way a ticket is created.

    python -m bench.minimal            # a worker for it (TICKETCLOCK_* settings, task queue below)

One workflow, one Update answered from its first workflow task with a small result (no activity,
no timer), run by its own worker process with the same sandboxed runner as ticketclock's worker
(`ticketclock.worker.workflow_runner`: the sandbox and its passthrough modules) and the same data
converter. `bench/throughput.py` starts it with update-with-start from its own client, so a ticket
(`POST /v1/tickets`: update-with-start of `TicketWorkflow.opened`) is compared with like.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys

from temporalio import workflow
from temporalio.worker import Worker

TASK_QUEUE = "bench-minimal"


@workflow.defn(name="BenchMinimal")
class Minimal:
    def __init__(self) -> None:
        self._answered = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._answered)

    @workflow.update
    async def opened(self) -> dict[str, str]:
        self._answered = True
        return {"status": "opened", "id": workflow.info().workflow_id}


async def serve() -> None:
    from plumbing.settings import load_settings
    from plumbing.temporal_client import connect
    from ticketclock.worker import workflow_runner

    settings = dataclasses.replace(load_settings(), task_queue=TASK_QUEUE)
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[Minimal], workflow_runner=workflow_runner()
    ):
        print(f"minimal worker polling {TASK_QUEUE}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve())
    sys.exit(0)
