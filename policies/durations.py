"""Parse the durations policy files are written in; every duration carries a unit saying which.

- `elapsed`: "60m", "4h", "20s", "24 hours", "PT4H": real time passes whatever the calendar says.
- `calendar_days`: "30 days", "7d", "2 weeks", "P2D", "30 calendar days": whole days on the local
  clock of the ticket's calendar zone ("30 days" from 03-20 12:00 EET ends 04-19 12:00 EEST, not
  13:00: a contract's days are not 720 real hours).
- `business`: "8 business hours", "2 business days": counts only while the ticket's calendar is
  open. Business days stay symbolic here because their length belongs to the calendar
  (`business_day`); `Duration.amount(business_day)` converts them.

Days mixed with hours ("1d12h", "P1DT2H") and fractional days are refused: say "36 hours" or
whole days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

Unit = Literal["elapsed", "calendar_days", "business"]
UNITS: tuple[Unit, ...] = ("elapsed", "calendar_days", "business")

_UNIT_SECONDS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 7 * 86400,
    "week": 7 * 86400,
}

_NUMBER = r"\d+(?:\.\d+)?"
# "1h30m", "20s", "4h": compact units glued to their numbers.
_COMPACT = re.compile(rf"^(?:{_NUMBER}(?:s|m|h|d|w))+$")
_COMPACT_PART = re.compile(rf"({_NUMBER})(s|m|h|d|w)")
# "60 minutes", "24 hours", "8 business hours", "2 business days", "30 calendar days".
_WORDS = re.compile(
    rf"^(?P<n>{_NUMBER})\s+(?P<kind>business\s+|calendar\s+)?"
    r"(?P<unit>seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?)$"
)
# ISO 8601 durations without years/months (their length is not fixed): P2D, PT4H, P1DT2H30M.
_ISO = re.compile(
    rf"^P(?:(?P<w>{_NUMBER})W)?(?:(?P<d>{_NUMBER})D)?"
    rf"(?:T(?:(?P<h>{_NUMBER})H)?(?:(?P<m>{_NUMBER})M)?(?:(?P<s>{_NUMBER})S)?)?$"
)


class DurationError(ValueError):
    """Text that is not a duration this catalogue understands."""


@dataclass(frozen=True)
class Duration:
    """A parsed duration: `unit` says which clock it runs on.

    Exactly one of `fixed` (seconds-precise time; for calendar days, N x 24 h as a nominal length)
    and `business_days` (a count of the calendar's business days, converted late because each
    calendar declares its own day length) is set.
    """

    text: str
    unit: Unit
    fixed: timedelta | None = None
    business_days: float | None = None

    @property
    def business(self) -> bool:
        return self.unit == "business"

    def amount(self, business_day: timedelta) -> timedelta:
        """The amount of (business) time, with business days converted at `business_day` each."""
        if self.business_days is not None:
            return business_day * self.business_days
        assert self.fixed is not None  # guaranteed by parse_duration
        return self.fixed

    def as_business(self) -> Duration:
        """The same amount counted on the business clock ("4 hours" that run only while open).

        Days are refused: "1 day" of business time is ambiguous (24 h, or one business day?).
        """
        if self.business:
            return self
        assert self.fixed is not None
        if self.fixed.total_seconds() % 86400 == 0 and self.fixed >= timedelta(days=1):
            raise DurationError(
                f"{self.text!r}: days on the business clock are ambiguous; "
                "write 'N business days' or hours"
            )
        return Duration(text=self.text, unit="business", fixed=self.fixed)


def parse_duration(text: str) -> Duration:
    """Parse one duration; raise `DurationError` saying what is accepted."""
    if not isinstance(text, str):
        raise DurationError(f"expected a duration string, got {type(text).__name__}")
    raw = text.strip()
    norm = re.sub(r"\s+", " ", raw.lower())
    if not norm:
        raise DurationError("empty duration")
    result: Duration | None
    if _COMPACT.match(norm):
        parts = [(float(n), u) for n, u in _COMPACT_PART.findall(norm)]
        result = _plain(raw, parts)
    elif m := _WORDS.match(norm):
        result = _from_words(raw, float(m["n"]), (m["kind"] or "").strip(), m["unit"])
    elif (iso := _ISO.match(raw.upper())) and raw.upper() not in ("P", "PT") and raw[-1] != "T":
        parts = [(float(v), k) for k, v in iso.groupdict().items() if v is not None]
        result = _plain(raw, parts)
    else:
        result = None
    if result is None:
        raise DurationError(
            f"{raw!r} is not a duration; write e.g. '60m', '4h', '20s', '24 hours', "
            "'8 business hours', '2 business days' or ISO 8601 'PT4H'"
        )
    if (result.fixed is not None and result.fixed <= timedelta()) or (
        result.business_days is not None and result.business_days <= 0
    ):
        raise DurationError(f"{raw!r}: a duration must be longer than zero")
    return result


_DAY_UNITS = ("d", "w", "day", "week")


def _plain(raw: str, parts: list[tuple[float, str]]) -> Duration:
    """Non-business parts: all days/weeks -> calendar days; no days -> elapsed; mixed refused."""
    days = [(n, u) for n, u in parts if u in _DAY_UNITS]
    seconds = sum(n * _UNIT_SECONDS[u] for n, u in parts)
    if not days:
        return Duration(text=raw, unit="elapsed", fixed=timedelta(seconds=seconds))
    if len(days) != len(parts):
        raise DurationError(
            f"{raw!r} mixes days (calendar days on the local clock) with hours (elapsed time); "
            "write whole days, or the whole duration in hours"
        )
    count = seconds / 86400
    if count != int(count):
        raise DurationError(
            f"{raw!r}: calendar days must be whole; write the duration in hours instead"
        )
    return Duration(text=raw, unit="calendar_days", fixed=timedelta(days=int(count)))


def _from_words(raw: str, n: float, kind: str, unit: str) -> Duration | None:
    base = unit.rstrip("s")
    base = {"sec": "second", "min": "minute", "hr": "hour"}.get(base, base)
    if kind == "business":
        if base == "day":
            return Duration(text=raw, unit="business", business_days=n)
        if base == "week":
            return None  # a business week's length is not declared anywhere: refuse it
        seconds = n * _UNIT_SECONDS[base]
        return Duration(text=raw, unit="business", fixed=timedelta(seconds=seconds))
    if kind == "calendar" and base not in ("day", "week"):
        return None
    return _plain(raw, [(n, base)])


def describe_amount(amount: timedelta, unit: Unit) -> str:
    """An amount in words that say its unit: '24 business hours', '30 calendar days', '60m'.

    Never '1d' for 24 business hours (that reads as a calendar day).
    """
    seconds = int(amount.total_seconds())
    if unit == "calendar_days":
        days = seconds // 86400
        return f"{days} calendar day{'s' if days != 1 else ''}"
    if unit == "business":
        for size, word in ((3600, "hour"), (60, "minute"), (1, "second")):
            if seconds % size == 0:
                count = seconds // size
                return f"{count} business {word}{'s' if count != 1 else ''}"
    out = []
    for suffix, size in (("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{suffix}")
            seconds %= size
    return "".join(out) or "0s"


def format_timedelta(delta: timedelta) -> str:
    """Compact, exact rendering for CLI output and error messages: '1d2h30m', '45s'."""
    seconds = int(delta.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return sign + ("".join(out) or "0s")
