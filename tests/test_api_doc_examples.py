"""Every `curl` example in docs/api.md, run as written, in order, against a real API and dev server.

A block is a ```` ```sh ```` code block with a `curl` command in it. Under each command the page
writes the status it answers (`# 201 ...`); the blocks run in bash with `API` and `TOKEN` set as
the page tells readers to set them, `curl` reporting each status, and every status must be the
documented one. The only change to the text: the page's ticket keys become keys of this run (the
dev server is shared by the session).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from tests.support import unique
from tests.support.api import ALL, Served, api_settings
from ticketclock.worker import build_worker

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.M | re.S)
COMMAND = re.compile(r"^curl ", re.M)
DOCUMENTED = re.compile(r"^# (\d{3})\b", re.M)
STATUS = re.compile(r"^@status=(\d{3})$", re.M)
KEYS = re.compile(r"\bZD-\d+\b")
# Every curl call also prints the status it got, on a line of its own.
WRAPPER = "curl() { command curl \"$@\" -w '\\n@status=%{http_code}\\n'; }\n"
BLOCK_TIMEOUT_S = 60.0


def blocks() -> list[str]:
    return [b for b in BLOCK.findall(DOC.read_text()) if COMMAND.search(b)]


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def statuses(self) -> list[int]:
        return [int(s) for s in STATUS.findall(self.out)]


async def run_block(script: str, api: str) -> Ran:
    env = {**os.environ, "API": api, "TOKEN": ALL}
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        WRAPPER + script,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), BLOCK_TIMEOUT_S)
    return Ran(proc.returncode or 0, out.decode(), err.decode())


@pytest.fixture
async def api(dev_env: WorkflowEnvironment) -> AsyncIterator[str]:
    settings = api_settings(unique("api-doc"))
    client = dev_env.client

    async def client_factory() -> Client:
        return client

    async with build_worker(client, settings), Served(create_app(settings, client_factory)) as s:
        yield s.url


def test_every_example_documents_its_status() -> None:
    found = blocks()
    assert len(found) >= 6, "docs/api.md lost its curl examples"
    for block in found:
        calls, documented = COMMAND.findall(block), DOCUMENTED.findall(block)
        assert len(calls) == len(documented), f"a curl without its '# <status>' line:\n{block}"


def test_no_example_hard_codes_a_date() -> None:
    """A fixed date ages: a ticket opened in 2025 is breached at once in 2026 (issue 16)."""
    for block in blocks():
        commands = "\n".join(line for line in block.splitlines() if not line.startswith("#"))
        assert not re.search(r"\b(19|20)\d\d-\d\d-\d\d", commands), commands


async def test_the_examples_answer_as_documented(api: str) -> None:
    run_id = unique("")[-6:]
    renamed: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        key = match[0]
        if key not in renamed:
            renamed[key] = f"{key}-{run_id}"
        return renamed[key]

    seen: list[int] = []
    for block in blocks():
        script = KEYS.sub(rename, block)
        expected = [int(s) for s in DOCUMENTED.findall(block)]
        ran = await run_block(script, api)
        assert ran.code == 0, f"{script}\n{ran.err}\n{ran.out}"
        assert ran.statuses == expected, f"{script}\n{ran.out}"
        seen.extend(ran.statuses)
    assert {200, 201, 404, 409} <= set(seen)
