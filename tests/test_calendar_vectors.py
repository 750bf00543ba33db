"""The shared business-time vectors (checked against an independent minute-walking oracle).

Country calendars use the `holidays` package as is when its version matches the one the vectors
were resolved with, so the holidays integration is exercised; otherwise they are pinned to the
dates the file records, so a holidays upgrade cannot fail arithmetic tests.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import holidays
import pytest

from policies.calendar import BusinessCalendar

# The repository's copy (its first key says where it came from), so a clean clone runs them all.
VECTORS = Path(__file__).resolve().parent / "data" / "business_time.json"
# The shared original, beside the checkout when it is there.
SHARED = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "business_time.json"

DATA: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
VECTOR_LIST: list[dict[str, Any]] = DATA["vectors"]


@functools.cache
def calendar_for(calendar_id: str) -> BusinessCalendar:
    spec = next(v["calendar"] for v in VECTOR_LIST if v["calendar_id"] == calendar_id)
    if isinstance(spec.get("holidays"), dict) and (
        holidays.__version__ != DATA["holidays_package_version"]
    ):
        spec = {**spec, "holidays": DATA["resolved_holidays"][calendar_id]}
    return BusinessCalendar.from_spec(spec)


def test_vector_file_is_present_and_complete() -> None:
    assert DATA["provenance"].startswith("Copied unchanged from shared/vectors/business_time.json")
    assert len(VECTOR_LIST) == 686
    assert len({v["id"] for v in VECTOR_LIST}) == len(VECTOR_LIST)


def _without_provenance(text: str) -> str:
    lines = text.splitlines(keepends=True)
    assert lines[1].startswith('"provenance": '), "the provenance line is the copy's second line"
    return "".join(lines[:1] + lines[2:])


def test_the_copy_equals_the_shared_vectors() -> None:
    """Byte for byte, but for the provenance line; the recorded sha256 is the original's."""
    copy = VECTORS.read_text(encoding="utf-8")
    original = _without_provenance(copy)
    assert hashlib.sha256(original.encode()).hexdigest() in DATA["provenance"]
    if not SHARED.is_file():
        pytest.skip(f"no shared folder beside the checkout ({SHARED}); the copy checked by hash")
    assert original == SHARED.read_text(encoding="utf-8"), (
        f"{VECTORS} differs from {SHARED}: copy the shared file again (keep the provenance line)"
    )


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
