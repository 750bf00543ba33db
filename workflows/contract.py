"""The one contract the API, the worker and the tools share: IDs, task queue, search attributes.

Nobody builds a workflow ID by hand: use `ticket_workflow_id` and its inverse.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

from workflows.keys import (
    TASK_QUEUE,
    TICKET_KEY_JSON_SCHEMA,
    TICKET_KEY_PATTERN,
    WORKFLOW_ID_PREFIX,
    InvalidTicketKey,
    ticket_key_from_workflow_id,
    ticket_workflow_id,
    validate_ticket_key,
)

__all__ = [
    "SEARCH_ATTRIBUTES",
    "TASK_QUEUE",
    "TICKET_KEY_JSON_SCHEMA",
    "TICKET_KEY_PATTERN",
    "WORKFLOW_ID_PREFIX",
    "InvalidTicketKey",
    "search_attribute_cli_flags",
    "ticket_key_from_workflow_id",
    "ticket_workflow_id",
    "validate_ticket_key",
]

# Custom search attributes: registered on the dev server (`ticketclock dev`, tests) and in compose.
SA_POLICY = SearchAttributeKey.for_keyword("TicketPolicy")
SA_TIER = SearchAttributeKey.for_keyword("TicketTier")
SA_SEVERITY = SearchAttributeKey.for_keyword("TicketSeverity")
SA_STATE = SearchAttributeKey.for_keyword("TicketState")
SA_BREACHED = SearchAttributeKey.for_bool("SlaBreached")
SA_NEXT_DEADLINE = SearchAttributeKey.for_datetime("SlaNextDeadline")
SA_BREACHED_CLOCKS = SearchAttributeKey.for_keyword_list("SlaBreachedClocks")

SEARCH_ATTRIBUTES = (
    SA_POLICY,
    SA_TIER,
    SA_SEVERITY,
    SA_STATE,
    SA_BREACHED,
    SA_NEXT_DEADLINE,
    SA_BREACHED_CLOCKS,
)


def search_attribute_cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {
        "KEYWORD": "Keyword",
        "BOOL": "Bool",
        "DATETIME": "Datetime",
        "KEYWORD_LIST": "KeywordList",
    }
    flags: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
