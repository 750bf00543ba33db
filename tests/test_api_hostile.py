"""Hostile input (issue 12): bounds, the order of refusals, rate limits, nothing answers 500 and
nothing a client sends puts a traceback or a token in a log.

In-process against the in-memory gateway of `test_api_handlers` (the real policy catalogue),
except where a real part is the point: the duplicate create runs on the real dev server and
worker, the access log is a real uvicorn process's.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.guard import MAX_BODY_BYTES, RateLimiter
from plumbing.processes import free_port
from plumbing.redact import redact_query
from plumbing.settings import Settings
from tests.support import unique
from tests.support.api import ALL as E2E_TOKEN
from tests.support.api import Served, api_settings
from tests.support.fakes import AUTH, BODY, CREATOR, READER, SETTINGS, FakeGateway
from ticketclock.worker import build_worker
from workflows.contract import TICKET_KEY_JSON_SCHEMA, InvalidTicketKey, validate_ticket_key

ROOT = Path(__file__).resolve().parents[1]
READ = {"Authorization": f"Bearer {READER}"}
PREVIEW = {"tier": "premier", "severity": "p1", "customer": {"timezone": "Europe/Berlin"}}


def app_for(settings: Settings = SETTINGS) -> Any:
    app = create_app(settings, gateway=FakeGateway())
    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_for(), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


def error_of(resp: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    error: dict[str, Any] = resp.json()["error"]
    assert set(error) >= {"type", "message", "field"}, error
    if field is not None:
        assert error["field"] == field, error
        assert error["message"].startswith(f"{field}:"), error
    return error


def iso(when: datetime) -> str:
    return when.isoformat()


# -- opened_at ---------------------------------------------------------------------------------
OUT_OF_RANGE = [
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+14:00",  # not even writable in UTC
    "0003-01-03T00:00:00Z",
    "9998-01-01T00:00:00Z",
    "9999-12-31T23:59:59-14:00",  # past datetime.max in UTC
    "9999-12-31T23:59:59.999999+00:00",
]


@pytest.mark.parametrize("opened_at", OUT_OF_RANGE)
async def test_opened_at_out_of_range_is_422_on_create_and_preview(
    http: httpx.AsyncClient, opened_at: str
) -> None:
    created = await http.post("/v1/tickets", json={**BODY, "opened_at": opened_at}, headers=AUTH)
    error_of(created, 422, "opened_at")
    preview = await http.post(
        "/v1/policies/confluent-cloud/preview",
        json={**PREVIEW, "opened_at": opened_at},
        headers=AUTH,
    )
    error_of(preview, 422, "opened_at")


async def test_opened_at_window_is_the_settings(http: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    # Defaults: two years back (a helpdesk backfill), five minutes ahead (clock skew).
    ok = await http.post(
        "/v1/tickets", json={**BODY, "opened_at": iso(now - timedelta(days=700))}, headers=AUTH
    )
    assert ok.status_code == 201, ok.text
    old = await http.post(
        "/v1/tickets",
        json={**BODY, "key": "OLD-1", "opened_at": iso(now - timedelta(days=731))},
        headers=AUTH,
    )
    assert "730 days" in error_of(old, 422, "opened_at")["message"]
    ahead = await http.post(
        "/v1/tickets",
        json={**BODY, "key": "AHEAD-1", "opened_at": iso(now + timedelta(minutes=10))},
        headers=AUTH,
    )
    assert "5 minutes" in error_of(ahead, 422, "opened_at")["message"]
    skew = await http.post(
        "/v1/tickets",
        json={**BODY, "key": "SKEW-1", "opened_at": iso(now + timedelta(minutes=1))},
        headers=AUTH,
    )
    assert skew.status_code == 201, skew.text

    narrow = Settings(
        api_tokens=SETTINGS.api_tokens,
        max_ticket_age=timedelta(days=10),
        max_clock_skew=timedelta(0),
    )
    transport = httpx.ASGITransport(app=app_for(narrow))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as other:
        body = {**PREVIEW, "opened_at": iso(now - timedelta(days=20))}
        resp = await other.post("/v1/policies/confluent-cloud/preview", json=body, headers=AUTH)
        assert "10 days" in error_of(resp, 422, "opened_at")["message"]
        body = {**PREVIEW, "opened_at": iso(now - timedelta(days=5))}
        resp = await other.post("/v1/policies/confluent-cloud/preview", json=body, headers=AUTH)
        assert resp.status_code == 200, resp.text


# -- sizes -------------------------------------------------------------------------------------
async def test_intake_is_bounded(http: httpx.AsyncClient) -> None:
    at_bound = {f"f{i:02d}": "é" * 2048 for i in range(50)}  # 50 fields of 4096 bytes
    resp = await http.post("/v1/tickets", json={**BODY, "intake": at_bound}, headers=AUTH)
    assert resp.status_code == 201, resp.text

    too_many = {f"f{i:02d}": "x" for i in range(51)}
    resp = await http.post(
        "/v1/tickets", json={**BODY, "key": "I-2", "intake": too_many}, headers=AUTH
    )
    error_of(resp, 422, "intake")
    too_big = {"cluster_id": "é" * 2048 + "x"}  # 4097 bytes
    resp = await http.post(
        "/v1/tickets", json={**BODY, "key": "I-3", "intake": too_big}, headers=AUTH
    )
    error_of(resp, 422, "intake.cluster_id")
    long_name = {"n" * 65: "x"}
    resp = await http.post(
        "/v1/tickets", json={**BODY, "key": "I-4", "intake": long_name}, headers=AUTH
    )
    assert error_of(resp, 422)["field"].startswith("intake"), resp.text


async def test_complete_intake_fields_are_bounded_like_intake(http: httpx.AsyncClient) -> None:
    assert (await http.post("/v1/tickets", json=BODY, headers=AUTH)).status_code == 201
    url = f"/v1/tickets/{BODY['key']}/intake"
    many = {"actor": "agent:a", "fields": {f"f{i}": "x" for i in range(51)}}
    error_of(await http.post(url, json=many, headers=AUTH), 422, "fields")
    big = {"actor": "agent:a", "fields": {"cluster_id": "x" * 4097}}
    error_of(await http.post(url, json=big, headers=AUTH), 422, "fields.cluster_id")
    fine = {"actor": "agent:a", "fields": {"cluster_id": "x" * 4096}}
    assert (await http.post(url, json=fine, headers=AUTH)).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("", {**BODY, "subject": "s" * 201}, "subject"),
        ("/K/acknowledge", {"actor": "a" * 201}, "actor"),
        ("/K/acknowledge", {"actor": "agent:a", "message": "m" * 2001}, "message"),
        ("/K/reopen", {"actor": "agent:a", "reason": "r" * 2001}, "reason"),
        ("/K/resolve", {"actor": "agent:a", "solution": "s" * 5001}, "solution"),
    ],
)
async def test_texts_are_bounded(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    error_of(await http.post(f"/v1/tickets{path}", json=body, headers=AUTH), 422, field)


@pytest.mark.parametrize("eta", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_an_action_instant_out_of_range_is_422(http: httpx.AsyncClient, eta: str) -> None:
    assert (await http.post("/v1/tickets", json=BODY, headers=AUTH)).status_code == 201
    body = {"actor": "agent:a", "next_update_eta": eta}
    resp = await http.post(f"/v1/tickets/{BODY['key']}/acknowledge", json=body, headers=AUTH)
    error_of(resp, 422, "next_update_eta")


# -- every other datetime parameter ----------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/v1/tickets", "due_after"),
        ("/v1/tickets", "due_before"),
        ("/v1/reports/sla", "to"),
        ("/v1/reports/sla", "from"),
        ("/v1/reports/sla.html", "to"),
        ("/v1/reports/sla.html", "from"),
    ],
)
@pytest.mark.parametrize(
    "value",
    ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00+00:00"],
)
async def test_datetime_query_parameters_out_of_range_are_422(
    http: httpx.AsyncClient, path: str, param: str, value: str
) -> None:
    error_of(await http.get(path, params={param: value}, headers=READ), 422, param)


# -- keys --------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [".", ".."])
async def test_dot_keys_are_refused(http: httpx.AsyncClient, key: str) -> None:
    error_of(await http.post("/v1/tickets", json={**BODY, "key": key}, headers=AUTH), 422, "key")
    # The one key rule (workflows/keys.py) refuses them, so the CLI and a direct Temporal start
    # cannot make such a ticket either; the OpenAPI pattern says the same to clients.
    with pytest.raises(InvalidTicketKey):
        validate_ticket_key(key)
    assert not re.search(str(TICKET_KEY_JSON_SCHEMA["pattern"]), key)
    for fine in ("...", ".a", "a.", "ZD-1.2"):
        assert validate_ticket_key(fine) == fine
        assert re.search(str(TICKET_KEY_JSON_SCHEMA["pattern"]), fine)


# -- the order of refusals -------------------------------------------------------------------
async def test_a_body_over_the_limit_is_413_json_before_auth(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    big = b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}"
    caplog.set_level(logging.INFO)
    for headers in ({}, AUTH, {"Authorization": "Bearer nope-nope-nope-nope"}):
        resp = await http.post(
            "/v1/tickets", content=big, headers={**headers, "Content-Type": "application/json"}
        )
        assert error_of(resp, 413, "body")["type"] == "PayloadTooLarge"
    # Also where no route is: the limit comes before routing.
    error_of(await http.post("/nowhere", content=big), 413, "body")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]


async def test_a_chunked_body_over_the_limit_is_cut_off_with_413(http: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):  # 4 MiB offered, in 64 KiB chunks, no Content-Length
            sent += 1
            yield b" " * 65536

    resp = await http.post(
        "/v1/tickets", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert "content-length" not in resp.request.headers
    assert error_of(resp, 413, "body")["type"] == "PayloadTooLarge"
    assert sent < 64, "the body was read to its end"


async def test_auth_comes_before_any_look_at_the_request(http: httpx.AsyncClient) -> None:
    json_type = {"Content-Type": "application/json"}
    # No token: 401, whatever is wrong with the body or the path.
    resp = await http.post("/v1/tickets", content=b"{not json", headers=json_type)
    assert error_of(resp, 401)["type"] == "Unauthorized"
    assert (await http.post("/v1/tickets", json={"key": "bad key!"})).status_code == 401
    assert (await http.get("/v1/tickets/bad%20key")).status_code == 401
    assert (await http.post("/v1/tickets/bad%20key/acknowledge", json={})).status_code == 401
    assert (await http.get("/v1/tickets", params={"due_after": "garbage"})).status_code == 401
    # A token without the scope: 403, before the body is looked at.
    no_scope = {"Authorization": f"Bearer {READER}"}
    resp = await http.post("/v1/tickets", content=b"{not json", headers={**no_scope, **json_type})
    assert error_of(resp, 403)["type"] == "Forbidden"
    creator = {"Authorization": f"Bearer {CREATOR}"}
    assert error_of(await http.get("/v1/tickets/bad%20key", headers=creator), 403)
    # With the right token: now the content is judged.
    resp = await http.post("/v1/tickets", content=b"{not json", headers={**AUTH, **json_type})
    error_of(resp, 422, "body")
    error_of(await http.get("/v1/tickets/bad%20key", headers=AUTH), 422, "key")


# -- rate limits -------------------------------------------------------------------------------
async def test_over_the_rate_limit_is_429_with_retry_after() -> None:
    limited = Settings(api_tokens=SETTINGS.api_tokens, rate_limit=1, rate_burst=3)
    transport = httpx.ASGITransport(app=app_for(limited))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        for _ in range(3):
            assert (await http.get("/v1/policies", headers=AUTH)).status_code == 200
        resp = await http.get("/v1/policies", headers=AUTH)
        assert error_of(resp, 429)["type"] == "RateLimited"
        assert 1 <= int(resp.headers["Retry-After"]) <= 60
        # Per token: another token still has its burst; requests without one are not counted
        # against anybody (and are refused as they would be).
        assert (await http.get("/v1/policies", headers=READ)).status_code == 200
        assert (await http.get("/v1/policies")).status_code == 401
        assert (await http.get("/healthz")).status_code == 200


def test_the_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    bucket = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert bucket.acquire("a") == 0 and bucket.acquire("a") == 0
    assert bucket.acquire("a") == pytest.approx(1.0)
    now[0] += 0.5
    assert bucket.acquire("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert bucket.acquire("a") == 0
    assert bucket.acquire("b") == 0  # a bucket per token
    now[0] += 3600
    assert [bucket.acquire("a") for _ in range(3)][:2] == [0, 0]  # capped at the burst


async def test_rate_limit_zero_means_no_limit() -> None:
    unlimited = Settings(api_tokens=SETTINGS.api_tokens, rate_limit=0, rate_burst=0)
    transport = httpx.ASGITransport(app=app_for(unlimited))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        for _ in range(50):
            assert (await http.get("/v1/policies", headers=AUTH)).status_code == 200


# -- no traceback for a client's mistake -------------------------------------------------------
@pytest.fixture
async def stack(dev_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings(unique("hostile"))
    client = dev_env.client

    async def client_factory() -> Client:
        return client

    app = create_app(settings, client_factory)
    async with (
        build_worker(client, settings),
        Served(app) as served,
        httpx.AsyncClient(
            base_url=served.url, headers={"Authorization": f"Bearer {E2E_TOKEN}"}, timeout=30
        ) as http,
    ):
        yield http


async def test_a_duplicate_create_logs_nothing(
    stack: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The idempotent retry used to log "Future exception was never retrieved ...
    WorkflowAlreadyStartedError" with a traceback, each time."""
    body = {"key": unique("DUP"), "policy": "confluence-health-check", "tier": "standard"}
    body["severity"] = "sev3"
    assert (await stack.post("/v1/tickets", json=body)).status_code == 201
    caplog.clear()
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        assert (await stack.post("/v1/tickets", json=body)).status_code == 200
    assert (await stack.post("/v1/tickets", json={**body, "severity": "sev2"})).status_code == 409
    gc.collect()
    await asyncio.sleep(0)
    noisy = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not noisy, [r.getMessage() for r in noisy]


# -- tokens never reach a log ------------------------------------------------------------------
def test_redact_query() -> None:
    assert redact_query("/v1/x?access_token=abc&limit=5") == "/v1/x?access_token=[redacted]&limit=5"
    assert redact_query("/x?a=1&api_key=s3cr3t") == "/x?a=1&api_key=[redacted]"
    assert redact_query("/x?key=ZD-1&cursor=abc") == "/x?key=ZD-1&cursor=abc"


@pytest.fixture
def api_process() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETCLOCK_")}
    env.update(
        TICKETCLOCK_API_HOST="127.0.0.1",
        TICKETCLOCK_API_PORT=str(port),
        TICKETCLOCK_TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",  # never reached here
        TICKETCLOCK_DEV_TOKEN="dev-token-0123456789abcdef",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "ticketclock.cli", "api", "--log-level", "info"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_real_server_logs_no_token_and_no_traceback(
    api_process: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, proc = api_process
    secret = "tok-SECRET-0123456789abcdef"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert proc.poll() is None, "the API exited"
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.1)
    resp = httpx.get(f"{url}/v1/tickets", params={"access_token": secret, "limit": "5"})
    assert resp.status_code == 401
    resp = httpx.get(f"{url}/healthz", params={"token": secret})
    assert resp.status_code == 200
    # Big bodies over real HTTP, without a token: 413 JSON, and nothing in the log but the
    # access line (this used to be a text/plain 413 and a 74-line traceback).
    json_type = {"Content-Type": "application/json"}
    for size in (2 << 20, 10 << 20):
        resp = httpx.post(f"{url}/v1/tickets", content=b" " * size, headers=json_type, timeout=30)
        assert resp.status_code == 413 and resp.json()["error"]["type"] == "PayloadTooLarge"

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b" " * 65536

    auth = {"Authorization": "Bearer dev-token-0123456789abcdef", **json_type}
    try:
        resp = httpx.post(f"{url}/v1/tickets", content=chunks(), headers=auth, timeout=30)
        assert resp.status_code == 413 and resp.json()["error"]["field"] == "body"
    except httpx.WriteError:
        pass  # the server answered and closed while the rest was still being sent: cut off
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=15)
    log = out.decode()
    assert "Traceback" not in log and "ERROR" not in log, log
    assert log.count(" 413") >= 2, log
    assert "GET /v1/tickets?access_token=[redacted]&limit=5" in log, log
    assert "GET /healthz?token=[redacted]" in log, log
    assert secret not in log, log


# -- properties --------------------------------------------------------------------------------
# Any instant from year 1 to 9999 in any offset to the minute, as a client can write it.
offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1)


@st.composite
def written_instants(draw: st.DrawFn) -> str:
    naive = draw(
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59))
    )
    if draw(st.booleans()):  # near now, where the window is
        naive = datetime.now(UTC).replace(tzinfo=None) + timedelta(
            seconds=draw(st.integers(-3 * 365 * 86400, 86400))
        )
    minutes = draw(offsets)
    sign = "+" if minutes >= 0 else "-"
    return f"{naive.isoformat()}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class InProcess:
    """Sync calls into the app for hypothesis (an exception in the app fails the example)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=True)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                return await http.request(method, path, **kwargs)

        return asyncio.run(call())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._call("POST", path, **kwargs)


@pytest.fixture(scope="module")
def client() -> Iterator[InProcess]:
    yield InProcess(app_for())


FIXTURE_OK = [HealthCheck.function_scoped_fixture]
# Policies with different calendars: the customer's zone, a vendor's business hours, 24x7.
TERMS: dict[str, dict[str, Any]] = {
    "confluent-cloud": {
        "tier": "developer",
        "severity": "p3",
        "customer": {"timezone": "Asia/Tokyo"},
    },
    "confluence-health-check": {"tier": "standard", "severity": "sev3"},
}


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_OK)
@given(opened_at=written_instants(), policy=st.sampled_from(sorted(TERMS)))
def test_any_opened_at_gives_a_deadline_or_a_422(
    client: InProcess, opened_at: str, policy: str
) -> None:
    body = {**TERMS[policy], "opened_at": opened_at}
    preview = client.post(f"/v1/policies/{policy}/preview", json=body, headers=AUTH)
    assert preview.status_code in (200, 422), preview.text
    if preview.status_code == 200:
        assert any(c["due_at"] for c in preview.json()["clocks"]), preview.text
    else:
        assert preview.json()["error"]["field"] == "opened_at", preview.text
    create = {**body, "key": unique("P"), "policy": policy}
    created = client.post("/v1/tickets", json=create, headers=AUTH)
    assert created.status_code in (201, 422), created.text
    if created.status_code == 201:
        assert created.json()["next_deadline"], created.text
    else:
        assert created.json()["error"]["field"] == "opened_at", created.text


@settings(max_examples=100, deadline=None, suppress_health_check=FIXTURE_OK)
@given(value=written_instants(), which=st.sampled_from(["due_after", "due_before", "from", "to"]))
def test_any_datetime_parameter_is_answered_or_refused(
    client: InProcess, value: str, which: str
) -> None:
    path = "/v1/tickets" if which.startswith("due_") else "/v1/reports/sla"
    resp = client.get(path, params={which: value}, headers=AUTH)
    assert resp.status_code in (200, 422), resp.text
    if resp.status_code == 422:
        assert resp.json()["error"]["field"] in (which, "from"), resp.text
