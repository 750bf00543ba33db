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


def list_query(filters: TicketFilters) -> str:
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
    if filters.due_after is not None:
        clauses.append(f"{SA_NEXT_DEADLINE.name} > {literal(filters.due_after)}")
    if filters.due_before is not None:
        clauses.append(f"{SA_NEXT_DEADLINE.name} < {literal(filters.due_before)}")
    return " AND ".join(clauses)
