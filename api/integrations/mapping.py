"""Mapping files: how a helpdesk's tickets become ticketclock tickets (TOML, one per helpdesk).

Loaded once when the API starts (`load_mapping`); a bad file stops the process with an error
naming the file and the field (`zendesk.toml: priorities.urgent: 'sev9' is not a severity of
confluence-health-check`). Values that helpdesks spell in several cases (priorities, statuses,
tags, project keys) are matched case-insensitively: Zendesk's event webhooks write `OPEN` where its
REST API writes `open`. The format is documented in docs/integrations.md, with one example per
helpdesk in docs/examples/.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from policies.catalog import Catalog
from policies.customer import Customer
from policies.errors import PolicyError

Helpdesk = Literal["zendesk", "jira"]

# Which `when` keys each helpdesk's payloads can answer (docs/integrations.md, "Rules").
WHEN_KEYS: dict[str, frozenset[str]] = {
    "zendesk": frozenset({"brand", "organization", "tag", "form", "channel"}),
    "jira": frozenset({"project", "request_type", "issue_type", "label", "field"}),
}


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the field."""

    def __init__(self, path: Path | str, field: str, message: str) -> None:
        super().__init__(f"{Path(path).name}: {field}: {message}")
        self.path = str(path)
        self.field = field


def fold(value: str | None) -> str:
    return (value or "").strip().casefold()


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldMatch(_Section):
    id: str = Field(min_length=1)
    value: str


class When(_Section):
    """Conditions of one rule; every one given must hold. Unset ones are not checked."""

    brand: str | None = None
    organization: str | None = None
    tag: str | None = None
    form: str | None = None
    channel: str | None = None
    project: str | None = None
    request_type: str | None = None
    issue_type: str | None = None
    label: str | None = None
    field: FieldMatch | None = None


class Terms(_Section):
    policy: str | None = None
    tier: str | None = None
    timezone: str | None = None
    region: str | None = None


class Rule(Terms):
    when: When


class Defaults(Terms):
    policy: str = Field(min_length=1)
    tier: str = Field(min_length=1)
    severity: str = Field(min_length=1, description="For a ticket with no priority.")


class Statuses(_Section):
    waiting_on_customer: tuple[str, ...] = ()
    solved: tuple[str, ...] = ()
    closed: tuple[str, ...] = ()
    # Entering one of these from a solved or closed status reopens the ticket.
    open: tuple[str, ...] = ()


class Agents(_Section):
    staff: bool = Field(True, description="Public comments by staff are agent responses.")
    ids: tuple[str, ...] = Field((), description="More authors counted as agents (bots).")
    ignore: tuple[str, ...] = Field((), description="Authors whose comments change nothing.")
    next_update_eta: str | None = Field(
        None, description="Promise the next update this long after an agent response (60m)."
    )

    @field_validator("next_update_eta")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class Customers(_Section):
    # Zendesk: anyone not staff (the requester, CCs); Jira: customers and the reporter.
    any_non_agent: bool = True


class MappingFile(_Section):
    defaults: Defaults
    rules: tuple[Rule, ...] = ()
    priorities: dict[str, str] = Field(default_factory=dict)
    statuses: Statuses = Statuses()
    agents: Agents = Agents()
    customers: Customers = Customers()


_DURATION = re.compile(r"(\d+)\s*(d|h|m|s)")


def parse_duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration (e.g. 60m, 4h, 1d)")
    unit = {"d": 86400, "h": 3600, "m": 60, "s": 1}[match[2]]
    return timedelta(seconds=int(match[1]) * unit)


@dataclass(frozen=True)
class TicketFacts:
    """What a payload says about a ticket, in the helpdesk's own words."""

    brand: str | None = None
    organization: str | None = None
    tags: Sequence[str] = ()
    form: str | None = None
    channel: str | None = None
    project: str | None = None
    request_type: str | None = None
    issue_type: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    priority: str | None = None


@dataclass(frozen=True)
class TicketTerms:
    policy: str
    tier: str
    severity: str
    customer: Customer


@dataclass(frozen=True)
class HelpdeskMapping:
    """A validated mapping file, ready to answer questions about payloads."""

    helpdesk: Helpdesk
    path: str
    file: MappingFile
    priorities: Mapping[str, str]
    statuses: Mapping[str, frozenset[str]]

    def severity_for(self, priority: str | None) -> str | None:
        """The severity a priority maps to; the default one when there is no priority; None for
        a priority the file does not name."""
        if not fold(priority):
            return self.file.defaults.severity
        return self.priorities.get(fold(priority))

    def status_is(self, kind: str, status: str | None) -> bool:
        return fold(status) in self.statuses[kind]

    def terms_for(self, facts: TicketFacts) -> TicketTerms:
        d = self.file.defaults
        policy, tier, tz, region = d.policy, d.tier, d.timezone, d.region
        for rule in self.file.rules:
            if _matches(rule.when, facts):
                policy = rule.policy or policy
                tier = rule.tier or tier
                tz = rule.timezone or tz
                region = rule.region or region
                break
        severity = self.severity_for(facts.priority) or d.severity
        return TicketTerms(policy, tier, severity, Customer(timezone=tz, region=region))

    def is_agent(self, author_id: str | None, is_staff: bool) -> bool:
        agents = self.file.agents
        return (is_staff and agents.staff) or (author_id is not None and author_id in agents.ids)

    def ignores(self, author_id: str | None) -> bool:
        return author_id is not None and author_id in self.file.agents.ignore

    def next_update_eta(self) -> timedelta | None:
        raw = self.file.agents.next_update_eta
        return parse_duration(raw) if raw else None


def _matches(when: When, facts: TicketFacts) -> bool:
    checks: list[bool] = []
    for name in ("brand", "organization", "form", "channel", "project", "request_type"):
        wanted = getattr(when, name)
        if wanted is not None:
            checks.append(fold(wanted) == fold(getattr(facts, name)))
    if when.issue_type is not None:
        checks.append(fold(when.issue_type) == fold(facts.issue_type))
    if when.tag is not None:
        checks.append(fold(when.tag) in {fold(t) for t in facts.tags})
    if when.label is not None:
        checks.append(fold(when.label) in {fold(t) for t in facts.tags})
    if when.field is not None:
        checks.append(fold(facts.fields.get(when.field.id)) == fold(when.field.value))
    return bool(checks) and all(checks)


def _field_path(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"


def parse_mapping(
    data: Mapping[str, Any], path: Path | str, helpdesk: Helpdesk, catalog: Catalog
) -> HelpdeskMapping:
    """Validate a parsed TOML document against the format and the catalogue."""
    try:
        file = MappingFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise MappingError(path, _field_path(err["loc"]), err["msg"]) from None

    allowed = WHEN_KEYS[helpdesk]
    for i, rule in enumerate(file.rules):
        used = set(rule.when.model_dump(exclude_none=True))
        if not used:
            raise MappingError(path, f"rules[{i}].when", "names no condition")
        if bad := sorted(used - allowed):
            raise MappingError(
                path,
                f"rules[{i}].when.{bad[0]}",
                f"not a {helpdesk} condition (one of: {', '.join(sorted(allowed))})",
            )

    priorities: dict[str, str] = {}
    for name, severity in file.priorities.items():
        if fold(name) in priorities:
            raise MappingError(path, f"priorities.{name}", "named twice (case-insensitively)")
        priorities[fold(name)] = severity

    statuses: dict[str, frozenset[str]] = {}
    seen: dict[str, str] = {}
    for kind in ("waiting_on_customer", "solved", "closed", "open"):
        values = getattr(file.statuses, kind)
        for value in values:
            if fold(value) in seen:
                raise MappingError(
                    path, f"statuses.{kind}", f"{value!r} is also in statuses.{seen[fold(value)]}"
                )
            seen[fold(value)] = kind
        statuses[kind] = frozenset(fold(v) for v in values)

    # Every policy / tier / severity / time zone the file can produce must resolve.
    combos: list[tuple[str, Terms]] = [("defaults", file.defaults)]
    combos += [(f"rules[{i}]", rule) for i, rule in enumerate(file.rules)]
    d = file.defaults
    for where, terms in combos:
        tz = terms.timezone or d.timezone
        if tz is not None:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise MappingError(
                    path, f"{where}.timezone", f"{tz!r} is not an IANA time zone"
                ) from None
        policy, tier = terms.policy or d.policy, terms.tier or d.tier
        checks = [(f"{where}", d.severity)]
        checks += [(f"priorities.{name}", sev) for name, sev in file.priorities.items()]
        for field_name, severity in checks:
            try:
                catalog.resolve(policy, tier, severity, Customer(timezone=tz, region=terms.region))
            except PolicyError as exc:
                what = (
                    "defaults.severity"
                    if field_name == where and field_name == "defaults"
                    else field_name
                )
                if exc.field in ("policy", "tier"):
                    what = f"{where}.{exc.field}"
                raise MappingError(path, what, str(exc)) from None
    return HelpdeskMapping(helpdesk, str(path), file, priorities, statuses)


def load_mapping(path: str | Path, helpdesk: Helpdesk, catalog: Catalog) -> HelpdeskMapping:
    """Read and validate one mapping file; `MappingError` names the file and the field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(p, "(file)", f"cannot read it ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(p, "(file)", f"not TOML ({exc})") from None
    return parse_mapping(data, p, helpdesk, catalog)
