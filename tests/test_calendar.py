"""Unit tests for `policies.calendar`: spec validation, edge cases, and a brute-force oracle."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from policies.calendar import BusinessCalendar, CalendarSpecError

CHI = ZoneInfo("America/Chicago")
LON = ZoneInfo("Europe/London")
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
H = timedelta(hours=1)


def nine_to_five(tz: str = "America/Chicago", holidays: Any = None, **extra: Any) -> dict[str, Any]:
    spec = {"timezone": tz, "hours": {d: [["09:00", "17:00"]] for d in WEEK[:5]}}
    if holidays is not None:
        spec["holidays"] = holidays
    spec.update(extra)
    return spec


def chi(
    y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0, *, fold: int = 0
) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=CHI, fold=fold)


def lon(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=LON)


def same_instant(a: datetime, b: datetime) -> bool:
    return a.astimezone(UTC) == b.astimezone(UTC)


# -- spec validation ---------------------------------------------------------------------------


def _with(**changes: Any) -> dict[str, Any]:
    spec = nine_to_five()
    for key, value in changes.items():
        spec[key] = value
    return spec


BAD_SPECS: list[tuple[Any, str]] = [
    ([], "calendar: expected an object, got list"),
    ({"hours": {"mon": [["09:00", "17:00"]]}}, "timezone: required"),
    (_with(timezone="Mars/Base"), "timezone: 'Mars/Base' is not an IANA time zone"),
    (_with(timezone=""), "timezone: '' is not an IANA time zone"),
    (_with(timezone=5), "timezone: expected an IANA zone name, got int"),
    ({"timezone": "UTC"}, "hours: required"),
    (_with(hours=[["09:00", "17:00"]]), "hours: expected an object of weekdays, got list"),
    (_with(hours={"fri": [["09:00", "25:00"]]}), "hours.fri[0]: '25:00' is not a time"),
    (_with(hours={"fri": [["9:5", "17:00"]]}), "hours.fri[0]: '9:5' is not a time"),
    (_with(hours={"fri": [["09:60", "17:00"]]}), "hours.fri[0]: '09:60' is not a time"),
    (_with(hours={"fri": [[900, "17:00"]]}), "hours.fri[0]: 900 is not a time"),
    (_with(hours={"mon": [], "fri": [["24:00", "06:00"]]}), "hours.fri[0]: '24:00' is only"),
    (_with(hours={"funday": [["09:00", "17:00"]]}), "hours.funday: not a weekday"),
    (_with(hours={"Mon": [["09:00", "17:00"]]}), "hours.Mon: not a weekday"),
    (_with(hours={"tue": [["09:00"]]}), "hours.tue[0]: expected [start, end]"),
    (_with(hours={"tue": "09:00-17:00"}), "hours.tue: expected a list of [start, end] pairs"),
    (
        _with(hours={"mon": [], "tue": [["09:00", "12:00"], ["13:00", "25:61"]]}),
        "hours.tue[1]: '25:61' is not a time",
    ),
    (_with(hours={"mon": []}), "hours: the calendar is never open"),
    (
        _with(holidays=["2026-01-01", "2026-12-25", "2026-13-01"]),
        "holidays[2]: '2026-13-01' is not an ISO date",
    ),
    (_with(holidays=["20261225"]), "holidays[0]: '20261225' is not an ISO date"),
    (_with(holidays="2026-12-25"), "holidays: expected null, a list of ISO dates or"),
    (_with(holidays={"country": "XX"}), "holidays.country: 'XX' is not supported"),
    (_with(holidays={"subdiv": "IL"}), "holidays.country: required"),
    (_with(holidays={"country": "US", "subdiv": "ZZ"}), "holidays.subdiv: 'ZZ' is not a sub"),
    (
        _with(holidays={"country": "US", "categories": ["nope"]}),
        "holidays.categories: Category is not supported: nope",
    ),
    (_with(holidays={"country": "US", "categories": "public"}), "holidays.categories: expected"),
    (_with(holidays={"country": "US", "observed": False}), "holidays.observed: unknown field"),
    (
        _with(holidays={"country": "US", "add": ["2026-12-24", "Dec 31"]}),
        "holidays.add[1]: 'Dec 31' is not an ISO date",
    ),
    (
        _with(holidays={"country": "US", "remove": ["2026-02-30"]}),
        "holidays.remove[0]: '2026-02-30' is not an ISO date",
    ),
    (_with(business_day="eight hours"), "business_day: 'eight hours' is not a duration"),
    (_with(business_day=0), "business_day: 0 must be more than 0 and at most 24h"),
    (_with(business_day=90_000), "business_day: 90000 must be more than 0 and at most 24h"),
    (_with(business_day=True), "business_day: expected seconds or a 'H:MM' / '8h' string"),
    (_with(business_days=8), "business_days: unknown field"),
]


@pytest.mark.parametrize(("spec", "message"), BAD_SPECS, ids=[m for _, m in BAD_SPECS])
def test_bad_spec_names_the_field(spec: Any, message: str) -> None:
    with pytest.raises(CalendarSpecError) as info:
        BusinessCalendar.from_spec(spec)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)


def test_spec_accepts_tuples_as_a_snapshot_produces_them() -> None:
    spec = {
        "timezone": "Europe/London",
        "hours": {"mon": (("09:00", "17:30"),)},
        "holidays": (date(2026, 1, 5),),
        "business_day": 30600,
        "name": "london",
    }
    cal = BusinessCalendar.from_spec(spec)
    assert cal.zone == LON
    assert cal.business_day == timedelta(hours=8, minutes=30)
    assert cal.holidays == frozenset({date(2026, 1, 5)})
    assert not cal.is_open(lon(2026, 1, 5, 10))
    assert cal.is_open(lon(2026, 1, 12, 17, 29, 59))
    assert not cal.is_open(lon(2026, 1, 12, 17, 30))


# -- aware datetimes only ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c, t: c.add(t, H),
        lambda c, t: c.elapsed(t, t.replace(tzinfo=UTC)),
        lambda c, t: c.elapsed(t.replace(tzinfo=UTC), t),
        lambda c, t: c.is_open(t),
        lambda c, t: c.next_open(t),
        lambda c, t: c.next_close(t),
    ],
    ids=["add", "elapsed-start", "elapsed-end", "is_open", "next_open", "next_close"],
)
def test_naive_datetimes_are_rejected(call: Any) -> None:
    cal = BusinessCalendar.from_spec(nine_to_five())
    with pytest.raises(ValueError, match="must be timezone-aware") as info:
        call(cal, datetime(2026, 3, 2, 10, 0))
    assert not isinstance(info.value, CalendarSpecError)


def test_bad_argument_types_and_negative_delta() -> None:
    cal = BusinessCalendar.from_spec(nine_to_five())
    with pytest.raises(TypeError):
        cal.add(date(2026, 3, 2), H)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cal.add(chi(2026, 3, 2, 10), 3600)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        cal.add(chi(2026, 3, 2, 10), -H)


# -- holidays ----------------------------------------------------------------------------------


def test_combined_holidays_add_and_remove() -> None:
    """'US holidays except Columbus Day, plus Dec 24'."""
    plain = BusinessCalendar.from_spec(nine_to_five(holidays={"country": "US", "subdiv": "IL"}))
    cal = BusinessCalendar.from_spec(
        nine_to_five(
            holidays={
                "country": "US",
                "subdiv": "IL",
                "add": ["2026-12-24"],
                "remove": ["2026-10-12"],
            }
        )
    )
    assert plain.is_holiday(date(2026, 10, 12)) and not cal.is_holiday(date(2026, 10, 12))
    assert not plain.is_holiday(date(2026, 12, 24)) and cal.is_holiday(date(2026, 12, 24))
    between = cal.holidays_between(date(2026, 10, 1), date(2026, 12, 31))
    assert date(2026, 12, 24) in between and date(2026, 12, 25) in between
    assert date(2026, 11, 26) in between  # Thanksgiving still comes from the country set
    assert date(2026, 10, 12) not in between
    assert between == sorted(between)
    assert date(2026, 12, 24) in cal.holidays and date(2026, 10, 12) not in cal.holidays
    # Friday 16:00 + 2h: Columbus Day Monday is a working day here, not in the plain calendar.
    assert cal.add(chi(2026, 10, 9, 16), 2 * H) == chi(2026, 10, 12, 10)
    assert plain.add(chi(2026, 10, 9, 16), 2 * H) == chi(2026, 10, 13, 10)
    # Wednesday 23 Dec 16:00 + 2h: Dec 24 and 25 closed, next is Monday 28th.
    assert cal.add(chi(2026, 12, 23, 16), 2 * H) == chi(2026, 12, 28, 10)
    assert plain.add(chi(2026, 12, 23, 16), 2 * H) == chi(2026, 12, 24, 10)


def test_country_holidays_are_resolved_per_year_without_a_horizon() -> None:
    cal = BusinessCalendar.from_spec(nine_to_five(holidays={"country": "US"}))
    assert cal.holidays == frozenset()  # nothing resolved yet: building is cheap
    assert cal.holidays_between(date(2031, 12, 20), date(2032, 1, 2)) == [
        date(2031, 12, 25),
        date(2032, 1, 1),
    ]
    assert cal.is_holiday(date(2095, 12, 26))  # Christmas 2095 is a Sunday: observed Monday
    assert not cal.is_open(chi(2095, 12, 26, 10))
    assert date(2031, 12, 25) in cal.holidays  # years consulted so far, and only those
    assert not any(d.year == 2050 for d in cal.holidays)


# -- business days ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "business_day", "expected"),
    [
        ({d: [["09:00", "17:00"]] for d in WEEK[:5]}, None, timedelta(hours=8)),
        ({d: [["00:00", "24:00"]] for d in WEEK}, None, timedelta(hours=24)),
        ({d: [["00:00", "24:00"]] for d in WEEK[:5]}, None, timedelta(hours=24)),
        (
            {"sun": [["17:00", "24:00"]], "fri": [["00:00", "16:00"]]}
            | {d: [["00:00", "24:00"]] for d in WEEK[:4]},
            None,
            timedelta(hours=24),
        ),
        ({"mon": [["22:00", "06:00"]]}, None, timedelta(hours=8)),
        (
            {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "sat": [["09:00", "13:00"]]},
            None,
            timedelta(hours=8),
        ),
        ({"mon": [["09:00", "13:00"], ["11:00", "15:00"]]}, None, timedelta(hours=6)),
        ({"mon": [["09:00", "17:00"]]}, "7:30", timedelta(hours=7, minutes=30)),
        ({"mon": [["09:00", "17:00"]]}, "07:30", timedelta(hours=7, minutes=30)),
        ({"mon": [["09:00", "17:00"]]}, "7.5h", timedelta(hours=7, minutes=30)),
        ({"mon": [["09:00", "17:00"]]}, "8h", timedelta(hours=8)),
        ({"mon": [["09:00", "17:00"]]}, 27000, timedelta(hours=7, minutes=30)),
    ],
)
def test_business_day_rule(hours: dict[str, Any], business_day: Any, expected: timedelta) -> None:
    spec: dict[str, Any] = {"timezone": "UTC", "hours": hours}
    if business_day is not None:
        spec["business_day"] = business_day
    cal = BusinessCalendar.from_spec(spec)
    assert cal.business_day == expected
    assert cal.business_days(2.5) == expected * 2.5
    assert cal.business_days(0) == timedelta(0)


def test_ten_business_days_on_nine_to_five() -> None:
    cal = BusinessCalendar.from_spec(nine_to_five(holidays=["2026-03-06"]))
    # Monday 2 March 09:00 + 10 business days: Friday 6 March is a holiday -> Monday 16th 17:00.
    assert cal.add(chi(2026, 3, 2, 9), cal.business_days(10)) == chi(2026, 3, 16, 17)


# -- precision ----------------------------------------------------------------------------------


def test_seconds_and_microseconds() -> None:
    cal = BusinessCalendar.from_spec(nine_to_five())
    assert cal.add(chi(2026, 3, 2, 16, 59, 50), timedelta(seconds=20)) == chi(2026, 3, 3, 9, 0, 10)
    start = chi(2026, 3, 2, 16, 59, 59, 999_999)
    assert cal.add(start, timedelta(microseconds=1)) == chi(2026, 3, 2, 17)
    assert cal.add(start, timedelta(microseconds=2)) == chi(2026, 3, 3, 9, 0, 0, 1)
    assert cal.elapsed(chi(2026, 3, 2, 8, 59, 59), chi(2026, 3, 2, 9, 0, 0, 500)) == timedelta(
        microseconds=500
    )
    assert cal.elapsed(chi(2026, 3, 2, 16, 0, 0, 250_000), chi(2026, 3, 3, 9, 0, 1)) == timedelta(
        minutes=59, seconds=60.75
    )


# -- open / close / rollforward -----------------------------------------------------------------


def test_add_zero_rolls_forward_and_due_stays_at_close() -> None:
    cal = BusinessCalendar.from_spec(nine_to_five())
    assert cal.add(chi(2026, 3, 2, 10, 30), timedelta(0)) == chi(2026, 3, 2, 10, 30)
    assert cal.add(chi(2026, 3, 2, 17), timedelta(0)) == chi(2026, 3, 3, 9)  # 17:00 is closed
    assert cal.add(chi(2026, 3, 6, 18), timedelta(0)) == chi(2026, 3, 9, 9)  # Friday evening
    assert cal.add(chi(2026, 3, 2, 16), H) == chi(2026, 3, 2, 17)  # lands on close, stays
    assert cal.add(chi(2026, 3, 2, 17), H) == chi(2026, 3, 3, 10)


def test_results_are_in_the_calendar_zone() -> None:
    cal = BusinessCalendar.from_spec(nine_to_five())
    due = cal.add(datetime(2026, 3, 2, 15, tzinfo=UTC), H)  # 09:00 Chicago
    assert due.tzinfo is CHI and due == chi(2026, 3, 2, 10)
    assert cal.next_open(datetime(2026, 3, 2, 0, tzinfo=UTC)).tzinfo is CHI


def test_negative_elapsed() -> None:
    cal = BusinessCalendar.from_spec(nine_to_five())
    a, b = chi(2026, 3, 2, 12), chi(2026, 3, 4, 10)
    assert cal.elapsed(a, b) == timedelta(hours=14)
    assert cal.elapsed(b, a) == -timedelta(hours=14)
    assert cal.elapsed(a, a) == timedelta(0)


def test_holiday_on_a_dst_day() -> None:
    """London 24x7 closed on the spring-forward Sunday (a 23-hour local date)."""
    cal = BusinessCalendar.from_spec(
        {"timezone": "Europe/London", "hours": {d: [["00:00", "24:00"]] for d in WEEK}}
        | {"holidays": ["2025-03-30"]}
    )
    assert cal.is_open(lon(2025, 3, 29, 23, 59, 59))
    assert not cal.is_open(lon(2025, 3, 30, 0))
    assert not cal.is_open(lon(2025, 3, 30, 12))
    assert cal.next_close(lon(2025, 3, 29, 12)) == lon(2025, 3, 30, 0)
    assert cal.next_open(lon(2025, 3, 30, 12)) == lon(2025, 3, 31, 0)
    assert same_instant(cal.next_open(lon(2025, 3, 30, 12)), datetime(2025, 3, 30, 23, tzinfo=UTC))
    assert cal.elapsed(lon(2025, 3, 29), lon(2025, 4, 1)) == timedelta(hours=48)
    plain = BusinessCalendar.from_spec(
        {"timezone": "Europe/London", "hours": {d: [["00:00", "24:00"]] for d in WEEK}}
    )
    assert plain.elapsed(lon(2025, 3, 30), lon(2025, 3, 31)) == timedelta(hours=23)
    assert plain.elapsed(lon(2025, 10, 26), lon(2025, 10, 27)) == timedelta(hours=25)


def test_next_close_of_a_stretch_spanning_days_and_weeks() -> None:
    cal = BusinessCalendar.from_spec(
        {"timezone": "America/Chicago", "hours": {d: [["00:00", "24:00"]] for d in WEEK}}
        | {"holidays": ["2026-01-01", "2026-03-20"]}
    )
    assert cal.next_close(chi(2026, 1, 5, 10)) == chi(2026, 3, 20)  # ten weeks, across DST
    assert cal.next_open(chi(2026, 3, 20, 10)) == chi(2026, 3, 21)
    with pytest.raises(ValueError, match="stays open"):
        cal.next_close(chi(2026, 3, 20, 10))  # no closing ahead at all
    nine = BusinessCalendar.from_spec(nine_to_five())
    assert nine.next_close(chi(2026, 3, 2, 10)) == chi(2026, 3, 2, 17)
    assert nine.next_close(chi(2026, 3, 2, 17)) == chi(2026, 3, 3, 17)
    assert nine.next_close(chi(2026, 3, 7, 12)) == chi(2026, 3, 9, 17)


def test_overnight_shift_whose_tail_falls_on_a_holiday() -> None:
    """22:00-06:00 Mon-Fri; Friday 3 July 2026 is a holiday, so its local date is closed."""
    cal = BusinessCalendar.from_spec(
        {"timezone": "America/Chicago", "hours": {d: [["22:00", "06:00"]] for d in WEEK[:5]}}
        | {"holidays": ["2026-07-03"]}
    )
    assert cal.is_open(chi(2026, 7, 2, 23))  # Thursday's shift, Thursday's date
    assert not cal.is_open(chi(2026, 7, 3, 3))  # its tail, on the holiday
    assert not cal.is_open(chi(2026, 7, 3, 23))  # Friday's own shift
    assert cal.is_open(chi(2026, 7, 4, 3))  # Friday's tail lands on Saturday: open
    assert cal.next_close(chi(2026, 7, 2, 23)) == chi(2026, 7, 3)
    assert cal.next_open(chi(2026, 7, 3, 1)) == chi(2026, 7, 4)
    assert cal.add(chi(2026, 7, 2, 23), 2 * H) == chi(2026, 7, 4, 1)
    assert cal.elapsed(chi(2026, 7, 2, 22), chi(2026, 7, 6, 22)) == timedelta(hours=8)


def test_fold_and_gap_are_counted_in_real_time() -> None:
    """01:30-02:30 daily: the fall-back fold repeats 01:30-02:00; spring-forward skips 02:00+."""
    cal = BusinessCalendar.from_spec(
        {"timezone": "America/Chicago", "hours": {d: [["01:30", "02:30"]] for d in WEEK}}
    )
    assert cal.elapsed(chi(2025, 11, 2), chi(2025, 11, 2, 3)) == timedelta(minutes=90)
    assert cal.elapsed(chi(2025, 3, 9), chi(2025, 3, 9, 4)) == timedelta(minutes=30)
    assert cal.is_open(chi(2025, 11, 2, 1, 45, fold=1))
    second = cal.add(chi(2025, 11, 2, 1, 30), timedelta(minutes=45))
    assert same_instant(second, chi(2025, 11, 2, 1, 45, fold=1)) and second.fold == 1
    # 02:00 CDT is 01:00 CST, outside the interval until 01:30 CST comes round again.
    first_close = cal.next_close(chi(2025, 11, 2, 1, 40))
    assert same_instant(first_close, datetime(2025, 11, 2, 7, tzinfo=UTC))
    assert first_close.fold == 1 and first_close.hour == 1
    again = cal.next_open(first_close)
    assert same_instant(again, datetime(2025, 11, 2, 7, 30, tzinfo=UTC)) and again.fold == 1
    assert cal.next_close(again) == chi(2025, 11, 2, 2, 30)
    assert cal.next_close(chi(2025, 3, 9, 1, 40)) == chi(2025, 3, 9, 3)  # 02:00 CST = 03:00 CDT


def test_long_spans_are_consistent() -> None:
    """Block skipping over years agrees with stepping (elapsed is additive, add inverts it)."""
    cal = BusinessCalendar.from_spec(nine_to_five(holidays={"country": "US", "subdiv": "IL"}))
    start = chi(2025, 5, 6, 11, 17, 3)
    due = cal.add(start, cal.business_days(2000))
    assert cal.elapsed(start, due) == cal.business_days(2000)
    assert due.year == 2033
    mid = chi(2029, 2, 3, 4, 5)
    assert cal.elapsed(start, due) == cal.elapsed(start, mid) + cal.elapsed(mid, due)
    stepped = start
    for _ in range(20):
        stepped = cal.add(stepped, cal.business_days(100))
    assert stepped == due
    old = chi(1901, 1, 2, 10)
    assert cal.add(old, H) == chi(1901, 1, 2, 11)


# -- brute-force cross-check --------------------------------------------------------------------

ZONES_AND_DST = [
    ("America/Chicago", date(2025, 3, 9)),
    ("America/Chicago", date(2025, 11, 2)),
    ("Europe/London", date(2025, 3, 30)),
    ("Europe/London", date(2025, 10, 26)),
    ("Europe/Bucharest", date(2025, 3, 30)),
    ("Europe/Bucharest", date(2025, 10, 26)),
    ("Asia/Singapore", date(2025, 6, 1)),
    ("UTC", date(2025, 6, 1)),
]


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _random_spec(rng: random.Random, tz: str, around: date) -> dict[str, Any]:
    hours: dict[str, list[list[str]]] = {}
    for day in WEEK:
        if rng.random() < 0.2:
            continue
        intervals = []
        for _ in range(rng.randint(1, 2)):
            start = rng.randrange(0, 24 * 60, 30)
            kind = rng.random()
            if kind < 0.25:
                end = 24 * 60  # "24:00"
            elif kind < 0.5:
                end = rng.randrange(0, start + 1, 30)  # end <= start: overnight
            else:
                end = rng.randrange(start + 30, 24 * 60 + 1, 30)
            intervals.append([_hhmm(start), "24:00" if end == 24 * 60 else _hhmm(end)])
        hours[day] = intervals
    if not hours:
        hours["wed"] = [["09:00", "17:00"]]
    holidays = sorted(
        {
            (around + timedelta(days=rng.randint(-3, 3))).isoformat()
            for _ in range(rng.randint(0, 2))
        }
    )
    return {"timezone": tz, "hours": hours, "holidays": holidays}


class MinuteOracle:
    """Written from the conventions only: walk UTC minutes and ask 'is this instant open?'."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.zone = ZoneInfo(spec["timezone"])
        self.holidays = {date.fromisoformat(d) for d in spec["holidays"]}
        self.today: dict[int, list[tuple[int, int]]] = {i: [] for i in range(7)}
        for name, intervals in spec["hours"].items():
            wd = WEEK.index(name)
            for s, e in intervals:
                start = int(s[:2]) * 60 + int(s[3:])
                end = int(e[:2]) * 60 + int(e[3:])
                if end <= start:
                    self.today[wd].append((start, 24 * 60))
                    self.today[(wd + 1) % 7].append((0, end))
                else:
                    self.today[wd].append((start, end))

    def open(self, t: datetime) -> bool:
        local = t.astimezone(self.zone)
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.today[local.weekday()])

    def elapsed(self, start: datetime, end: datetime) -> int:
        t, n = start, 0
        while t < end:
            n += self.open(t)
            t += timedelta(minutes=1)
        return n

    def add(self, start: datetime, minutes: int) -> datetime:
        t, n = start, 0
        if minutes == 0:
            while not self.open(t):
                t += timedelta(minutes=1)
            return t
        while n < minutes:
            n += self.open(t)
            t += timedelta(minutes=1)
        return t


@pytest.mark.parametrize(
    ("tz", "around"), ZONES_AND_DST, ids=[f"{z}-{d}" for z, d in ZONES_AND_DST]
)
def test_against_minute_walking_oracle(tz: str, around: date) -> None:
    rng = random.Random(f"{tz}{around}")
    for _ in range(4):
        spec = _random_spec(rng, tz, around)
        cal = BusinessCalendar.from_spec(spec)
        oracle = MinuteOracle(spec)
        middle = datetime.combine(around, datetime.min.time(), tzinfo=ZoneInfo(tz)).astimezone(UTC)
        for _ in range(3):
            start = middle + timedelta(minutes=rng.randint(-3 * 1440, 2 * 1440))
            end = start + timedelta(minutes=rng.randint(0, 2 * 1440))
            expected = oracle.elapsed(start, end)
            assert cal.elapsed(start, end) == timedelta(minutes=expected), (spec, start, end)
            assert cal.elapsed(end, start) == -timedelta(minutes=expected)
            n = rng.choice([0, 1, rng.randint(1, max(1, expected))])
            due = cal.add(start, timedelta(minutes=n))
            assert same_instant(due, oracle.add(start, n)), (spec, start, n)
            assert cal.is_open(start) == oracle.open(start), (spec, start)
            assert same_instant(cal.next_open(start), oracle.add(start, 0)), (spec, start)
