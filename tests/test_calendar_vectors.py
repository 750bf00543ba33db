"""The shared business-time vectors (checked against an independent minute-walking oracle).

Country calendars use the `holidays` package as is when its version matches the one the vectors
were resolved with, so the holidays integration is exercised; otherwise they are pinned to the
dates the file records, so a holidays upgrade cannot fail arithmetic tests.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import holidays
import pytest

from policies.calendar import BusinessCalendar

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors" / "business_time.json"


def _load() -> dict[str, Any] | None:
    if not VECTORS.is_file():
        return None
    return json.loads(VECTORS.read_text(encoding="utf-8"))


DATA = _load()
VECTOR_LIST: list[dict[str, Any]] = DATA["vectors"] if DATA else []


@functools.cache
def calendar_for(calendar_id: str) -> BusinessCalendar:
    assert DATA is not None
    spec = next(v["calendar"] for v in VECTOR_LIST if v["calendar_id"] == calendar_id)
    if isinstance(spec.get("holidays"), dict) and (
        holidays.__version__ != DATA["holidays_package_version"]
    ):
        spec = {**spec, "holidays": DATA["resolved_holidays"][calendar_id]}
    return BusinessCalendar.from_spec(spec)


def test_vector_file_is_present_and_complete() -> None:
    if DATA is None:
        pytest.skip(f"shared vectors not found at {VECTORS} (the shared folder is absent)")
    assert len(VECTOR_LIST) == 686
    assert len({v["id"] for v in VECTOR_LIST}) == len(VECTOR_LIST)


@pytest.mark.parametrize("vector", VECTOR_LIST, ids=[v["id"] for v in VECTOR_LIST])
def test_vector(vector: dict[str, Any]) -> None:
    cal = calendar_for(vector["calendar_id"])
    start = datetime.fromisoformat(vector["start"])
    if vector["kind"] == "add":
        due = cal.add(start, timedelta(minutes=vector["add_minutes"]))
        expected = datetime.fromisoformat(vector["expected_due"])
        # Compare as UTC instants: aware datetimes in a fold never compare equal across zones.
        assert due.astimezone(UTC) == expected.astimezone(UTC), vector.get("note", vector["tags"])
        assert due.tzinfo is cal.zone
    else:
        assert vector["kind"] == "elapsed"
        got = cal.elapsed(start, datetime.fromisoformat(vector["end"]))
        assert got == timedelta(minutes=vector["expected_business_minutes"]), vector["tags"]
