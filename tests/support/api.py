"""The API in-process: a FastAPI app served by uvicorn in the test's event loop, and its tokens."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import uvicorn
from fastapi import FastAPI

from plumbing.processes import free_port
from plumbing.settings import ApiToken, Settings

ALL = "e2e-all-scopes-token-0123456789"
READER = "e2e-read-only-token-0123456789"


def non_loopback_address() -> str | None:
    """This machine's outgoing IPv4 address, to call a server on 0.0.0.0 from off loopback;
    None where there is none."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))  # no packet is sent: just picks the outgoing interface
            address = str(sock.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") else address


class Served:
    """A FastAPI app served by uvicorn in a task of the test's event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Served:
        self.task = asyncio.create_task(self.server.serve())
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert not self.task.done(), "uvicorn stopped during start-up"
            assert time.monotonic() < deadline, "uvicorn did not start"
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        assert self.task is not None
        await self.task


def api_settings(task_queue: str, **kw: Any) -> Settings:
    """Settings with two API tokens: ALL (every scope) and READER (tickets:read)."""
    return Settings(
        task_queue=task_queue,
        api_tokens=(
            ApiToken("e2e", ALL, frozenset({"tickets:create", "tickets:act", "tickets:read"})),
            ApiToken("e2e-reader", READER, frozenset({"tickets:read"})),
        ),
        **kw,
    )
