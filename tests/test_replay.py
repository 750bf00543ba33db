"""Running tickets keep their deadlines: replay never recomputes them, edits never move them.

A ticket is started from a policy file in an operator directory. Then the file's target is edited
and the `holidays` data is changed so that a fresh resolve gives a different deadline. The running
ticket's history replays without nondeterminism, a restarted worker serves the same deadline, and
a recomputation inside the ticket (a severity change and back) still uses its own snapshot.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import holidays
import pytest
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from plumbing.settings import Settings
from policies import catalog as catalog_module
from policies.calendar import _CALENDARS
from policies.catalog import load_catalog
from policies.snapshot import Clock
from tests.support import unique
from ticketclock.worker import build_worker, workflow_runner
from workflows.contract import ticket_workflow_id
from workflows.messages import ChangeSeverity, TicketInput, TicketView
from workflows.ticket import TicketWorkflow
from workflows.updates import execute_action

POLICY = """
id = "replay-test"
extends = "kubeark"
version = "{version}"
name = "Replay test (Kubeark reading)"

[targets.standard.normal]
first_response = "{target}"
"""


def _write_policy(folder: Path, target: str, version: str) -> None:
    (folder / "replay-test.toml").write_text(POLICY.format(target=target, version=version))
    catalog_module.clear_cache()


async def _due(handle: WorkflowHandle[Any, Any]) -> datetime:
    for _ in range(100):
        view: TicketView = await handle.query(TicketWorkflow.status)
        if view.clocks and view.clocks[0].due_at is not None:
            return view.clocks[0].due_at
        await asyncio.sleep(0.05)
    raise AssertionError("the first_response deadline never appeared")


@pytest.fixture
def clean_caches() -> Iterator[None]:
    """The test poisons holiday data on purpose; no other test may see a cached calendar."""
    yield
    _CALENDARS.clear()  # the byte-bounded cache behind every resolved calendar
    catalog_module.clear_cache()


async def test_policy_and_holiday_edits_never_move_a_running_ticket(
    dev_env: WorkflowEnvironment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_caches: None,
) -> None:
    _write_policy(tmp_path, "3 business days", "v1")
    opened = datetime.now(UTC).replace(microsecond=0)
    sla = load_catalog([str(tmp_path)]).resolve(
        "replay-test", "standard", "normal", opened_at=opened
    )
    settings = dataclasses.replace(Settings(), task_queue=unique("tq"))
    key = unique("R")
    async with build_worker(dev_env.client, settings):
        handle = await dev_env.client.start_workflow(
            TicketWorkflow.run,
            TicketInput(
                key=key,
                sla=sla,
                opened_at=opened,
                intake={field: "given" for field in sla.intake_required},
            ),
            id=ticket_workflow_id(key),
            task_queue=settings.task_queue,
        )
        before = await _due(handle)

    # Edit the policy file and make every day of the next weeks a Romanian holiday.
    _write_policy(tmp_path, "1 business day", "v2")
    real = holidays.country_holidays

    def more_holidays(country: str, *args: Any, **kwargs: Any) -> Any:
        table = real(country, *args, **kwargs)
        if country == "RO":
            for offset in range(-1, 40):
                table[opened.date() + timedelta(days=offset)] = "invented holiday"
        return table

    monkeypatch.setattr(holidays, "country_holidays", more_holidays)
    _CALENDARS.clear()  # the byte-bounded cache behind every resolved calendar
    fresh = load_catalog([str(tmp_path)]).resolve(
        "replay-test", "standard", "normal", opened_at=opened
    )
    assert fresh.policy_version == "v2"
    assert opened.date() in fresh.calendar.holidays
    clock = fresh.severities[-1].targets[Clock.first_response].clock
    assert fresh.due(clock, opened).due_at != before

    # 1. Replay with today's code and data: no nondeterminism (deadlines come from markers).
    history = await handle.fetch_history()
    replayer = Replayer(
        workflows=[TicketWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None

    # 2. A new worker (no cache: it replays) serves the same deadline, and a recomputation inside
    # the ticket (severity up and back) uses the ticket's own snapshot, not the edited files.
    async with build_worker(dev_env.client, settings):
        assert await _due(handle) == before
        await execute_action(handle, ChangeSeverity(actor="a", severity="high", reason="x"))
        view = await execute_action(
            handle,
            ChangeSeverity(actor="a", severity="normal", reason="back"),
        )
        assert view.clocks[0].due_at == before
        assert view.policy_version == "v1"
        await handle.terminate("test finished")
