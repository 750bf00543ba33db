"""The common severity rank (issue 16): every catalogue severity says its rank 1..4 and where it
comes from; ranks follow the policy's own order; a resolved ticket carries its rank."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.catalog import load_catalog
from policies.model import Policy, policy_problems

CATALOG = load_catalog([])


@pytest.mark.parametrize("policy_id", CATALOG.ids())
def test_every_catalogue_severity_names_its_rank_and_its_source(policy_id: str) -> None:
    policy = CATALOG.get(policy_id)
    ranks = []
    for sev in policy.severities:
        assert sev.rank is not None, f"{policy_id}.{sev.id}: rank is not written in the file"
        assert sev.rank_source.strip(), f"{policy_id}.{sev.id}: rank_source is empty"
        ranks.append(sev.rank)
    assert ranks == sorted(ranks), f"{policy_id}: ranks {ranks} are not most urgent first"
    assert ranks[0] == 1, f"{policy_id}: its most severe level is not rank 1"
    if len(ranks) < 4:  # fewer levels than ranks: the gap is an assumption, said so
        assert any("ASSUMPTION" in s.rank_source for s in policy.severities), policy_id


def test_the_vendors_names_meet_at_one_rank() -> None:
    # The question the issue asks: P1, Sev1 and Urgent are the same urgency.
    rank_one = {(p, s) for p in CATALOG.ids() for s in CATALOG.get(p).severities_of_rank(1)}
    assert ("confluent-cloud", "p1") in rank_one
    assert ("kubeark", "urgent") in rank_one
    assert ("clickhouse", "sev1") in rank_one
    assert ("kubeark", "high") not in rank_one


def test_a_resolved_ticket_carries_the_rank_of_its_severity() -> None:
    opened = datetime(2026, 6, 10, 10, tzinfo=UTC)
    sla = CATALOG.resolve("kubeark", "standard", "Urgent", opened_at=opened)
    assert [t.rank for t in sla.severities] == [1, 2, 3]
    assert sla.terms().rank == 1


def _policy(ranks: list[int | None]) -> Policy:
    base = CATALOG.get("confluence-health-check").model_dump()
    severities = []
    for sev, rank in zip(base["severities"], ranks, strict=False):
        severities.append({**sev, "rank": rank, "rank_source": "test" if rank else ""})
    return Policy.model_validate({**base, "severities": severities})


@given(st.lists(st.integers(1, 4), min_size=4, max_size=4))
def test_a_rank_more_urgent_than_the_level_before_it_is_a_problem(ranks: list[int]) -> None:
    problems = [p for p, _ in policy_problems(_policy(list(ranks))) if p.endswith(".rank")]
    out_of_order = [i for i in range(1, 4) if ranks[i] < max(ranks[:i])]
    assert bool(problems) == bool(out_of_order), (ranks, problems)


def test_an_omitted_rank_is_the_position_capped_at_four() -> None:
    policy = _policy([None, None, None, None])
    assert [policy.severity_rank(s) for s in policy.severity_ids()] == [1, 2, 3, 4]
    assert not [p for p, _ in policy_problems(policy) if "rank" in p]
