"""docker-compose.yml stays in step with the code: setting names, search attributes, scaling,
health checks and start order (no Docker engine needed: the file is read as YAML)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.codec import router
from plumbing.settings import ENV_NAMES
from workflows.contract import SEARCH_ATTRIBUTES, search_attribute_cli_flags

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
OURS = ("worker", "api")


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def one_shot(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "no")) == "no" and "healthcheck" not in service


def test_every_ticketclock_variable_is_a_setting() -> None:
    used = {
        name for svc in SERVICES.values() for name in env_of(svc) if name.startswith("TICKETCLOCK")
    }
    interpolated = set(re.findall(r"\$\{(TICKETCLOCK_[A-Z0-9_]+)", COMPOSE_TEXT))
    assert used, "the ticketclock services set no TICKETCLOCK_* variables"
    assert sorted((used | interpolated) - ENV_NAMES) == []


def test_ticketclock_services_point_at_the_bundled_server() -> None:
    for name in OURS:
        env = env_of(SERVICES[name])
        assert env["TICKETCLOCK_TEMPORAL_ADDRESS"] == "temporal:7233", name
        assert env["TICKETCLOCK_TEMPORAL_NAMESPACE"] == "default", name
        assert env["TICKETCLOCK_TASK_QUEUE"] == "ticketclock", name
    assert env_of(SERVICES["api"])["TICKETCLOCK_API_HOST"] == "0.0.0.0"


def test_search_attributes_match_the_contract_exactly() -> None:
    service = SERVICES["search-attributes"]
    assert "temporalio/admin-tools" in service["image"]
    command = "\n".join(service["command"])
    assert "temporal operator search-attribute create" in command
    assert "$$SEARCH_ATTRIBUTES" in command  # each listed pair, one create per pair
    created = env_of(service)["SEARCH_ATTRIBUTES"].split()
    expected = search_attribute_cli_flags()[1::2]  # ["TicketPolicy=Keyword", ...]
    assert created == expected
    assert [pair.split("=")[0] for pair in created] == [k.name for k in SEARCH_ATTRIBUTES]


def test_search_attribute_types_are_the_contracts() -> None:
    kinds = {
        "KEYWORD": "Keyword",
        "BOOL": "Bool",
        "DATETIME": "Datetime",
        "KEYWORD_LIST": "KeywordList",
    }
    created = dict(
        p.split("=") for p in env_of(SERVICES["search-attributes"])["SEARCH_ATTRIBUTES"].split()
    )
    assert created == {k.name: kinds[k.indexed_value_type.name] for k in SEARCH_ATTRIBUTES}


def test_worker_is_scalable() -> None:
    worker = SERVICES["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker  # N replicas cannot share a host port
    assert worker["command"] == ["ticketclock", "worker"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck_or_is_one_shot(name: str) -> None:
    service = SERVICES[name]
    if one_shot(service):
        return
    check = service.get("healthcheck")
    assert check and check.get("test") and not check.get("disable"), name


def test_api_healthcheck_is_healthz() -> None:
    test = " ".join(SERVICES["api"]["healthcheck"]["test"])
    assert "/healthz" in test


@pytest.mark.parametrize("name", OURS)
def test_ticketclock_waits_for_a_healthy_server_and_its_search_attributes(name: str) -> None:
    depends = SERVICES[name]["depends_on"]
    assert depends["temporal"]["condition"] == "service_healthy"
    assert depends["search-attributes"]["condition"] == "service_completed_successfully"


def test_start_order() -> None:
    assert SERVICES["temporal"]["depends_on"]["postgresql"]["condition"] == "service_healthy"
    assert SERVICES["search-attributes"]["depends_on"]["temporal"]["condition"] == "service_healthy"
    assert SERVICES["temporal-ui"]["depends_on"]["temporal"]["condition"] == "service_healthy"


def test_images() -> None:
    assert SERVICES["postgresql"]["image"].startswith("postgres:16")
    assert SERVICES["temporal"]["image"].startswith("temporalio/auto-setup:")
    assert env_of(SERVICES["temporal"])["DB"] == "postgres12"
    assert SERVICES["temporal-ui"]["image"].startswith("temporalio/ui:")
    for name in OURS:
        assert SERVICES[name].get("build") == "."
    assert (ROOT / "Dockerfile").is_file()


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation of one value: `${VAR}`, `${VAR:-default}`, `${VAR:+replacement}`
    (nested), `$$` (the compose-spec interpolation chapter; no engine needed)."""
    out, i = "", 0
    while i < len(value):
        if value.startswith("$$", i):
            out, i = out + "$", i + 2
        elif value.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                depth += {"{": 1, "}": -1}.get(value[j], 0)
                j += 1
            body = value[i + 2 : j - 1]
            name = re.match(r"[A-Za-z_][A-Za-z0-9_]*", body)
            assert name, body
            rest, current = body[name.end() :], env.get(name[0], "")
            if rest.startswith(":-"):
                out += current or interpolate(rest[2:], env)
            elif rest.startswith(":+"):
                out += interpolate(rest[2:], env) if current else ""
            else:
                assert not rest, f"operator not modelled: {body}"
                out += current
            i = j
        else:
            out, i = out + value[i], i + 1
    return out


def test_interpolation_model() -> None:
    assert interpolate("${A:-x}-${B:+y${A:-z}}$$", {"B": "1"}) == "x-yz$"


INBOUND = (  # the API's helpdesk webhook routes (api/integrations)
    "TICKETCLOCK_ZENDESK_WEBHOOK_SECRET",
    "TICKETCLOCK_ZENDESK_MAPPING",
    "TICKETCLOCK_JIRA_WEBHOOK_SECRET",
    "TICKETCLOCK_JIRA_MAPPING",
)
WRITE_BACK = (  # the worker's zendesk and jira destinations (activities/routing.py)
    "TICKETCLOCK_ZENDESK_URL",
    "TICKETCLOCK_ZENDESK_EMAIL",
    "TICKETCLOCK_ZENDESK_API_TOKEN",
    "TICKETCLOCK_JIRA_URL",
    "TICKETCLOCK_JIRA_EMAIL",
    "TICKETCLOCK_JIRA_API_TOKEN",
    "TICKETCLOCK_JIRA_PROJECTS",
)


@pytest.mark.parametrize(("service", "names"), [("api", INBOUND), ("worker", WRITE_BACK)])
def test_integration_settings_reach_the_service_that_uses_them(
    service: str, names: tuple[str, ...]
) -> None:
    env = env_of(SERVICES[service])
    for name in names:
        assert name in env, f"{service} lacks {name}"
        assert interpolate(env[name], {name: "from-the-shell"}) == "from-the-shell", name
        assert interpolate(env[name], {}) == "", name  # unset: the integration stays off


def test_the_ui_decodes_through_the_api_s_codec_server_only_with_keys() -> None:
    env = env_of(SERVICES["temporal-ui"])
    endpoint = env["TEMPORAL_CODEC_ENDPOINT"]
    keys = {"TICKETCLOCK_CODEC_KEYS": "k1:" + "A" * 43 + "="}
    assert interpolate(endpoint, {}) == ""  # no keys: the UI has no codec
    assert interpolate(endpoint, keys) == f"http://localhost:8000{router.prefix}"
    moved = interpolate(endpoint, {**keys, "TICKETCLOCK_API_PORT": "9000"})
    assert moved == f"http://localhost:9000{router.prefix}"
    api_ports = SERVICES["api"]["ports"]
    assert interpolate(api_ports[0], keys).startswith("8000:")  # the port the URL names
    # The browser sends the board's session cookie (the API sees it as a remote caller).
    assert env["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
