"""`ticketclock dev` (what `make run` runs): dev server + worker + API as one supervised group."""

from __future__ import annotations

import argparse
import sys

from plumbing.settings import SettingsError, load_settings


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"ticketclock dev: {exc}", file=sys.stderr)
        return 2
    from ticketclock.devstack import run

    return run(settings)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="run the Temporal dev server, a worker and the API together (Ctrl-C stops all)",
        description=(
            "Start the Temporal dev server (tickets kept in TICKETCLOCK_DATA_DIR/temporal.sqlite), "
            "a worker and the HTTP API as one supervised group; print the URLs, a dev token and a "
            "sample curl. Ctrl-C stops every child. Ports: TICKETCLOCK_API_PORT, "
            "TICKETCLOCK_TEMPORAL_PORT, TICKETCLOCK_UI_PORT."
        ),
    )
    parser.set_defaults(func=_run)
