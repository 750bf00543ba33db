"""Drill: replay recorded ticket histories with today's workflow code; no nondeterminism allowed.

    python -m drills.replay [--quick] [PATH ...]

Replays every `*.json` under `tests/histories/` (and any files or directories given) with
`temporalio.worker.Replayer`, the worker's own workflow runner (the sandbox with its passthrough
modules) and the pydantic data converter, with the payload codec when TICKETCLOCK_CODEC_KEYS is
set (encrypted histories, e.g. tests/histories-encrypted/, need the keys that sealed them). A
file is one workflow run's history as `WorkflowHandle.fetch_history().to_json()` wrote it,
named `<workflow id>[.<n>].json` (drills/record_histories.py writes them). Any replay failure
fails the drill, and a nondeterminism error is counted as such. Export a production ticket's
history with `temporal workflow show -w <id> -o json > h.json` and pass it here before deploying
a change.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from harness.stack import ROOT, verdict
from plumbing.settings import load_settings
from plumbing.temporal_client import data_converter
from ticketclock.worker import workflow_runner
from workflows.ticket import TicketWorkflow

HISTORIES = ROOT / "tests" / "histories"


def history_files(paths: list[Path]) -> list[Path]:
    """Every `*.json` under the folders, plus the files (a missing one is kept: it fails)."""
    found: list[Path] = []
    for path in paths:
        found += sorted(path.rglob("*.json")) if path.is_dir() else [path]
    return found


def workflow_id_of(path: Path) -> str:
    """`ticket-K-1.2.json` -> `ticket-K-1` (the `.<n>` numbers runs of one workflow)."""
    stem = path.name.removesuffix(".json")
    head, _, tail = stem.rpartition(".")
    return head if head and tail.isdigit() else stem


async def replay(files: list[Path]) -> list[tuple[Path, int, BaseException | None]]:
    replayer = Replayer(
        workflows=[TicketWorkflow],
        data_converter=data_converter(load_settings()),  # + codec with TICKETCLOCK_CODEC_KEYS
        workflow_runner=workflow_runner(),
    )
    results: list[tuple[Path, int, BaseException | None]] = []
    for path in files:
        try:
            history = WorkflowHistory.from_json(workflow_id_of(path), path.read_text())
        except (OSError, ValueError) as exc:  # unreadable, or not a history
            results.append((path, 0, exc))
            continue
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        results.append((path, len(history.events), result.replay_failure))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("paths", nargs="*", type=Path, help="more history files or folders")
    parser.add_argument("--quick", action="store_true", help="the same (replay is quick)")
    args = parser.parse_args(argv)
    files = history_files([*([HISTORIES] if HISTORIES.is_dir() else []), *args.paths])
    print(f"replay: {len(files)} histories with today's TicketWorkflow (sandboxed, pydantic)")
    results = asyncio.run(replay(files))
    failures = [(p, e) for p, _, e in results if e is not None]
    nondeterministic = [p for p, e in failures if isinstance(e, NondeterminismError)]
    for path, events, error in results:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        state = "ok" if error is None else f"FAILED: {type(error).__name__}: {error}"
        print(f"  {shown} ({events} events): {state}")
    print(f"expected: {len(files)} histories replay, 0 nondeterminism, 0 other failures")
    print(
        f"happened: {len(files) - len(failures)} replayed, {len(nondeterministic)} "
        f"nondeterministic, {len(failures) - len(nondeterministic)} other failures"
    )
    ok = bool(files) and not failures
    print(
        verdict(
            "replay",
            ok,
            histories=len(files),
            events=sum(n for _, n, _ in results),
            nondeterminism=len(nondeterministic),
            failures=len(failures),
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
