"""Input bounds the API enforces before anything is computed or stored (docs/api.md, "Limits").

Every refusal here is a 422 naming the field. The point is that nothing a client sends can make
the server overflow a datetime, walk a calendar for centuries, or grow a ticket's history without
bound: each instant is inside a window, each text and map has a size.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, StringConstraints


class OutOfBounds(ValueError):
    """An input outside its bound: `api.errors` answers 422 naming `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


# Any instant the API takes (filters, report ranges, ETAs) lies in this window, in UTC; far from
# both ends of `datetime`, so adding or subtracting a few centuries never overflows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)

# Intake: what a policy asks the customer for (names like "cluster_id"), short texts each.
INTAKE_MAX_FIELDS = 50
INTAKE_NAME_MAX_CHARS = 64
INTAKE_VALUE_MAX_BYTES = 4096  # UTF-8


def _utc(value: datetime) -> datetime | None:
    """`value` in UTC, or None when it cannot be written in UTC (year 1 at +14:00...)."""
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def in_window(value: datetime) -> datetime:
    """Pydantic validator: an aware instant within [EARLIEST, LATEST) in UTC."""
    utc = _utc(value)
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValueError(
            f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC), not {value}"
        )
    return value


# The type of every datetime the API reads from a request.
Instant = Annotated[AwareDatetime, AfterValidator(in_window)]


def _value_size(value: str) -> str:
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > INTAKE_VALUE_MAX_BYTES:
        raise ValueError(f"at most {INTAKE_VALUE_MAX_BYTES} bytes (UTF-8), not {size}")
    return value


IntakeName = Annotated[str, StringConstraints(min_length=1, max_length=INTAKE_NAME_MAX_CHARS)]
IntakeValue = Annotated[str, AfterValidator(_value_size)]
# `Field(max_length=...)` on a dict bounds its number of items.
Intake = Annotated[dict[IntakeName, IntakeValue], Field(max_length=INTAKE_MAX_FIELDS)]


def check_opened_at(
    opened_at: datetime, *, now: datetime, max_age: timedelta, max_skew: timedelta
) -> datetime:
    """`opened_at` within [now - max_age, now + max_skew]; else 422 naming `opened_at`."""
    utc = _utc(opened_at)
    if utc is not None and now - max_age <= utc <= now + max_skew:
        return opened_at
    if utc is not None and utc > now:
        why = f"is more than {_span(max_skew)} ahead of the server's clock"
    else:
        why = f"is more than {_span(max_age)} in the past"
    raise OutOfBounds(
        "opened_at",
        f"{opened_at.isoformat()} {why}; tickets may be opened between"
        f" {_span(max_age)} ago and {_span(max_skew)} from now",
    )


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"


def check_action_body(body: BaseModel) -> None:
    """The bounds an action body's own model does not state: instants in the window, and any map
    of texts (`complete_intake`'s `fields`) bounded as `intake` is. 422 naming the field."""
    for name in type(body).model_fields:
        _check_value(name, getattr(body, name))


def _check_value(field: str, value: Any) -> None:
    if isinstance(value, datetime):
        try:
            in_window(value)
        except ValueError as exc:
            raise OutOfBounds(field, str(exc)) from None
    elif isinstance(value, dict):
        if len(value) > INTAKE_MAX_FIELDS:
            raise OutOfBounds(field, f"at most {INTAKE_MAX_FIELDS} fields, not {len(value)}")
        for key, item in value.items():
            if isinstance(key, str) and len(key) > INTAKE_NAME_MAX_CHARS:
                raise OutOfBounds(
                    field, f"a field name is longer than {INTAKE_NAME_MAX_CHARS} characters"
                )
            if isinstance(item, str):
                try:
                    _value_size(item)
                except ValueError as exc:
                    raise OutOfBounds(f"{field}.{key}", str(exc)) from None
