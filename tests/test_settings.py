"""`load_settings`: every variable parses, every error names its variable, no secret is printed."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment

from activities.notify import Notifier
from plumbing.processes import free_port
from plumbing.settings import (
    ENV_NAMES,
    SCOPES,
    ApiToken,
    Settings,
    SettingsError,
    data_path,
    load_settings,
)
from plumbing.temporal_client import TemporalConnectError, connect, tls_config
from ticketclock.worker import build_worker

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "tok-" + "x" * 28


def tokens_json(*items: dict[str, object]) -> str:
    return json.dumps(list(items))


def test_defaults_from_an_empty_environment() -> None:
    s = load_settings({})
    assert s == Settings()
    assert s.temporal_address == "localhost:7233"
    assert s.temporal_namespace == "default"
    assert s.task_queue == "ticketclock"
    assert (s.api_host, s.api_port, s.temporal_port, s.ui_port) == ("127.0.0.1", 8000, 7233, 8233)
    assert s.data_dir == ".data"
    assert s.api_tokens == ()
    assert s.metrics_port is None
    assert s.temporal_tls is False


def test_every_setting_has_exactly_one_variable() -> None:
    fields = {f.name for f in dataclasses.fields(Settings)}
    covered = {}
    for name in ENV_NAMES:
        # Set each variable alone to a value of its kind and see which field moves.
        for value in ("on", "4321", "a,b", "x" * 20):
            try:
                s = load_settings({name: value})
            except SettingsError:
                continue
            moved = [f for f in fields if getattr(s, f) != getattr(Settings(), f)]
            if moved:
                covered[name] = moved
                break
    # API tokens need JSON, codec keys `id:<base64 of 32 bytes>`
    assert sorted(ENV_NAMES - set(covered)) == ["TICKETCLOCK_API_TOKENS", "TICKETCLOCK_CODEC_KEYS"]
    assert all(name.startswith("TICKETCLOCK_") for name in ENV_NAMES)


def test_each_kind_parses() -> None:
    env = {
        "TICKETCLOCK_TEMPORAL_ADDRESS": "ns.acct.tmprl.cloud:7233",
        "TICKETCLOCK_TEMPORAL_NAMESPACE": "ns.acct",
        "TICKETCLOCK_TEMPORAL_TLS": "yes",
        "TICKETCLOCK_API_PORT": "9000",
        "TICKETCLOCK_NOTIFY_TIMEOUT_S": "2.5",
        "TICKETCLOCK_EMAIL_ONCALL_TO": " a@example.com, ,b@example.com ",
        "TICKETCLOCK_POLICY_DIRS": os.pathsep.join(["/etc/a", "", "/etc/b"]),
        "TICKETCLOCK_METRICS_PORT": "9464",
        "TICKETCLOCK_SMTP_STARTTLS": "TRUE",
    }
    s = load_settings(env)
    assert s.temporal_address == "ns.acct.tmprl.cloud:7233"
    assert s.temporal_namespace == "ns.acct"
    assert s.temporal_tls is True
    assert s.api_port == 9000
    assert s.notify_timeout_s == 2.5
    assert s.email_oncall_to == ("a@example.com", "b@example.com")
    assert s.policy_dirs == ("/etc/a", "/etc/b")
    assert s.metrics_port == 9464
    assert s.smtp_starttls is True


@pytest.mark.parametrize("raw", ["1", "true", "Yes", "ON"])
def test_true_booleans(raw: str) -> None:
    assert load_settings({"TICKETCLOCK_TEMPORAL_TLS": raw}).temporal_tls is True


@pytest.mark.parametrize("raw", ["0", "false", "No", "off", ""])
def test_false_booleans(raw: str) -> None:
    assert load_settings({"TICKETCLOCK_TEMPORAL_TLS": raw}).temporal_tls is False


def test_an_empty_value_means_unset() -> None:
    s = load_settings({"TICKETCLOCK_API_PORT": "", "TICKETCLOCK_TEMPORAL_ADDRESS": ""})
    assert s.api_port == 8000
    assert s.temporal_address == "localhost:7233"


def test_temporal_port_moves_the_default_address_only() -> None:
    assert load_settings({"TICKETCLOCK_TEMPORAL_PORT": "17233"}).temporal_address == (
        "localhost:17233"
    )
    both = {"TICKETCLOCK_TEMPORAL_PORT": "17233", "TICKETCLOCK_TEMPORAL_ADDRESS": "t:7233"}
    assert load_settings(both).temporal_address == "t:7233"


def test_api_tokens_parse() -> None:
    raw = tokens_json(
        {"name": "zendesk", "token": TOKEN, "scopes": ["tickets:create", "tickets:act"]},
        {"token": TOKEN + "2", "scopes": ["tickets:read"]},
    )
    first, second = load_settings({"TICKETCLOCK_API_TOKENS": raw}).api_tokens
    assert first == ApiToken("zendesk", TOKEN, frozenset({"tickets:create", "tickets:act"}))
    assert second.name == "token1"
    assert second.scopes == frozenset({"tickets:read"})


def test_dev_token_is_an_all_scopes_token() -> None:
    raw = tokens_json({"name": "ci", "token": TOKEN, "scopes": ["tickets:read"]})
    s = load_settings({"TICKETCLOCK_API_TOKENS": raw, "TICKETCLOCK_DEV_TOKEN": "dev-" + "y" * 20})
    assert [t.name for t in s.api_tokens] == ["ci", "dev"]
    assert s.api_tokens[1].scopes == frozenset(SCOPES)
    assert s.dev_token == "dev-" + "y" * 20


@pytest.mark.parametrize(
    ("name", "raw", "says"),
    [
        ("TICKETCLOCK_TEMPORAL_TLS", "maybe", "not a boolean"),
        ("TICKETCLOCK_SMTP_STARTTLS", "2", "not a boolean"),
        ("TICKETCLOCK_API_PORT", "eighty", "not a number"),
        ("TICKETCLOCK_API_PORT", "0", "not a port"),
        ("TICKETCLOCK_UI_PORT", "65536", "not a port"),
        ("TICKETCLOCK_METRICS_PORT", "-1", "not a port"),
        ("TICKETCLOCK_TEMPORAL_PORT", "7233.5", "not a number"),
        ("TICKETCLOCK_NOTIFY_TIMEOUT_S", "soon", "not a number"),
        ("TICKETCLOCK_API_TOKENS", "{not json", "not JSON"),
        ("TICKETCLOCK_API_TOKENS", '{"token": "x"}', "JSON list"),
    ],
)
def test_errors_name_the_variable(name: str, raw: str, says: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({name: raw})
    assert str(err.value).startswith(name)
    assert says in str(err.value)


@pytest.mark.parametrize(
    ("item", "where"),
    [
        ("just-a-string", "TICKETCLOCK_API_TOKENS[0]"),
        ({"name": "no-token", "scopes": ["tickets:read"]}, "TICKETCLOCK_API_TOKENS[0]"),
        ({"token": "short", "scopes": ["tickets:read"]}, "TICKETCLOCK_API_TOKENS[0].token"),
        ({"token": TOKEN, "scopes": ["tickets:delete"]}, "TICKETCLOCK_API_TOKENS[0].scopes"),
        ({"token": TOKEN, "scopes": []}, "TICKETCLOCK_API_TOKENS[0].scopes"),
        ({"token": TOKEN}, "TICKETCLOCK_API_TOKENS[0].scopes"),
    ],
)
def test_token_errors_name_the_item(item: object, where: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"TICKETCLOCK_API_TOKENS": json.dumps([item])})
    assert str(err.value).startswith(where)
    assert TOKEN not in str(err.value)


SECRETS = {
    "TICKETCLOCK_TEMPORAL_API_KEY": "secret-api-key-0123456789",
    "TICKETCLOCK_DEV_TOKEN": "secret-dev-token-0123456789",
    "TICKETCLOCK_WEBHOOK_SECRET": "secret-webhook-hmac-0123456789",
    "TICKETCLOCK_SMTP_PASSWORD": "secret-smtp-password-0123456789",
    "TICKETCLOCK_TOKEN": "secret-cli-token-0123456789",
    "TICKETCLOCK_API_TOKENS": tokens_json(
        {"name": "zendesk", "token": "secret-zendesk-token-0123456789", "scopes": ["tickets:read"]}
    ),
}


def test_secrets_never_in_repr() -> None:
    s = load_settings(SECRETS)
    shown = repr(s) + str(s) + "".join(repr(t) for t in s.api_tokens)
    assert "secret-" not in shown
    assert "zendesk" in shown  # the token's name is fine to show


def test_slack_webhook_urls_never_in_repr() -> None:
    """A Slack incoming-webhook URL is itself the credential (activities.notify redacts it from
    httpx's logs for that reason), so printing the settings must not show it either."""
    url = "https://hooks.slack.com/services/T000/B000/secretslackpath0123456789"
    s = load_settings(
        {"TICKETCLOCK_SLACK_WEBHOOK_URL": url, "TICKETCLOCK_SLACK_ESCALATION_WEBHOOK_URL": url}
    )
    assert s.slack_webhook_url == url
    assert "secretslackpath" not in repr(s)


def test_data_path_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert data_path(load_settings({})) == tmp_path / ".data"
    assert data_path(load_settings({"TICKETCLOCK_DATA_DIR": "/srv/tc"})) == Path("/srv/tc")


def test_readme_documents_every_variable() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert sorted(name for name in ENV_NAMES if f"`{name}`" not in readme) == []


# -- how the settings reach Temporal (plumbing.temporal_client) --------------------------------
def test_plaintext_unless_told() -> None:
    assert tls_config(load_settings({})) is None


def test_tls_with_system_roots_or_for_an_api_key() -> None:
    assert tls_config(load_settings({"TICKETCLOCK_TEMPORAL_TLS": "true"})) is True
    assert tls_config(load_settings({"TICKETCLOCK_TEMPORAL_API_KEY": "k" * 20})) is True


def test_mtls_files_become_a_tls_config(tmp_path: Path) -> None:
    for name in ("cert.pem", "key.pem", "ca.pem"):
        (tmp_path / name).write_bytes(name.encode())
    tls = tls_config(
        load_settings(
            {
                "TICKETCLOCK_TEMPORAL_TLS_CERT": str(tmp_path / "cert.pem"),
                "TICKETCLOCK_TEMPORAL_TLS_KEY": str(tmp_path / "key.pem"),
                "TICKETCLOCK_TEMPORAL_TLS_CA": str(tmp_path / "ca.pem"),
            }
        )
    )
    assert isinstance(tls, TLSConfig)
    assert (tls.client_cert, tls.client_private_key, tls.server_root_ca_cert) == (
        b"cert.pem",
        b"key.pem",
        b"ca.pem",
    )


def test_a_private_ca_alone_is_server_side_tls(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(b"ca")
    tls = tls_config(load_settings({"TICKETCLOCK_TEMPORAL_TLS_CA": str(tmp_path / "ca.pem")}))
    assert isinstance(tls, TLSConfig)
    assert tls.client_cert is None and tls.server_root_ca_cert == b"ca"


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ("TICKETCLOCK_TEMPORAL_TLS_CERT", "TICKETCLOCK_TEMPORAL_TLS_KEY"),
        ("TICKETCLOCK_TEMPORAL_TLS_KEY", "TICKETCLOCK_TEMPORAL_TLS_CERT"),
    ],
)
def test_half_an_mtls_pair_names_the_missing_variable(given: str, missing: str) -> None:
    with pytest.raises(SettingsError) as err:
        tls_config(load_settings({given: "/some/file.pem"}))
    assert str(err.value).startswith(missing)


def test_an_unreadable_tls_file_names_its_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as err:
        tls_config(load_settings({"TICKETCLOCK_TEMPORAL_TLS_CA": str(tmp_path / "nope.pem")}))
    assert str(err.value).startswith("TICKETCLOCK_TEMPORAL_TLS_CA: cannot read")


async def test_an_unreachable_server_says_where_and_what_to_check() -> None:
    port = free_port()  # nobody listens on it
    settings = load_settings(
        {
            "TICKETCLOCK_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
            "TICKETCLOCK_TEMPORAL_API_KEY": "secret-api-key-0123456789",
        }
    )
    with pytest.raises(TemporalConnectError) as err:
        await connect(settings)
    message = str(err.value)
    assert f"127.0.0.1:{port}" in message and "namespace default" in message
    assert "TICKETCLOCK_TEMPORAL_ADDRESS" in message
    assert "TICKETCLOCK_TEMPORAL_API_KEY" in message
    assert "secret-api-key" not in message


def test_api_bounds_and_rate_limit_settings() -> None:
    """Issue 12: the opened_at window and the per-token rate limit are settings."""
    s = load_settings({})
    assert s.max_ticket_age == timedelta(days=730)  # two years: helpdesk backfills fit
    assert s.max_clock_skew == timedelta(minutes=5)
    assert (s.rate_limit, s.rate_burst) == (6000, 600)
    s = load_settings(
        {
            "TICKETCLOCK_MAX_TICKET_AGE": "90d",
            "TICKETCLOCK_MAX_CLOCK_SKEW": "30s",
            "TICKETCLOCK_RATE_LIMIT": "0",
            "TICKETCLOCK_RATE_BURST": "5",
        }
    )
    assert (s.max_ticket_age, s.max_clock_skew) == (timedelta(days=90), timedelta(seconds=30))
    assert (s.rate_limit, s.rate_burst) == (0, 5)
    assert load_settings({"TICKETCLOCK_MAX_CLOCK_SKEW": "2m"}).max_clock_skew == timedelta(
        minutes=2
    )
    assert load_settings({"TICKETCLOCK_MAX_TICKET_AGE": "36h"}).max_ticket_age == timedelta(
        hours=36
    )
    for name, raw in (
        ("TICKETCLOCK_MAX_TICKET_AGE", "two years"),
        ("TICKETCLOCK_MAX_TICKET_AGE", "9" * 30),
        ("TICKETCLOCK_RATE_LIMIT", "-1"),
        ("TICKETCLOCK_RATE_BURST", "lots"),
    ):
        with pytest.raises(SettingsError, match=name):
            load_settings({name: raw})


# -- worker failover (issue 12; `python -m drills.failover` measures them) ------------------------
FAILOVER_SECONDS = {
    "TICKETCLOCK_WORKER_STICKY_TIMEOUT_S": "worker_sticky_timeout_s",
    "TICKETCLOCK_WORKER_SHUTDOWN_GRACE_S": "worker_shutdown_grace_s",
}


def test_failover_defaults() -> None:
    s = load_settings({})
    # The SDK's 10 s sticky timeout made every timer of a killed worker's tickets 10 s late on the
    # surviving worker; the drill's bar for breaches is p99 <= 3 s.
    assert 0 < s.worker_sticky_timeout_s < 3.0
    # A stopping worker must finish (or give up) before compose sends SIGKILL.
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    grace = compose["services"]["worker"]["stop_grace_period"]
    assert grace.endswith("s")
    assert s.worker_shutdown_grace_s < float(grace[:-1])


@given(st.floats(min_value=0.001, max_value=86_399, allow_nan=False, allow_infinity=False))
def test_failover_seconds_parse(value: float) -> None:
    for name, attr in FAILOVER_SECONDS.items():
        assert getattr(load_settings({name: repr(value)}), attr) == value


@pytest.mark.parametrize("raw", ["0", "-1", "soon", "nan", "inf", "86400", "1e9"])
def test_failover_seconds_refused_naming_the_variable(raw: str) -> None:
    for name in FAILOVER_SECONDS:
        with pytest.raises(SettingsError) as err:
            load_settings({name: raw})
        assert str(err.value).startswith(name)


async def test_the_worker_takes_its_failover_timeouts_from_settings(
    dev_env: WorkflowEnvironment,
) -> None:
    env = {
        "TICKETCLOCK_WORKER_STICKY_TIMEOUT_S": "1.5",
        "TICKETCLOCK_WORKER_SHUTDOWN_GRACE_S": "4",
        "TICKETCLOCK_TASK_QUEUE": "failover-settings",  # not the session's other workers' queue
    }
    settings = load_settings(env)
    notifier = Notifier(settings)
    try:
        async with build_worker(dev_env.client, settings, notifier=notifier) as worker:
            config = worker.config()
    finally:
        await notifier.aclose()
    assert config["sticky_queue_schedule_to_start_timeout"] == timedelta(seconds=1.5)
    assert config["graceful_shutdown_timeout"] == timedelta(seconds=4)
