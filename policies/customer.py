"""The customer attributes a policy may use to pick a calendar (never part of any ID)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Customer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(None, max_length=200, examples=["Acme Corp"])
    timezone: str | None = Field(
        None, description="IANA zone; picks the calendar for Confluent.", examples=["Europe/Berlin"]
    )
    region: str | None = Field(
        None, description="Customer region; picks the calendar for Kong.", examples=["EMEA"]
    )
