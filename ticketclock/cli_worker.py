"""`ticketclock worker`: run one worker process (scale by running more of them)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from plumbing.settings import SettingsError, load_settings
from plumbing.temporal_client import TemporalConnectError


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _run(args: argparse.Namespace) -> int:
    configure_logging()
    try:
        settings = load_settings()
        from ticketclock.worker import run_worker

        asyncio.run(run_worker(settings))
    except (SettingsError, TemporalConnectError) as exc:
        print(f"ticketclock worker: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        return 130
    except Exception as exc:
        logging.getLogger("ticketclock.worker").exception("worker failed")
        print(f"ticketclock worker: stopped: {exc}", file=sys.stderr)
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run a worker (ticket workflow + activities); configured by TICKETCLOCK_* variables",
        description="Run one ticketclock worker until SIGINT/SIGTERM. Run several to scale out.",
    )
    parser.set_defaults(func=_run)
