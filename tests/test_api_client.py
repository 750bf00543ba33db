"""The one HTTP client for our API (ticketclock/api_client.py), against a real HTTP server."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from harness.receivers import WebhookReceiver
from plumbing.processes import free_port
from ticketclock.api_client import ApiClient, ApiUnreachable, error_parts, error_text

ROOT = Path(__file__).resolve().parents[1]


def test_requests_carry_the_token_and_errors_are_read() -> None:
    error = {"error": {"type": "TicketNotFound", "message": "no ticket K-1", "field": "key"}}
    with WebhookReceiver() as hook:
        hook.respond_with(404, body=json.dumps(error).encode())
        with ApiClient(hook.url + "/", "tok-123") as api:
            reply = api.request("GET", "/v1/tickets/K-1", params={"x": "1"})
        assert reply.status_code == 404
        assert error_parts(reply) == ("TicketNotFound", "no ticket K-1", "key")
        assert error_text(reply) == "no ticket K-1"
        seen = hook.requests[0]
        assert seen.headers["authorization"] == "Bearer tok-123"
        assert seen.path.endswith("/hook/v1/tickets/K-1?x=1"), seen.path


def test_an_answer_that_is_no_error_body_reads_as_its_text() -> None:
    with WebhookReceiver() as hook:
        hook.respond_with(502, body=b"<html>  bad\n gateway </html>")
        with ApiClient(hook.url, "t") as api:
            reply = api.request("POST", "/v1/tickets", json={})
    assert error_parts(reply) == ("Bad Gateway", "<html> bad gateway </html>", None)


def test_nothing_listening_is_one_line_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with ApiClient(url, "t") as api, pytest.raises(ApiUnreachable) as caught:
        api.request("GET", "/v1/tickets")
    assert caught.value.message.startswith(f"cannot reach the API at {url} (connection refused)")
    assert "TICKETCLOCK_API_URL" in caught.value.message and "\n" not in caught.value.message


def test_a_url_that_is_not_http_is_named() -> None:
    with ApiClient("localhost:8000", "t") as api, pytest.raises(ApiUnreachable, match="http"):
        api.request("GET", "/v1/tickets")


def test_every_cli_command_uses_the_one_client() -> None:
    """No CLI module builds its own HTTP client or calls httpx's request functions."""
    makers = {"Client", "AsyncClient", "get", "post", "put", "patch", "delete", "request", "stream"}
    found = []
    for path in sorted((ROOT / "ticketclock").glob("cli*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "httpx"
                and node.attr in makers
            ):
                found.append(f"{path.name}:{node.lineno} httpx.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module in {"httpx", "urllib.request"}:
                found.append(f"{path.name}:{node.lineno} from {node.module} import ...")
    assert not found, found
