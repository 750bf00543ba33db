"""Every agent action, once: its Update and Signal, its HTTP path under /v1/tickets/{key}/, its body
model and its rule (a check that may refuse, an apply that changes a copy of the state).

The one table everything derives from: `TicketWorkflow`'s Update and Signal handlers dispatch
through `RULES` by the payload's type, the API builds one route per entry (with the summary and
example shown in OpenAPI), the gateway maps the Update names, and `ticketclock tickets act`
derives its commands from the paths. Pure: no FastAPI, no Temporal, so the CLI imports it cheaply
and the workflow sandbox passes it through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from workflows import migration, rules
from workflows.messages import (
    Acknowledge,
    Action,
    AgentUpdate,
    AssignIncidentCommander,
    ChangeSeverity,
    Close,
    CompleteIntake,
    CompleteReview,
    CustomerReply,
    EngineeringAck,
    Escalate,
    Migrate,
    Mitigate,
    OpenReview,
    Reopen,
    RequestCustomerInfo,
    Resolve,
    TicketState,
)

ActionName = Literal[
    "acknowledge",
    "agent_update",
    "request_customer_info",
    "customer_reply",
    "complete_intake",
    "engineering_ack",
    "assign_incident_commander",
    "change_severity",
    "mitigate",
    "resolve",
    "reopen",
    "close",
    "open_review",
    "complete_review",
    "escalate",
]


@dataclass(frozen=True)
class ActionRoute:
    """One agent action: its Update and Signal name, its HTTP path, its body, its rule."""

    path: str
    update: ActionName
    model: type[Action]
    summary: str
    example: dict[str, Any]
    check: Callable[[TicketState, Any, datetime], None]  # raises rules.Refused
    apply: Callable[[rules.Ctx, Any], None]


ACTIONS: tuple[ActionRoute, ...] = (
    ActionRoute(
        "acknowledge",
        "acknowledge",
        Acknowledge,
        "First public response (meets first_response)",
        {
            "actor": "agent:jane",
            "message": "We are on it.",
            "next_update_eta": "2025-11-20T17:30:00Z",
        },
        rules.check_acknowledge,
        rules.apply_acknowledge,
    ),
    ActionRoute(
        "updates",
        "agent_update",
        AgentUpdate,
        "A public agent update (restarts next_update)",
        {
            "actor": "agent:jane",
            "message": "Failover in progress.",
            "next_update_eta": "2025-11-20T18:30:00Z",
        },
        rules.check_agent_update,
        rules.apply_agent_update,
    ),
    ActionRoute(
        "customer-replies",
        "customer_reply",
        CustomerReply,
        "The customer replied (ends waiting on customer)",
        {"actor": "customer:acme", "message": "Logs attached."},
        rules.check_customer_reply,
        rules.apply_customer_reply,
    ),
    ActionRoute(
        "waiting-on-customer",
        "request_customer_info",
        RequestCustomerInfo,
        "Ask the customer for something (pauses clocks, starts customer_silence)",
        {"actor": "agent:jane", "message": "Please send the broker logs."},
        rules.check_request_customer_info,
        rules.apply_request_customer_info,
    ),
    ActionRoute(
        "intake",
        "complete_intake",
        CompleteIntake,
        "Supply missing intake fields",
        {"actor": "agent:jane", "fields": {"platform_version": "4.2.1"}},
        rules.check_complete_intake,
        rules.apply_complete_intake,
    ),
    ActionRoute(
        "engineering-ack",
        "engineering_ack",
        EngineeringAck,
        "Engineering acknowledged (starts incident_commander)",
        {"actor": "eng:oncall", "note": "Paged SRE."},
        rules.check_engineering_ack,
        rules.apply_engineering_ack,
    ),
    ActionRoute(
        "incident-commander",
        "assign_incident_commander",
        AssignIncidentCommander,
        "Assign the incident commander",
        {"actor": "eng:oncall", "commander": "eng:maria"},
        rules.check_assign_incident_commander,
        rules.apply_assign_incident_commander,
    ),
    ActionRoute(
        "severity",
        "change_severity",
        ChangeSeverity,
        "Change severity (recomputes running clocks from their start)",
        {"actor": "agent:jane", "severity": "sev2", "reason": "Workaround in place."},
        rules.check_change_severity,
        rules.apply_change_severity,
    ),
    ActionRoute(
        "mitigate",
        "mitigate",
        Mitigate,
        "Incident mitigated (stops next_update)",
        {"actor": "eng:maria", "note": "Traffic shifted to eu-central-1."},
        rules.check_mitigate,
        rules.apply_mitigate,
    ),
    ActionRoute(
        "resolve",
        "resolve",
        Resolve,
        "Final solution communicated",
        {"actor": "agent:jane", "solution": "Upgraded the broker to 3.7.1."},
        rules.check_resolve,
        rules.apply_resolve,
    ),
    ActionRoute(
        "reopen",
        "reopen",
        Reopen,
        "Reopen a resolved ticket",
        {"actor": "customer:acme", "reason": "It happened again."},
        rules.check_reopen,
        rules.apply_reopen,
    ),
    ActionRoute(
        "close",
        "close",
        Close,
        "Close the ticket (stops every clock)",
        {"actor": "agent:jane", "reason": "Confirmed by the customer."},
        rules.check_close,
        rules.apply_close,
    ),
    ActionRoute(
        "review/open",
        "open_review",
        OpenReview,
        "Post-incident review opened (meets post_incident_review)",
        {"actor": "eng:maria", "link": "https://wiki.example.com/pir/123"},
        rules.check_open_review,
        rules.apply_open_review,
    ),
    ActionRoute(
        "review/complete",
        "complete_review",
        CompleteReview,
        "Post-incident review completed",
        {"actor": "eng:maria", "link": "https://wiki.example.com/pir/123"},
        rules.check_complete_review,
        rules.apply_complete_review,
    ),
    ActionRoute(
        "escalate",
        "escalate",
        Escalate,
        "Customer escalation (within the escalation window)",
        {"actor": "customer:acme", "reason": "The fix did not hold."},
        rules.check_escalate,
        rules.apply_escalate,
    ),
)


# Operator actions: an Update through the same rules core, but with a route of their own (the API
# resolves what the body cannot carry: `migrate`'s new snapshot), no Signal, no `tickets act`.
MIGRATE = ActionRoute(
    "migrate",
    "migrate",  # type: ignore[arg-type]  # not an agent action (ActionName)
    Migrate,
    "Move the ticket to another version of its policy (recomputes every running clock)",
    {
        "actor": "ops:lee",
        "to_version": "contract-2027",
        "reason": "New contract signed.",
        "mode": "from_now",
    },
    migration.check_migrate,
    migration.apply_migrate,
)
OPERATOR_ACTIONS: tuple[ActionRoute, ...] = (MIGRATE,)

# The typed table: a payload's type names its rule.
RULES: dict[type[Action], ActionRoute] = {
    route.model: route for route in (*ACTIONS, *OPERATOR_ACTIONS)
}
BY_NAME: dict[str, ActionRoute] = {route.update: route for route in ACTIONS}
# Every Update the workflow answers by name: the agent actions and the operator's.
UPDATE_ROUTES: dict[str, ActionRoute] = {
    route.update: route for route in (*ACTIONS, *OPERATOR_ACTIONS)
}
