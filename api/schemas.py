"""Request and response bodies the API adds to the workflow payloads of `workflows.messages`.

The action bodies and `TicketView` / `Explanation` are the workflow's own models, reused as-is so a
field named in the workflow is the field named over HTTP.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.bounds import Instant, Intake
from policies.customer import Customer
from policies.snapshot import Clock, WarningInstant
from workflows.contract import TICKET_KEY_JSON_SCHEMA, validate_ticket_key
from workflows.messages import TicketStatus

# Tier and severity filters are matched against search attributes: a narrow alphabet, no quotes.
FilterToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,40}$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketTerms(_Body):
    """What a ticket is entitled to: shared by ticket creation and the policy preview."""

    tier: str = Field(min_length=1, max_length=64, examples=["premier"])
    severity: str = Field(
        min_length=1,
        max_length=64,
        description="A severity id or any alias the policy knows ('sev1', 'Sev1', 'P1').",
        examples=["p1"],
    )
    customer: Customer = Customer()
    channel: str | None = Field(
        None,
        max_length=64,
        description="How it was reported; absent: through a ticket.",
        examples=["portal"],
    )
    product: str | None = Field(None, max_length=200, examples=["kafka"])
    type: Literal["incident", "request"] | None = Field(
        None,
        description="incident (absent: incident) or request; a policy may bind requests to no"
        " response time (Kubeark 2.4).",
    )
    opened_at: Instant | None = Field(
        None,
        description="When the customer raised it (ISO 8601 with an offset); default now. At most"
        " TICKETCLOCK_MAX_TICKET_AGE (730 days) ago and TICKETCLOCK_MAX_CLOCK_SKEW (5 minutes)"
        " ahead.",
        examples=["2025-11-20T16:30:00+01:00"],
    )


class CreateTicket(TicketTerms):
    """`POST /v1/tickets`: open a ticket and start its SLA clocks."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "key": "ZD-48213",
                    "policy": "confluent-cloud",
                    "tier": "premier",
                    "severity": "p1",
                    "customer": {"name": "Acme Corp", "timezone": "Europe/Berlin"},
                    "channel": "portal",
                    "subject": "Cluster unreachable in eu-west-1",
                }
            ]
        },
    )

    key: str = Field(
        description="Opaque helpdesk ticket key (1-128 of A-Z a-z 0-9 . _ : -); never an email.",
        # Documented for clients and fuzzers; enforced by `_key`, whose message names the field.
        json_schema_extra=dict(TICKET_KEY_JSON_SCHEMA),
        examples=["ZD-48213"],
    )
    policy: str = Field(
        description="A catalogue id (GET /v1/policies).", examples=["confluent-cloud"]
    )
    subject: str | None = Field(None, max_length=200, examples=["Cluster unreachable"])
    intake: Intake = Field(
        default_factory=dict,
        description="The policy's intake fields, where it requires any: at most 50, names of at"
        " most 64 characters, values of at most 4096 bytes (UTF-8).",
    )

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        return validate_ticket_key(value)

    def fingerprint(self) -> str:
        """Digest of what the caller asked for, for idempotent retries on the same key.

        A defaulted `opened_at` is left out (a retry without one must match the first call), and an
        explicit one is compared as an instant, so the same moment written in two offsets matches.
        """
        data = self.model_dump(mode="json", exclude={"opened_at"})
        if data.get("type") is None:
            data.pop("type", None)  # absent as before the field existed: same fingerprint
        if self.opened_at is not None:
            data["opened_at"] = self.opened_at.astimezone(UTC).isoformat()
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class PreviewRequest(TicketTerms):
    """`POST /v1/policies/{id}/preview`: the deadlines a ticket would get, without starting one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tier": "enterprise",
                    "severity": "sev2",
                    "customer": {"region": "EMEA"},
                    "opened_at": "2025-12-24T16:00:00+00:00",
                }
            ]
        },
    )


class ClockPreview(BaseModel):
    clock: Clock
    target: str = Field(description='As the policy writes it, e.g. "8 business hours".')
    business: bool
    unit: str = Field(description="business | elapsed | calendar_days (whole local days).")
    amount: str = Field(description='The amount in its unit, e.g. "24 business hours".')
    source: str
    due_at: datetime | None = Field(description="Calendar-zone deadline if started at opened_at.")
    warnings: list[WarningInstant]


class PolicyPreview(BaseModel):
    policy: str
    policy_version: str
    tier: str
    requested_severity: str
    severity: str = Field(description="The effective severity after entitlement caps.")
    severity_label: str
    cap_reason: str | None
    type: str = Field(description="incident | request.")
    exempt_reason: str | None = Field(
        None, description="Why the ticket carries no targets (clause); None: it is bound."
    )
    calendar: str
    timezone: str
    opened_at: datetime
    intake_required: list[str]
    clocks: list[ClockPreview]


class PolicySummary(BaseModel):
    id: str
    name: str
    vendor: str
    version: str
    seed: str
    tiers: dict[str, str] = Field(description="Tier id -> label.")
    severities: dict[str, str] = Field(description="Severity id -> label, most severe first.")


class TicketFilters(_Body):
    """Query parameters of `GET /v1/tickets`; each one narrows the visibility query."""

    policy: str | None = Field(None, description="A catalogue policy id.")
    tier: FilterToken | None = None
    severity: FilterToken | None = Field(None, description="Effective severity id, e.g. 'sev1'.")
    state: TicketStatus | None = None
    breached: bool | None = None
    rank: int | None = Field(
        None,
        ge=1,
        le=4,
        description="Common severity rank 1 (most urgent) .. 4: every policy's severities of"
        " that rank (P1, Sev1, Urgent are all rank 1).",
    )
    due_before: Instant | None = Field(None, description="Next deadline strictly before.")
    due_after: Instant | None = Field(None, description="Next deadline strictly after.")
    sort: Literal["started", "next_deadline"] = Field(
        "started",
        description="started: newest first, paged with `cursor`. next_deadline: open tickets with"
        " a running clock, soonest deadline first, each with its `due` details; one page, sorted"
        " in memory over at most 1000 matches (`truncated` says when more matched).",
    )
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,4096}$",
        description="`next_cursor` of the previous page, with the same filters (a cursor is bound"
        " to the filters it was handed out for).",
    )


class DueInfo(BaseModel):
    """What is due next on one ticket (`GET /v1/tickets?sort=next_deadline`), read from it."""

    clock: str = Field(description="The clock whose deadline is next.")
    due_at: datetime = Field(description="The deadline, UTC.")
    due_local: str | None = Field(description="The same instant in the calendar's zone (ISO).")
    due_text: str | None = Field(description="'Mon 23 Nov 17:00 America/Chicago'.")
    timezone: str
    target: str = Field(description="The clock's target as the policy writes it.")
    business: bool = Field(description="Counts business time only (False: 24x7).")
    wall_seconds_left: float = Field(description="Real time until the deadline (negative: past).")
    business_seconds_left: float | None = Field(
        description="Business time until the deadline on a business clock (the policy's calendar"
        " in the ticket's zone, from the catalogue); null on a 24x7 clock."
    )
    warned: bool = Field(description="A warning of this clock went out.")
    warning: str | None = Field(None, description="The last warning sent, e.g. '75%'.")
    next_warning_at: datetime | None = None
    paused: bool = False


class TicketSummary(BaseModel):
    """One row of `GET /v1/tickets`, read from search attributes (no query to the workflow)."""

    key: str
    policy: str | None
    tier: str | None
    severity: str | None
    rank: int | None = Field(None, description="The severity's common rank 1..4 (catalogue).")
    severity_label: str | None = Field(None, description="The policy's own name, e.g. 'P1'.")
    state: str | None
    breached: bool
    next_deadline: datetime | None
    breached_clocks: list[str]
    started_at: datetime
    status: str = Field(description="Workflow status: running, completed, terminated, ...")
    due: DueInfo | None = Field(None, description="With sort=next_deadline: what is due next.")


class TicketPage(BaseModel):
    items: list[TicketSummary]
    next_cursor: str | None = Field(description="`cursor` for the next page; null at the end.")
    truncated: bool = Field(
        False, description="sort=next_deadline only: more tickets matched than the window sorted."
    )


class ErrorDetail(BaseModel):
    type: str = Field(examples=["EtaRequired"])
    message: str
    field: str | None = None
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
