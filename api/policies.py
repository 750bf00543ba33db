"""`/v1/policies`: the catalogue, and a preview of the deadlines a ticket would get."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from api import migration, whatif
from api.auth import CanRead
from api.bounds import check_opened_at
from api.deps import CatalogDep
from api.errors import ApiError
from api.schemas import ClockPreview, ErrorBody, PolicyPreview, PolicySummary, PreviewRequest
from plumbing.settings import Settings
from policies.catalog import Catalog
from policies.durations import describe_amount
from policies.model import Policy

router = APIRouter(prefix="/v1/policies", tags=["policies"])

PolicyId = Annotated[str, Path(description="A catalogue policy id.", examples=["confluent-cloud"])]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid bearer token."},
    403: {"model": ErrorBody, "description": "The token lacks tickets:read."},
    404: {"model": ErrorBody, "description": "No policy with this id."},
    413: {"model": ErrorBody, "description": "The body is over 1 MiB (checked before auth)."},
    429: {"model": ErrorBody, "description": "Over the token's rate limit; see Retry-After."},
    422: {"model": ErrorBody, "description": "Unknown policy, tier, severity: `field` says."},
}


def _known(catalog: Catalog, policy_id: str) -> Policy:
    """The policy a path names; 404 (not 422) when the path names nothing."""
    if policy_id not in catalog.ids():
        raise ApiError(
            404,
            "PolicyNotFound",
            f"policy_id: unknown policy {policy_id!r}; known: {', '.join(catalog.ids())}",
            field="policy_id",
        )
    return catalog.get(policy_id)


def _summary(policy: Policy) -> PolicySummary:
    return PolicySummary(
        id=policy.id,
        name=policy.name,
        vendor=policy.vendor,
        version=policy.version,
        seed=policy.seed,
        tiers={tier_id: tier.label for tier_id, tier in policy.tiers.items()},
        severities={s.id: s.label for s in policy.severities},
    )


@router.get("", summary="Every policy in the catalogue", responses=_ERRORS)
async def list_policies(_: CanRead, catalog: CatalogDep) -> list[PolicySummary]:
    return [_summary(catalog.get(policy_id)) for policy_id in catalog.ids()]


@router.get("/{policy_id}", summary="One policy as the catalogue holds it", responses=_ERRORS)
async def get_policy(policy_id: PolicyId, _: CanRead, catalog: CatalogDep) -> Policy:
    return _known(catalog, policy_id)


@router.post(
    "/{policy_id}/preview",
    summary="The deadlines a ticket would get (no ticket is started)",
    responses=_ERRORS,
)
async def preview(
    policy_id: PolicyId, body: PreviewRequest, request: Request, _: CanRead, catalog: CatalogDep
) -> PolicyPreview:
    """Resolves like ticket creation does and computes every clock as if started at `opened_at`."""
    _known(catalog, policy_id)
    settings: Settings = request.app.state.settings
    now = datetime.now(UTC)
    opened_at = body.opened_at or now
    check_opened_at(  # the window ticket creation enforces: 422 naming opened_at
        opened_at, now=now, max_age=settings.max_ticket_age, max_skew=settings.max_clock_skew
    )
    sla = catalog.resolve(
        policy_id,
        body.tier,
        body.severity,
        body.customer,
        channel=body.channel,
        product=body.product,
        opened_at=opened_at,
        ticket_type=body.type,
    )
    terms = sla.terms()
    clocks = []
    for clock, target in terms.targets.items():
        due = sla.due(clock, opened_at)
        clocks.append(
            ClockPreview(
                clock=clock,
                target=target.text,
                business=target.business,
                unit=target.unit,
                amount=describe_amount(target.amount, target.unit),
                source=target.source,
                due_at=due.due_at,
                warnings=list(due.warnings),
            )
        )
    return PolicyPreview(
        policy=sla.policy_id,
        policy_version=sla.policy_version,
        tier=sla.tier,
        requested_severity=sla.requested_severity,
        severity=sla.severity,
        severity_label=terms.label,
        cap_reason=sla.cap_reason,
        type=sla.ticket_type,
        exempt_reason=sla.exempt_reason,
        calendar=sla.calendar.name,
        timezone=sla.calendar.timezone,
        opened_at=opened_at,
        intake_required=list(sla.intake_required),
        clocks=clocks,
    )


# POST /v1/policies/whatif (api/whatif.py): a candidate replayed over a period's tickets.
router.include_router(whatif.router)
# POST /v1/policies/{policy_id}/migration-plan (api/migration.py).
router.include_router(migration.policies_router)
