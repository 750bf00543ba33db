"""Every agent action, once: its Update, its HTTP path under /v1/tickets/{key}/, its body model.

The API builds one route per entry (with the summary and example shown in OpenAPI), the gateway
maps the Update names to workflow methods, and `ticketclock tickets act` derives its commands
from the paths. Free of FastAPI and Temporal, so the CLI imports it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

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
    Mitigate,
    OpenReview,
    Reopen,
    RequestCustomerInfo,
    Resolve,
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
    path: str
    update: ActionName
    model: type[Action]
    summary: str
    example: dict[str, Any]


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
    ),
    ActionRoute(
        "customer-replies",
        "customer_reply",
        CustomerReply,
        "The customer replied (ends waiting on customer)",
        {"actor": "customer:acme", "message": "Logs attached."},
    ),
    ActionRoute(
        "waiting-on-customer",
        "request_customer_info",
        RequestCustomerInfo,
        "Ask the customer for something (pauses clocks, starts customer_silence)",
        {"actor": "agent:jane", "message": "Please send the broker logs."},
    ),
    ActionRoute(
        "intake",
        "complete_intake",
        CompleteIntake,
        "Supply missing intake fields",
        {"actor": "agent:jane", "fields": {"platform_version": "4.2.1"}},
    ),
    ActionRoute(
        "engineering-ack",
        "engineering_ack",
        EngineeringAck,
        "Engineering acknowledged (starts incident_commander)",
        {"actor": "eng:oncall", "note": "Paged SRE."},
    ),
    ActionRoute(
        "incident-commander",
        "assign_incident_commander",
        AssignIncidentCommander,
        "Assign the incident commander",
        {"actor": "eng:oncall", "commander": "eng:maria"},
    ),
    ActionRoute(
        "severity",
        "change_severity",
        ChangeSeverity,
        "Change severity (recomputes running clocks from their start)",
        {"actor": "agent:jane", "severity": "sev2", "reason": "Workaround in place."},
    ),
    ActionRoute(
        "mitigate",
        "mitigate",
        Mitigate,
        "Incident mitigated (stops next_update)",
        {"actor": "eng:maria", "note": "Traffic shifted to eu-central-1."},
    ),
    ActionRoute(
        "resolve",
        "resolve",
        Resolve,
        "Final solution communicated",
        {"actor": "agent:jane", "solution": "Upgraded the broker to 3.7.1."},
    ),
    ActionRoute(
        "reopen",
        "reopen",
        Reopen,
        "Reopen a resolved ticket",
        {"actor": "customer:acme", "reason": "It happened again."},
    ),
    ActionRoute(
        "close",
        "close",
        Close,
        "Close the ticket (stops every clock)",
        {"actor": "agent:jane", "reason": "Confirmed by the customer."},
    ),
    ActionRoute(
        "review/open",
        "open_review",
        OpenReview,
        "Post-incident review opened (meets post_incident_review)",
        {"actor": "eng:maria", "link": "https://wiki.example.com/pir/123"},
    ),
    ActionRoute(
        "review/complete",
        "complete_review",
        CompleteReview,
        "Post-incident review completed",
        {"actor": "eng:maria", "link": "https://wiki.example.com/pir/123"},
    ),
    ActionRoute(
        "escalate",
        "escalate",
        Escalate,
        "Customer escalation (within the escalation window)",
        {"actor": "customer:acme", "reason": "The fix did not hold."},
    ),
)
