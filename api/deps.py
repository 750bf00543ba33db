"""What handlers get injected: the gateway, the catalogue and a checked ticket key from the path."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from api.temporal_gateway import TicketGateway
from policies.catalog import Catalog
from workflows.contract import TICKET_KEY_JSON_SCHEMA, validate_ticket_key


def _gateway(request: Request) -> TicketGateway:
    gateway: TicketGateway = request.app.state.gateway
    return gateway


def _catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


def _ticket_key(
    key: Annotated[
        str,
        Path(
            description="The ticket key given at creation (A-Z a-z 0-9 . _ : -).",
            examples=["ZD-48213"],
            # Documented, not enforced here: `validate_ticket_key` answers with a clearer message.
            json_schema_extra=dict(TICKET_KEY_JSON_SCHEMA),
        ),
    ],
) -> str:
    return validate_ticket_key(key)  # InvalidTicketKey -> 422 naming `key`


Gateway = Annotated[TicketGateway, Depends(_gateway)]
CatalogDep = Annotated[Catalog, Depends(_catalog)]
TicketKey = Annotated[str, Depends(_ticket_key)]
