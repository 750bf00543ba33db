"""`POST /v1/policies/whatif`: a candidate policy replayed over the tickets of a period.

Where the actions come from: each ticket's workflow history, across every run of its
continue-as-new chain (history is complete; the ledger the state carries is trimmed to its last
200 rows, and no separate action log is kept, so tickets opened before this feature replay too).
From the history, per ticket:

- the first run's input: the snapshot it resolved (policy version), customer, opening instant;
- every agent action: each Update accepted and completed successfully (a refused one changed
  nothing), each Signal (a refused one is refused again by the same rules), with its payload;
- the instant each was decided: an Update's own ledger row in its result (exact), a Signal's row
  in a later state snapshot, else the start of the workflow task that ran it (what
  `workflow.now()` is);
- every clock cycle the ticket recorded, at its latest known state: the union of the state
  snapshots history carries (Update results, continue-as-new inputs, the result; a running
  ticket's `status` query last). These are the *actual* outcomes, read, not recomputed.

Reading the history is the gateway's (`TemporalGateway.ticket_record`, the only module that talks
to Temporal). The replay and the comparison are pure: `workflows/whatif.py`. Nothing running is
touched: only visibility, history and queries are read.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CanRead
from api.bounds import Instant
from api.deps import CatalogDep, Gateway
from api.errors import ApiError
from api.schemas import ErrorBody
from api.temporal_gateway import QueryRejected, TemporalUnavailable, TooManyTickets
from api.visibility import WORKFLOW_TYPE, literal
from policies.catalog import parse_candidate
from policies.errors import PolicyError
from workflows.contract import SA_POLICY, InvalidTicketKey, ticket_key_from_workflow_id
from workflows.whatif import TicketOutcome, compare, replay, resolve_candidate

log = logging.getLogger(__name__)

# Mounted under /v1/policies by api/policies.py.
router = APIRouter(tags=["policies"])

MAX_SPAN = timedelta(days=366)
MAX_TICKETS = 5000
CONCURRENCY = 8
# A ticket may be opened this far ahead of the server's clock (TICKETCLOCK_MAX_CLOCK_SKEW's
# default): its first run cannot have started much before its opening instant.
START_SLACK = timedelta(minutes=5)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid bearer token."},
    403: {"model": ErrorBody, "description": "The token lacks tickets:read."},
    422: {"model": ErrorBody, "description": "Bad candidate (the field is named) or range."},
    503: {"model": ErrorBody, "description": "Temporal is unreachable."},
}


class WhatIfRequest(BaseModel):
    """The body of `POST /v1/policies/whatif`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    candidate: dict[str, Any] | str = Field(
        description="The candidate policy in the catalogue's format: a JSON object, or TOML text."
    )
    from_: Instant = Field(alias="from", description="Tickets opened at or after this instant.")
    to: Instant | None = Field(
        None, description="... and before this one; clocks are judged as of min(to, now)."
    )
    policy: str | None = Field(
        None, description="The policy id the tickets ran under (default: the candidate's id)."
    )


# -- the route ------------------------------------------------------------------------------------
@router.post(
    "/whatif",
    summary="Replay the tickets of a period under a candidate policy (nothing is changed)",
    responses=_ERRORS,
)
async def whatif(
    body: WhatIfRequest, _: CanRead, gateway: Gateway, catalog: CatalogDep
) -> dict[str, Any]:
    """Every ticket opened in [from, to) under `policy` (running and ended), its recorded actions
    replayed through the rules core with the candidate's targets, every clock judged as of
    min(to, now): met and breached counts and first-response times, actual vs candidate, per
    rank, tier and severity, and each clock whose outcome changes."""
    try:
        candidate = parse_candidate(body.candidate, "candidate")
    except PolicyError as exc:
        raise ApiError(422, "PolicyError", str(exc), field=exc.field) from None
    policy_id = body.policy or candidate.id
    if policy_id not in catalog.ids():
        raise ApiError(422, "PolicyError", f"policy: unknown policy {policy_id!r}", field="policy")
    now = datetime.now(UTC)
    to = body.to or now
    if body.from_ >= to:
        raise ApiError(422, "ValidationError", "from: must be before to", field="from")
    if to - body.from_ > MAX_SPAN:
        raise ApiError(
            422, "ValidationError", f"from: the range may span {MAX_SPAN.days} days", field="from"
        )
    as_of = min(to, now)
    query = " AND ".join(
        [
            f"WorkflowType = {literal(WORKFLOW_TYPE)}",
            f"{SA_POLICY.name} = {literal(policy_id)}",
            f"StartTime >= {literal(body.from_ - START_SLACK)}",
        ]
    )
    try:
        ids = await gateway.workflow_ids(query, limit=MAX_TICKETS)
    except TooManyTickets:
        raise ApiError(
            422,
            "ValidationError",
            f"from: more than {MAX_TICKETS} tickets in range; narrow from/to",
            field="from",
        ) from None
    except QueryRejected as exc:
        raise TemporalUnavailable(str(exc)) from exc
    gate = asyncio.Semaphore(CONCURRENCY)
    skipped: list[dict[str, str]] = []

    async def one(workflow_id: str) -> TicketOutcome | None:
        async with gate:
            try:
                key = ticket_key_from_workflow_id(workflow_id)
            except InvalidTicketKey:
                return None
            try:
                record = await gateway.ticket_record(workflow_id)
            except Exception as exc:  # noqa: BLE001 - reported per ticket, the rest go on
                log.warning("whatif: cannot read ticket %s: %s", key, exc)
                skipped.append({"key": key, "reason": f"{type(exc).__name__}: {str(exc)[:200]}"})
                return None
        if not (body.from_ <= record.start.opened_at < to):
            return None
        actual_sla = record.start.sla
        try:
            sla = resolve_candidate(candidate, record.start)
            cycles = await asyncio.to_thread(
                replay, record.start, record.started_at, record.actions, sla, as_of
            )
        except (PolicyError, KeyError, ValueError) as exc:
            return TicketOutcome(key, actual_sla, record.cycles, None, [], error=str(exc))
        return TicketOutcome(key, actual_sla, record.cycles, sla, cycles)

    results = await asyncio.gather(*(one(i) for i in ids))
    report = compare((r for r in results if r is not None), as_of)
    report["skipped"] = sorted(report["skipped"] + skipped, key=lambda s: s["key"])
    return {
        "policy": policy_id,
        "candidate_version": candidate.version,
        "from": body.from_.astimezone(UTC).isoformat(),
        "to": to.astimezone(UTC).isoformat(),
        **report,
    }
