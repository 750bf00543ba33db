"""Business-time benchmark: ticketclock's calendar against businesstimedelta, pandas and
exchange_calendars on the same inputs (Chicago 09:00-17:00 Mon-Fri, US-IL holidays).

    python -m bench.business_time [--quick] [--n N] [--seed S]

Peers come from the `bench` extra; a missing peer is reported as "skipped (not installed)".
Every peer's answers are compared with ours and the disagreements counted (peers that work on
naive wall time or whole minutes are expected to differ around DST and holidays). The last line
is a one-line summary for CI logs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from policies.calendar import BusinessCalendar

TZ = "America/Chicago"
ZONE = ZoneInfo(TZ)
SPEC: dict[str, Any] = {
    "timezone": TZ,
    "hours": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "US", "subdiv": "IL"},
}
ADD = timedelta(hours=24)
SPAN = timedelta(days=30)
FIRST, LAST = date(2024, 1, 1), date(2028, 12, 31)  # peers get holidays materialised for these

Op = Callable[[datetime], Any]
T = TypeVar("T")


def timed(fn: Callable[[T], Any], inputs: Sequence[T]) -> tuple[list[Any], float, float]:
    """Results, median and p90 microseconds per call (one warm-up pass first)."""
    for x in inputs[: min(len(inputs), 500)]:
        fn(x)
    clock = time.perf_counter_ns
    results: list[Any] = []
    samples: list[int] = []
    for x in inputs:
        t0 = clock()
        r = fn(x)
        samples.append(clock() - t0)
        results.append(r)
    samples.sort()
    return results, statistics.median(samples) / 1e3, samples[int(len(samples) * 0.9)] / 1e3


def _utc(v: Any) -> Any:
    return v.astimezone(UTC) if isinstance(v, datetime) else v


def disagreements(ours: list[Any], theirs: list[Any]) -> int:
    return sum(_utc(a) != _utc(b) for a, b in zip(ours, theirs, strict=True))


def convention_only(cal: BusinessCalendar, ours: list[Any], theirs: list[Any]) -> int:
    """Differences where we stop at a closing time and the peer at the next opening instead."""
    return sum(
        isinstance(a, datetime)
        and _utc(a) != _utc(b)
        and not cal.is_open(a)
        and _utc(cal.next_open(a)) == _utc(b)
        for a, b in zip(ours, theirs, strict=True)
    )


# -- peers ----------------------------------------------------------------------------------
# Each returns (add_fn, elapsed_fn, note) or raises ImportError when not installed.


def peer_businesstimedelta(holidays: list[date]) -> tuple[Op, Op, str]:
    import businesstimedelta as btd
    import pytz

    tz = pytz.timezone(TZ)
    workday = btd.WorkDayRule(
        start_time=datetime.min.time().replace(hour=9),
        end_time=datetime.min.time().replace(hour=17),
        working_days=[0, 1, 2, 3, 4],
        tz=tz,
    )
    rules = btd.Rules([workday, btd.HolidayRule(set(holidays), tz=tz)])
    delta = btd.BusinessTimeDelta(rules, hours=24)

    def add(s: datetime) -> datetime:
        return s + delta

    def elapsed(s: datetime) -> timedelta:
        return rules.difference(s, s + SPAN).timedelta

    return add, elapsed, "exact calendar (pytz zone, holidays as a date set)"


def peer_pandas(holidays: list[date]) -> tuple[Op, Op, str]:
    import numpy as np
    import pandas as pd

    cbh = pd.offsets.CustomBusinessHour(n=24, start="09:00", end="17:00", holidays=holidays)
    hol = np.array(holidays, dtype="datetime64[D]")
    day = timedelta(hours=8)

    def naive(s: datetime) -> datetime:
        return s.astimezone(ZONE).replace(tzinfo=None)

    def add(s: datetime) -> datetime:
        return (pd.Timestamp(naive(s)) + cbh).to_pydatetime().replace(tzinfo=ZONE)

    def part(d: date, lo: datetime, hi: datetime) -> timedelta:
        """Open time of one local date between naive lo and hi."""
        if not np.is_busday(np.datetime64(d, "D"), holidays=hol):
            return timedelta(0)
        o = datetime(d.year, d.month, d.day, 9)
        c = datetime(d.year, d.month, d.day, 17)
        return max(min(hi, c) - max(lo, o), timedelta(0))

    def elapsed(s: datetime) -> timedelta:
        # pandas has no business-time difference: numpy busday_count plus the two partial days.
        a, b = naive(s), naive(s + SPAN)
        da, db = a.date(), b.date()
        if da == db:
            return part(da, a, b)
        inner = int(np.busday_count(da + timedelta(days=1), db, holidays=hol))
        return part(da, a, datetime.max) + inner * day + part(db, datetime.min, b)

    return (
        add,
        elapsed,
        "naive local wall time; add = CustomBusinessHour, elapsed = numpy busday_count + partial "
        "days (pandas has no business-time difference)",
    )


def peer_exchange_calendars(holidays: list[date]) -> tuple[Op, Op, str]:
    import exchange_calendars as xcals
    import pandas as pd

    open_t = datetime.min.time().replace(hour=9)
    close_t = datetime.min.time().replace(hour=17)
    adhoc = [pd.Timestamp(d) for d in holidays]

    class Ticket(xcals.ExchangeCalendar):
        name = "TICKET-CHI"
        tz = ZONE
        open_times = ((None, open_t),)
        close_times = ((None, close_t),)

        @property
        def adhoc_holidays(self) -> list[pd.Timestamp]:
            return adhoc

    cal = Ticket(start=FIRST.isoformat(), end=LAST.isoformat(), side="left")
    minute = pd.Timedelta(minutes=1)
    n = int(ADD / timedelta(minutes=1))

    def add(s: datetime) -> datetime:
        first = cal.minute_to_trading_minute(pd.Timestamp(s), "next")
        return (cal.minute_offset(first, n - 1) + minute).to_pydatetime()

    def elapsed(s: datetime) -> timedelta:
        return timedelta(
            minutes=int(cal.minutes_distance(pd.Timestamp(s), pd.Timestamp(s + SPAN) - minute))
        )

    return (
        add,
        elapsed,
        f"whole trading minutes only; sessions bounded to {FIRST}..{LAST} (built once, "
        "outside the timings)",
    )


PEERS = {
    "businesstimedelta": peer_businesstimedelta,
    "pandas": peer_pandas,
    "exchange_calendars": peer_exchange_calendars,
}


# -- main -----------------------------------------------------------------------------------


def build_times(repeat: int) -> tuple[float, float, float]:
    """(median ms of from_spec, median ms of from_spec + resolving 2025-2026, first-ever ms)."""
    t0 = time.perf_counter()
    BusinessCalendar.from_spec(SPEC).holidays_between(date(2025, 1, 1), date(2026, 12, 31))
    first = (time.perf_counter() - t0) * 1e3
    plain, resolved = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        cal = BusinessCalendar.from_spec(SPEC)
        t1 = time.perf_counter()
        cal.holidays_between(date(2025, 1, 1), date(2026, 12, 31))
        t2 = time.perf_counter()
        plain.append((t1 - t0) * 1e3)
        resolved.append((t2 - t0) * 1e3)
    return statistics.median(plain), statistics.median(resolved), first


def long_spans(
    make: Callable[[], BusinessCalendar], n: int, seed: int
) -> tuple[float, float, float, float, int]:
    """Spans of two millennia on a fresh calendar: (elapsed first call ms, elapsed median us,
    add first call ms, add median us, weeks materialised).

    elapsed(start in years 3-12, end in 2025-2026); add(start in 2025-2026, the business time of
    year 3 to 2026), which lands in the 41st century.
    """
    cal = make()
    rng = random.Random(seed)
    lo_old = int(datetime(3, 1, 1, tzinfo=UTC).timestamp())
    hi_old = int(datetime(13, 1, 1, tzinfo=UTC).timestamp())
    lo_now = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    hi_now = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp())
    olds = [datetime.fromtimestamp(rng.randrange(lo_old, hi_old), ZONE) for _ in range(n)]
    nows = [datetime.fromtimestamp(rng.randrange(lo_now, hi_now), ZONE) for _ in range(n)]
    t0 = time.perf_counter()
    amount = cal.elapsed(olds[0], nows[0])
    el_first = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    cal.add(nows[0], amount)
    add_first = (time.perf_counter() - t0) * 1e3
    pairs = list(zip(olds, nows, strict=True))
    _, el_med, _ = timed(lambda p: cal.elapsed(p[0], p[1]), pairs)
    _, add_med, _ = timed(lambda s: cal.add(s, amount), nows)
    weeks = len(getattr(cal, "_windows", ()))
    return el_first, el_med, add_first, add_med, weeks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2,000 starts instead of 10,000")
    parser.add_argument("--n", type=int, default=None, help="number of random starts")
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args(argv)
    n = args.n or (2_000 if args.quick else 10_000)

    build_ms, build_resolved_ms, first_build_ms = build_times(20)
    cal = BusinessCalendar.from_spec(SPEC)
    rng = random.Random(args.seed)
    lo = int(datetime(2025, 1, 1, tzinfo=ZONE).timestamp()) // 60
    hi = int(datetime(2027, 1, 1, tzinfo=ZONE).timestamp()) // 60
    starts = [datetime.fromtimestamp(rng.randrange(lo, hi) * 60, ZONE) for _ in range(n)]
    holidays = cal.holidays_between(FIRST, LAST)

    print(f"business_time benchmark: {n} random whole-minute starts in 2025-2026, seed {args.seed}")
    print(f"calendar: {TZ} 09:00-17:00 Mon-Fri, {cal.holiday_source}")
    hours = ADD / timedelta(hours=1)
    print(f"ops: add(start, {hours:g} business hours), elapsed(start, start + {SPAN.days} days)")
    print()

    ours_add, add_med, add_p90 = timed(lambda s: cal.add(s, ADD), starts)
    ours_el, el_med, el_p90 = timed(lambda s: cal.elapsed(s, s + SPAN), starts)
    _, h1_med, _ = timed(lambda s: cal.add(s, timedelta(hours=1)), starts)
    _, d10_med, _ = timed(lambda s: cal.add(s, cal.business_days(10)), starts)
    ratio_10d = d10_med / h1_med

    header = f"{'engine':<20}{'add med':>9}{'add p90':>9}{'x ours':>8}{'el med':>9}"
    header += f"{'el p90':>9}{'x ours':>8}{'add diff':>10}{'el diff':>9}"
    print(header)
    print(
        f"{'ticketclock':<20}{add_med:9.2f}{add_p90:9.2f}{1:8.1f}{el_med:9.2f}{el_p90:9.2f}{1:8.1f}"
    )
    notes: list[str] = []
    faster = True
    xcal: tuple[float, float] | None = None
    for name, make in PEERS.items():
        try:
            t0 = time.perf_counter()
            add_fn, el_fn, note = make(holidays)
            setup_ms = (time.perf_counter() - t0) * 1e3
        except ImportError:
            print(f"{name:<20}skipped (not installed)")
            continue
        p_add, p_add_med, p_add_p90 = timed(add_fn, starts)
        p_el, p_el_med, p_el_p90 = timed(el_fn, starts)
        faster = faster and add_med < p_add_med and el_med < p_el_med
        if name == "exchange_calendars":
            xcal = (p_add_med / add_med, p_el_med / el_med)
        print(
            f"{name:<20}{p_add_med:9.2f}{p_add_p90:9.2f}{p_add_med / add_med:8.1f}"
            f"{p_el_med:9.2f}{p_el_p90:9.2f}{p_el_med / el_med:8.1f}"
            f"{disagreements(ours_add, p_add):10d}{disagreements(ours_el, p_el):9d}"
        )
        at_close = convention_only(cal, ours_add, p_add)
        if at_close:
            note += (
                f"; {at_close} add results differ only because it moves a due time that lands "
                "on closing to the next opening"
            )
        notes.append(f"  {name}: {note}; setup {setup_ms:.1f} ms")
    print("(microseconds; 'x ours' = peer median / ours; 'diff' = results that differ from ours)")
    print("notes:")
    print("\n".join(notes) if notes else "  no peers installed (pip install -e '.[bench]')")
    print()
    print(f"add(1 business hour) median {h1_med:.2f} us, add(10 business days) {d10_med:.2f} us,")
    print(f"  ratio {ratio_10d:.2f} (target <= 2)")
    print(
        f"build: from_spec {build_ms:.3f} ms median, with 2025-2026 holidays resolved "
        f"{build_resolved_ms:.3f} ms; first in process (imports holidays) {first_build_ms:.1f} ms"
    )
    if xcal is not None:
        print(
            f"vs exchange_calendars: add x{xcal[0]:.1f}, elapsed x{xcal[1]:.1f} (target >= 3 each)"
        )
    n_long = max(50, n // 10)
    el_first, el2k, add_first, add2k, weeks = long_spans(
        lambda: BusinessCalendar.from_spec(SPEC), n_long, args.seed
    )
    print(
        f"2000-year spans ({n_long} random ends): elapsed(year 3-12 -> 2025-2026) median "
        f"{el2k:.1f} us (first call {el_first:.0f} ms),"
    )
    print(
        f"  add(2025-2026 + two millennia of business time) median {add2k:.1f} us "
        f"(first call {add_first:.0f} ms); {weeks} weeks materialised"
    )
    print(
        f"business_time: add_us={add_med:.2f} elapsed_us={el_med:.2f} "
        f"add10d_over_add1h={ratio_10d:.2f} build_ms={build_resolved_ms:.2f} "
        f"faster_than_all_peers={'yes' if faster else 'no'} "
        f"elapsed_2000y_us={el2k:.1f} add_2000y_us={add2k:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
