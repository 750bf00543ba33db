"""`/v1/reports`: the SLA report (JSON, or a self-contained HTML page) over tickets of a period.

No second store: tickets come from Temporal visibility (workflows started in [from, to), running
and closed alike), and each one's ledger from the workflow itself: the `status` query while it
runs, its result once completed; the gateway reads them (`TicketGateway.report_ledgers`). The
arithmetic is `api.report.build_report`, a pure function over those ledgers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CanRead
from api.bounds import Instant
from api.deps import CatalogDep, Gateway
from api.due import rank_of
from api.errors import ApiError
from api.report import GroupBy, ReportQuery, Skipped, SlaReport, build_report
from api.report_html import CONTENT_SECURITY_POLICY, render_html
from api.schemas import ErrorBody
from api.temporal_gateway import TicketGateway, TooManyTickets
from api.visibility import WORKFLOW_TYPE, literal
from policies.catalog import Catalog
from workflows.contract import SA_POLICY

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/reports", tags=["reports"])

DEFAULT_SPAN = timedelta(days=7)
MAX_SPAN = timedelta(days=366)
MAX_TICKETS = 5000  # more: narrow the range (each ticket costs a query or a result fetch)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid bearer token."},
    403: {"model": ErrorBody, "description": "The token lacks the scope."},
    422: {"model": ErrorBody, "description": "Bad query parameter; `field` names it."},
    503: {"model": ErrorBody, "description": "Temporal is unreachable."},
}
# The HTML page's errors are JSON like every other error (a `model` would be documented as
# text/html, the route's media type); ErrorBody's schema is in components via the JSON routes.
_HTML_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {
        "description": spec["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for status, spec in _ERRORS.items()
}


class ReportParams(BaseModel):
    """Query parameters of `GET /v1/reports/sla` (and `sla.html`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Instant | None = Field(
        None,
        alias="from",
        description="Tickets whose workflow started at or after this instant (default: to - 7d).",
    )
    to: Instant | None = Field(None, description="... and before this one (default: now).")
    policy: str | None = Field(None, description="A catalogue policy id (TicketPolicy).")
    group_by: GroupBy = Field("severity", description="severity | tier | clock")


# -- the query -----------------------------------------------------------------------------------
def report_query(params: ReportParams, *, now: datetime) -> ReportQuery:
    """Defaults filled in, the range checked, and the visibility query written (escaped)."""
    to = params.to or now
    start = params.from_ or to - DEFAULT_SPAN
    if start >= to:
        raise ApiError(422, "ValidationError", "from: must be before to", field="from")
    if to - start > MAX_SPAN:
        raise ApiError(
            422, "ValidationError", f"from: the range may span {MAX_SPAN.days} days", field="from"
        )
    clauses = [
        f"WorkflowType = {literal(WORKFLOW_TYPE)}",
        f"StartTime >= {literal(start)}",
        f"StartTime < {literal(to)}",
    ]
    if params.policy is not None:
        clauses.append(f"{SA_POLICY.name} = {literal(params.policy)}")
    return ReportQuery(
        from_=start.astimezone(UTC),
        to=to.astimezone(UTC),
        policy=params.policy,
        group_by=params.group_by,
        visibility_query=" AND ".join(clauses),
    )


async def sla_report(params: ReportParams, gateway: TicketGateway, catalog: Catalog) -> SlaReport:
    if params.policy is not None:
        catalog.get(params.policy)  # PolicyError -> 422 naming `policy`
    now = datetime.now(UTC)
    query = report_query(params, now=now)
    assert query.visibility_query is not None
    try:
        views, skipped = await gateway.report_ledgers(query.visibility_query, limit=MAX_TICKETS)
    except TooManyTickets:
        raise ApiError(
            422,
            "ValidationError",
            f"from: more than {MAX_TICKETS} tickets in range; narrow from/to or pick a policy",
            field="from",
        ) from None
    return build_report(
        views,
        query,
        generated_at=now,
        skipped=_sorted(skipped),
        severity_info=lambda policy, severity: rank_of(catalog, policy, severity),
    )


def _sorted(skipped: Sequence[Skipped]) -> list[Skipped]:
    return sorted(skipped, key=lambda s: s.key)


Params = Annotated[ReportParams, Query()]


@router.get(
    "/sla",
    summary="SLA report: met, breached, breach rate and first-response time, per group",
    response_model_by_alias=True,
    responses=_ERRORS,
)
async def get_sla_report(
    params: Params, _: CanRead, gateway: Gateway, catalog: CatalogDep
) -> SlaReport:
    """Tickets whose workflow started in [from, to) (default: the last 7 days), optionally of one
    policy, grouped by `severity` (the severity each clock was judged at), `tier` or `clock`."""
    return await sla_report(params, gateway, catalog)


@router.get(
    "/sla.html",
    summary="The same report as a self-contained HTML page (inline SVG charts)",
    response_class=HTMLResponse,
    responses=_HTML_ERRORS,
)
async def get_sla_report_html(
    params: Params, _: CanRead, gateway: Gateway, catalog: CatalogDep
) -> HTMLResponse:
    report = await sla_report(params, gateway, catalog)
    return HTMLResponse(
        render_html(report),
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )
