"""What-if (issue 17) end to end on the real dev server, worker and API.

A few hundred tickets of tests/fixtures/whatif_policies (every clock; second-scale cadence and
incident commander, minute-scale first response) are opened minutes in the past and driven
through every action, over HTTP Updates and as Signals, some across continue-as-new. Then
`POST /v1/policies/whatif`:

- THE faithfulness test: a candidate identical to the version they ran under gives `changed: []`
  and equal counts (their real recorded outcomes vs the replay through the rules core);
- a tighter candidate shows the extra breaches, each a clock that was met or open;
- a bad candidate is 422 naming the field; `ticketclock policy whatif --json` prints the same.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from plumbing.settings import ApiToken, Settings
from policies.catalog import load_catalog
from tests.support import unique
from tests.support.api import Served
from ticketclock.cli import main
from ticketclock.worker import build_worker
from workflows.actions import ACTIONS as ACTION_TABLE
from workflows.contract import ticket_workflow_id
from workflows.messages import TicketInput
from workflows.ticket import TicketWorkflow

POLICIES = Path(__file__).parent / "fixtures" / "whatif_policies"
POLICY = "whatif-test"
TOKEN = "whatif-token-0123456789abcdef"
TICKETS = 240
CAN_TICKETS = 6  # started directly with a small continue-as-new bound
CONCURRENCY = 40


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment,
) -> AsyncIterator[tuple[httpx.AsyncClient, Client, str, str]]:
    queue = unique("whatif")
    settings = Settings(
        task_queue=queue,
        policy_dirs=(str(POLICIES),),
        api_tokens=(
            ApiToken("all", TOKEN, frozenset({"tickets:create", "tickets:act", "tickets:read"})),
        ),
    )
    client = dev_env.client

    async def client_factory() -> Client:
        return client

    async with (
        build_worker(client, settings),
        Served(create_app(settings, client_factory)) as api,
        httpx.AsyncClient(
            base_url=api.url, timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as http,
    ):
        yield http, client, api.url, queue


ACTIONS = (
    "acknowledge",
    "updates",
    "waiting-on-customer",
    "customer-replies",
    "severity",
    "engineering-ack",
    "incident-commander",
    "mitigate",
    "resolve",
    "reopen",
    "close",
    "review/open",
    "review/complete",
    "escalate",
)
EXAMPLES = {route.path: route.example for route in ACTION_TABLE}
SIGNALS = {
    "acknowledge": "acknowledge",
    "updates": "agent_update",
    "customer-replies": "customer_reply",
    "waiting-on-customer": "request_customer_info",
    "engineering-ack": "engineering_ack",
    "mitigate": "mitigate",
}


def _body(action: str, rng: random.Random, severity: str) -> dict[str, Any]:
    body = {k: v for k, v in EXAMPLES[action].items() if k != "next_update_eta"}
    if action in ("acknowledge", "updates") and rng.random() < 0.6:
        eta = datetime.now(UTC) + timedelta(seconds=rng.choice([2, 3, 30, 600]))
        body["next_update_eta"] = eta.isoformat()
    if action == "severity":
        body["severity"] = "sev2" if severity == "sev1" else "sev1"
    return body


async def _drive(
    http: httpx.AsyncClient, client: Client, rng: random.Random, done: Counter[str]
) -> str:
    key = unique("WI")
    severity = rng.choice(["sev1", "sev2"])
    opened = datetime.now(UTC) - timedelta(minutes=rng.choice([0, 1, 3, 8, 12, 30, 45, 70]))
    body = {
        "key": key,
        "policy": POLICY,
        "tier": "gold",
        "severity": severity,
        "opened_at": opened.isoformat(),
    }
    resp = await http.post("/v1/tickets", json=body)
    assert resp.status_code == 201, resp.text
    handle = client.get_workflow_handle(ticket_workflow_id(key))
    for _ in range(rng.randint(3, 9)):
        await asyncio.sleep(rng.choice([0, 0.2, 0.7, 1.5, 3.0]))
        action = rng.choice(ACTIONS)
        payload = _body(action, rng, severity)
        if action in SIGNALS and rng.random() < 0.25:
            await handle.signal(SIGNALS[action], payload)
            done[f"signal:{action}"] += 1
            continue
        resp = await http.post(f"/v1/tickets/{key}/{action}", json=payload)
        if resp.status_code == 200:
            done[action] += 1
            severity = resp.json()["severity"]
        else:
            assert resp.status_code == 409, resp.text
    return key


async def _drive_continued(client: Client, queue: str, rng: random.Random) -> str:
    """A ticket whose workflow continues as new every ~40 events, driven by Updates."""
    key = unique("WICAN")
    opened = datetime.now(UTC) - timedelta(minutes=2)
    sla = load_catalog([str(POLICIES)]).resolve(POLICY, "gold", "sev2", opened_at=opened)
    handle = await client.start_workflow(
        TicketWorkflow.run,
        TicketInput(key=key, sla=sla, opened_at=opened, continue_as_new_after_events=40),
        id=ticket_workflow_id(key),
        task_queue=queue,
    )
    await handle.execute_update("opened")
    for i in range(14):
        name = "acknowledge" if i == 0 else rng.choice(["agent_update", "request_customer_info"])
        try:
            await handle.execute_update(name, {"actor": "agent:t"})
        except Exception:  # noqa: BLE001, S112 - a refusal (e.g. already waiting) changes nothing
            continue
        await asyncio.sleep(rng.choice([0, 0.3]))
    return key


async def test_whatif_is_faithful_and_shows_a_tighter_candidate_s_breaches(
    stack: tuple[httpx.AsyncClient, Client, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    http, client, url, queue = stack
    start = datetime.now(UTC) - timedelta(hours=2)
    rng = random.Random(17)
    done: Counter[str] = Counter()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(seed: int) -> str:
        async with gate:
            return await _drive(http, client, random.Random(seed), done)

    seeds = [rng.randrange(1 << 30) for _ in range(TICKETS)]
    keys = await asyncio.gather(*(one(s) for s in seeds))
    continued = await asyncio.gather(
        *(_drive_continued(client, queue, random.Random(s)) for s in range(CAN_TICKETS))
    )
    # Every action happened at least once (accepted), and Signals were sent.
    assert {a for a in ACTIONS if done[a] == 0} == set()
    assert sum(v for k, v in done.items() if k.startswith("signal:")) > 10
    # The continue-as-new tickets really have several runs.
    runs = [
        e async for e in client.list_workflows(f"WorkflowId = '{ticket_workflow_id(continued[0])}'")
    ]
    assert len(runs) >= 2
    await asyncio.sleep(1.0)  # visibility catches up
    to = datetime.now(UTC)
    candidate = load_catalog([str(POLICIES)]).get(POLICY).model_dump(mode="json", exclude_none=True)
    assert candidate["version"] == "v2"  # what the tickets resolved (in effect today)
    resp = await http.post(
        "/v1/policies/whatif",
        json={"candidate": candidate, "from": start.isoformat(), "to": to.isoformat()},
    )
    assert resp.status_code == 200, resp.text
    same = resp.json()
    with capsys.disabled():  # the figures, for the record
        print(
            f"faithfulness: {same['tickets']} tickets, actual {same['actual']['met']} met "
            f"{same['actual']['breached']} breached {same['actual']['open']} open; "
            f"candidate {same['candidate']['met']} met {same['candidate']['breached']} breached "
            f"{same['candidate']['open']} open; changed {len(same['changed'])}; "
            f"actions {dict(done)}"
        )
    assert same["skipped"] == []
    assert same["tickets"] == TICKETS + CAN_TICKETS
    assert same["changed"] == [], same["changed"][:5]
    for outcome in ("met", "breached", "open"):
        assert same["actual"][outcome] == same["candidate"][outcome]
    assert same["actual"]["met"] > 100 and same["actual"]["breached"] > 100
    assert same["actual"]["first_response"] == same["candidate"]["first_response"]
    assert {(g["rank"], g["severity"]) for g in same["groups"]} == {(1, "sev1"), (2, "sev2")}
    for g in same["groups"]:
        assert g["actual"] == g["candidate"]
    assert set(keys) | set(continued) >= {keys[0], continued[0]}

    # A tighter candidate: first response 1 minute at every severity.
    tight = json.loads(json.dumps(candidate))
    tight["version"] = "tight"
    for cell in tight["targets"]["gold"].values():
        cell["first_response"] = "1m"
    resp = await http.post(
        "/v1/policies/whatif",
        json={"candidate": tight, "from": start.isoformat(), "to": to.isoformat()},
    )
    assert resp.status_code == 200, resp.text
    tighter = resp.json()
    with capsys.disabled():
        print(
            f"tighter: actual {tighter['actual']['breached']} breached, candidate "
            f"{tighter['candidate']['breached']} breached, changed {len(tighter['changed'])}"
        )
    assert tighter["actual"] == same["actual"]
    assert tighter["candidate"]["breached"] > tighter["actual"]["breached"]
    assert tighter["changed"]
    for ch in tighter["changed"]:
        assert ch["clock"] == "first_response"
        # met, open, or stopped unanswered (closed) before the tighter deadline would have passed
        assert ch["actual"] in ("met", "open", None) and ch["candidate"] == "breached", ch
    extra = tighter["candidate"]["breached"] - tighter["actual"]["breached"]
    assert extra == len(tighter["changed"])

    # A bad candidate names the field; nothing is read.
    bad = {**candidate, "targets": {"gold": {"sev1": {"first_response": "soon"}}}}
    resp = await http.post(
        "/v1/policies/whatif", json={"candidate": bad, "from": start.isoformat()}
    )
    assert resp.status_code == 422
    assert resp.json()["error"]["field"].startswith("candidate: targets.gold.sev1.first_response")
    resp = await http.post(
        "/v1/policies/whatif", json={"candidate": "id = 'x'\nname = ", "from": start.isoformat()}
    )
    assert resp.status_code == 422 and "TOML" in resp.json()["error"]["message"]

    # The CLI, through the API: the same report as JSON.
    path = tmp_path / "tight.json"
    path.write_text(json.dumps(tight))
    monkeypatch.setenv("TICKETCLOCK_API_URL", url)
    monkeypatch.setenv("TICKETCLOCK_TOKEN", TOKEN)
    capsys.readouterr()
    code = await asyncio.to_thread(
        main,
        [
            "policy",
            "whatif",
            str(path),
            "--from",
            start.isoformat(),
            "--to",
            to.isoformat(),
            "--json",
        ],
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["candidate"] == tighter["candidate"] and out["changed"] == tighter["changed"]
    code = await asyncio.to_thread(
        main, ["policy", "whatif", str(path), "--from", start.isoformat(), "--to", to.isoformat()]
    )
    text = capsys.readouterr().out
    assert code == 0 and f"{len(tighter['changed'])} clock(s) change outcome" in text
    code = await asyncio.to_thread(
        main,
        [
            "policy",
            "whatif",
            str(path),
            "--from",
            start.isoformat(),
            "--to",
            to.isoformat(),
            "--html",
        ],
    )
    page = capsys.readouterr().out
    assert code == 0 and page.startswith("<!doctype html>")
    assert page.count("<tr>") == 1 + len(tighter["groups"]) + 1 + len(tighter["changed"])
