"""The catalogue's data model: what one vendor policy file (`policies/catalog/*.toml`) may say.

Pydantic checks the shape of a file; `policy_problems` then checks what shape cannot (references
between sections, durations, the every-tier-x-severity rule) and names each problem by its dotted
path, so `ticketclock policy check` can print `kong.toml: targets.enterprise.sev9: ...`.
The layout is documented in docs/catalogue.md.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from policies.customer import check_zone
from policies.durations import Duration, DurationError, parse_duration
from policies.errors import PolicyError
from policies.snapshot import Clock, LifecycleRules, name_key

WEEKDAY = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
TicketType = Literal["incident", "request"]
TICKET_TYPES: tuple[TicketType, ...] = ("incident", "request")
DEFAULT_TYPE: TicketType = "incident"  # a ticket that says no type is an incident (issue 13)
DEFAULT_CHANNEL = "ticket"  # a ticket that names no channel was reported through a ticket
WILDCARD = "*"  # in `targets`, a tier key that applies to every tier
UNSET = "unset"  # a target the policy leaves to configuration (Kong's missing table)
OFF = "off"  # an explicitly absent target (a clock the policy makes optional, off by default)

Ident = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
HHMM = Annotated[str, StringConstraints(pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")]


def _norm(text: str) -> str:
    """Case-, space- and punctuation-insensitive key for alias matching ("Sev-1" == "sev 1")."""
    return re.sub(r"[\s_\-/.]+", "", text.strip().lower())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeverityDef(_Strict):
    """One severity/priority level. The list order is the policy's order: most severe first."""

    id: Ident
    label: Text
    name: str = Field("", description="The vendor's own title, e.g. 'Critical Business Impact'.")
    aliases: tuple[Text, ...] = ()
    rank: int | None = Field(
        None,
        ge=1,
        le=4,
        description="The common urgency rank across policies: 1 (most urgent) to 4. Omitted:"
        " the severity's position in the list (1, 2, 3, 4 and beyond counted as 4).",
    )
    rank_source: str = Field(
        "", description="The clause the rank is read from, or 'ASSUMPTION: <why>'."
    )

    def names(self) -> tuple[str, ...]:
        return (self.id, self.label, *self.aliases)


class TierDef(_Strict):
    """One support level (plan) a customer buys."""

    label: Text
    aliases: tuple[Text, ...] = ()


class HolidayRule(_Strict):
    """Holidays resolved with the `holidays` package (see `BusinessCalendar.from_spec`)."""

    country: Text
    subdiv: str | None = None
    categories: tuple[str, ...] | None = None
    add: tuple[date, ...] = ()
    remove: tuple[date, ...] = ()


class CalendarDef(_Strict):
    """Named business hours: weekly wall-clock intervals in a zone, minus holidays."""

    label: str = ""
    timezone: str | None = Field(
        None, description="IANA zone; omitted when the customer's own zone is used."
    )
    hours: dict[WEEKDAY, tuple[tuple[HHMM, HHMM], ...]]
    holidays: tuple[date, ...] | HolidayRule = ()
    business_day: Text = Field(description='Length of "1 business day" here, e.g. "8h".')
    source: Text


class RegionDef(_Strict):
    """A customer region and the calendar it selects (Kong: Americas / EMEA / AP-ANZ)."""

    id: Ident
    label: Text
    calendar: Ident
    aliases: tuple[Text, ...] = ()

    def names(self) -> tuple[str, ...]:
        return (self.id, self.label, *self.aliases)


class CalendarSelection(_Strict):
    """How a ticket picks its calendar."""

    by: Literal["fixed", "customer_timezone", "customer_region"]
    calendar: Ident | None = Field(None, description="For `fixed` and `customer_timezone`.")
    regions: tuple[RegionDef, ...] = Field((), description="For `customer_region`.")
    source: Text


class ClockSettings(_Strict):
    """Per-clock defaults: the clause the clock's targets come from and its warning points."""

    source: Text
    warnings: tuple[str, ...] | None = Field(None, description="Overrides the policy default.")


def _target_shorthand(value: Any) -> Any:
    return {"within": value} if isinstance(value, str) else value


class TargetDef(_Strict):
    """One clock's target: `within` is a duration, "unset" or "off".

    `clock` moves a plain duration onto the business calendar ("4 hours" that only run while
    open) or names the calendar explicitly; `source` and `warnings` override the clock's.
    """

    within: Text
    clock: str | None = Field(None, description='"24x7", "business" or a calendar name.')
    warnings: tuple[str, ...] | None = None
    source: str | None = None


TargetField = Annotated[TargetDef | None, BeforeValidator(_target_shorthand)]


class SeverityCell(_Strict):
    """Targets for one tier x severity (or every tier, under `targets."*"`)."""

    not_entitled: str | None = Field(None, description="Reason this severity is not offered.")
    first_response: TargetField = None
    next_update: TargetField = None
    incident_commander: TargetField = None
    customer_silence: TargetField = None
    post_incident_review: TargetField = None
    escalation_window: TargetField = None

    def targets(self) -> dict[Clock, TargetDef]:
        return {c: t for c in Clock if (t := getattr(self, c.value)) is not None}


class TierCap(_Strict):
    """Tiers that may not raise severities above `max_severity` (ClickHouse Basic -> Sev3)."""

    tiers: tuple[Ident, ...] = Field(min_length=1)
    max_severity: Ident
    reason: Text
    source: Text


class ProductCap(_Strict):
    """Products (or feature stages) supported only up to `max_severity`."""

    products: tuple[Text, ...] = Field(min_length=1)
    max_severity: Ident
    reason: Text
    source: Text


class ChannelDefault(_Strict):
    """Tickets arriving by these channels start at `initial_severity` (at most this severe)."""

    channels: tuple[Text, ...] = Field(min_length=1)
    initial_severity: Ident
    reason: Text
    source: Text


class Exemption(_Strict):
    """Tickets the policy binds to no response time: they carry no targets, with the clause why.

    Every criterion given must match: `types` (incident | request), `channels` (the ticket came
    by one of these), `channels_except` (it came by any channel but these; no channel counts as
    "ticket"), `products` (the ticket's product or feature stage is one of these).
    """

    types: tuple[TicketType, ...] = ()
    channels: tuple[Text, ...] = ()
    channels_except: tuple[Text, ...] = ()
    products: tuple[Text, ...] = ()
    reason: Text
    source: Text

    def matches(self, ticket_type: str, channel: str | None, product: str | None) -> bool:
        chan = _norm(channel or DEFAULT_CHANNEL)
        if self.types and ticket_type not in self.types:
            return False
        if self.channels and chan not in map(_norm, self.channels):
            return False
        if self.channels_except and chan in map(_norm, self.channels_except):
            return False
        return not self.products or (
            product is not None and _norm(product) in map(_norm, self.products)
        )


class NotModelled(_Strict):
    """A clause the catalogue does not encode, recorded so nobody thinks it is: what and why."""

    clause: Text = Field(description="The seed's words.")
    source: Text = Field(description="Where in the seed.")
    why: Text = Field(description="Why it is not encoded, and what would be needed.")


class SeverityRule(_Strict):
    severities: tuple[Ident, ...] = Field(min_length=1)
    source: Text


class Rules(_Strict):
    eta_required: SeverityRule | None = Field(
        None, description="Agent updates on these severities must carry a next-update ETA."
    )
    page_oncall: SeverityRule | None = Field(None, description="These severities page on-call.")


class Intake(_Strict):
    required: tuple[Ident, ...] = Field(min_length=1)
    source: Text


class Policy(_Strict):
    """One vendor's support policy, as one catalogue file says it."""

    id: Ident
    name: Text
    vendor: Text
    seed: Text = Field(description="The seed document this policy encodes (shared/seeds/...).")
    effective: date | Literal["undated"] = Field(
        description='The seed\'s effective date; "undated" when the text carries none.'
    )
    version: Text
    effective_from: date | None = Field(
        None,
        description="The day this version's meaning took effect in ticketclock (a file whose"
        " meaning changes gets a new version and a new effective_from).",
    )
    warnings: tuple[str, ...] = Field((), description="Default warning points for every clock.")
    unset_reason: str | None = None
    reopen_window: Text
    tiers: dict[Ident, TierDef] = Field(min_length=1)
    severities: tuple[SeverityDef, ...] = Field(min_length=1)
    calendars: dict[Ident, CalendarDef] = Field(min_length=1)
    calendar_selection: CalendarSelection
    clocks: dict[Clock, ClockSettings] = Field(default_factory=dict)
    targets: dict[str, dict[Ident, SeverityCell]]
    tier_caps: tuple[TierCap, ...] = ()
    product_caps: tuple[ProductCap, ...] = ()
    channel_defaults: tuple[ChannelDefault, ...] = ()
    rules: Rules = Rules()
    intake: Intake | None = None
    exemptions: tuple[Exemption, ...] = Field(
        (), description="Tickets bound to no response time (type, channel, product), by clause."
    )
    not_modelled: tuple[NotModelled, ...] = Field(
        (), description="Clauses deliberately not encoded, each with why."
    )
    lifecycle: LifecycleRules = Field(
        LifecycleRules(),
        description="What a reopen restarts, whether the update cadence pauses while waiting on"
        " the customer, when the review clock starts; each with its clause or ASSUMPTION.",
    )

    # -- lookups ----------------------------------------------------------------------------
    def severity_ids(self) -> list[str]:
        return [s.id for s in self.severities]

    def rank(self, severity: str) -> int:
        """0 for the most severe; larger is less severe (the policy's own order)."""
        return self.severity_ids().index(severity)

    def severity_rank(self, severity: str) -> int:
        """The common rank 1 (most urgent) .. 4 that filters and reports group by."""
        index = self.rank(severity)
        given = self.severities[index].rank
        return given if given is not None else min(index + 1, 4)

    def severities_of_rank(self, rank: int) -> tuple[str, ...]:
        return tuple(s.id for s in self.severities if self.severity_rank(s.id) == rank)

    def find_severity(self, text: str) -> SeverityDef | None:
        """By id, label or alias, ignoring case and surrounding space only (`name_key`)."""
        key = name_key(text)
        return next((s for s in self.severities if key in map(name_key, s.names())), None)

    def allowed_severities(self) -> str:
        return ", ".join(f"{s.id} ({', '.join(s.names()[1:])})" for s in self.severities)

    def selectable_calendars(self) -> tuple[str, ...]:
        """The calendars a ticket can pick as its own (the rest only serve targets naming them)."""
        sel = self.calendar_selection
        if sel.by == "customer_region":
            return tuple(r.calendar for r in sel.regions)
        return (sel.calendar,) if sel.calendar else ()

    def find_tier(self, text: str) -> str | None:
        key = _norm(text)
        for tier_id, tier in self.tiers.items():
            if key in map(_norm, (tier_id, tier.label, *tier.aliases)):
                return tier_id
        return None

    def find_region(self, text: str) -> RegionDef | None:
        key = _norm(text)
        regions = self.calendar_selection.regions
        return next((r for r in regions if key in map(_norm, r.names())), None)

    def cell_targets(self, tier: str, severity: str) -> dict[Clock, tuple[TargetDef, str]]:
        """Targets for tier x severity with the path they were written at (tier beats "*")."""
        found: dict[Clock, tuple[TargetDef, str]] = {}
        for key in (WILDCARD, tier):
            cell = self.targets.get(key, {}).get(severity)
            if cell is not None:
                for clock, target in cell.targets().items():
                    found[clock] = (target, f"targets.{_key(key)}.{severity}.{clock.value}")
        return found

    def explicit_not_entitled(self, tier: str, severity: str) -> str | None:
        for key in (tier, WILDCARD):
            cell = self.targets.get(key, {}).get(severity)
            if cell is not None and cell.not_entitled:
                return cell.not_entitled
        return None

    def tier_cap(self, tier: str) -> TierCap | None:
        caps = [c for c in self.tier_caps if tier in c.tiers]
        return max(caps, key=lambda c: self.rank(c.max_severity), default=None)

    def product_cap(self, product: str | None) -> ProductCap | None:
        if not product:
            return None
        key = _norm(product)
        caps = [c for c in self.product_caps if key in map(_norm, c.products)]
        return max(caps, key=lambda c: self.rank(c.max_severity), default=None)

    def exemption(
        self, ticket_type: str, channel: str | None, product: str | None
    ) -> Exemption | None:
        return next((e for e in self.exemptions if e.matches(ticket_type, channel, product)), None)

    def channel_default(self, channel: str | None) -> ChannelDefault | None:
        if not channel:
            return None
        key = _norm(channel)
        return next((c for c in self.channel_defaults if key in map(_norm, c.channels)), None)

    def warnings_for(self, clock: Clock, target: TargetDef) -> tuple[str, ...]:
        if target.warnings is not None:
            return target.warnings
        settings = self.clocks.get(clock)
        if settings is not None and settings.warnings is not None:
            return settings.warnings
        return self.warnings

    def source_for(self, clock: Clock, target: TargetDef) -> str:
        if target.source:
            return target.source
        settings = self.clocks.get(clock)
        return settings.source if settings else ""


def _key(key: str) -> str:
    return f'"{key}"' if key == WILDCARD else key


# -- checks shape cannot express ------------------------------------------------------------

_WARNING_FRACTION = re.compile(r"^(\d+(?:\.\d+)?)\s*%$|^(0?\.\d+)$")
_WARNING_BEFORE = re.compile(r"^(.+?)\s+before$")


def parse_warning(text: str) -> tuple[float | None, str | None]:
    """("75%" -> (0.75, None)); ("30m before" -> (None, "30m")). Raises ValueError."""
    norm = text.strip().lower()
    if m := _WARNING_FRACTION.match(norm):
        fraction = float(m[1]) / 100 if m[1] else float(m[2])
        if not 0 < fraction < 1:
            raise ValueError(f"{text!r}: a warning fraction must be between 0 and 1 (exclusive)")
        return fraction, None
    if m := _WARNING_BEFORE.match(norm):
        try:
            parse_duration(m[1])
        except DurationError as exc:
            raise ValueError(str(exc)) from None
        return None, m[1]
    raise ValueError(f"{text!r} is not a warning point; write e.g. '75%', '0.5' or '30m before'")


def policy_problems(policy: Policy) -> list[tuple[str, str]]:
    """Every cross-reference problem in a policy, as (dotted path, message)."""
    return _Checker(policy).run()


class _Checker:
    def __init__(self, policy: Policy) -> None:
        self.p = policy
        self.out: list[tuple[str, str]] = []
        self.sev_ids = policy.severity_ids()

    def add(self, path: str, message: str) -> None:
        self.out.append((path, message))

    def run(self) -> list[tuple[str, str]]:
        self.identities()
        self.calendars()
        self.selection()
        self.rules()
        self.targets()
        self.coverage()
        for i, text in enumerate(self.p.warnings):
            self.warning(f"warnings[{i}]", text)
        for clock, settings in self.p.clocks.items():
            for i, text in enumerate(settings.warnings or ()):
                self.warning(f"clocks.{clock.value}.warnings[{i}]", text)
        reopen = self.duration("reopen_window", self.p.reopen_window, business_ok=False)
        if reopen is not None and reopen.unit == "calendar_days":
            self.add(
                "reopen_window",
                f"{self.p.reopen_window!r} is calendar days; the workflow measures the reopen"
                f" window in elapsed time: write hours, e.g. '{int(reopen.fixed.days) * 24} hours'"
                if reopen.fixed
                else "write hours",
            )
        self.lifecycle()
        for i, ex in enumerate(self.p.exemptions):
            if not (ex.types or ex.channels or ex.channels_except or ex.products):
                self.add(
                    f"exemptions[{i}]", "matches every ticket: give types, channels or products"
                )
            if ex.channels and ex.channels_except:
                self.add(f"exemptions[{i}]", "use either channels or channels_except, not both")
        return self.out

    def lifecycle(self) -> None:
        life = self.p.lifecycle
        restarts = life.reopen_restarts
        if restarts not in (None, Clock.first_response, Clock.next_update):
            self.add(
                "lifecycle.reopen_restarts",
                f"{restarts.value!r}: a reopen restarts first_response, next_update or none",
            )
        for name in ("reopen_restarts", "next_update_pauses", "review_starts"):
            if not getattr(life, f"{name}_source").strip():
                self.add(f"lifecycle.{name}_source", "required: the clause, or 'ASSUMPTION: <why>'")

    def ranks(self) -> None:
        previous = 1
        for i, sev in enumerate(self.p.severities):
            rank = self.p.severity_rank(sev.id)
            if rank < previous:
                self.add(
                    f"severities[{i}].rank",
                    f"{rank} is more urgent than the severity before it ({previous}): the list"
                    " is most severe first",
                )
            previous = rank
            if sev.rank is not None and not sev.rank_source.strip():
                self.add(
                    f"severities[{i}].rank_source", "required: the clause, or 'ASSUMPTION: <why>'"
                )

    def identities(self) -> None:
        self.ranks()
        self.unique(
            "severities", [(f"severities[{i}]", s.names()) for i, s in enumerate(self.p.severities)]
        )
        self.unique(
            "tiers", [(f"tiers.{t}", (t, d.label, *d.aliases)) for t, d in self.p.tiers.items()]
        )
        regions = self.p.calendar_selection.regions
        self.unique(
            "calendar_selection.regions",
            [(f"calendar_selection.regions[{i}]", r.names()) for i, r in enumerate(regions)],
        )

    def unique(self, what: str, entries: list[tuple[str, tuple[str, ...]]]) -> None:
        seen: dict[str, str] = {}
        for path, names in entries:
            for name in names:
                key = _norm(name)
                owner = seen.setdefault(key, path)
                if owner != path:
                    self.add(path, f"name {name!r} is already used by {owner}")

    def calendars(self) -> None:
        by = self.p.calendar_selection.by
        for name, cal in self.p.calendars.items():
            path = f"calendars.{name}"
            customer_zone = by == "customer_timezone" and self.p.calendar_selection.calendar == name
            if customer_zone and cal.timezone is not None:
                self.add(f"{path}.timezone", "must be omitted: the customer's own zone is used")
            elif not customer_zone:
                self.zone(f"{path}.timezone", cal.timezone)
            if not cal.hours:
                self.add(f"{path}.hours", "the calendar is never open")
            bd = self.duration(f"{path}.business_day", cal.business_day, business_ok=False)
            if bd is not None and bd.unit == "calendar_days":
                self.add(f"{path}.business_day", "a length of open time: write hours, e.g. '8h'")
            elif bd is not None and bd.fixed is not None and bd.fixed.total_seconds() > 86400:
                self.add(f"{path}.business_day", "must be at most 24h")

    def zone(self, path: str, zone: str | None) -> None:
        if zone is None:
            self.add(path, "required (an IANA zone such as 'Europe/London')")
            return
        try:
            check_zone(zone, path)
        except PolicyError as exc:
            self.add(path, exc.message)

    def selection(self) -> None:
        sel = self.p.calendar_selection
        path = "calendar_selection"
        if sel.by == "customer_region":
            if not sel.regions:
                self.add(f"{path}.regions", "required when by = 'customer_region'")
            if sel.calendar is not None:
                self.add(f"{path}.calendar", "not used when by = 'customer_region'")
            for i, region in enumerate(sel.regions):
                self.calendar_ref(f"{path}.regions[{i}].calendar", region.calendar)
        else:
            if sel.regions:
                self.add(
                    f"{path}.regions", f"only used when by = 'customer_region', not {sel.by!r}"
                )
            if sel.calendar is None:
                self.add(f"{path}.calendar", f"required when by = {sel.by!r}")
            else:
                self.calendar_ref(f"{path}.calendar", sel.calendar)

    def calendar_ref(self, path: str, name: str) -> None:
        if name not in self.p.calendars:
            self.add(path, f"unknown calendar {name!r}; defined: {', '.join(self.p.calendars)}")

    def severity_ref(self, path: str, sev: str) -> None:
        if sev not in self.sev_ids:
            self.add(path, f"unknown severity {sev!r}; defined: {', '.join(self.sev_ids)}")

    def rules(self) -> None:
        for i, cap in enumerate(self.p.tier_caps):
            for j, tier in enumerate(cap.tiers):
                if tier not in self.p.tiers:
                    self.add(f"tier_caps[{i}].tiers[{j}]", f"unknown tier {tier!r}")
            self.severity_ref(f"tier_caps[{i}].max_severity", cap.max_severity)
        for i, pcap in enumerate(self.p.product_caps):
            self.severity_ref(f"product_caps[{i}].max_severity", pcap.max_severity)
        for i, chan in enumerate(self.p.channel_defaults):
            self.severity_ref(f"channel_defaults[{i}].initial_severity", chan.initial_severity)
        for name in ("eta_required", "page_oncall"):
            rule: SeverityRule | None = getattr(self.p.rules, name)
            for j, sev in enumerate(rule.severities if rule else ()):
                self.severity_ref(f"rules.{name}.severities[{j}]", sev)
        if self.p.unset_reason is None and any(
            t.within.lower() == UNSET
            for cells in self.p.targets.values()
            for cell in cells.values()
            for t in cell.targets().values()
        ):
            self.add("unset_reason", "required when a target is 'unset' (say where it comes from)")

    def targets(self) -> None:
        for tier, cells in self.p.targets.items():
            if tier != WILDCARD and tier not in self.p.tiers:
                self.add(f"targets.{tier}", f"unknown tier; defined: {', '.join(self.p.tiers)}")
            for sev, cell in cells.items():
                path = f"targets.{_key(tier)}.{sev}"
                if sev not in self.sev_ids:
                    self.add(path, f"unknown severity; defined: {', '.join(self.sev_ids)}")
                    continue
                cap = self.cap_for(tier)
                if cell.not_entitled is not None and cell.targets():
                    self.add(path, "a severity that is not entitled has no targets")
                if cap and self.p.rank(sev) < self.p.rank(cap.max_severity) and cell.targets():
                    self.add(path, f"not entitled (tier cap to {cap.max_severity}): remove targets")
                for clock, target in cell.targets().items():
                    self.target(f"{path}.{clock.value}", clock, target)

    def target(self, path: str, clock: Clock, target: TargetDef) -> None:
        within = target.within.strip().lower()
        if within in (UNSET, OFF):
            if target.clock or target.warnings:
                self.add(path, f"an {within!r} target takes no clock or warnings")
            return
        if not self.p.source_for(clock, target):
            self.add(f"{path}.source", f"required (or set clocks.{clock.value}.source)")
        duration = self.duration(f"{path}.within", target.within, business_ok=True)
        if duration is None:
            return
        choice = target.clock
        if choice is not None and choice not in ("24x7", "business"):
            selectable = self.selectable()
            if choice not in self.p.calendars:
                self.add(f"{path}.clock", f"{choice!r} is not '24x7', 'business' or a calendar")
            elif choice in selectable and selectable != {choice}:
                self.add(
                    f"{path}.clock",
                    f"{choice!r} is one of the calendars tickets pick"
                    f" ({self.describe_selectable()}); use 'business' for the ticket's own",
                )
            elif choice not in selectable and self.p.calendars[choice].timezone is None:
                self.add(f"{path}.clock", f"calendar {choice!r} needs its own timezone")
            choice = "business"
        if choice == "24x7" and duration.business:
            self.add(f"{path}.clock", f"{target.within!r} is business time, not 24x7")
        if choice == "business":
            try:
                duration.as_business()
            except DurationError as exc:
                self.add(f"{path}.within", str(exc))
        business = duration.business or choice == "business"
        for i, warning in enumerate(self.p.warnings_for(clock, target)):
            wpath = f"{path}.warnings[{i}]" if target.warnings is not None else path
            self.warning(wpath, warning, business=business)

    def cap_for(self, tier: str) -> TierCap | None:
        """The tier's cap, if every cap names a known severity (else that is the error shown)."""
        if tier == WILDCARD or any(c.max_severity not in self.sev_ids for c in self.p.tier_caps):
            return None
        return self.p.tier_cap(tier)

    def selectable(self) -> set[str]:
        sel = self.p.calendar_selection
        if sel.by == "customer_region":
            return {r.calendar for r in sel.regions}
        return {sel.calendar} if sel.calendar else set()

    def describe_selectable(self) -> str:
        return ", ".join(sorted(self.selectable())) or "none"

    def coverage(self) -> None:
        for tier in self.p.tiers:
            cap = self.cap_for(tier)
            for sev in self.sev_ids:
                if cap is not None and self.p.rank(sev) < self.p.rank(cap.max_severity):
                    continue
                if self.p.explicit_not_entitled(tier, sev):
                    continue
                if Clock.first_response not in self.p.cell_targets(tier, sev):
                    self.add(
                        f"targets.{tier}.{sev}",
                        "no first_response target: give one, 'unset' (configured elsewhere) "
                        "or not_entitled = '<reason>'",
                    )

    def warning(self, path: str, text: str, *, business: bool = True) -> None:
        try:
            _, before = parse_warning(text)
        except ValueError as exc:
            self.add(path, str(exc))
            return
        if before is not None and not business and parse_duration(before).business:
            self.add(path, f"{text!r}: business time before a 24x7 target")

    def duration(self, path: str, text: str, *, business_ok: bool) -> Duration | None:
        try:
            parsed = parse_duration(text)
        except DurationError as exc:
            self.add(path, str(exc))
            return None
        if parsed.business and not business_ok:
            self.add(path, f"{text!r}: must be plain (24x7) time, not business time")
            return None
        return parsed
