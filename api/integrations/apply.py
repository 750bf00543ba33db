"""Carry out what a helpdesk event means: open the ticket and/or run its actions as Updates.

Each helpdesk module turns a payload into a `Plan` (pure, no I/O); `carry_out` runs it through the
API's gateway, so an integration event and an HTTP call take the same path into the workflow.

Redeliveries: every action carries the event it comes from as `Action.event_id`
(`zendesk:<event id>`, `jira:<X-Atlassian-Webhook-Identifier>`, `:<n>` for the n-th action of
one event), and the ticket remembers the ids of its last 256 applied events in its state, across
continue-as-new: a redelivery is refused as `DuplicateEvent` and answered 2xx
`{"ignored": "duplicate event <id>"}`, so it changes nothing, even after later events. The same
id is the Update id too (Temporal answers a repeat within one workflow run with the first
outcome). An event the ticket refused is not remembered (a refused Update never enters the
workflow's history); its redelivery is judged again. The ticket's creation is idempotent on the
key itself (`ZD-<id>` / the issue key).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from api.integrations.mapping import HelpdeskMapping, TicketFacts
from api.integrations.metrics import IGNORED, REFUSED, count
from api.schemas import CreateTicket
from api.temporal_gateway import ActionRefused, TicketExists, TicketGateway, TicketNotFound
from api.tickets import _details, _summary, ticket_input
from policies.catalog import Catalog
from policies.errors import PolicyError
from workflows.messages import (
    EVENT_ID_MAX_CHARS,
    Acknowledge,
    Action,
    AgentUpdate,
    ChangeSeverity,
    Close,
    CustomerReply,
    Reopen,
    RequestCustomerInfo,
    Resolve,
    TicketView,
)
from workflows.rules import DUPLICATE_EVENT

log = logging.getLogger(__name__)

StepKind = Literal[
    "respond",  # a public agent comment: acknowledge, or agent_update once acknowledged
    "customer_reply",
    "request_customer_info",
    "resolve",
    "reopen",
    "close",
    "change_severity",
]


@dataclass(frozen=True)
class Step:
    kind: StepKind
    actor: str
    severity: str | None = None  # change_severity
    reason: str = ""


@dataclass(frozen=True)
class Plan:
    """What one event asks of one ticket."""

    helpdesk: str
    key: str
    event_id: str
    facts: TicketFacts
    opened_at: datetime | None = None
    subject: str | None = None
    channel: str | None = None
    create: bool = False  # the event is the ticket's creation
    steps: tuple[Step, ...] = ()
    ignored: tuple[str, ...] = ()  # parts of the event that map to nothing, and why
    eta_at: datetime | None = None  # next-update promise for agent responses (mapping)


class ShapeError(ValueError):
    """A payload a helpdesk module cannot make a `Plan` of; `field` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


async def _create(
    plan: Plan, mapping: HelpdeskMapping, gateway: TicketGateway, catalog: Catalog
) -> bool:
    """Open the ticket from what the payload says; False when the key already exists."""
    terms = mapping.terms_for(plan.facts)
    opened_at = plan.opened_at or datetime.now(UTC)
    body = CreateTicket(
        key=plan.key,
        policy=terms.policy,
        tier=terms.tier,
        severity=terms.severity,
        customer=terms.customer,
        channel=(plan.channel or None) and plan.channel[:64],
        subject=(plan.subject or None) and (plan.subject or "")[:200],
        opened_at=opened_at,
    )
    ticket = ticket_input(body, catalog, opened_at)
    try:
        await gateway.start_ticket(
            ticket,
            fingerprint=body.fingerprint(),
            summary=_summary(ticket.sla, body.subject),
            details=_details(ticket),
        )
    except TicketExists:
        return False
    log.info("%s: opened ticket %s (%s %s %s)", plan.helpdesk, plan.key, *_terms(body))
    return True


def _terms(body: CreateTicket) -> tuple[str, str, str]:
    return body.policy, body.tier, body.severity


def source_event_id(plan: Plan, index: int) -> str:
    """The id of one action of one event, as the ticket remembers it (and the Update id):
    `<helpdesk>:<event id>`, `:<n>` for the n-th action of one event."""
    text = f"{plan.helpdesk}:{plan.event_id}" + (f":{index}" if index else "")
    if len(text) <= EVENT_ID_MAX_CHARS:
        return text
    return f"{plan.helpdesk}:sha256:{hashlib.sha256(text.encode()).hexdigest()}"


async def _run_step(
    plan: Plan, step: Step, update_id: str, gateway: TicketGateway
) -> tuple[str, TicketView]:
    """Run one step; every action it sends carries `update_id` as its source event id (the
    acknowledge and the agent_update it falls back to alike, so either one being applied makes
    a redelivery a duplicate)."""
    key = plan.key
    event_id = update_id
    if step.kind == "respond":
        ack = Acknowledge(actor=step.actor, next_update_eta=plan.eta_at, event_id=event_id)
        try:
            return "acknowledge", await gateway.act(key, "acknowledge", ack, update_id=update_id)
        except ActionRefused as refused:
            if refused.type != "AlreadyAcknowledged":
                raise
        update = AgentUpdate(actor=step.actor, next_update_eta=plan.eta_at, event_id=event_id)
        view = await gateway.act(key, "agent_update", update, update_id=f"{update_id}:update")
        return "agent_update", view
    body: Action
    if step.kind == "customer_reply":
        body = CustomerReply(actor=step.actor, event_id=event_id)
        return step.kind, await gateway.act(key, "customer_reply", body, update_id=update_id)
    if step.kind == "request_customer_info":
        body = RequestCustomerInfo(actor=step.actor, event_id=event_id)
        view = await gateway.act(key, "request_customer_info", body, update_id=update_id)
        return step.kind, view
    if step.kind == "resolve":
        body = Resolve(actor=step.actor, solution=step.reason, event_id=event_id)
        return step.kind, await gateway.act(key, "resolve", body, update_id=update_id)
    if step.kind == "reopen":
        body = Reopen(actor=step.actor, reason=step.reason, event_id=event_id)
        return step.kind, await gateway.act(key, "reopen", body, update_id=update_id)
    if step.kind == "close":
        body = Close(actor=step.actor, reason=step.reason, event_id=event_id)
        return step.kind, await gateway.act(key, "close", body, update_id=update_id)
    assert step.severity is not None
    body = ChangeSeverity(
        actor=step.actor, severity=step.severity, reason=step.reason, event_id=event_id
    )
    return step.kind, await gateway.act(key, "change_severity", body, update_id=update_id)


async def carry_out(
    plan: Plan, mapping: HelpdeskMapping, gateway: TicketGateway, catalog: Catalog
) -> dict[str, Any]:
    """Run the plan; the answer comes once the ticket reflects the event (Updates complete)."""
    source = plan.helpdesk
    applied: list[str] = []
    ignored = list(plan.ignored)
    refused: list[str] = []
    duplicates: list[str] = []
    view: TicketView | None = None
    try:
        created = await _create(plan, mapping, gateway, catalog) if plan.create else False
        for i, step in enumerate(plan.steps):
            update_id = source_event_id(plan, i)
            try:
                try:
                    name, view = await _run_step(plan, step, update_id, gateway)
                except TicketNotFound:
                    # An event about a ticket we have not seen (created before the integration,
                    # or its creation event is late: Zendesk does not guarantee order).
                    await _create(plan, mapping, gateway, catalog)
                    name, view = await _run_step(plan, step, update_id, gateway)
            except ActionRefused as refusal:
                if refusal.type == DUPLICATE_EVENT:
                    # Applied before (perhaps runs ago): a redelivery, nothing changes.
                    duplicates.append(f"{step.kind}: duplicate event {plan.event_id}")
                    continue
                refused.append(f"{step.kind}: {refusal.type}: {refusal.message}")
                count(REFUSED, source, refusal.type)
                continue
            applied.append(name)
    except PolicyError as exc:
        ignored.append(f"the ticket's terms do not resolve: {exc}")
        created = False
    if plan.create and created:
        applied.insert(0, "open")
    if applied:
        answer: dict[str, Any] = {"ticket": plan.key, "applied": applied}
        if view is not None:
            answer["status"] = view.status.value
        if ignored or refused or duplicates:
            answer["not_applied"] = ignored + duplicates + refused
        return answer
    if duplicates:
        # A redelivery: said first, in the words the route's docs promise.
        ignored.insert(0, f"duplicate event {plan.event_id}")
    elif plan.create and not ignored and not refused:
        ignored.append(f"ticket {plan.key} already exists")
    why = "; ".join(ignored + refused) or "nothing to do"
    if not refused:
        count(IGNORED, source, "duplicate" if duplicates else "unmapped")
    log.info("%s event %s on %s ignored: %s", source, plan.event_id, plan.key, why)
    return {"ticket": plan.key, "ignored": why}
