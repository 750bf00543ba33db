"""`ticketclock api`: the HTTP API (uvicorn) on TICKETCLOCK_API_HOST:TICKETCLOCK_API_PORT."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from temporalio.client import Client

from plumbing.settings import Settings, SettingsError, load_settings
from plumbing.temporal_client import connect

if TYPE_CHECKING:
    from fastapi import FastAPI


def build_app(settings: Settings) -> FastAPI:
    """The FastAPI app; it connects to Temporal lazily, through `plumbing.temporal_client`."""
    from api.app import create_app

    async def client_factory() -> Client:
        return await connect(settings)

    return create_app(settings, client_factory)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"ticketclock api: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    uvicorn.run(
        build_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level=args.log_level,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "api",
        help="serve the HTTP API (uvicorn); configured by TICKETCLOCK_* variables",
        description="Serve the ticketclock HTTP API on TICKETCLOCK_API_HOST:TICKETCLOCK_API_PORT.",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default: info)")
    parser.set_defaults(func=_run)
