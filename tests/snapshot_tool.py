"""Golden deadline snapshots: every policy's deadlines over a fixed grid, committed as JSON.

For each policy x tier x severity x customer variant x open instant (weekends, US and EU DST
nights, US Thanksgiving, Romanian national days, Christmas, New Year, Easter) it records the
effective severity and every clock's deadline and warnings, as if each clock started at the
open instant. A change in behaviour (code, catalogue, holiday data) then shows as a diff.

    python -m tests.snapshot_tool write    # regenerate tests/snapshots/*.json (make snapshots)
    python -m tests.snapshot_tool check    # compare; exit 1 and print the differences

Kong's seed has no response times, so the grid loads tests/fixtures/policies (made-up test
numbers) on top of the built-in catalogue. Operators' TICKETCLOCK_POLICY_DIRS are ignored.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from policies.catalog import Catalog, load_catalog
from policies.customer import Customer
from policies.errors import PolicyError
from policies.snapshot import ResolvedSla

HERE = Path(__file__).resolve().parent
SNAPSHOT_DIR = HERE / "snapshots"
FIXTURE_DIRS = (HERE / "fixtures" / "policies",)

# UTC open instants, each chosen for what it crosses.
INSTANTS = (
    "2026-03-06T16:30:00Z",  # Friday afternoon: runs over the weekend
    "2026-03-07T12:00:00Z",  # Saturday noon: starts closed
    "2026-03-08T07:30:00Z",  # US DST night (Chicago 02:00 CST -> 03:00 CDT at 08:00Z)
    "2026-03-28T23:30:00Z",  # EU DST night (01:00Z on Sunday 29 March)
    "2026-04-02T16:00:00Z",  # before Good Friday / Easter Monday (GB, SG; RO a week later)
    "2026-10-24T23:30:00Z",  # EU DST ends (01:00Z on Sunday 25 October)
    "2026-11-01T06:30:00Z",  # US DST ends (Chicago 02:00 CDT -> 01:00 CST at 07:00Z)
    "2026-11-25T22:00:00Z",  # the evening before US Thanksgiving (26 November)
    "2026-11-27T23:30:00Z",  # Friday after Thanksgiving, 30 minutes before the weekend
    "2026-11-27T08:00:00Z",  # Friday before Romania's St Andrew's Day and National Day
    "2026-12-24T17:00:00Z",  # Christmas Eve, then Christmas and Boxing Day (observed)
    "2026-12-31T12:00:00Z",  # New Year's Eve
    "2026-06-10T10:00:00Z",  # an ordinary Wednesday morning
)

# Customer variants per policy (the attributes that pick the calendar).
CUSTOMERS: dict[str, tuple[dict[str, str], ...]] = {
    "confluent-cloud": (
        {"timezone": "America/New_York"},
        {"timezone": "Europe/Berlin"},
        {"timezone": "Asia/Tokyo"},
    ),
    "kong": ({"region": "americas"}, {"region": "emea"}, {"region": "ap-anz"}),
}


def grid_catalog() -> Catalog:
    return load_catalog(FIXTURE_DIRS)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _case_key(tier: str, severity: str, customer: dict[str, str], opened: str) -> str:
    who = ",".join(f"{k}={v}" for k, v in sorted(customer.items())) or "-"
    return f"{tier}/{severity}/{who}/{opened}"


def _deadlines(sla: ResolvedSla, opened: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for clock in sla.terms().targets:
        due = sla.due(clock, opened)
        assert due.due_at is not None
        out[clock.value] = {
            "at": _utc(due.due_at),
            "warnings": {w.label: _utc(w.at) for w in due.warnings},
        }
    return out


def compute(policy_id: str, catalog: Catalog | None = None) -> dict[str, Any]:
    """The snapshot document for one policy."""
    catalog = catalog or grid_catalog()
    policy = catalog.get(policy_id)
    cases: dict[str, Any] = {}
    for tier in policy.tiers:
        for severity in policy.severity_ids():
            for customer in CUSTOMERS.get(policy_id, ({},)):
                for opened_text in INSTANTS:
                    opened = datetime.fromisoformat(opened_text)
                    key = _case_key(tier, severity, customer, opened_text)
                    try:
                        sla = catalog.resolve(
                            policy_id, tier, severity, Customer(**customer), opened_at=opened
                        )
                    except PolicyError as exc:
                        cases[key] = {"error": str(exc)}
                        continue
                    cases[key] = {
                        "severity": sla.severity,
                        "rank": sla.terms().rank,
                        "due": _deadlines(sla, opened),
                    }
    return {
        "policy": policy_id,
        "version": policy.version,
        "lifecycle": policy.lifecycle.model_dump(mode="json"),
        "files": list(catalog.files(policy_id)),
        "cases": cases,
    }


def snapshot_path(policy_id: str) -> Path:
    return SNAPSHOT_DIR / f"{policy_id}.json"


def differences(expected: dict[str, Any], actual: dict[str, Any], limit: int = 15) -> list[str]:
    """Human-readable case differences between two snapshot documents."""
    old, new = expected.get("cases", {}), actual.get("cases", {})
    lines = []
    for field in ("version", "lifecycle"):
        if expected.get(field) != actual.get(field):
            lines.append(
                f"  {field}:\n    committed {json.dumps(expected.get(field))}\n    now       "
                f"{json.dumps(actual.get(field))}"
            )
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            lines.append(
                f"  {key}:\n    committed {json.dumps(old.get(key))}\n    now       "
                f"{json.dumps(new.get(key))}"
            )
    if len(lines) > limit:
        lines = [*lines[:limit], f"  ... and {len(lines) - limit} more"]
    return lines


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def write() -> int:
    catalog = grid_catalog()
    SNAPSHOT_DIR.mkdir(parents=True, exist_ok=True)
    for policy_id in catalog.ids():
        document = compute(policy_id, catalog)
        snapshot_path(policy_id).write_text(_dump(document))
        print(f"wrote {snapshot_path(policy_id)} ({len(document['cases'])} cases)")
    return 0


def check() -> int:
    catalog = grid_catalog()
    failed = False
    for policy_id in catalog.ids():
        path = snapshot_path(policy_id)
        if not path.exists():
            print(f"{path}: missing; run `make snapshots`")
            failed = True
            continue
        diff = differences(json.loads(path.read_text()), compute(policy_id, catalog))
        if diff:
            print(f"{path}: changed:\n" + "\n".join(diff))
            failed = True
    if failed:
        print("if the change is intended, run `make snapshots` and commit tests/snapshots/")
        return 1
    print("snapshots match")
    return 0


def main(argv: list[str]) -> int:
    if argv == ["write"]:
        return write()
    if argv == ["check"]:
        return check()
    print("usage: python -m tests.snapshot_tool write|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
