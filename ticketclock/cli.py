"""`ticketclock`: one command with sub-commands; each sub-command group lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module exposes `register(subparsers)`, adding parsers whose `func(args) -> int` runs them.
_GROUPS = (
    "ticketclock.cli_policy",
    "ticketclock.cli_dev",
    "ticketclock.cli_worker",
    "ticketclock.cli_api",
    "ticketclock.cli_tickets",
    "ticketclock.cli_demo",
    "ticketclock.cli_report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ticketclock", description="Durable, business-hours-aware SLA timers on Temporal."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _GROUPS:
        # No try/except: a group whose module is missing is a broken install, said at once
        # (ModuleNotFoundError naming it), never a command that silently is not there.
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
