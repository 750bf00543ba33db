"""`ticketclock policy list|show|check|due`, run through the real command dispatcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policies.catalog import BUILTIN_DIR
from ticketclock.cli import main


@pytest.fixture(autouse=True)
def _no_operator_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICKETCLOCK_POLICY_DIRS", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["policy", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_due_clickhouse_basic_sev1_is_sev3_due_monday_night(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """001: Basic is not entitled to Sev1 -> Sev3, 24 Normal Business Hours.

    Normal Business Hours run Monday 00:00 to Saturday 00:00 UTC.
    """
    argv = (
        "due",
        "clickhouse",
        "--tier",
        "basic",
        "--severity",
        "1",
        "--opened",
        "2026-11-27T23:30:00Z",
    )
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["severity"] == "sev3" and report["requested_severity"] == "sev1"
    assert "not entitled" in report["cap_reason"]
    (first,) = [c for c in report["clocks"] if c["clock"] == "first_response"]
    assert first["due_at_utc"] == "2026-11-30T23:30:00Z"
    assert first["business"] is True and first["as_if_started_at_opened"] is False

    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "Sev3 (requested Sev1)" in out
    assert "2026-11-30T23:30:00Z" in out and "24 business hours" in out


def test_due_shows_later_clocks_as_if_started_at_opening(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys,
        "due",
        "confluence-health-check",
        "--tier",
        "standard",
        "--severity",
        "Sev1",
        "--opened",
        "2026-03-29T00:30:00+00:00",
    )
    assert code == 0
    assert "eta_required: yes" in out and "page_oncall: yes" in out
    assert "next_update: 60m [24x7]" in out
    assert "as if started at opened time" in out
    assert "2026-03-29T01:30:00Z" in out  # next_update, 60 minutes after opening
    assert "2026-03-29T00:45:00Z" in out  # incident_commander, 15 minutes


def test_due_prints_local_and_utc_times(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "due",
        "confluent-cloud",
        "--tier",
        "developer",
        "--severity",
        "p3",
        "--opened",
        "2026-11-25T12:00:00Z",
        "--timezone",
        "Asia/Tokyo",
        "--json",
    )
    assert code == 0
    (first,) = json.loads(out)["clocks"]
    # Thu 09:00 JST + 8 h = Thu 17:00 JST = 08:00Z.
    assert first["due_at"] == "2026-11-26T17:00:00+09:00"
    assert first["due_at_utc"] == "2026-11-26T08:00:00Z"


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (
            ("due", "nope", "--tier", "x", "--severity", "1", "--opened", "2026-01-01T00:00Z"),
            "policy",
        ),
        (
            (
                "due",
                "kong",
                "--tier",
                "enterprise",
                "--severity",
                "1",
                "--opened",
                "2026-01-05T10:00Z",
                "--region",
                "EMEA",
            ),
            "targets.enterprise.sev1.first_response",
        ),
        (
            (
                "due",
                "kong",
                "--tier",
                "enterprise",
                "--severity",
                "1",
                "--opened",
                "2026-01-05T10:00Z",
                "--region",
                "Mars",
            ),
            "customer.region",
        ),
        (
            (
                "due",
                "confluent-cloud",
                "--tier",
                "premier",
                "--severity",
                "P9",
                "--opened",
                "2026-01-05T10:00Z",
                "--timezone",
                "UTC",
            ),
            "severity",
        ),
        (
            (
                "due",
                "clickhouse",
                "--tier",
                "basic",
                "--severity",
                "3",
                "--opened",
                "2026-01-05 10:00",
            ),
            "opened",
        ),
        (("show", "nope"), "policy"),
    ],
)
def test_errors_print_the_field_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], field: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith(f"error: {field}: ")
    assert "Traceback" not in err and out == ""


def test_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    rows = {r["id"]: r for r in json.loads(out)}
    assert set(rows) == {p.stem for p in BUILTIN_DIR.glob("*.toml")}
    assert rows["clickhouse"]["effective"] == "2025-01-23"

    code, out, _ = run(capsys, "show", "kong")
    assert code == 0
    assert "first_response unset" in out and "customer_silence 5 business days" in out
    assert "EMEA -> emea" in out

    code, out, _ = run(capsys, "show", "clickhouse", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["files"] == ["clickhouse.toml"]
    assert data["policy"]["tier_caps"][0]["tiers"] == ["basic"]


def test_check_ok_and_with_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "check")
    assert code == 0 and out.startswith("ok: 5 catalogue policies")

    good = tmp_path / "kong-contract.toml"
    good.write_text(
        'id = "kong"\noverride = true\n[targets.enterprise.sev1]\nfirst_response = "1h"\n'
    )
    code, out, _ = run(capsys, "check", str(good))
    assert code == 0, out

    bad = tmp_path / "bad.toml"
    bad.write_text(
        'id = "kong"\noverride = true\n[targets.enterprise.sev1]\nfirst_response = "whenever"\n'
    )
    code, out, err = run(capsys, "check", str(bad))
    assert code == 1
    assert f"{bad}: targets.enterprise.sev1.first_response.within: " in out
    assert "problem" in err
