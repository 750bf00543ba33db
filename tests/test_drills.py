"""The reliability drills, reduced to CI size: each runs its real `main` with tiny counts (a dev
server, a worker and an API of its own) and must end in PASS. The full versions: `make drills`."""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import shutil
from pathlib import Path

import pytest

from drills import failover, fuzz_api, replay, server_restart, worker_kill
from plumbing.codec import ENCODING

ROOT = Path(__file__).resolve().parents[1]


def _summary(out: str, name: str) -> str:
    lines = [line for line in out.splitlines() if line.startswith(f"{name}: ")]
    assert lines, f"no {name} summary line in:\n{out[-3000:]}"
    return lines[-1]


def test_worker_kill_every_notification_once(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--tickets", "12", "--kills", "2", "--target", "6", "--window", "2", "--settle", "0"]
    code = worker_kill.main([*argv, "--seed", "7"])
    line = _summary(capsys.readouterr().out, "worker_kill")
    assert code == 0 and line.endswith(" PASS"), line


def test_worker_kill_with_encryption_on(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same drill with TICKETCLOCK_CODEC_KEYS set (issue 18: the drills run with encryption
    on as well as off): the API, the worker and the drill's client all get the key
    (harness/stack.py), every key still arrives once, and the kept SQLite file holds sealed
    payloads under that key id and not the drill's plaintext."""
    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("TICKETCLOCK_CODEC_KEYS", f"drill-key-1:{key}")
    argv = ["--tickets", "6", "--kills", "1", "--target", "6", "--window", "2", "--settle", "0"]
    code = worker_kill.main([*argv, "--seed", "11", "--keep"])
    out = capsys.readouterr().out
    line = _summary(out, "worker_kill")
    kept = re.search(r"kept (\S+)", out)
    assert kept, out[-3000:]
    workdir = Path(kept[1])
    try:
        stored = b"".join(p.read_bytes() for p in workdir.glob("temporal.sqlite*"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert code == 0 and line.endswith(" PASS"), line
    assert ENCODING in stored and b"drill-key-1" in stored
    # A field name of every ticket's input (TicketInput), written only inside payloads:
    assert b'"continue_as_new_after_events"' not in stored


def test_failover_a_second_worker_keeps_breaches_on_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two workers, two `kill -9`s while breaches fall due (6 s targets over a 10 s window): every
    key once, breach lateness p99 <= 3 s. With the SDK's 10 s sticky timeout (the old default;
    `--worker-env TICKETCLOCK_WORKER_STICKY_TIMEOUT_S=10`) this run ends in FAIL, 9-10 s late."""
    argv = ["--tickets", "24", "--kills", "2", "--target", "6", "--window", "10", "--settle", "0"]
    code = failover.main([*argv, "--seed", "8"])
    out = capsys.readouterr().out
    line = out.rstrip().splitlines()[-1]
    assert line.startswith("failover: "), out[-3000:]
    assert code == 0 and line.startswith("failover: PASS "), out[-3000:]
    assert " kills=2 " in line


def test_server_restart_resumes_every_ticket(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--tickets", "10", "--target", "8", "--window", "2", "--down", "2"]
    code = server_restart.main([*argv, "--restarts", "TERM,KILL"])
    line = _summary(capsys.readouterr().out, "server_restart")
    assert code == 0 and line.endswith(" PASS"), line


def test_committed_histories_replay() -> None:
    assert list((ROOT / "tests" / "histories").glob("*.json")), "no recorded histories"
    assert replay.main([]) == 0


@pytest.mark.skipif(
    importlib.util.find_spec("schemathesis") is None,
    reason="schemathesis is in the `drills` extra (pip install -e '.[drills]')",
)
def test_fuzz_api_no_server_errors_no_schema_violations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = fuzz_api.main(["--examples", "3", "--phases", "examples,coverage,fuzzing"])
    out = capsys.readouterr().out
    line = _summary(out, "fuzz_api")
    assert "server_errors=0 " in line, out[-4000:]
    assert code == 0 and line.endswith(" PASS"), out[-4000:]
