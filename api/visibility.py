"""The one function that writes a Temporal visibility query, from typed and validated filters.

User text is never pasted into the query: every value goes through `literal`, which quotes and
escapes it, and the filters have already been narrowed to known ids, enum values and datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from api.schemas import TicketFilters
from workflows.contract import (
    SA_BREACHED,
    SA_NEXT_DEADLINE,
    SA_POLICY,
    SA_SEVERITY,
    SA_STATE,
    SA_TIER,
)

WORKFLOW_TYPE = "TicketWorkflow"
FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)


def literal(value: str | bool | datetime) -> str:
    """A visibility-query literal: booleans bare, datetimes as RFC 3339 UTC, strings quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("visibility datetimes must be timezone-aware")
        value = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def rank_clause(pairs: dict[str, tuple[str, ...]]) -> str:
    """`rank=N` as (policy, severities) pairs: one OR of policy AND severity IN (...)."""
    parts = [
        f"({SA_POLICY.name} = {literal(policy)} AND {SA_SEVERITY.name} IN "
        f"({', '.join(literal(s) for s in severities)}))"
        for policy, severities in sorted(pairs.items())
        if severities
    ]
    return "(" + " OR ".join(parts) + ")"


def list_query(filters: TicketFilters, rank_pairs: dict[str, tuple[str, ...]] | None = None) -> str:
    clauses = [f"WorkflowType = {literal(WORKFLOW_TYPE)}"]
    for key, value in (
        (SA_POLICY, filters.policy),
        (SA_TIER, filters.tier),
        (SA_SEVERITY, filters.severity),
        (SA_STATE, filters.state.value if filters.state else None),
        (SA_BREACHED, filters.breached),
    ):
        if value is not None:
            clauses.append(f"{key.name} = {literal(value)}")
    if rank_pairs is not None:
        clauses.append(rank_clause(rank_pairs))
    if filters.sort == "next_deadline":
        clauses.append("ExecutionStatus = 'Running'")
        # Only tickets with a running clock; the far bound keeps null deadlines out.
        if filters.due_before is None:
            clauses.append(f"{SA_NEXT_DEADLINE.name} < {literal(FAR_FUTURE)}")
    if filters.due_after is not None:
        clauses.append(f"{SA_NEXT_DEADLINE.name} > {literal(filters.due_after)}")
    if filters.due_before is not None:
        clauses.append(f"{SA_NEXT_DEADLINE.name} < {literal(filters.due_before)}")
    return " AND ".join(clauses)
