"""Golden snapshots: recompute every policy's deadline grid and compare with tests/snapshots/."""

from __future__ import annotations

import json

import pytest

from policies.catalog import BUILTIN_DIR, Catalog
from tests import snapshot_tool

POLICIES = sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return snapshot_tool.grid_catalog()


@pytest.mark.parametrize("policy_id", POLICIES)
def test_deadlines_match_the_committed_snapshot(policy_id: str, catalog: Catalog) -> None:
    path = snapshot_tool.snapshot_path(policy_id)
    assert path.exists(), f"{path} is missing: run `make snapshots`"
    committed = json.loads(path.read_text())
    now = snapshot_tool.compute(policy_id, catalog)
    diff = snapshot_tool.differences(committed, now)
    assert not diff, (
        f"{policy_id}: deadlines differ from {path.name}:\n"
        + "\n".join(diff)
        + "\nIf the change is intended, run `make snapshots` and commit tests/snapshots/."
    )


def test_the_grid_exercises_every_policy_without_errors(catalog: Catalog) -> None:
    for policy_id in POLICIES:
        cases = snapshot_tool.compute(policy_id, catalog)["cases"]
        assert len(cases) >= 12
        errors = [k for k, v in cases.items() if "error" in v]
        assert not errors, f"{policy_id}: {errors[:3]}"


def test_a_changed_deadline_shows_as_a_difference(catalog: Catalog) -> None:
    doc = snapshot_tool.compute("clickhouse", catalog)
    key = next(iter(doc["cases"]))
    changed = json.loads(json.dumps(doc))
    changed["cases"][key]["severity"] = "moved"
    diff = snapshot_tool.differences(doc, changed)
    assert len(diff) == 1 and key in diff[0]
