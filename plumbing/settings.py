"""Every setting ticketclock reads, from the environment only (12-factor; compose and `make run`).

One place, so the compose file, the README and the code cannot drift: a test checks that every
TICKETCLOCK_* name the compose file sets is one of `ENV_NAMES`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

SCOPES = ("tickets:create", "tickets:act", "tickets:read")


class SettingsError(ValueError):
    """A setting with a bad value; the message names the variable."""


@dataclass(frozen=True)
class ApiToken:
    name: str
    token: str = field(repr=False)  # never printed, never logged
    scopes: frozenset[str]


@dataclass(frozen=True)
class Settings:
    # Temporal connection (dev server locally; a real cluster or Temporal Cloud in production).
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "ticketclock"
    temporal_tls: bool = False
    temporal_tls_cert: str | None = None
    temporal_tls_key: str | None = None
    temporal_tls_ca: str | None = None
    temporal_api_key: str | None = field(default=None, repr=False)
    # Dev stack (`make run`).
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    temporal_port: int = 7233
    ui_port: int = 8233
    data_dir: str = ".data"
    dev_token: str | None = field(default=None, repr=False)
    # API auth.
    api_tokens: tuple[ApiToken, ...] = ()
    # API input bounds and rate limits (docs/api.md). `opened_at` may lie at most
    # `max_ticket_age` in the past (helpdesk backfills) and `max_clock_skew` in the future.
    max_ticket_age: timedelta = timedelta(days=730)
    max_clock_skew: timedelta = timedelta(minutes=5)
    # Requests per minute per token (0: no limit), refilled continuously; `rate_burst` at once.
    rate_limit: int = 6000
    rate_burst: int = 600
    # Notifications (worker only).
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    slack_webhook_url: str | None = field(default=None, repr=False)  # the URL is the secret
    slack_escalation_webhook_url: str | None = field(default=None, repr=False)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    email_from: str = "ticketclock@localhost"
    email_assignee_to: tuple[str, ...] = ()
    email_escalation_to: tuple[str, ...] = ()
    email_oncall_to: tuple[str, ...] = ()
    notify_timeout_s: float = 10.0
    # Helpdesk integrations (docs/integrations.md): inbound webhooks (API) and write-back (worker).
    zendesk_webhook_secret: str | None = field(default=None, repr=False)
    zendesk_mapping: str | None = None
    jira_webhook_secret: str | None = field(default=None, repr=False)
    jira_mapping: str | None = None
    zendesk_url: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: str | None = field(default=None, repr=False)
    jira_url: str | None = None
    jira_email: str | None = None
    jira_api_token: str | None = field(default=None, repr=False)
    jira_projects: tuple[str, ...] = ()
    # Worker failover (several workers on one task queue; docs/benchmarks.md, `drills.failover`).
    # A workflow task for a ticket a worker has cached waits on that worker's own (sticky) queue
    # this long before any worker may take it: after a `kill -9` every timer of its tickets is
    # that late (SDK default 10 s: breaches 10 s late). 1 s keeps breach lateness p99 under 3 s
    # (2 s left too little margin on busy shared cores); the price is a replay of the ticket's
    # history on another worker when a live worker has not polled its sticky queue for 1 s (all
    # its task slots busy), which the drill's histories did not show on live workers.
    worker_sticky_timeout_s: float = 1.0
    # On SIGTERM, in-flight activities (a webhook call) get this long to finish; the worker tells
    # the server it leaves, so its sticky tickets move to the others at once. Keep it under the
    # orchestrator's kill grace (compose: stop_grace_period 30s).
    worker_shutdown_grace_s: float = 15.0
    # Catalogue and observability.
    policy_dirs: tuple[str, ...] = ()
    metrics_port: int | None = None
    # Payload encryption (plumbing/codec.py): ((key id, 32-byte key), ...), current first.
    codec_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    # The board's links to each ticket's Temporal UI page; None: http://127.0.0.1:<ui_port>.
    temporal_ui_url: str | None = None
    # Worker: print one line per warning, breach, reminder and auto-close (make run turns it on).
    notify_console: bool = False
    # CLI for people.
    api_url: str | None = None
    cli_token: str | None = field(default=None, repr=False)


# env name -> (Settings field, parser name)
_ENV: dict[str, tuple[str, str]] = {
    "TICKETCLOCK_TEMPORAL_ADDRESS": ("temporal_address", "str"),
    "TICKETCLOCK_TEMPORAL_NAMESPACE": ("temporal_namespace", "str"),
    "TICKETCLOCK_TASK_QUEUE": ("task_queue", "str"),
    "TICKETCLOCK_TEMPORAL_TLS": ("temporal_tls", "bool"),
    "TICKETCLOCK_TEMPORAL_TLS_CERT": ("temporal_tls_cert", "str"),
    "TICKETCLOCK_TEMPORAL_TLS_KEY": ("temporal_tls_key", "str"),
    "TICKETCLOCK_TEMPORAL_TLS_CA": ("temporal_tls_ca", "str"),
    "TICKETCLOCK_TEMPORAL_API_KEY": ("temporal_api_key", "str"),
    "TICKETCLOCK_API_HOST": ("api_host", "str"),
    "TICKETCLOCK_API_PORT": ("api_port", "port"),
    "TICKETCLOCK_TEMPORAL_PORT": ("temporal_port", "port"),
    "TICKETCLOCK_UI_PORT": ("ui_port", "port"),
    "TICKETCLOCK_DATA_DIR": ("data_dir", "str"),
    "TICKETCLOCK_DEV_TOKEN": ("dev_token", "str"),
    "TICKETCLOCK_API_TOKENS": ("api_tokens", "tokens"),
    "TICKETCLOCK_MAX_TICKET_AGE": ("max_ticket_age", "duration"),
    "TICKETCLOCK_MAX_CLOCK_SKEW": ("max_clock_skew", "duration"),
    "TICKETCLOCK_RATE_LIMIT": ("rate_limit", "count"),
    "TICKETCLOCK_RATE_BURST": ("rate_burst", "count"),
    "TICKETCLOCK_WEBHOOK_URL": ("webhook_url", "str"),
    "TICKETCLOCK_WEBHOOK_SECRET": ("webhook_secret", "str"),
    "TICKETCLOCK_SLACK_WEBHOOK_URL": ("slack_webhook_url", "str"),
    "TICKETCLOCK_SLACK_ESCALATION_WEBHOOK_URL": ("slack_escalation_webhook_url", "str"),
    "TICKETCLOCK_SMTP_HOST": ("smtp_host", "str"),
    "TICKETCLOCK_SMTP_PORT": ("smtp_port", "port"),
    "TICKETCLOCK_SMTP_USER": ("smtp_user", "str"),
    "TICKETCLOCK_SMTP_PASSWORD": ("smtp_password", "str"),
    "TICKETCLOCK_SMTP_STARTTLS": ("smtp_starttls", "bool"),
    "TICKETCLOCK_EMAIL_FROM": ("email_from", "str"),
    "TICKETCLOCK_EMAIL_ASSIGNEE_TO": ("email_assignee_to", "list"),
    "TICKETCLOCK_EMAIL_ESCALATION_TO": ("email_escalation_to", "list"),
    "TICKETCLOCK_EMAIL_ONCALL_TO": ("email_oncall_to", "list"),
    "TICKETCLOCK_NOTIFY_TIMEOUT_S": ("notify_timeout_s", "float"),
    "TICKETCLOCK_ZENDESK_WEBHOOK_SECRET": ("zendesk_webhook_secret", "str"),
    "TICKETCLOCK_ZENDESK_MAPPING": ("zendesk_mapping", "str"),
    "TICKETCLOCK_JIRA_WEBHOOK_SECRET": ("jira_webhook_secret", "str"),
    "TICKETCLOCK_JIRA_MAPPING": ("jira_mapping", "str"),
    "TICKETCLOCK_ZENDESK_URL": ("zendesk_url", "str"),
    "TICKETCLOCK_ZENDESK_EMAIL": ("zendesk_email", "str"),
    "TICKETCLOCK_ZENDESK_API_TOKEN": ("zendesk_api_token", "str"),
    "TICKETCLOCK_JIRA_URL": ("jira_url", "str"),
    "TICKETCLOCK_JIRA_EMAIL": ("jira_email", "str"),
    "TICKETCLOCK_JIRA_API_TOKEN": ("jira_api_token", "str"),
    "TICKETCLOCK_JIRA_PROJECTS": ("jira_projects", "list"),
    "TICKETCLOCK_WORKER_STICKY_TIMEOUT_S": ("worker_sticky_timeout_s", "seconds"),
    "TICKETCLOCK_WORKER_SHUTDOWN_GRACE_S": ("worker_shutdown_grace_s", "seconds"),
    "TICKETCLOCK_POLICY_DIRS": ("policy_dirs", "paths"),
    "TICKETCLOCK_METRICS_PORT": ("metrics_port", "port"),
    "TICKETCLOCK_CODEC_KEYS": ("codec_keys", "codec_keys"),
    "TICKETCLOCK_API_URL": ("api_url", "str"),
    "TICKETCLOCK_TEMPORAL_UI_URL": ("temporal_ui_url", "str"),
    "TICKETCLOCK_NOTIFY_CONSOLE": ("notify_console", "bool"),
    "TICKETCLOCK_TOKEN": ("cli_token", "str"),
}
ENV_NAMES = frozenset(_ENV)


def _parse_tokens(name: str, raw: str) -> tuple[ApiToken, ...]:
    """`[{"name": "zendesk", "token": "...", "scopes": ["tickets:create"]}, ...]` as JSON."""
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{name}: not JSON ({exc.msg})") from None
    if not isinstance(items, list):
        raise SettingsError(f"{name}: expected a JSON list of {{name, token, scopes}}")
    tokens = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("token"), str):
            raise SettingsError(f"{name}[{i}]: expected {{name, token, scopes}}")
        if len(item["token"]) < 16:
            raise SettingsError(f"{name}[{i}].token: at least 16 characters")
        scopes = item.get("scopes", [])
        bad = [s for s in scopes if s not in SCOPES]
        if bad or not scopes:
            raise SettingsError(f"{name}[{i}].scopes: {bad or scopes} not in {list(SCOPES)}")
        tokens.append(
            ApiToken(str(item.get("name", f"token{i}")), item["token"], frozenset(scopes))
        )
    return tuple(tokens)


CODEC_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _parse_codec_keys(name: str, raw: str) -> tuple[tuple[str, bytes], ...]:
    """`id:key,id:key,...`: each key 32 bytes in standard base64; the first one is current."""
    keys: list[tuple[str, bytes]] = []
    for i, item in enumerate(part.strip() for part in raw.split(",")):
        key_id, sep, encoded = item.partition(":")
        key_id = key_id.strip()
        if not sep or not CODEC_KEY_ID.fullmatch(key_id):
            raise SettingsError(
                f"{name}[{i}]: expected id:key (id of 1-64 characters A-Z a-z 0-9 . _ -)"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise SettingsError(f"{name}[{i}] ({key_id}): the key is not standard base64") from None
        if len(key) != 32:
            raise SettingsError(
                f"{name}[{i}] ({key_id}): the key is {len(key)} bytes, AES-256 needs 32"
            )
        if any(key_id == known for known, _ in keys):
            raise SettingsError(f"{name}[{i}]: key id {key_id!r} is listed twice")
        keys.append((key_id, key))
    return tuple(keys)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)?")
_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, None: 1.0}


def _parse_duration(name: str, raw: str) -> timedelta:
    """`730d`, `12h`, `5m`, `90s` or a bare number of seconds."""
    match = _DURATION.fullmatch(raw.strip().lower())
    if match is None:
        raise SettingsError(f"{name}: {raw!r} is not a duration (e.g. 730d, 12h, 5m, 90s)")
    seconds = float(match[1]) * _UNIT_S[match[2]]
    if seconds > timedelta.max.total_seconds() / 2:
        raise SettingsError(f"{name}: {raw!r} is too long")
    return timedelta(seconds=seconds)


def _parse(name: str, kind: str, raw: str) -> object:
    if kind == "str":
        return raw
    if kind == "bool":
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{name}: {raw!r} is not a boolean (true/false)")
    if kind in ("port", "float"):
        try:
            value = float(raw) if kind == "float" else int(raw)
        except ValueError:
            raise SettingsError(f"{name}: {raw!r} is not a number") from None
        if kind == "port" and not 0 < value < 65536:
            raise SettingsError(f"{name}: {raw!r} is not a port")
        return value
    if kind == "count":
        try:
            count = int(raw)
        except ValueError:
            raise SettingsError(f"{name}: {raw!r} is not a whole number") from None
        if count < 0:
            raise SettingsError(f"{name}: {raw!r} is negative")
        return count
    if kind == "duration":
        return _parse_duration(name, raw)
    if kind == "seconds":  # a positive, finite number of seconds
        try:
            seconds = float(raw)
        except ValueError:
            raise SettingsError(f"{name}: {raw!r} is not a number of seconds") from None
        if not 0 < seconds < 86400:
            raise SettingsError(f"{name}: {raw!r} must be more than 0 and under a day")
        return seconds
    if kind == "list":
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if kind == "paths":
        return tuple(part for part in raw.split(os.pathsep) if part)
    if kind == "tokens":
        return _parse_tokens(name, raw)
    if kind == "codec_keys":
        return _parse_codec_keys(name, raw)
    raise AssertionError(kind)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name, (attr, kind) in _ENV.items():
        raw = env.get(name)
        if raw is not None and (raw != "" or kind == "bool"):
            values[attr] = _parse(name, kind, raw)
    if "temporal_address" not in values and "temporal_port" in values:
        values["temporal_address"] = f"localhost:{values['temporal_port']}"
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.dev_token:
        dev = ApiToken("dev", settings.dev_token, frozenset(SCOPES))
        settings = Settings(**{**settings.__dict__, "api_tokens": (*settings.api_tokens, dev)})
    return settings


def data_path(settings: Settings) -> Path:
    return Path(settings.data_dir).resolve()
