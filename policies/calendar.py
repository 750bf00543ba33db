"""Business calendars: weekly opening hours in an IANA zone, minus holidays, and business time.

The semantics are the ones written down in the shared business-time vectors
(`shared/vectors/business_time.json`, "conventions"):

* An instant is open iff its LOCAL date is not a holiday and its local wall-clock time of day
  lies in one of that date's intervals (the intervals listed under its weekday, plus the
  after-midnight tail of an overnight interval listed under the previous weekday).
* Intervals are half-open ``[start, end)`` in wall time; ``"24:00"`` is allowed as an end;
  ``end <= start`` means the interval runs past midnight into the next day.
* A holiday closes its whole local date, including the tail of a shift that began the evening
  before. Wall times inside a spring-forward gap never happen, so they are never open; a
  repeated fall-back hour is open both times if its wall time is inside an interval.
* Business time is real elapsed (UTC) time while open: 24x7 Chicago has 23 h on the
  spring-forward Sunday and 25 h on the fall-back Sunday.

How it is fast: UTC time is cut into fixed 7-day windows aligned on the zone's Monday midnight.
For each window the calendar lazily computes (and caches) the sorted, merged list of absolute
open intervals in integer microseconds with running totals, by mapping every local date's wall
intervals through the zone's UTC-offset segments (so DST gaps and folds fall out exactly). Only
the windows at both ends of a span are ever materialised (and a few in between for short spans).

Between them the open time is computed in closed form, O(1) in the span: without holidays an
instant t is open iff its wall time t + offset(t) falls in the weekly profile, so over a stretch
of constant offset the open time is a difference of F, the cumulative open wall time of the
periodic profile (whole weeks x open seconds per week, plus one bisection). Each zone transition
adds a correction (F before minus F after: the wall time a spring-forward skips or a fall-back
repeats), and each holiday subtracts the open time of its local date. Transitions come from the
zone's own table (and its POSIX rule after the table), verified against zoneinfo's offsets.
Sums over 52-window blocks and 64-block superblocks are cached, so a span of two millennia costs
a few dozen cached additions after a one-off pass (which resolves each year's holidays once).
``add`` skips blocks by their totals and bisects inside the last one with the same closed form.
Every cache (windows, blocks, holiday years, transitions) is an LRU bounded in estimated bytes.
"""

from __future__ import annotations

import math
import re
import sys
import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["WEEKDAYS", "BusinessCalendar", "CalendarSpecError", "ByteLRU", "cached_calendar"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_DAY = 86_400
_WEEK = 7 * _DAY
_US = 1_000_000
_WEEK_US = _WEEK * _US
_BLOCK = 52  # windows per block (about a year): block totals are cached
_GROUPS = (512, 64, 8)  # blocks per group (about 500, 64 and 8 years): totals cached too
_WALK = 12  # spans of up to this many windows are summed window by window (all cached)
_MAX_CLOSED_WINDOWS = 200_000  # ~3800 years of nothing open: give up rather than loop forever
_MAX_OPEN_WINDOWS = 530  # next_close gives up on a calendar open for ~10 years without a break
_PROBE_STEP = 3 * 3600  # UTC-offset probe spacing when looking for zone transitions
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ONE_US = timedelta(microseconds=1)
_ANCHOR_MONDAY = datetime(2000, 1, 3)  # a Monday; windows start at the zone's local midnight
_WALL_MONDAY = 3 * _DAY  # 1970-01-01 was a Thursday: wall seconds + this count from a Monday
_MIN_ORDINAL, _MAX_ORDINAL = date.min.toordinal(), date.max.toordinal()
# add() skips ahead in closed form only to boundaries before this (UTC seconds of 9999-12-29);
# beyond, it walks weeks and fails as it always has ("year 10000 is out of range").
_LAST_SKIP_S = (date(9999, 12, 29).toordinal() - date(1970, 1, 1).toordinal()) * _DAY

# Byte budgets (estimates of the Python objects held, see `_window_bytes`).
WINDOW_CACHE_BYTES = 256 * 1024  # per calendar: materialised weeks
BLOCK_CACHE_BYTES = 128 * 1024  # per calendar: block totals (about a year each)
SUPER_CACHE_BYTES = 64 * 1024  # per calendar: group totals (a few hundred)
TRANSITION_CACHE_BYTES = 64 * 1024  # per calendar: the zone's offset changes by year
HOLIDAY_CACHE_BYTES = 128 * 1024  # per calendar: resolved country holiday years
CALENDAR_BASE_BYTES = 64 * 1024  # per calendar: everything else (spec, zone, profile), generous
CALENDAR_BYTES = (
    WINDOW_CACHE_BYTES
    + BLOCK_CACHE_BYTES
    + SUPER_CACHE_BYTES
    + TRANSITION_CACHE_BYTES
    + HOLIDAY_CACHE_BYTES
    + CALENDAR_BASE_BYTES
)
CALENDARS_CACHE_BYTES = 48 * 1024 * 1024  # the module-level cache of calendars (`cached_calendar`)

_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HHMM_RE = re.compile(r"(\d{1,2}):([0-5]\d)")
_HOURS_RE = re.compile(r"(\d+(?:\.\d+)?)h")
_MINUTES_RE = re.compile(r"(\d+)m")

_SPEC_KEYS = frozenset({"timezone", "hours", "holidays", "business_day", "name"})
_HOLIDAY_KEYS = frozenset({"country", "subdiv", "categories", "add", "remove"})


class CalendarSpecError(ValueError):
    """A calendar spec is invalid; the message starts with the offending field's path."""


class ByteLRU:
    """A least-recently-used mapping bounded by the estimated bytes of its entries.

    Each entry is stored with its estimated size; inserting past the budget evicts the least
    recently used entries until the total fits again (an entry larger than the whole budget is
    not kept at all).
    """

    __slots__ = ("_data", "_lock", "_sizes", "budget", "nbytes")

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.nbytes = 0
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._lock = threading.Lock()  # activities share calendars across executor threads

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    def get(self, key: Hashable) -> Any:
        value = self._data.get(key)
        if value is not None:
            try:  # noqa: SIM105 - cheaper than contextlib.suppress on the hot path
                self._data.move_to_end(key)
            except KeyError:  # evicted by another thread meanwhile: still a valid value
                pass
        return value

    def put(self, key: Hashable, value: Any, size: int) -> None:
        with self._lock:
            if key in self._data:
                self.nbytes -= self._sizes.pop(key)
                del self._data[key]
            if size > self.budget:
                return
            self._data[key] = value
            self._sizes[key] = size
            self.nbytes += size
            while self.nbytes > self.budget:
                old, _ = self._data.popitem(last=False)
                self.nbytes -= self._sizes.pop(old)

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._data.values())

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._sizes.clear()
            self.nbytes = 0


_INT_BYTES = sys.getsizeof(2**62)  # a (large) int object
_LIST_BYTES = sys.getsizeof([])
_ENTRY_BYTES = 2 * 8 + 100  # key + value pointers in a dict / OrderedDict, plus its link node


def _window_bytes(n: int) -> int:
    """Estimated bytes of a cached window with n intervals: 3 lists of n ints, a tuple, a key."""
    return _ENTRY_BYTES + _INT_BYTES + 80 + 3 * (_LIST_BYTES + 8 * n + _INT_BYTES * n)


_TOTAL_BYTES = _ENTRY_BYTES + 2 * _INT_BYTES  # a cached block total (int key, int value)


class _Window(NamedTuple):
    starts: list[int]  # absolute UTC microseconds, sorted, disjoint, non-touching
    ends: list[int]
    cum: list[int]  # open microseconds in the window up to ends[i]
    total: int


# --------------------------------------------------------------------------------------------
# spec parsing
# --------------------------------------------------------------------------------------------


def _kind(value: object) -> str:
    return type(value).__name__


def _parse_zone(value: object) -> ZoneInfo:
    if value is None:
        raise CalendarSpecError("timezone: required")
    if not isinstance(value, str):
        raise CalendarSpecError(f"timezone: expected an IANA zone name, got {_kind(value)}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CalendarSpecError(f"timezone: {value!r} is not an IANA time zone") from None


def _parse_time(value: object, path: str, *, is_end: bool) -> int:
    """Seconds after local midnight for "HH:MM" or "HH:MM:SS"; "24:00" only as an end."""
    m = _TIME_RE.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise CalendarSpecError(f"{path}: {value!r} is not a time")
    h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
    if (h, mi, s) == (24, 0, 0):
        if not is_end:
            raise CalendarSpecError(f"{path}: '24:00' is only allowed as an end")
        return _DAY
    if h > 23 or mi > 59 or s > 59:
        raise CalendarSpecError(f"{path}: {value!r} is not a time")
    return h * 3600 + mi * 60 + s


def _parse_hours(value: object) -> dict[int, list[tuple[int, int]]]:
    """Weekday index -> intervals as listed, in seconds; an overnight end is > 86400."""
    if value is None:
        raise CalendarSpecError("hours: required")
    if not isinstance(value, Mapping):
        raise CalendarSpecError(f"hours: expected an object of weekdays, got {_kind(value)}")
    listed: dict[int, list[tuple[int, int]]] = {}
    for key, intervals in value.items():
        path = f"hours.{key}"
        if key not in WEEKDAYS:
            raise CalendarSpecError(f"{path}: not a weekday (use one of {', '.join(WEEKDAYS)})")
        if isinstance(intervals, str | bytes) or not isinstance(intervals, Sequence):
            raise CalendarSpecError(f"{path}: expected a list of [start, end] pairs")
        day: list[tuple[int, int]] = []
        for i, pair in enumerate(intervals):
            ipath = f"{path}[{i}]"
            if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise CalendarSpecError(f"{ipath}: expected [start, end], got {pair!r}")
            start = _parse_time(pair[0], ipath, is_end=False)
            end = _parse_time(pair[1], ipath, is_end=True)
            if end <= start:  # runs past midnight into the next day
                end += _DAY
            day.append((start, end))
        listed[WEEKDAYS.index(key)] = day
    return listed


def _union_length(intervals: list[tuple[int, int]]) -> int:
    total, reach = 0, None
    for a, b in sorted(intervals):
        if reach is None or a > reach:
            total += b - a
            reach = b
        elif b > reach:
            total += b - reach
            reach = b
    return total


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _parse_date(value: object, path: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise CalendarSpecError(f"{path}: {value!r} is not an ISO date")


def _parse_dates(value: object, path: str) -> frozenset[date]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise CalendarSpecError(f"{path}: expected a list of ISO dates, got {_kind(value)}")
    return frozenset(_parse_date(v, f"{path}[{i}]") for i, v in enumerate(value))


def _parse_business_day(value: object) -> timedelta:
    seconds: float
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str):
        if m := _HHMM_RE.fullmatch(value):
            seconds = int(m[1]) * 3600 + int(m[2]) * 60
        elif m := _HOURS_RE.fullmatch(value):
            seconds = float(m[1]) * 3600
        elif m := _MINUTES_RE.fullmatch(value):
            seconds = int(m[1]) * 60
        else:
            raise CalendarSpecError(
                f"business_day: {value!r} is not a duration (use seconds, 'H:MM' or '8h')"
            )
    else:
        raise CalendarSpecError(
            f"business_day: expected seconds or a 'H:MM' / '8h' string, got {_kind(value)}"
        )
    if not 0 < seconds <= _DAY:
        raise CalendarSpecError(f"business_day: {value!r} must be more than 0 and at most 24h")
    return timedelta(seconds=seconds)


class _CountryHolidays:
    """One country's (and subdivision's) holidays, resolved a year at a time on first need."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        import holidays  # lazy: large package, only needed by country calendars

        self._holidays = holidays
        country = spec.get("country")
        if not isinstance(country, str):
            raise CalendarSpecError(
                "holidays.country: required (an ISO 3166 code such as 'US')"
                if country is None
                else f"holidays.country: expected a country code, got {_kind(country)}"
            )
        subdiv = spec.get("subdiv")
        if subdiv is not None and not isinstance(subdiv, str):
            raise CalendarSpecError(f"holidays.subdiv: expected a string, got {_kind(subdiv)}")
        categories = spec.get("categories")
        if categories is not None and (
            isinstance(categories, str)
            or not isinstance(categories, Sequence)
            or not all(isinstance(c, str) for c in categories)
        ):
            raise CalendarSpecError(
                f"holidays.categories: expected a list of strings, got {categories!r}"
            )
        supported = holidays.list_supported_countries()
        if country not in supported:
            raise CalendarSpecError(f"holidays.country: {country!r} is not supported")
        self._kwargs: dict[str, Any] = {"subdiv": subdiv}
        if categories is not None:
            self._kwargs["categories"] = tuple(categories)
        self.country = country
        try:
            holidays.country_holidays(country, **self._kwargs)  # validates subdiv + categories
        except NotImplementedError:
            raise CalendarSpecError(
                f"holidays.subdiv: {subdiv!r} is not a subdivision of {country}"
            ) from None
        except ValueError as exc:
            raise CalendarSpecError(f"holidays.categories: {exc}") from None
        self.source = f"holidays {holidays.__version__} {country}" + (
            f"-{subdiv}" if subdiv else ""
        )
        self._years = ByteLRU(HOLIDAY_CACHE_BYTES)

    def year(self, year: int) -> frozenset[date]:
        dates: frozenset[date] | None = self._years.get(year)
        if dates is None:
            if not 1 <= year <= 9999:
                dates = frozenset()
            else:
                resolved = self._holidays.country_holidays(self.country, years=year, **self._kwargs)
                dates = frozenset(d for d in resolved if d.year == year)
            size = _ENTRY_BYTES + sys.getsizeof(dates) + 40 * len(dates)
            self._years.put(year, dates, size)
        return dates

    def resolved(self) -> frozenset[date]:
        """The holiday dates of the years resolved and still cached."""
        return frozenset().union(*self._years.values())


def _parse_holidays(
    value: object,
) -> tuple[_CountryHolidays | None, frozenset[date], frozenset[date]]:
    """(country source or None, dates added, dates removed)."""
    if value is None:
        return None, frozenset(), frozenset()
    if isinstance(value, Mapping):
        for key in value:
            if key not in _HOLIDAY_KEYS:
                raise CalendarSpecError(
                    f"holidays.{key}: unknown field (use {', '.join(sorted(_HOLIDAY_KEYS))})"
                )
        country = _CountryHolidays(value)
        add = _parse_dates(value.get("add") or [], "holidays.add")
        remove = _parse_dates(value.get("remove") or [], "holidays.remove")
        return country, add, remove
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise CalendarSpecError(
            "holidays: expected null, a list of ISO dates or "
            f'{{"country": ..., "subdiv": ..., "add": [...], "remove": [...]}}, got {_kind(value)}'
        )
    return None, _parse_dates(value, "holidays"), frozenset()


# --------------------------------------------------------------------------------------------
# the calendar
# --------------------------------------------------------------------------------------------


class BusinessCalendar:
    """Weekly opening hours in an IANA zone minus holidays, with exact business-time arithmetic.

    Build one with :meth:`from_spec`. Every method takes and returns timezone-aware datetimes
    (results are in the calendar's zone) and works to the microsecond.

    ``business_day`` (the length of "1 business day") comes from the spec's ``business_day``
    (int seconds, ``"H:MM"``, ``"8h"``); when absent it is the longest single weekday's opening:
    the total open time of the intervals listed under one weekday (overnight intervals counted
    in full, overlaps once), maximised over the week. So 09:00-17:00 gives 8 h, 24x7 gives
    24 h, a 24x5 week (Mon 00:00 to Sat 00:00) gives 24 h and a 22:00-06:00 night shift 8 h.
    """

    zone: ZoneInfo
    business_day: timedelta
    name: str | None

    def __init__(
        self,
        zone: ZoneInfo,
        listed: dict[int, list[tuple[int, int]]],
        *,
        country: _CountryHolidays | None = None,
        add: frozenset[date] = frozenset(),
        remove: frozenset[date] = frozenset(),
        business_day: timedelta | None = None,
        name: str | None = None,
    ) -> None:
        self.zone = zone
        self.name = name
        # Per weekday, the merged wall-clock intervals that apply to a date of that weekday.
        days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for wd, intervals in listed.items():
            for a, b in intervals:
                days[wd].append((a, min(b, _DAY)))
                if b > _DAY:
                    days[(wd + 1) % 7].append((0, b - _DAY))
        self._profile = tuple(tuple(_merge(d)) for d in days)
        self._week_seconds = sum(b - a for d in self._profile for a, b in d)
        if self._week_seconds == 0:
            raise CalendarSpecError("hours: the calendar is never open")
        longest = max(_union_length(v) for v in listed.values())
        self.business_day = business_day if business_day is not None else timedelta(seconds=longest)
        self._country = country
        self._add = add
        self._remove = remove
        self._explicit = add - remove
        self._explicit_by_year: dict[int, list[date]] = {}
        for d in sorted(self._explicit):
            self._explicit_by_year.setdefault(d.year, []).append(d)
        anchor = _ANCHOR_MONDAY.replace(tzinfo=zone)
        self._base_us = ((anchor - _EPOCH) // _ONE_US) % _WEEK_US
        self._base_s = self._base_us // _US
        # The weekly wall-clock profile flattened from Monday 00:00, with running totals (for F).
        self._wk_starts: list[int] = []
        self._wk_ends: list[int] = []
        self._wk_cum: list[int] = []
        run = 0
        for wd, day_ivs in enumerate(self._profile):
            for a, b in day_ivs:
                run += b - a
                self._wk_starts.append(wd * _DAY + a)
                self._wk_ends.append(wd * _DAY + b)
                self._wk_cum.append(run)
        self._windows = ByteLRU(WINDOW_CACHE_BYTES)
        self._blocks = ByteLRU(BLOCK_CACHE_BYTES)
        self._supers = ByteLRU(SUPER_CACHE_BYTES)
        self._year_offsets = ByteLRU(TRANSITION_CACHE_BYTES)
        self._rule: Callable[[int], tuple[int, int]] | None = None
        self._table: list[int] | None = None
        if self._base_us % _US == 0:  # whole-second offsets (always, with real tzdata)
            self._table, self._rule = _zone_transitions(zone)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> BusinessCalendar:
        """Validate a calendar spec (see the module docstring) and build the calendar.

        Raises CalendarSpecError naming the offending field.
        """
        if not isinstance(spec, Mapping):
            raise CalendarSpecError(f"calendar: expected an object, got {_kind(spec)}")
        for key in spec:
            if key not in _SPEC_KEYS:
                raise CalendarSpecError(
                    f"{key}: unknown field (use {', '.join(sorted(_SPEC_KEYS))})"
                )
        name = spec.get("name")
        if name is not None and not isinstance(name, str):
            raise CalendarSpecError(f"name: expected a string, got {_kind(name)}")
        zone = _parse_zone(spec.get("timezone"))
        listed = _parse_hours(spec.get("hours"))
        country, add, remove = _parse_holidays(spec.get("holidays"))
        raw_bd = spec.get("business_day")
        business_day = None if raw_bd is None else _parse_business_day(raw_bd)
        return cls(
            zone,
            listed,
            country=country,
            add=add,
            remove=remove,
            business_day=business_day,
            name=name,
        )

    def __repr__(self) -> str:
        src = self._country.source if self._country else f"{len(self._explicit)} dates"
        return f"<BusinessCalendar {self.name or ''} {self.zone.key} holidays={src}>"

    # -- holidays ---------------------------------------------------------------------------

    def is_holiday(self, day: date) -> bool:
        """Whether the local date is closed all day as a holiday."""
        if day in self._explicit:
            return True
        return (
            self._country is not None
            and day in self._country.year(day.year)
            and day not in self._remove
        )

    @property
    def holidays(self) -> frozenset[date]:
        """Holiday dates resolved so far: explicit dates plus every country year consulted.

        A country calendar has no last holiday; use :meth:`holidays_between` for a range.
        """
        if self._country is None:
            return self._explicit
        return (self._country.resolved() - self._remove) | self._explicit

    @property
    def holiday_source(self) -> str:
        """Where the holiday dates come from, e.g. 'holidays 0.109 US-IL' or 'explicit'."""
        return self._country.source if self._country else "explicit"

    def holidays_between(self, first: date, last: date) -> list[date]:
        """Sorted holiday dates d with first <= d <= last (resolving country years as needed)."""
        found = {d for d in self._explicit if first <= d <= last}
        if self._country is not None:
            for year in range(first.year, last.year + 1):
                found.update(
                    d
                    for d in self._country.year(year)
                    if first <= d <= last and d not in self._remove
                )
        return sorted(found)

    def business_days(self, n: float) -> timedelta:
        """``n`` business days as an amount of business time (n x business_day)."""
        if not math.isfinite(n):
            raise ValueError(f"business_days: {n!r} is not a finite number")
        return self.business_day * n

    # -- arithmetic -------------------------------------------------------------------------

    def add(self, start: datetime, delta: timedelta) -> datetime:
        """The earliest instant T >= start with ``elapsed(start, T) == delta``.

        A due time that lands exactly on a closing time stays there. ``delta == 0`` rolls
        forward: start itself if open, else the next opening.
        """
        t = _to_us(start, "start")
        if not isinstance(delta, timedelta):
            raise TypeError(f"delta must be a timedelta, got {_kind(delta)}")
        need = delta // _ONE_US
        if need < 0:
            raise ValueError(f"delta must not be negative, got {delta}")
        if need == 0:
            return self._out(self._next_open_us(t))
        k = (t - self._base_us) // _WEEK_US
        w = self._window(k)
        need += _open_before(w, t)
        last = k + _MAX_CLOSED_WINDOWS
        steps = 0
        while need > w.total:
            need -= w.total
            k += 1
            steps += 1
            if steps == _WALK and self._table is not None:
                k, need = self._skip(k, need, last)
            if k > last:
                raise RuntimeError("business calendar has no open time ahead")
            w = self._window(k)
        i = bisect_left(w.cum, need)
        return self._out(w.ends[i] - (w.cum[i] - need))

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Open time in [start, end); negative when end < start."""
        a = _to_us(start, "start")
        b = _to_us(end, "end")
        if b < a:
            return timedelta(microseconds=-self._elapsed_us(b, a))
        return timedelta(microseconds=self._elapsed_us(a, b))

    def _elapsed_us(self, a: int, b: int) -> int:
        base = self._base_us
        ka = (a - base) // _WEEK_US
        kb = (b - base) // _WEEK_US
        wa = self._window(ka)
        if ka == kb:
            return _open_before(wa, b) - _open_before(wa, a)
        total = wa.total - _open_before(wa, a)
        if kb - ka > _WALK and self._table is not None:
            total += self._windows_total(ka + 1, kb)
        else:
            for k in range(ka + 1, kb):
                total += self._window(k).total
        return total + _open_before(self._window(kb), b)

    def is_open(self, at: datetime) -> bool:
        t = _to_us(at, "at")
        w = self._window((t - self._base_us) // _WEEK_US)
        i = bisect_right(w.starts, t) - 1
        return i >= 0 and t < w.ends[i]

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself if open, otherwise the next opening instant."""
        return self._out(self._next_open_us(_to_us(at, "at")))

    def next_close(self, at: datetime) -> datetime:
        """The end of the open stretch containing ``at`` (or of the next one, if closed)."""
        t = self._next_open_us(_to_us(at, "at"))
        k = (t - self._base_us) // _WEEK_US
        for _ in range(_MAX_OPEN_WINDOWS):
            w = self._window(k)
            end = w.ends[bisect_right(w.starts, t) - 1]
            if end != self._base_us + (k + 1) * _WEEK_US:
                return self._out(end)
            k += 1  # the stretch may continue into the next window
            nxt = self._window(k)
            if not nxt.starts or nxt.starts[0] != end:
                return self._out(end)
            t = end
        raise ValueError(f"calendar stays open for more than {_MAX_OPEN_WINDOWS} weeks after {at}")

    def _next_open_us(self, t: int) -> int:
        k = (t - self._base_us) // _WEEK_US
        last = k + _MAX_CLOSED_WINDOWS
        w = self._window(k)
        i = bisect_right(w.starts, t) - 1
        if i >= 0 and t < w.ends[i]:
            return t
        if i + 1 < len(w.starts):
            return w.starts[i + 1]
        while k < last:
            k += 1
            w = self._window(k)
            if w.starts:
                return w.starts[0]
        raise RuntimeError("business calendar has no open time ahead")

    def _out(self, us: int) -> datetime:
        if us % _US == 0:  # the common case, and the quicker conversion
            return datetime.fromtimestamp(us // _US, self.zone)
        return (_EPOCH + timedelta(microseconds=us)).astimezone(self.zone)

    # -- windows ----------------------------------------------------------------------------

    def _window(self, k: int) -> _Window:
        data = self._windows._data  # ByteLRU.get, inlined: this is the hot path
        w: _Window | None = data.get(k)
        if w is None:
            w = self._build_window(k)
            self._windows.put(k, w, _window_bytes(len(w.starts)))
        else:
            try:  # noqa: SIM105 - cheaper than contextlib.suppress on the hot path
                data.move_to_end(k)
            except KeyError:  # evicted by another thread meanwhile
                pass
        return w

    def _offset(self, t: int) -> int:
        off = datetime.fromtimestamp(t, self.zone).utcoffset()
        assert off is not None
        return off.days * _DAY + off.seconds

    def _probe_segments(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """[(from, to, utc_offset)] covering UTC seconds [lo, hi), found by probing offsets
        every few hours (only for zones whose transition table cannot be read)."""
        bounds = [lo]
        offs = [self._offset(lo)]
        p = lo
        q = lo
        while q < hi - 1:
            q = min(q + _PROBE_STEP, hi - 1)
            q_off = self._offset(q)
            while q_off != offs[-1]:
                # bisect for the first second whose offset differs from the current one
                a, b = p, q
                while b - a > 1:
                    mid = (a + b) // 2
                    if self._offset(mid) == offs[-1]:
                        a = mid
                    else:
                        b = mid
                bounds.append(b)
                offs.append(self._offset(b))
                p = b
            p = q
        bounds.append(hi)
        return [(bounds[i], bounds[i + 1], offs[i]) for i in range(len(offs))]

    def _segments(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """[(from, to, utc_offset)] covering UTC seconds [lo, hi) with a constant offset each."""
        if self._table is None:
            return self._probe_segments(lo, hi)
        out: list[tuple[int, int, int]] = []
        s0, off = lo, self._offset(lo)
        for t, _before, after in self._transitions(lo, hi - 1):
            out.append((s0, t, off))
            s0, off = t, after
        out.append((s0, hi, off))
        return out

    # -- closed form --------------------------------------------------------------------------

    def _wall_open(self, x: int) -> int:
        """F: open wall-clock seconds of the weekly profile from the Monday before 1970 to x."""
        q, r = divmod(x + _WALL_MONDAY, _WEEK)
        i = bisect_right(self._wk_starts, r) - 1
        if i < 0:
            return q * self._week_seconds
        end = self._wk_ends[i]
        part = self._wk_cum[i] if r >= end else self._wk_cum[i] - (end - r)
        return q * self._week_seconds + part

    def _year_transitions(self, year: int) -> list[tuple[int, int, int]]:
        """[(t, offset before, offset after)] for the zone's offset changes in UTC year `year`."""
        key = year
        found: list[tuple[int, int, int]] | None = self._year_offsets.get(key)
        if found is not None:
            return found
        lo = (date(year, 1, 1).toordinal() - _EPOCH_ORDINAL) * _DAY
        hi = lo + (366 if _is_leap(year) else 365) * _DAY
        assert self._table is not None
        candidates = self._table[bisect_left(self._table, lo) : bisect_left(self._table, hi)]
        table_end = self._table[-1] if self._table else None
        if self._rule is not None and (table_end is None or hi > table_end):
            for y in (year - 1, year, year + 1):
                if 1 <= y <= 9999:
                    candidates.extend(
                        t for t in self._rule(y) if table_end is None or t > table_end
                    )
        found = []
        for t in sorted(set(candidates)):
            if lo <= t < hi:
                before, after = self._offset(t - 1), self._offset(t)
                if before != after:
                    found.append((t, before, after))
        self._year_offsets.put(key, found, _ENTRY_BYTES + 120 + 160 * len(found))
        return found

    def _transitions(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """Offset changes at instants t with lo < t <= hi (UTC seconds)."""
        y0 = _utc_year(lo)
        y1 = _utc_year(hi)
        out: list[tuple[int, int, int]] = []
        for year in range(y0, y1 + 1):
            out.extend(x for x in self._year_transitions(year) if lo < x[0] <= hi)
        return out

    def _holiday_dates(self, first: int, last: int) -> list[int]:
        """Ordinals of the holiday dates d with first <= d.toordinal() <= last."""
        first, last = max(first, _MIN_ORDINAL), min(last, _MAX_ORDINAL)
        if first > last:
            return []
        out: list[int] = []
        for year in range(date.fromordinal(first).year, date.fromordinal(last).year + 1):
            days = set(self._explicit_by_year.get(year, ()))
            if self._country is not None:
                days.update(d for d in self._country.year(year) if d not in self._remove)
            out.extend(n for d in days if first <= (n := d.toordinal()) <= last)
        return out

    def _open_between(self, lo: int, hi: int) -> int:
        """Open seconds in [lo, hi) (UTC seconds, lo <= hi), without materialising windows."""
        F = self._wall_open
        total = F(hi + self._offset(hi)) - F(lo + self._offset(lo))
        for t, before, after in self._transitions(lo, hi):
            total += F(t + before) - F(t + after)
        first = (lo - 2 * _DAY) // _DAY + _EPOCH_ORDINAL
        last = (hi + 2 * _DAY) // _DAY + _EPOCH_ORDINAL
        for ordinal in self._holiday_dates(first, last):
            if self._profile[(ordinal - 1) % 7]:
                total -= self._open_on_date(ordinal, lo, hi)
        return total

    def _open_on_date(self, ordinal: int, lo: int, hi: int) -> int:
        """Open seconds (ignoring holidays) in [lo, hi) whose local date is `ordinal`."""
        wlo = (ordinal - _EPOCH_ORDINAL) * _DAY
        whi = wlo + _DAY
        lo, hi = max(lo, wlo - 2 * _DAY), min(hi, whi + 2 * _DAY)
        if lo >= hi:
            return 0
        F = self._wall_open
        total = 0
        for s0, s1, off in self._segments(lo, hi):
            x0, x1 = max(s0 + off, wlo), min(s1 + off, whi)
            if x0 < x1:
                total += F(x1) - F(x0)
        return total

    def _wstart(self, k: int) -> int:
        return self._base_s + k * _WEEK

    def _span_us(self, k1: int, k2: int) -> int:
        """Open microseconds in windows [k1, k2), in closed form."""
        return self._open_between(self._wstart(k1), self._wstart(k2)) * _US

    def _block_total(self, j: int, *, keep: bool = True) -> int:
        total: int | None = self._blocks.get(j)
        if total is None:
            total = self._span_us(j * _BLOCK, (j + 1) * _BLOCK)
            if keep:
                self._blocks.put(j, total, _TOTAL_BYTES)
        return total

    def _group_total(self, size: int, j: int, *, keep: bool = True) -> int:
        """Open microseconds in blocks [j * size, (j + 1) * size), from the next level down.

        Only the totals a caller uses are kept: the parts summed to build one are not, so a
        long first pass does not flush the cache with entries no later span needs."""
        key = (size, j)
        total: int | None = self._supers.get(key)
        if total is None:
            if size == _GROUPS[-1]:
                blocks = range(j * size, (j + 1) * size)
                total = sum(self._block_total(b, keep=False) for b in blocks)
            else:
                sub = _GROUPS[_GROUPS.index(size) + 1]
                parts = range(j * (size // sub), (j + 1) * (size // sub))
                total = sum(self._group_total(sub, g, keep=False) for g in parts)
            if keep:
                self._supers.put(key, total, _TOTAL_BYTES + 64)
        return total

    def _windows_total(self, k1: int, k2: int) -> int:
        """Open microseconds in windows [k1, k2): closed form at the ends, cached blocks between."""
        j1 = -(-k1 // _BLOCK)
        j2 = k2 // _BLOCK
        if j1 >= j2:
            return self._span_us(k1, k2)
        total = self._span_us(k1, j1 * _BLOCK) + self._span_us(j2 * _BLOCK, k2)
        j = j1
        while j < j2:
            for size in _GROUPS:
                if j % size == 0 and j + size <= j2:
                    total += self._group_total(size, j // size)
                    j += size
                    break
            else:
                total += self._block_total(j)
                j += 1
        return total

    def _skip(self, k: int, need: int, last: int) -> tuple[int, int]:
        """(window m, need left at its start): the first m >= k where `need` open microseconds
        counted from window k's start are reached, so that need <= window m's total."""
        j = -(-k // _BLOCK)
        if self._wstart(j * _BLOCK + _BLOCK) > _LAST_SKIP_S:
            return k, need  # near the end of time: walk
        if j * _BLOCK > k:
            head = self._span_us(k, j * _BLOCK)
            if need <= head:
                return self._bisect(k, j * _BLOCK, need)
            need -= head
            k = j * _BLOCK
        nominal = _BLOCK * self._week_seconds * _US  # a block's open time without holidays
        while k <= last:
            j = k // _BLOCK
            for size in _GROUPS:
                # (a group is only worth computing when `need` may well be beyond it)
                end = self._wstart(k + size * _BLOCK)
                if j % size == 0 and need > size * nominal // 2 and end <= _LAST_SKIP_S:
                    gt = self._group_total(size, j // size)
                    if need > gt:
                        need -= gt
                        k += size * _BLOCK
                        break
            else:
                if self._wstart(k + _BLOCK) > _LAST_SKIP_S:
                    return k, need  # near the end of time: walk
                bt = self._block_total(j)
                if need <= bt:
                    return self._bisect(k, k + _BLOCK, need)
                need -= bt
                k += _BLOCK
        return k, need

    def _bisect(self, k: int, hi: int, need: int) -> tuple[int, int]:
        """The last m in [k, hi) with open(k, m) < need (open(k, hi) >= need), and need - that.

        Starts from the guess of whole ordinary weeks and steps from there (a holiday or a DST
        change moves the answer by a window or two at most), bisecting if that is not enough."""
        lo, top = k, hi - 1  # invariant: open(k, lo) < need, open(k, top + 1) >= need
        guess = min(max(k + need // (self._week_seconds * _US), lo), top)
        for _ in range(3):
            if guess <= lo:
                guess = lo + 1
            if guess > top:
                break
            if self._span_us(k, guess) < need:
                lo = guess
                guess += 1
            else:
                top = guess - 1
                guess -= 1
            if lo >= top:
                break
        while lo < top:
            mid = (lo + top + 1) // 2
            if self._span_us(k, mid) < need:
                lo = mid
            else:
                top = mid - 1
        return lo, need - (self._span_us(k, lo) if lo > k else 0)

    def _build_window(self, k: int) -> _Window:
        ws = (self._base_us + k * _WEEK_US) // _US
        we = ws + _WEEK
        segments = self._segments(ws, we)
        pieces: list[tuple[int, int]] = []
        first = ws // _DAY + _EPOCH_ORDINAL - 2
        for ordinal in range(first, first + 12):
            profile = self._profile[(ordinal - 1) % 7]  # ordinal 1 is a Monday
            if not profile:
                continue
            day = date.fromordinal(ordinal)
            if self.is_holiday(day):
                continue
            midnight = (ordinal - _EPOCH_ORDINAL) * _DAY  # wall-clock seconds
            for a, b in profile:
                for s0, s1, off in segments:
                    lo = max(s0, midnight + a - off)
                    hi = min(s1, midnight + b - off)
                    if lo < hi:
                        pieces.append((lo, hi))
        starts: list[int] = []
        ends: list[int] = []
        cum: list[int] = []
        total = 0
        for a, b in _merge(pieces):
            starts.append(a * _US)
            ends.append(b * _US)
            total += (b - a) * _US
            cum.append(total)
        return _Window(starts, ends, cum, total)


def _open_before(w: _Window, t: int) -> int:
    """Open microseconds of the window before instant t (t may lie outside the window)."""
    i = bisect_right(w.starts, t) - 1
    if i < 0:
        return 0
    end = w.ends[i]
    return w.cum[i] if t >= end else w.cum[i] - (end - t)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _utc_year(t: int) -> int:
    """The UTC calendar year of UTC second t, clamped to 1..9999."""
    ordinal = min(max(t // _DAY + _EPOCH_ORDINAL, _MIN_ORDINAL), _MAX_ORDINAL)
    return date.fromordinal(ordinal).year


def _zone_transitions(
    zone: ZoneInfo,
) -> tuple[list[int] | None, Callable[[int], tuple[int, int]] | None]:
    """The zone's transition instants (UTC seconds) from its TZif table, and a function giving a
    year's two rule transitions after the table (POSIX TZ footer); (None, None) if unreadable.

    Read with the pure-Python zoneinfo reader of the standard library (the C implementation
    exposes no table). Every candidate is checked against `zone`'s own offsets by the caller.
    """
    try:
        from zoneinfo import _zoneinfo  # type: ignore[attr-defined]  # the pure-Python reader

        key = getattr(zone, "key", None)
        if not key:
            return None, None
        pure = _zoneinfo.ZoneInfo.no_cache(key)
        table = [int(t) for t in pure._trans_utc]
        after = pure._tz_after
        rule: Callable[[int], tuple[int, int]] | None = None
        if isinstance(after, _zoneinfo._TZStr):
            std = int(after.std.utcoff.total_seconds())
            dst = int(after.dst.utcoff.total_seconds())

            def rule(year: int) -> tuple[int, int]:
                start, end = after.transitions(year)
                return int(start) - std, int(end) - dst

        return table, rule
    except Exception:  # noqa: BLE001 - any surprise: fall back to probing offsets
        return None, None


def _to_us(value: datetime, what: str) -> int:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a timezone-aware datetime, got {_kind(value)}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (got naive {value.isoformat()})")
    return (value - _EPOCH) // _ONE_US


_CALENDARS = ByteLRU(CALENDARS_CACHE_BYTES)


def cached_calendar(key: str, build: Callable[[], BusinessCalendar]) -> BusinessCalendar:
    """The calendar cached under `key` (e.g. its spec as JSON), built by `build` on a miss.

    The module-level cache is bounded in bytes: each calendar is charged the most its own
    bounded caches can hold (CALENDAR_BYTES) plus its key, least recently used evicted first.
    """
    cal: BusinessCalendar | None = _CALENDARS.get(key)
    if cal is None:
        cal = build()
        _CALENDARS.put(key, cal, CALENDAR_BYTES + sys.getsizeof(key))
    return cal
