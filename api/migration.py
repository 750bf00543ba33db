"""Migration (issue 17): move running tickets to another version of their policy, on purpose.

- `POST /v1/tickets/{key}/migrate` (tickets:act; body `to_version`, `actor`, `reason`, `mode`):
  the API resolves the version with the ticket's own resolution inputs (tier, the severity asked
  for, customer zone and region, channel, product, type, opening instant: read from the input of
  the ticket's current run) and sends the workflow Update `migrate` carrying that snapshot; the
  rules core (`workflows/migration.py`) recomputes every running clock, keeps ended cycles, and
  writes old and new deadlines in the ledger. Update id `migrate:<to_version>`, so a repeat
  within a run answers with the first result instead of migrating twice.
- `POST /v1/policies/{policy_id}/migration-plan` (tickets:read; body `to_version`, `mode`,
  optional `query`, a visibility filter ANDed to "running tickets of this policy"): per running
  ticket not already on `to_version`, every running clock's deadline before and after, computed
  with the same rule (`workflows.migration.migrated_cycle`) and arithmetic
  (`workflows.deadlines.deadline_for`); nothing is changed. `ticketclock policy migrate` shows it
  (`--dry-run`) and then applies it ticket by ticket.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CanAct, CanRead
from api.deps import CatalogDep, Gateway, TicketKey
from api.errors import ApiError
from api.schemas import ErrorBody
from api.temporal_gateway import QueryRejected, TooManyTickets
from api.visibility import WORKFLOW_TYPE, literal
from policies.catalog import Catalog
from policies.errors import PolicyError
from policies.snapshot import ResolvedSla
from workflows.contract import (
    SA_POLICY,
    InvalidTicketKey,
    ticket_key_from_workflow_id,
)
from workflows.deadlines import deadline_for
from workflows.messages import Migrate, MigrateMode, TicketInput, TicketView
from workflows.migration import migrated_cycle
from workflows.rules import deadline_request, new_state
from workflows.whatif import resolve_candidate

tickets_router = APIRouter(tags=["tickets"])  # mounted under /v1/tickets by api/tickets.py
policies_router = APIRouter(tags=["policies"])  # mounted under /v1/policies by api/policies.py

MAX_PLAN = 5000
CONCURRENCY = 8

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid bearer token."},
    403: {"model": ErrorBody, "description": "The token lacks the scope."},
    404: {"model": ErrorBody, "description": "No such ticket."},
    409: {"model": ErrorBody, "description": "Refused by the ticket (closed, already on it)."},
    422: {"model": ErrorBody, "description": "Unknown version or bad body; `field` names it."},
    503: {"model": ErrorBody, "description": "Temporal is unreachable."},
}


class MigrateRequest(BaseModel):
    """The body of `POST /v1/tickets/{key}/migrate`."""

    model_config = ConfigDict(extra="forbid")

    to_version: str = Field(min_length=1, max_length=200, examples=["contract-2027"])
    actor: str = Field(min_length=1, max_length=200, examples=["ops:lee"])
    reason: str = Field(min_length=1, max_length=2000, examples=["New contract signed."])
    mode: MigrateMode = Field(
        description="from_now: running clocks count afresh from the migration; "
        "from_original_start: they keep their start and pauses, recomputed under the new targets."
    )


class PlanRequest(BaseModel):
    """The body of `POST /v1/policies/{policy_id}/migration-plan`."""

    model_config = ConfigDict(extra="forbid")

    to_version: str = Field(min_length=1, max_length=200)
    mode: MigrateMode
    query: str | None = Field(
        None,
        max_length=2000,
        description="A visibility filter ANDed to the running tickets of the policy, e.g. "
        "\"TicketTier = 'enterprise'\".",
    )


def resolve_version(catalog: Catalog, inp: TicketInput, version: str) -> ResolvedSla:
    """`version` of the ticket's policy, resolved with the ticket's own inputs (422 naming
    `to_version` if the catalogue has no such version or it cannot serve the ticket)."""
    try:
        policy = catalog.get(inp.sla.policy_id, version=version)
        return resolve_candidate(policy, inp)
    except PolicyError as exc:
        raise ApiError(
            422, "PolicyError", f"to_version: {exc.message}", field="to_version"
        ) from None


@tickets_router.post(
    "/{key}/migrate",
    summary="Move the ticket to another version of its policy (a workflow Update)",
    responses=_ERRORS,
    operation_id="ticket_migrate",
)
async def migrate_ticket(
    key: TicketKey,
    body: Annotated[MigrateRequest, Body()],
    _: CanAct,
    gateway: Gateway,
    catalog: CatalogDep,
) -> TicketView:
    """Runs the workflow Update `migrate`: every running clock recomputed under `to_version`,
    met and breached history kept, old and new deadlines in the ledger; a clock now past its new
    deadline breaches (and notifies) at once. 409 with its type if refused."""
    await gateway.status(key)  # 404 for an unknown ticket before anything else
    inp = await gateway.ticket_input(key)
    sla = resolve_version(catalog, inp, body.to_version)
    payload = Migrate(
        actor=body.actor, to_version=body.to_version, reason=body.reason, mode=body.mode, sla=sla
    )
    return await gateway.migrate(key, payload, update_id=f"migrate:{body.to_version}")


def _balanced(query: str) -> bool:
    """Parentheses balanced outside quotes, so the filter cannot close the clause it is put in."""
    depth, quote = 0, ""
    for ch in query:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0 and not quote


@policies_router.post(
    "/{policy_id}/migration-plan",
    summary="Running tickets' deadlines before and after a migration (nothing is changed)",
    responses=_ERRORS,
)
async def migration_plan(
    policy_id: Annotated[str, Path()],
    body: PlanRequest,
    _: CanRead,
    gateway: Gateway,
    catalog: CatalogDep,
) -> dict[str, Any]:
    if policy_id not in catalog.ids():
        raise ApiError(
            404, "PolicyNotFound", f"policy_id: unknown policy {policy_id!r}", field="policy_id"
        )
    try:
        catalog.get(policy_id, version=body.to_version)
    except PolicyError as exc:
        raise ApiError(
            422, "PolicyError", f"to_version: {exc.message}", field="to_version"
        ) from None
    clauses = [
        f"WorkflowType = {literal(WORKFLOW_TYPE)}",
        "ExecutionStatus = 'Running'",
        f"{SA_POLICY.name} = {literal(policy_id)}",
    ]
    if body.query and body.query.strip():
        if not _balanced(body.query):
            raise ApiError(
                422, "ValidationError", "query: unbalanced parentheses or quotes", field="query"
            )
        clauses.append(f"({body.query})")
    try:
        ids = await gateway.workflow_ids(" AND ".join(clauses), limit=MAX_PLAN)
    except TooManyTickets:
        raise ApiError(
            422,
            "ValidationError",
            f"query: more than {MAX_PLAN} tickets; narrow it",
            field="query",
        ) from None
    except QueryRejected as exc:
        raise ApiError(422, "ValidationError", f"query: {exc.message}", field="query") from None
    now = datetime.now(UTC)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(workflow_id: str) -> dict[str, Any] | None:
        try:
            key = ticket_key_from_workflow_id(workflow_id)
        except InvalidTicketKey:
            return None
        async with gate:
            try:
                view, inp = await gateway.running_ticket(workflow_id)
            except Exception as exc:  # noqa: BLE001 - reported per ticket
                return {"key": key, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        if view.policy_version == body.to_version:
            return None  # already migrated (a resumed run skips it)
        try:
            sla = resolve_version(catalog, inp, body.to_version).with_severity(view.severity)
        except (ApiError, KeyError, ValueError) as exc:
            return {"key": key, "error": str(getattr(exc, "message", exc))}
        shadow = new_state(inp.model_copy(update={"sla": sla, "state": None}))
        clocks = []
        for c in view.clocks:
            if not c.active:
                continue
            moved = migrated_cycle(c, sla, body.mode, now)
            after = None
            if moved is not None:
                after = deadline_for(deadline_request(shadow, moved, now, "recompute")).due_at
            clocks.append(
                {
                    "clock": c.clock.value,
                    "cycle": c.cycle,
                    "status": c.status.value,
                    "before": c.due_at.isoformat() if c.due_at else None,
                    "after": after.isoformat() if after else None,
                    "stops": moved is None,
                    "breaches_now": after is not None and after <= now,
                }
            )
        return {
            "key": key,
            "from_version": view.policy_version,
            "severity": view.severity,
            "clocks": clocks,
        }

    rows = [r for r in await asyncio.gather(*(one(i) for i in ids)) if r is not None]
    rows.sort(key=lambda r: r["key"])
    return {
        "policy": policy_id,
        "to_version": body.to_version,
        "mode": body.mode,
        "as_of": now.isoformat(),
        "tickets": rows,
    }
