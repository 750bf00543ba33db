"""Issue 13, "Seed fidelity": every clause of the five policies, nothing decided in code.

Each test names the clause (or the defect) it pins; each fails on the code before the fix.
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from plumbing.settings import ApiToken, Settings
from policies.catalog import load_catalog
from policies.customer import Customer
from policies.errors import PolicyError
from ticketclock.cli import main

POLICIES_DIR = Path(__file__).resolve().parent.parent / "policies"
TOKEN = "fidelity-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def _no_operator_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICKETCLOCK_POLICY_DIRS", raising=False)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The real app; the preview route resolves policies and never reaches Temporal."""

    async def no_temporal() -> Any:
        raise AssertionError("the policy preview must not need Temporal")

    settings = Settings(api_tokens=(ApiToken("t", TOKEN, frozenset({"tickets:read"})),))
    app = create_app(settings, no_temporal, catalog=load_catalog(()))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["policy", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def resolve(policy: str, tier: str, severity: str, **kw: Any) -> Any:
    return load_catalog(()).resolve(policy, tier, severity, **kw)


# -- item 1: severities match by id, label or alias only ----------------------------------------


@pytest.mark.parametrize("text", ["-1", "-2", "2-", "sev-3", "p 1", "S-1", "1.", " -1 "])
def test_negative_or_punctuated_severities_are_refused_listing_the_allowed(text: str) -> None:
    """Defect: the normaliser dropped hyphens, so `-1` was Sev1 and `2-` was P2."""
    policy = "confluent-cloud" if text.lower().startswith("p") else "clickhouse"
    with pytest.raises(PolicyError) as err:
        resolve(
            policy,
            "enterprise" if policy == "clickhouse" else "premier",
            text,
            customer=Customer(timezone="Europe/Berlin"),
        )
    assert err.value.field == "severity"
    first = "p1 (P1, 1" if policy == "confluent-cloud" else "sev1 (Sev1, 1"
    assert "allowed" in err.value.message and first in err.value.message


@pytest.mark.parametrize(
    ("policy", "tier", "text", "expected"),
    [
        ("confluent-cloud", "premier", "P3", "p3"),
        ("confluent-cloud", "premier", "p3", "p3"),
        ("confluent-cloud", "premier", " priority one ", "p1"),
        ("clickhouse", "enterprise", "1", "sev1"),
        ("clickhouse", "enterprise", "sev2", "sev2"),
        ("clickhouse", "enterprise", "SEVERITY LEVEL 3", "sev3"),
        ("confluence-health-check", "standard", "Sev-1", "sev1"),  # a documented alias
        ("kubeark", "standard", "URGENT", "urgent"),
    ],
)
def test_documented_names_still_match_in_any_case(
    policy: str, tier: str, text: str, expected: str
) -> None:
    sla = resolve(policy, tier, text, customer=Customer(timezone="Europe/Berlin"))
    assert sla.requested_severity == expected
    # The workflow's change_severity uses the snapshot's matcher: the same names, the same ids.
    assert sla.find_severity(text) == expected


@pytest.mark.parametrize("text", ["-1", "2-", "sev-2", "sev 1"])
def test_change_severity_refuses_what_opening_refuses(text: str) -> None:
    sla = resolve("clickhouse", "enterprise", "sev3")
    assert sla.find_severity(text) is None
    assert "sev1 (Sev1, 1, S1" in sla.allowed_severities()


def test_cli_due_refuses_a_negative_severity(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(
        capsys,
        "due",
        "clickhouse",
        "--tier",
        "enterprise",
        "--severity=-1",
        "--opened",
        "2026-06-10T10:00:00Z",
    )
    assert code == 2
    assert err.startswith("error: severity: unknown severity '-1'") and "allowed" in err


async def test_api_refuses_a_negative_severity_with_422(http: httpx.AsyncClient) -> None:
    body = {"tier": "premier", "severity": "-2", "customer": {"timezone": "Europe/Berlin"}}
    resp = await http.post("/v1/policies/confluent-cloud/preview", json=body, headers=AUTH)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["field"] == "severity" and "p2 (P2, 2" in error["message"]


# -- layering: no import cycle inside policies/, nothing of ours outside it ---------------------


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):  # every import, inside functions too
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_policies_has_no_import_cycle_and_imports_nothing_of_ours_outside() -> None:
    """Defect: catalog.py and resolve.py imported each other (one of them inside a function)."""
    modules = {f"policies.{p.stem}": p for p in POLICIES_DIR.glob("*.py") if p.stem != "__init__"}
    ours = {"workflows", "activities", "api", "ticketclock", "plumbing", "tests", "bench"}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = _imports(path)
        assert not {i.split(".")[0] for i in imported} & ours, (name, imported)
        graph[name] = {i for i in imported if i in modules}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or reaches(nxt, goal, seen | {nxt}) for nxt in graph[start] - seen)

    cycles = [name for name in graph if reaches(name, name, set())]
    assert not cycles, cycles
