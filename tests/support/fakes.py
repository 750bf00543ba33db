"""An in-memory gateway for the API's handler tests, with their tokens, settings and a ticket body.

No Temporal: the API is exercised against `FakeGateway`, which keeps tickets in a dict and answers
as `api.temporal_gateway.TemporalGateway` does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.report import Skipped
from api.schemas import TicketSummary
from api.temporal_gateway import (
    ActionRefused,
    TicketExists,
    TicketNotFound,
    TicketRows,
)
from plumbing.settings import ApiToken, Settings
from policies.snapshot import Clock
from workflows.actions import ActionName
from workflows.contract import ticket_workflow_id
from workflows.messages import (
    Action,
    Explanation,
    Migrate,
    TicketInput,
    TicketStatus,
    TicketView,
)
from workflows.whatif import TicketRecord

ALL = "all-scopes-token-0123456789"
READER = "read-only-token-0123456789"
CREATOR = "create-only-token-0123456789"
TOKENS = (ALL, READER, CREATOR)

SETTINGS = Settings(
    api_tokens=(
        ApiToken("all", ALL, frozenset({"tickets:create", "tickets:act", "tickets:read"})),
        ApiToken("reader", READER, frozenset({"tickets:read"})),
        ApiToken("creator", CREATOR, frozenset({"tickets:create"})),
    )
)
AUTH = {"Authorization": f"Bearer {ALL}"}

BODY: dict[str, Any] = {
    "key": "ZD-1001",
    "policy": "confluent-cloud",
    "tier": "premier",
    "severity": "p1",
    "customer": {"name": "Acme Corp", "timezone": "Europe/Berlin"},
    "channel": "portal",
    "subject": "Cluster down",
}


def view_of(ticket: TicketInput) -> TicketView:
    sla = ticket.sla
    return TicketView(
        key=ticket.key,
        workflow_id=ticket_workflow_id(ticket.key),
        policy=sla.policy_id,
        policy_version=sla.policy_version,
        tier=sla.tier,
        severity=sla.severity,
        severity_label=sla.terms().label,
        requested_severity=sla.requested_severity,
        cap_reason=sla.cap_reason,
        status=TicketStatus.awaiting_first_response,
        opened_at=ticket.opened_at,
        subject=ticket.subject,
        calendar=sla.calendar.name,
        timezone=sla.calendar.timezone,
        breached=False,
        breached_clocks=[],
        next_deadline=sla.due(Clock.first_response, ticket.opened_at).due_at,
        next_deadline_clock="first_response",
        clocks=[],
        events=[],
    )


class FakeGateway:
    """`TicketGateway` in memory; records what handlers asked for."""

    def __init__(self) -> None:
        self.tickets: dict[str, tuple[TicketInput, str]] = {}
        self.summaries: list[str] = []
        self.acts: list[tuple[str, str, Action]] = []
        self.queries: list[tuple[str, int, bytes | None]] = []
        self.refusal: ActionRefused | None = None
        self.failure: Exception | None = None
        self.next_token: bytes | None = None
        # What `report_ledgers` answers (no tickets by default), and the queries it was asked.
        self.report_views: list[TicketView] = []
        self.report_skipped: list[Skipped] = []
        self.report_queries: list[str] = []

    def _maybe_fail(self) -> None:
        if self.failure is not None:
            raise self.failure

    def _ticket(self, key: str) -> TicketInput:
        self._maybe_fail()
        if key not in self.tickets:
            raise TicketNotFound(key)
        return self.tickets[key][0]

    async def start_ticket(
        self, ticket: TicketInput, *, fingerprint: str, summary: str, details: str
    ) -> TicketView:
        self._maybe_fail()
        if ticket.key in self.tickets:
            raise TicketExists(ticket.key)
        self.tickets[ticket.key] = (ticket, fingerprint)
        self.summaries.append(summary)
        return view_of(ticket)

    async def fingerprint(self, key: str) -> str | None:
        self._ticket(key)
        return self.tickets[key][1]

    async def status(self, key: str) -> TicketView:
        return view_of(self._ticket(key))

    async def explain(self, key: str, clock: Clock) -> Explanation:
        raise NotImplementedError

    async def act(
        self, key: str, action: ActionName, body: Action, *, update_id: str | None = None
    ) -> TicketView:
        ticket = self._ticket(key)
        if self.refusal is not None:
            raise self.refusal
        self.acts.append((key, action, body))
        return view_of(ticket)

    async def list_tickets(
        self, query: str, *, page_size: int, page_token: bytes | None
    ) -> TicketRows:
        self._maybe_fail()
        self.queries.append((query, page_size, page_token))
        row = TicketSummary(
            key="ZD-1",
            policy="kong",
            tier="enterprise",
            severity="sev1",
            state="in_progress",
            breached=False,
            next_deadline=None,
            breached_clocks=[],
            started_at=datetime(2025, 1, 1, tzinfo=UTC),
            status="running",
        )
        return TicketRows([row], self.next_token)

    async def ready(self) -> None:
        self._maybe_fail()

    async def report_ledgers(
        self, visibility_query: str, *, limit: int
    ) -> tuple[list[TicketView], list[Skipped]]:
        self._maybe_fail()
        self.report_queries.append(visibility_query)
        return list(self.report_views), list(self.report_skipped)

    async def workflow_ids(self, visibility_query: str, *, limit: int) -> list[str]:
        raise NotImplementedError  # migration plans and what-if run against a real server

    async def ticket_input(self, key: str) -> TicketInput:
        return self._ticket(key)

    async def migrate(self, key: str, payload: Migrate, *, update_id: str) -> TicketView:
        raise NotImplementedError

    async def running_ticket(self, workflow_id: str) -> tuple[TicketView, TicketInput]:
        raise NotImplementedError

    async def ticket_record(self, workflow_id: str) -> TicketRecord:
        raise NotImplementedError
