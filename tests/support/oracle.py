"""A deliberately dumb business-time oracle for scenario tests: it walks minute by minute.

Independent of `policies.calendar` (no interval arithmetic, no caches), so a scenario's expected
deadline is not computed by the code under test. Only same-day intervals; starts are rounded up
to the next whole minute by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTE = timedelta(minutes=1)


def is_open(
    at: datetime, zone: str, hours: Mapping[str, Iterable[Iterable[str]]], holidays: set[date]
) -> bool:
    local = at.astimezone(ZoneInfo(zone))
    if local.date() in holidays:
        return False
    hhmm = f"{local:%H:%M}"
    for start, end in hours.get(DAYS[local.weekday()], ()):
        if start <= hhmm < (end if end != "24:00" else "24:01"):
            return True
    return False


def add_business_minutes(
    start: datetime,
    minutes: int,
    zone: str,
    hours: Mapping[str, Iterable[Iterable[str]]],
    holidays: Iterable[date] = (),
) -> datetime:
    """The first instant by which `minutes` open minutes have passed since `start`."""
    assert start.second == 0 and start.microsecond == 0, "the oracle walks whole minutes"
    days = set(holidays)
    at, left = start, minutes
    while left > 0:
        if is_open(at, zone, hours, days):
            left -= 1
        at += MINUTE
    return at


def whole_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)
