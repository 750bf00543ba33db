"""The customer attributes a policy may use to pick a calendar (never part of any ID).

`check_zone` is the one rule for a time zone a policy counts business hours in: a real IANA
region zone ("Europe/Berlin", "America/New_York") or "UTC". Refused, each with a message naming
the field: directory names ("Europe", "Etc"), files that are not zones ("localtime",
"posixrules", "Factory", "right/UTC", "posix/..."), names too long to be one, and fixed-offset or
legacy abbreviations ("EST", "CET", "EST5EDT", "Etc/GMT+5") where a region's zone is meant: "EST"
is UTC-5 all year, so New York business hours would drift by an hour for half of it.
"""

from __future__ import annotations

import functools
import re
import zoneinfo

from pydantic import BaseModel, ConfigDict, Field

from policies.errors import PolicyError

MAX_ZONE_LENGTH = 64  # the longest IANA name is 32 characters
_ZONE_SYNTAX = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}$")
_NOT_ZONES = frozenset({"localtime", "posixrules", "factory", "leapseconds", "tzdata.zi"})
_NOT_ZONE_DIRS = ("right/", "posix/", "systemv/")
_UTC_NAMES = frozenset({"UTC", "Etc/UTC"})
# Fixed-offset and legacy names, and the region zone people usually mean by them.
_MEANT = {
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "EST5EDT": "America/New_York",
    "CST": "America/Chicago",
    "CST6CDT": "America/Chicago",
    "MST": "America/Denver",
    "MST7MDT": "America/Denver",
    "PST": "America/Los_Angeles",
    "PST8PDT": "America/Los_Angeles",
    "HST": "Pacific/Honolulu",
    "GMT": "Europe/London",
    "WET": "Europe/Lisbon",
    "CET": "Europe/Paris",
    "MET": "Europe/Paris",
    "EET": "Europe/Bucharest",
}


class Customer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(None, max_length=200, examples=["Acme Corp"])
    timezone: str | None = Field(
        None, description="IANA zone; picks the calendar for Confluent.", examples=["Europe/Berlin"]
    )
    region: str | None = Field(
        None, description="Customer region; picks the calendar for Kong.", examples=["EMEA"]
    )


@functools.cache
def _available() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_zone(zone: str, field: str = "customer.timezone") -> str:
    """`zone` if it is a region's IANA zone or UTC; else PolicyError naming `field`."""
    shown = zone if len(zone) <= MAX_ZONE_LENGTH else zone[:MAX_ZONE_LENGTH] + "..."
    example = "e.g. 'Europe/Berlin', 'America/New_York' or 'UTC'"
    if len(zone) > MAX_ZONE_LENGTH:
        raise PolicyError(field, f"{shown!r} is too long for an IANA time zone ({example})")
    if zone in _UTC_NAMES:
        return zone
    meant = _MEANT.get(zone.upper())
    if meant is not None or re.fullmatch(r"(?i)etc/gmt[+-]?\d*|gmt[+-]\d+|utc[+-]\d+", zone):
        hint = f"use {meant!r}" if meant else "use the region's zone"
        raise PolicyError(
            field,
            f"{zone!r} is a fixed-offset or legacy zone, not a region's time zone (its offsets"
            f" follow no region's own rules); {hint} ({example})",
        )
    lowered = zone.lower()
    if (
        not _ZONE_SYNTAX.match(zone)
        or lowered in _NOT_ZONES
        or lowered.startswith(_NOT_ZONE_DIRS)
        or "/" not in zone
        or zone not in _available()
    ):
        raise PolicyError(field, f"{shown!r} is not an IANA region time zone ({example})")
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise PolicyError(field, f"{shown!r} is not an IANA region time zone ({example})") from None
    return zone
