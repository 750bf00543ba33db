"""Property tests: the O(1)-in-the-span engine against the week-walking engine it replaced.

`WeekWalking` below is the previous engine's arithmetic, kept as the reference: it materialises
every 7-day window between the two ends (each built by mapping local dates through UTC-offset
segments found by probing the zone every 3 hours) and walks them one by one. The engine under
test computes the middle of a span in closed form (whole weeks, zone transitions and holidays)
and only materialises the windows at the ends. Both must agree to the microsecond.

Runs a few hundred examples by default; `pytest --hypothesis-profile long` runs thousands.
"""

from __future__ import annotations

import sys
from bisect import bisect_left
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies import calendar as calmod
from policies.calendar import BusinessCalendar, ByteLRU, cached_calendar

WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EXAMPLES = max(300, settings().max_examples)  # the `long` profile raises it

ZONES = [
    "UTC",
    "America/Chicago",  # northern DST
    "Europe/London",
    "Europe/Dublin",  # negative DST in the tz table (IST is "standard")
    "Australia/Sydney",  # southern hemisphere: DST over the new year
    "America/Santiago",  # southern, rule changes in the table
    "Australia/Lord_Howe",  # 30-minute DST
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/St_Johns",  # -03:30
    "Asia/Kolkata",  # +05:30, no DST
    "Asia/Tehran",  # DST abolished in 2022
    "Africa/Casablanca",  # Ramadan transitions, a few weeks apart
    "Pacific/Apia",  # skipped a whole date (2011-12-30)
]


class WeekWalking(BusinessCalendar):
    """The previous engine: probe offsets for segments, walk every window between the ends."""

    def _segments(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        return self._probe_segments(lo, hi)

    def _elapsed_us(self, a: int, b: int) -> int:
        ka = (a - self._base_us) // calmod._WEEK_US
        kb = (b - self._base_us) // calmod._WEEK_US
        wa = self._window(ka)
        if ka == kb:
            return calmod._open_before(wa, b) - calmod._open_before(wa, a)
        total = wa.total - calmod._open_before(wa, a)
        for k in range(ka + 1, kb):
            total += self._window(k).total
        return total + calmod._open_before(self._window(kb), b)

    def add(self, start: datetime, delta: timedelta) -> datetime:
        t = calmod._to_us(start, "start")
        need = delta // calmod._ONE_US
        if need == 0:
            return self._out(self._next_open_us(t))
        k = (t - self._base_us) // calmod._WEEK_US
        w = self._window(k)
        need += calmod._open_before(w, t)
        while need > w.total:
            need -= w.total
            k += 1
            w = self._window(k)
        i = bisect_left(w.cum, need)
        return self._out(w.ends[i] - (w.cum[i] - need))


def reference(spec: dict[str, Any]) -> WeekWalking:
    cal = BusinessCalendar.from_spec(spec)
    ref = WeekWalking.__new__(WeekWalking)
    ref.__dict__.update(cal.__dict__)
    ref._windows = ByteLRU(1 << 40)  # unbounded: the reference may walk thousands of weeks
    return ref


def _hhmm(minutes: int) -> str:
    return "24:00" if minutes == 1440 else f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def hours(draw: st.DrawFn) -> dict[str, list[list[str]]]:
    kind = draw(st.sampled_from(["9-5", "24x7", "24x5", "overnight", "random"]))
    if kind == "9-5":
        return {d: [["09:00", "17:00"]] for d in WEEK[:5]}
    if kind == "24x7":
        return {d: [["00:00", "24:00"]] for d in WEEK}
    if kind == "24x5":  # Mon 00:00 to Sat 00:00
        return {d: [["00:00", "24:00"]] for d in WEEK[:5]}
    if kind == "overnight":
        days = draw(st.lists(st.sampled_from(WEEK), min_size=1, max_size=7, unique=True))
        return {d: [["22:00", "06:00"]] for d in days}
    out: dict[str, list[list[str]]] = {}
    step = draw(st.sampled_from([1, 15, 30]))
    for day in WEEK:
        intervals = []
        for _ in range(draw(st.integers(0, 2))):
            start = draw(st.integers(0, 1439 // step)) * step
            end = draw(st.integers(0, 1440 // step)) * step  # end <= start: overnight
            intervals.append([_hhmm(start), _hhmm(end if end != start else 1440)])
        if intervals:
            out[day] = intervals
    return out or {"wed": [["01:30", "03:00"]]}  # inside many zones' spring-forward gaps


def holidays_near(first: date, span_days: int) -> st.SearchStrategy[Any]:
    explicit = st.lists(
        st.integers(-3, span_days + 3).map(lambda n: (first + timedelta(days=n)).isoformat()),
        max_size=40,
    )
    country = st.fixed_dictionaries(
        {"country": st.sampled_from(["US", "GB", "AU", "NZ", "CL"])},
        optional={
            "add": st.lists(
                st.integers(0, span_days).map(lambda n: (first + timedelta(days=n)).isoformat()),
                max_size=5,
            ),
            "remove": st.lists(
                st.integers(0, span_days).map(lambda n: (first + timedelta(days=n)).isoformat()),
                max_size=5,
            ),
        },
    )
    return st.one_of(st.none(), explicit, country)


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], datetime, timedelta]:
    zone = draw(st.sampled_from(ZONES))
    # Starts from 1900 to 2060: the zone tables' early years and the POSIX rule after 2037.
    start_s = draw(st.integers(-2_208_988_800, 2_840_140_800))
    micro = draw(st.sampled_from([0, 0, 0, draw(st.integers(0, 999_999))]))
    start = datetime.fromtimestamp(start_s, UTC).replace(microsecond=micro)
    day = 60 * 24
    lo, hi = draw(  # minutes, by scale: hypothesis favours small integers within a range
        st.sampled_from([(1, day), (day, 30 * day), (90 * day, 400 * day), (400 * day, 1100 * day)])
    )
    minutes = draw(st.integers(lo, hi))
    span = timedelta(minutes=minutes, microseconds=draw(st.sampled_from([0, 1, 654_321])))
    first = start.astimezone(ZoneInfo(zone)).date()
    spec: dict[str, Any] = {"timezone": zone, "hours": draw(hours())}
    hol = draw(holidays_near(first, span.days))
    if hol is not None:
        spec["holidays"] = hol
    return spec, start.astimezone(ZoneInfo(zone)), span


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases())
def test_closed_form_matches_week_walking(case: tuple[dict[str, Any], datetime, timedelta]) -> None:
    spec, start, span = case
    cal = BusinessCalendar.from_spec(spec)
    ref = reference(spec)
    end = start + span
    got = cal.elapsed(start, end)
    assert got == ref.elapsed(start, end)
    assert cal.elapsed(end, start) == -got
    # add over the same amount of business time (and a third of it), and back again
    for amount in (got, got // 3, span):
        due = cal.add(start, amount)
        assert due.astimezone(UTC) == ref.add(start, amount).astimezone(UTC), amount
        assert cal.elapsed(start, due) == amount
    assert cal.is_open(end) == ref.is_open(end)


@settings(max_examples=max(8, EXAMPLES // 40), deadline=None)
@given(
    zone=st.sampled_from(["America/Chicago", "Australia/Sydney", "Europe/Dublin", "Asia/Kolkata"]),
    hours=hours(),
    start_s=st.integers(-1_500_000_000, 2_000_000_000),
    years=st.integers(9, 150),
)
def test_decades_match_week_walking(
    zone: str, hours: dict[str, list[list[str]]], start_s: int, years: int
) -> None:
    """Spans long enough for the cached 8- and 64-block groups, against the reference."""
    spec: dict[str, Any] = {"timezone": zone, "hours": hours, "holidays": {"country": "US"}}
    cal = BusinessCalendar.from_spec(spec)
    ref = reference(spec)
    start = datetime.fromtimestamp(start_s, UTC)
    end = start + timedelta(days=365 * years + years // 4)
    got = cal.elapsed(start, end)
    assert got == ref.elapsed(start, end)
    due = cal.add(start, got)
    assert due.astimezone(UTC) == ref.add(start, got).astimezone(UTC)
    assert due <= end and cal.elapsed(due, end) == timedelta(0)


@settings(max_examples=max(20, EXAMPLES // 10), deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    hours=hours(),
    a=st.integers(-61_000_000_000, 250_000_000_000),  # years 3 to 9900
    b=st.integers(-61_000_000_000, 250_000_000_000),
    c=st.integers(-61_000_000_000, 250_000_000_000),
    holidays=st.lists(st.dates(date(3, 1, 1), date(9900, 1, 1)).map(date.isoformat)),
)
def test_millennia_are_additive_and_add_inverts_elapsed(
    zone: str, hours: dict[str, list[list[str]]], a: int, b: int, c: int, holidays: list[str]
) -> None:
    """Beyond what the reference can walk: elapsed is additive and add inverts it."""
    a, b, c = sorted((a, b, c))
    cal = BusinessCalendar.from_spec({"timezone": zone, "hours": hours, "holidays": holidays})
    ta, tb, tc = (datetime.fromtimestamp(x, UTC) for x in (a, b, c))
    ab, bc = cal.elapsed(ta, tb), cal.elapsed(tb, tc)
    assert cal.elapsed(ta, tc) == ab + bc
    if tc - ta > timedelta(days=3800 * 365):
        return  # add gives up past _MAX_CLOSED_WINDOWS weeks (~3835 years), as it always has
    due = cal.add(ta, ab + bc)
    assert cal.elapsed(ta, due) == ab + bc
    if ab + bc:  # and it is the earliest such instant, no later than tc
        assert due <= tc
        assert cal.elapsed(ta, due - timedelta(microseconds=1)) < ab + bc


# -- bounded work and bounded memory ------------------------------------------------------------

NINE_TO_FIVE: dict[str, Any] = {
    "timezone": "America/Chicago",
    "hours": {d: [["09:00", "17:00"]] for d in WEEK[:5]},
    "holidays": {"country": "US", "subdiv": "IL"},
}


def test_two_millennia_materialise_a_handful_of_weeks() -> None:
    """elapsed(year 3, 2026) and add over two thousand years touch O(1) weeks, not ~105,000."""
    cal = BusinessCalendar.from_spec(NINE_TO_FIVE)
    ancient = datetime(3, 1, 3, tzinfo=UTC)
    now = datetime(2026, 11, 30, 9, 30, tzinfo=ZoneInfo("America/Chicago"))
    used = cal.elapsed(ancient, now)
    assert len(cal._windows) <= 4
    assert used == cal.elapsed(ancient, datetime(1000, 6, 1, tzinfo=UTC)) + cal.elapsed(
        datetime(1000, 6, 1, tzinfo=UTC), now
    )
    assert len(cal._windows) <= 8
    assert cal.add(ancient, used) == now
    later = cal.add(now, used)  # two thousand years ahead
    assert later.year > 4000 and cal.elapsed(now, later) == used
    far = datetime(9999, 11, 1, tzinfo=UTC)
    assert cal.elapsed(now, far) > used
    assert len(cal._windows) <= 3 * calmod._WALK + 8  # add walks a dozen weeks, then skips
    # block totals: about one per year at most, and far fewer kept than that when they are many
    assert len(cal._blocks) * calmod._TOTAL_BYTES <= calmod.BLOCK_CACHE_BYTES
    assert cal._supers.nbytes <= calmod.SUPER_CACHE_BYTES


def test_week_cache_is_bounded_in_bytes() -> None:
    cal = BusinessCalendar.from_spec(
        {
            "timezone": "Europe/London",
            # many intervals a week: the heaviest windows
            "hours": {d: [[f"{h:02d}:00", f"{h:02d}:30"] for h in range(24)] for d in WEEK},
        }
    )
    t = datetime(1990, 1, 1, tzinfo=UTC)
    for _ in range(3000):  # 3000 distinct weeks
        cal.is_open(t)
        t += timedelta(days=7)
    assert cal._windows.nbytes <= calmod.WINDOW_CACHE_BYTES
    assert 0 < len(cal._windows) < 3000  # least recently used weeks were evicted
    assert cal.is_open(datetime(1990, 1, 1, 0, 10, tzinfo=UTC))  # still right after eviction


def _deep_size(obj: object) -> int:
    size = sys.getsizeof(obj)
    if isinstance(obj, tuple | list):
        size += sum(_deep_size(x) for x in obj)
    return size


def test_window_byte_estimate_covers_the_real_objects() -> None:
    cal = BusinessCalendar.from_spec(NINE_TO_FIVE)
    w = cal._window(2900)
    assert calmod._window_bytes(len(w.starts)) >= _deep_size(w)


def test_calendar_cache_is_bounded_in_bytes() -> None:
    built = 0

    def build(n: int) -> BusinessCalendar:
        nonlocal built
        built += 1
        hours = {"mon": [["09:00", f"{10 + n % 13:02d}:00"]]}
        return BusinessCalendar.from_spec({"timezone": "UTC", "hours": hours, "name": str(n)})

    keys = [f"calendar-{n}" for n in range(2000)]
    for n, key in enumerate(keys):
        cached_calendar(key, lambda n=n: build(n))  # type: ignore[misc]
    assert calmod._CALENDARS.nbytes <= calmod.CALENDARS_CACHE_BYTES
    assert len(calmod._CALENDARS) <= calmod.CALENDARS_CACHE_BYTES // calmod.CALENDAR_BYTES
    assert built == 2000
    # the most recent is kept, the oldest were evicted and are rebuilt on demand
    last = cached_calendar(keys[-1], lambda: build(1999))
    assert built == 2000 and last.name == "1999"
    cached_calendar(keys[0], lambda: build(0))
    assert built == 2001


def test_the_end_of_time() -> None:
    """Near year 9999 add skips no block that ends past the datetime range: an answer inside the
    range is found (the old 64-week blocks raised for this one), one beyond it raises."""
    cal = BusinessCalendar.from_spec(NINE_TO_FIVE)
    start = datetime(9990, 6, 1, tzinfo=UTC)
    due = cal.add(start, timedelta(days=800))  # 2,400 business days: about 9.2 years
    assert due.year == 9999 and cal.elapsed(start, due) == timedelta(days=800)
    late = datetime(9999, 6, 1, tzinfo=UTC)
    assert cal.add(late, timedelta(days=20)).year == 9999
    with pytest.raises((ValueError, OverflowError)):
        cal.add(late, timedelta(days=400))
