"""Drill: schemathesis against the running API's OpenAPI spec, with a valid token and without.

    python -m drills.fuzz_api [--quick] [--examples 50] [--seed N] [--phases ...]

Starts a dev server, a worker and the API (subprocesses), then runs the schemathesis CLI (the
`drills` extra) twice against `/openapi.json`: once sending the dev token, once sending none. All
phases run (examples, coverage, fuzzing, stateful) with every check. Gating, as the issue asks:
no response >= 500 and no response that violates its documented schema. Every other finding
(a schema-valid request refused, an undocumented status code, ...) is printed precisely but does
not fail the drill. Each failure is printed with its operation, request and response status.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.stack import Stack, open_stack, verdict

GATING = {"not_a_server_error", "response_schema_conformance"}
PHASES = "examples,coverage,fuzzing,stateful"
RUN_LIMIT_S = 900.0  # one schemathesis run may take at most this long


@dataclass
class Finding:
    check: str
    code: str
    title: str
    operation: str
    request: str
    status: int | None
    message: str

    @property
    def gating(self) -> bool:
        return self.check in GATING

    def describe(self) -> str:
        lines = [line for line in self.message.splitlines() if line.strip()][:6]
        return (
            f"  [{self.code} {self.title}] {self.operation}\n"
            f"    request: {self.request}\n"
            f"    response: {self.status}\n" + "\n".join(f"    | {line}" for line in lines)
        )


@dataclass
class Outcome:
    label: str
    responses: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    exit_code: int | None = None
    error: str | None = None

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def schema_violations(self) -> int:
        return sum(1 for f in self.findings if f.check == "response_schema_conformance")


def _decode(body: Any) -> str:
    if isinstance(body, dict) and "$base64" in body:
        return base64.b64decode(body["$base64"]).decode("utf-8", "replace")
    return "" if body is None else json.dumps(body)


def parse(path: Path, label: str) -> Outcome:
    """Read schemathesis's NDJSON event stream: every response, every failed check."""
    out = Outcome(label)
    seen: set[tuple[str, str, str]] = set()
    with open(path) as events:
        for line in events:
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished.get("recorder") or {}
            interactions = recorder.get("interactions") or {}
            for interaction in interactions.values():
                response = (interaction or {}).get("response")
                if response:
                    out.responses += 1
                    out.statuses[int(response["status_code"])] += 1
            for case_id, checks in (recorder.get("checks") or {}).items():
                for check in checks:
                    if check.get("status") != "failure":
                        continue
                    failure = (check.get("failure_info") or {}).get("failure") or {}
                    message = str(failure.get("message", ""))
                    operation = str(failure.get("operation", "?"))
                    first = message.splitlines()[0] if message else ""
                    dedupe = (check["name"], operation, first)
                    if dedupe in seen:
                        continue
                    seen.add(dedupe)
                    interaction = interactions.get(case_id) or {}
                    request = interaction.get("request") or {}
                    response = interaction.get("response") or {}
                    uri = str(request.get("uri", "")).split("/", 3)[-1]
                    body = _decode(request.get("body"))[:300]
                    out.findings.append(
                        Finding(
                            check=check["name"],
                            code=str(failure.get("code", "")),
                            title=str(failure.get("title", "")),
                            operation=operation,
                            request=f"{request.get('method', '?')} /{uri}"
                            + (f" body={body}" if body else ""),
                            status=response.get("status_code"),
                            message=message,
                        )
                    )
    return out


def group(
    found: list[tuple[str, Finding]],
) -> dict[tuple[str, str, str], list[tuple[str, Finding]]]:
    """Findings by root cause: the schema location a violation points at, else the check."""
    groups: dict[tuple[str, str, str], list[tuple[str, Finding]]] = {}
    for label, f in found:
        where = [line.strip() for line in f.message.splitlines() if line.startswith("Schema at ")]
        cause = where[0].rstrip(":") if where else f.message.splitlines()[0] if f.message else ""
        groups.setdefault((f.code, f.title, cause), []).append((label, f))
    return groups


def run_schemathesis(stack: Stack, label: str, token: bool, args: argparse.Namespace) -> Outcome:
    report = stack.workdir / f"schemathesis-{label}.ndjson"
    argv = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{stack.api_url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        args.phases,
        "--max-examples",
        str(args.examples),
        "--seed",
        str(args.seed),
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
        "--no-color",
    ]
    if token:
        argv[5:5] = ["--header", f"Authorization: Bearer {stack.token}"]
    log = stack.workdir / f"schemathesis-{label}.log"
    with open(log, "wb") as out:
        try:
            # From the work dir: schemathesis keeps a cache (.schemathesis/) in its cwd.
            done = subprocess.run(  # our own argv, no shell
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=RUN_LIMIT_S,
                check=False,
                cwd=stack.workdir,
            )
        except subprocess.TimeoutExpired:
            return Outcome(label, error=f"schemathesis ran over {RUN_LIMIT_S:.0f}s")
    if not report.exists():
        tail = log.read_text(errors="replace").splitlines()[-15:]
        return Outcome(label, exit_code=done.returncode, error="no report:\n" + "\n".join(tail))
    outcome = parse(report, label)
    outcome.exit_code = done.returncode
    return outcome


async def drill(stack: Stack, args: argparse.Namespace) -> bool:
    outcomes = [
        await asyncio.to_thread(run_schemathesis, stack, "token", True, args),
        await asyncio.to_thread(run_schemathesis, stack, "no-token", False, args),
    ]
    print("expected: 0 responses >= 500 and 0 response schema violations, with and without a token")
    print("happened:")
    for o in outcomes:
        if o.error:
            print(f"  {o.label}: schemathesis did not run: {o.error}")
            continue
        codes = ", ".join(f"{s}x{n}" for s, n in sorted(o.statuses.items()))
        print(
            f"  {o.label}: {o.responses} responses ({codes}); {o.server_errors} >= 500, "
            f"{o.schema_violations} schema violations, "
            f"{sum(1 for f in o.findings if not f.gating)} other findings"
        )
    for gating, heading in ((True, "gating findings"), (False, "other findings (not gating)")):
        groups = group([(o.label, f) for o in outcomes for f in o.findings if f.gating == gating])
        if groups:
            print(f"{heading}, by root cause:")
        for (code, title, cause), found in list(groups.items())[: args.show]:
            labels = sorted({label for label, _ in found})
            operations = sorted({f.operation for _, f in found})
            print(f"  [{code} {title}] {cause} ({'/'.join(labels)}; {len(operations)} operations)")
            print(f"    operations: {', '.join(operations)}")
            print("    e.g." + found[0][1].describe().split("\n", 1)[1][3:])
    server_errors = sum(o.server_errors for o in outcomes)
    violations = sum(o.schema_violations for o in outcomes)
    ok = not any(o.error for o in outcomes) and server_errors == 0 and violations == 0
    print(
        verdict(
            "fuzz_api",
            ok,
            responses=sum(o.responses for o in outcomes),
            server_errors=server_errors,
            schema_violations=violations,
            other_findings=sum(1 for o in outcomes for f in o.findings if not f.gating),
            examples=args.examples,
            seed=args.seed,
        )
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10 examples per operation")
    parser.add_argument("--examples", type=int, default=None, help="per operation (50; quick 10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--phases", default=PHASES)
    parser.add_argument("--show", type=int, default=20, help="root causes printed per kind")
    args = parser.parse_args(argv)
    args.examples = args.examples or (10 if args.quick else 50)
    if importlib.util.find_spec("schemathesis") is None:
        print("fuzz_api: schemathesis is not installed (pip install -e '.[drills]') FAIL")
        return 2
    print(
        f"fuzz_api: schemathesis ({args.phases}; every check) against /openapi.json, "
        f"{args.examples} examples per operation, seed {args.seed}; with a token and without"
    )
    return 0 if asyncio.run(_run(args)) else 1


async def _run(args: argparse.Namespace) -> bool:
    # Hour-long targets: the fuzzer's tickets stay quiet while it works.
    async with open_stack(
        policy_seconds=3600.0, api=True, receiver=False, log=lambda s: print(f"  {s}")
    ) as stack:
        return await drill(stack, args)


if __name__ == "__main__":
    sys.exit(main())
