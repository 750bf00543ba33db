"""`ticketclock report`: the SLA report of a period, from the API, as text, JSON or an HTML page.

Asks `GET /v1/reports/sla` of the API at TICKETCLOCK_API_URL with the token in TICKETCLOCK_TOKEN
(or TICKETCLOCK_DEV_TOKEN); the token needs the `tickets:read` scope. Tickets are those whose
workflow started in [--from, --to) (default: the last 7 days). A date without a time means
midnight UTC, and so does a time without an offset.

  ticketclock report --from 2026-11-09 --to 2026-11-16 --policy kong
  ticketclock report --group-by tier --format html --output sla.html
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from api.report import GROUP_BYS, SlaReport, render_text
from api.report_html import render_html
from plumbing.settings import SettingsError, load_settings
from ticketclock.api_client import ApiClient, ApiUnreachable, error_text

FORMATS = ("text", "json", "html")


class ReportError(RuntimeError):
    """The report could not be fetched; the message says what to check."""


def instant(text: str) -> datetime:
    """An argparse type: ISO 8601 date or date-time; naive means UTC."""
    try:
        parsed = (
            datetime.combine(date.fromisoformat(text), datetime.min.time())
            if len(text) == 10
            else datetime.fromisoformat(text)
        )
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or date-time (2026-11-09, 2026-11-09T08:00+01:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def fetch(url: str, token: str, params: dict[str, str], *, timeout: float = 120) -> dict[str, Any]:
    """The report as JSON, or `ReportError` saying which setting or input is wrong."""
    endpoint = f"{url.rstrip('/')}/v1/reports/sla"
    try:
        with ApiClient(url, token, timeout=timeout) as api:
            reply = api.request("GET", "/v1/reports/sla", params=params)
    except ApiUnreachable as exc:
        raise ReportError(exc.message) from None
    if reply.status_code == 401:
        raise ReportError(
            f"the API at {url} refused the token ({error_text(reply)}); check TICKETCLOCK_TOKEN"
        )
    if reply.status_code == 403:
        raise ReportError(f"the token in TICKETCLOCK_TOKEN lacks the tickets:read scope ({url})")
    if reply.status_code == 404:
        raise ReportError(
            f"{endpoint} answered 404: is TICKETCLOCK_API_URL the ticketclock API (without /v1)?"
        )
    if reply.status_code == 422:
        raise ReportError(f"the API refused the query: {error_text(reply)}")
    if reply.status_code == 503:
        raise ReportError(f"the API cannot reach Temporal: {error_text(reply)}")
    if reply.status_code != 200:
        raise ReportError(f"GET {endpoint}: {reply.status_code} {error_text(reply)}")
    try:
        body: dict[str, Any] = reply.json()
    except ValueError:
        raise ReportError(f"{endpoint} did not answer JSON: is it the ticketclock API?") from None
    return body


def _params(args: argparse.Namespace) -> dict[str, str]:
    params = {"group_by": args.group_by}
    if args.from_ is not None:
        params["from"] = args.from_.isoformat()
    if args.to is not None:
        params["to"] = args.to.isoformat()
    if args.policy:
        params["policy"] = args.policy
    return params


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"ticketclock report: {exc}", file=sys.stderr)
        return 2
    if not settings.api_url:
        print(
            "ticketclock report: TICKETCLOCK_API_URL is not set (the API's base URL, e.g. "
            "http://127.0.0.1:8000 for `make run`)",
            file=sys.stderr,
        )
        return 2
    token = settings.cli_token or settings.dev_token
    if not token:
        print(
            "ticketclock report: TICKETCLOCK_TOKEN is not set (an API token with the "
            "tickets:read scope)",
            file=sys.stderr,
        )
        return 2
    try:
        body = fetch(settings.api_url, token, _params(args))
        report = SlaReport.model_validate(body)
    except ReportError as exc:
        print(f"ticketclock report: {exc}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        print(
            f"ticketclock report: the API's answer is not an SLA report ({exc.error_count()} "
            "problem(s)); is TICKETCLOCK_API_URL the ticketclock API, of the same version?",
            file=sys.stderr,
        )
        return 1
    if args.format == "json":
        output = report.model_dump_json(by_alias=True, indent=2) + "\n"
    elif args.format == "html":
        output = render_html(report)
    else:
        output = render_text(report)
    if args.output:
        try:
            Path(args.output).write_text(output, encoding="utf-8")
        except OSError as exc:
            print(f"ticketclock report: --output: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"ticketclock report: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(output)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="the SLA report of a period (met, breached, first-response time), from the API",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--from",
        dest="from_",
        type=instant,
        metavar="ISO",
        help="tickets started at or after (default: 7 days before --to)",
    )
    parser.add_argument("--to", type=instant, metavar="ISO", help="... and before (default: now)")
    parser.add_argument("--policy", help="one catalogue policy id (default: every policy)")
    parser.add_argument(
        "--group-by", choices=GROUP_BYS, default="severity", help="rows (default: severity)"
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="(default: text)")
    parser.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    parser.set_defaults(func=_run)
