"""Load the policy catalogue: the built-in files, then operators' directories, with overrides.

The built-in catalogue is `policies/catalog/*.toml`, one file per vendor. Directories named in
`TICKETCLOCK_POLICY_DIRS` (colon-separated) load after it, in order; a file there may add a policy,
`extends = "<id>"` one under a new id, or set `override = true` to change a loaded policy in
place (how Kong's contracted response times get in: its seed omits them). Merging is by table:
nested tables merge key by key, anything else (strings, arrays) replaces. Every error names the
file and the field.

Versions side by side. A file with `new_version = true` adds another version of a loaded policy
(merged over its latest version, like an override) instead of replacing it: it must carry a
`version` no other version of that id has and an `effective_from` date. A new ticket gets the
latest version already in effect when it opens (`effective_from` on or before its UTC opening
day; before every version's day, the earliest); `get(id)` is the version in effect today,
`get(id, version=...)` any version by its `version` string (how a migration names its target).
An `override = true` file changes the latest loaded version in place.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from policies.calendar import BusinessCalendar, CalendarSpecError
from policies.customer import Customer
from policies.errors import PolicyError
from policies.model import Policy, policy_problems
from policies.resolve import calendar_spec, resolve_policy
from policies.snapshot import ResolvedSla

ENV_DIRS = "TICKETCLOCK_POLICY_DIRS"
BUILTIN_DIR = Path(__file__).with_name("catalog")
_MERGE_KEYS = ("override", "extends", "new_version")


def _effective_key(policy: Policy) -> date:
    return policy.effective_from or date.min


class Catalog:
    """The loaded policies by id (each with every version side by side), with their files."""

    def __init__(
        self,
        policies: dict[str, Policy],
        files: dict[str, tuple[str, ...]],
        versions: dict[str, list[tuple[Policy, tuple[str, ...]]]] | None = None,
    ) -> None:
        self._files = dict(files)
        # Per id: every version, oldest effective_from first (load order breaks ties).
        self._versions: dict[str, list[tuple[Policy, tuple[str, ...]]]] = {}
        for policy_id, policy in policies.items():
            chain = (versions or {}).get(policy_id) or [(policy, files[policy_id])]
            self._versions[policy_id] = sorted(chain, key=lambda pf: _effective_key(pf[0]))

    def ids(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, policy_id: str) -> list[Policy]:
        """Every version of `policy_id`, oldest `effective_from` first."""
        return [p for p, _ in self._chain(policy_id)]

    def _chain(self, policy_id: str) -> list[tuple[Policy, tuple[str, ...]]]:
        try:
            return self._versions[policy_id]
        except KeyError:
            raise PolicyError(
                "policy", f"unknown policy {policy_id!r}; known: {', '.join(self.ids())}"
            ) from None

    def _pick(
        self, policy_id: str, version: str | None, at: datetime | None
    ) -> tuple[Policy, tuple[str, ...]]:
        chain = self._chain(policy_id)
        if version is not None:
            for policy, files in chain:
                if policy.version == version:
                    return policy, files
            known = ", ".join(repr(p.version) for p, _ in chain)
            raise PolicyError(
                "version", f"policy {policy_id!r} has no version {version!r}; known: {known}"
            )
        day = (at or datetime.now(UTC)).astimezone(UTC).date()
        in_effect = [pf for pf in chain if _effective_key(pf[0]) <= day]
        return in_effect[-1] if in_effect else chain[0]

    def get(
        self, policy_id: str, *, version: str | None = None, at: datetime | None = None
    ) -> Policy:
        """The version in effect at `at` (default: now), or the one named by `version`."""
        return self._pick(policy_id, version, at)[0]

    def files(self, policy_id: str, *, version: str | None = None) -> tuple[str, ...]:
        """The catalogue files that made this policy, base first, then its overrides."""
        return self._pick(policy_id, version, None)[1]

    def resolve(
        self,
        policy_id: str,
        tier: str,
        severity: str,
        customer: Customer | None = None,
        channel: str | None = None,
        product: str | None = None,
        opened_at: datetime | None = None,
        ticket_type: str | None = None,
        version: str | None = None,
    ) -> ResolvedSla:
        """Resolve the version in effect at `opened_at` (default now), or `version`."""
        return resolve_policy(
            self.get(policy_id, version=version, at=opened_at),
            tier,
            severity,
            customer,
            channel=channel,
            product=product,
            opened_at=opened_at,
            ticket_type=ticket_type,
        )


def resolve(
    policy_id: str,
    tier: str,
    severity: str,
    customer: Customer | None = None,
    channel: str | None = None,
    product: str | None = None,
    opened_at: datetime | None = None,
    *,
    catalog: Catalog | None = None,
    ticket_type: str | None = None,
) -> ResolvedSla:
    """Resolve against `catalog` (default: the cached built-in + $TICKETCLOCK_POLICY_DIRS one)."""
    return (catalog or load_catalog()).resolve(
        policy_id,
        tier,
        severity,
        customer,
        channel=channel,
        product=product,
        opened_at=opened_at,
        ticket_type=ticket_type,
    )


def env_dirs() -> tuple[str, ...]:
    return tuple(d for d in os.environ.get(ENV_DIRS, "").split(os.pathsep) if d.strip())


def load_catalog(dirs: Sequence[str | Path] | None = None) -> Catalog:
    """The built-in catalogue plus `dirs` (default: $TICKETCLOCK_POLICY_DIRS), cached per dirs."""
    chosen = env_dirs() if dirs is None else tuple(str(d) for d in dirs)
    return _load_cached(chosen)


@functools.lru_cache(maxsize=16)
def _load_cached(dirs: tuple[str, ...]) -> Catalog:
    loader = _Loader()
    loader.load_all(catalog_files(dirs))
    if loader.errors:
        first = loader.errors[0]
        more = f" (and {len(loader.errors) - 1} more)" if len(loader.errors) > 1 else ""
        raise PolicyError(first.field, first.message + more)
    return loader.catalog()


def clear_cache() -> None:
    """Forget loaded catalogues (tests, or after editing files in a long-running process)."""
    _load_cached.cache_clear()


def catalog_files(dirs: Iterable[str | Path] = ()) -> list[Path]:
    """Built-in files, then each directory's `*.toml` in name order."""
    files = sorted(BUILTIN_DIR.glob("*.toml"))
    for d in dirs:
        path = Path(d)
        if not path.is_dir():
            raise PolicyError(ENV_DIRS, f"{d!r} is not a directory")
        files += sorted(path.glob("*.toml"))
    return files


def check_files(
    paths: Iterable[str | Path], dirs: Sequence[str | Path] | None = None
) -> list[PolicyError]:
    """Every problem in `paths`, each loaded on top of the catalogue (so overrides can be checked).

    The catalogue itself (built-in + dirs) is checked first; with no paths, that is all.
    """
    chosen = env_dirs() if dirs is None else tuple(str(d) for d in dirs)
    loader = _Loader()
    base = catalog_files(chosen)
    loader.load_all(base)
    extra = [Path(p) for p in paths]
    for path in extra:
        if any(path.resolve() == b.resolve() for b in base):
            continue  # already checked as part of the catalogue
        loader.load_all([path])
    return loader.errors


def display_name(path: Path) -> str:
    """Built-in files by bare name ("kong.toml"), operators' files by the path given."""
    return path.name if path.parent.resolve() == BUILTIN_DIR.resolve() else str(path)


class _Loader:
    """Applies files one by one, collecting every error instead of stopping at the first."""

    def __init__(self) -> None:
        self.raw: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, Policy] = {}
        self.files: dict[str, tuple[str, ...]] = {}
        # Policies with `new_version` files: every version, in load order.
        self.versions: dict[str, list[tuple[Policy, tuple[str, ...]]]] = {}
        self.errors: list[PolicyError] = []

    def catalog(self) -> Catalog:
        return Catalog(self.policies, self.files, self.versions)

    def error(self, name: str, field: str, message: str) -> None:
        self.errors.append(PolicyError(f"{name}: {field}" if field else name, message))

    def load_all(self, paths: Iterable[Path]) -> None:
        for path in paths:
            self.load(path)

    def load(self, path: Path) -> None:
        name = display_name(path)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            self.error(name, "", f"cannot read: {exc.strerror or exc}")
            return
        except tomllib.TOMLDecodeError as exc:
            self.error(name, "", f"not valid TOML: {exc}")
            return
        policy_id = data.get("id")
        if not isinstance(policy_id, str):
            self.error(name, "id", "required (the policy's id, e.g. 'kong')")
            return
        merged, origin = self.merge(name, policy_id, data)
        if merged is None:
            return
        before = len(self.errors)
        policy = self.validate(name, merged)
        if policy is None or len(self.errors) > before:
            return
        files = (*origin, name)
        chain = self.versions.get(policy_id)
        if data.get("new_version") is True:
            if not self.check_new_version(name, policy_id, policy, data):
                return
            chain = self.versions.setdefault(
                policy_id, [(self.policies[policy_id], self.files[policy_id])]
            )
            chain.append((policy, files))
        elif chain is not None:
            chain[-1] = (policy, files)  # an override changes the latest version in place
        self.raw[policy_id] = merged
        self.policies[policy_id] = policy
        self.files[policy_id] = files

    def check_new_version(
        self, name: str, policy_id: str, policy: Policy, data: dict[str, Any]
    ) -> bool:
        known = [p for p, _ in self.versions.get(policy_id, [(self.policies[policy_id], ())])]
        if "version" not in data or any(p.version == policy.version for p in known):
            self.error(
                name,
                "version",
                f"a new version of {policy_id!r} needs a version string of its own "
                f"(taken: {', '.join(repr(p.version) for p in known)})",
            )
            return False
        if "effective_from" not in data or policy.effective_from is None:
            self.error(
                name, "effective_from", "required on a new version (the day it takes effect)"
            )
            return False
        return True

    def merge(
        self, name: str, policy_id: str, data: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
        override = data.get("override", False)
        extends = data.get("extends")
        new_version = data.get("new_version", False)
        own = {k: v for k, v in data.items() if k not in _MERGE_KEYS}
        if override is not False and override is not True:
            self.error(name, "override", "must be true or false")
        elif new_version is not False and new_version is not True:
            self.error(name, "new_version", "must be true or false")
        elif new_version and (override or extends is not None):
            self.error(name, "new_version", "use new_version alone, not with override or extends")
        elif new_version:
            if policy_id not in self.raw:
                self.error(name, "id", f"new version of unknown policy {policy_id!r}")
            else:
                return _deep_merge(self.raw[policy_id], own), self.files[policy_id]
        elif override and extends is not None:
            self.error(name, "extends", "use either override = true or extends, not both")
        elif override:
            if policy_id not in self.raw:
                self.error(name, "id", f"override of unknown policy {policy_id!r}")
            else:
                return _deep_merge(self.raw[policy_id], own), self.files[policy_id]
        elif extends is not None:
            if not isinstance(extends, str) or extends not in self.raw:
                self.error(name, "extends", f"unknown policy {extends!r}")
            elif policy_id in self.raw:
                self.error(name, "id", f"{policy_id!r} already exists; pick a new id to extend")
            else:
                return _deep_merge(self.raw[extends], own), self.files[extends]
        elif policy_id in self.raw:
            where = self.files[policy_id][-1]
            self.error(
                name, "id", f"{policy_id!r} is already defined in {where}; set override = true"
            )
        else:
            return own, ()
        return None, ()

    def validate(self, name: str, data: dict[str, Any]) -> Policy | None:
        try:
            policy = Policy.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                self.error(name, _loc(err["loc"]), err["msg"])
            return None
        problems = policy_problems(policy)
        for field, message in problems:
            self.error(name, field, message)
        if problems:
            return policy
        for cal_name, cal in policy.calendars.items():
            spec = calendar_spec(cal, cal.timezone or "UTC")
            try:
                BusinessCalendar.from_spec(spec)
            except CalendarSpecError as exc:
                field, _, message = str(exc).partition(": ")
                self.error(name, f"calendars.{cal_name}.{field}", message)
        return policy


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("TargetDef", "function-before[_target_shorthand(), nullable[TargetDef]]"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_candidate(text_or_data: str | dict[str, Any], name: str = "candidate") -> Policy:
    """A policy given as TOML text or a JSON object, validated like a catalogue file (standalone:
    no override or extends). Raises `PolicyError` naming the first bad field (and how many more)."""
    if isinstance(text_or_data, str):
        try:
            data: dict[str, Any] = tomllib.loads(text_or_data)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(name, f"not valid TOML: {exc}") from None
    else:
        data = dict(text_or_data)
    loader = _Loader()
    for key in _MERGE_KEYS:
        if key in data:
            loader.error(
                name, key, "a candidate is a whole policy (no override, extends, new_version)"
            )
    policy = loader.validate(name, data) if not loader.errors else None
    if loader.errors or policy is None:
        first = loader.errors[0]
        more = f" (and {len(loader.errors) - 1} more)" if len(loader.errors) > 1 else ""
        raise PolicyError(first.field, first.message + more)
    return policy
