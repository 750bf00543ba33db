"""The SLA report as one self-contained HTML page: inline CSS and SVG, no scripts, no external
assets (it opens from a file, a mail attachment or `GET /v1/reports/sla.html` alike).

Charts: one per clock, met vs breached by severity; and the distribution of first-response time.
Every value is escaped; every bar also carries its number, so nothing is told by colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC
from html import escape

from api.report import ClockCounts, GroupStats, OpenClock, SlaReport, minutes_text

MET = "#2e7d32"
BREACHED = "#c62828"
BAR = "#1565c0"
GRID = "#e0e0e0"
INK = "#212121"
MUTED = "#616161"

# Served with this header by the API; the page needs nothing beyond inline styles.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212121;
       margin: 24px auto; max-width: 1100px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 22px 0 8px; }
.sub { color: #616161; margin: 0 0 16px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #e0e0e0; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.card b { display: block; font-size: 20px; }
.card span { color: #616161; font-size: 12px; }
table { border-collapse: collapse; margin-top: 8px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e0e0e0; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.total td { font-weight: 600; border-top: 2px solid #9e9e9e; }
.charts { display: flex; flex-wrap: wrap; gap: 18px; }
figure { margin: 0; border: 1px solid #e0e0e0; border-radius: 6px; padding: 8px; }
figcaption { font-weight: 600; margin: 0 0 4px 4px; }
.note { color: #616161; font-size: 12px; max-width: 900px; }
tr.risk td { background: #fff8e1; }
tr.risk td:first-child { border-left: 4px solid #f9a825; font-weight: 600; }
"""


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _nice_max(value: int) -> tuple[int, int]:
    """(axis maximum, tick step) with at most ~5 ticks on round numbers."""
    if value <= 0:
        return 1, 1
    raw = value / 5
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    return step * math.ceil(value / step), step


def _text(
    x: float, y: float, body: str, *, anchor: str = "middle", size: int = 12, **kw: str
) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in kw.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"{extra}>'
        f"{escape(body)}</text>"
    )


def _axis(left: float, top: float, width: float, height: float, maximum: int, step: int) -> str:
    parts = []
    for tick in range(0, maximum + 1, step):
        y = top + height - height * tick / maximum
        parts.append(
            f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + width:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}"/>'
        )
        parts.append(_text(left - 6, y + 4, str(tick), anchor="end", size=11, fill=MUTED))
    return "".join(parts)


def met_breached_chart(
    clock: str, by_severity: dict[str, ClockCounts], labels: dict[str, str]
) -> str:
    """Grouped bars: for each severity, met (green) and breached (red), counts on top."""
    severities = list(by_severity)
    width = max(320, 90 + 110 * len(severities))
    height, left, top, bottom = 220, 44, 20, 56
    plot_w, plot_h = width - left - 16, height - top - bottom
    tallest = max((max(c.met, c.breached) for c in by_severity.values()), default=0)
    maximum, step = _nice_max(tallest)
    slot = plot_w / max(1, len(severities))
    bar = min(34.0, slot / 3)
    title = f"{clock.replace('_', ' ')}: met vs breached by severity"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        _axis(left, top, plot_w, plot_h, maximum, step),
    ]
    for i, sev in enumerate(severities):
        counts = by_severity[sev]
        centre = left + slot * i + slot / 2
        for offset, value, colour, name in (
            (-bar - 2, counts.met, MET, "met"),
            (2, counts.breached, BREACHED, "breached"),
        ):
            h = plot_h * value / maximum
            x, y = centre + offset, top + plot_h - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(f"{labels.get(sev, sev)} {name}: {value}")}'
                "</title></rect>"
            )
            parts.append(_text(x + bar / 2, y - 4, str(value), size=11, fill=INK))
        parts.append(_text(centre, top + plot_h + 16, labels.get(sev, sev), fill=INK))
        parts.append(
            _text(
                centre,
                top + plot_h + 31,
                f"breach {_percent(counts.breach_rate)}",
                size=11,
                fill=MUTED,
            )
        )
    legend_y = height - 10
    parts += [
        f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="{MET}"/>',
        _text(left + 14, legend_y, "met", anchor="start", size=11, fill=INK),
        f'<rect x="{left + 52}" y="{legend_y - 9}" width="10" height="10" fill="{BREACHED}"/>',
        _text(left + 66, legend_y, "breached", anchor="start", size=11, fill=INK),
        "</svg>",
    ]
    return "".join(parts)


def rate_chart(groups: list[GroupStats]) -> str:
    """One horizontal bar per table row, its full width the row's decided clocks (met +
    breached), split met (green) / breached (red): the breach rate is the red share, the very
    number the table prints, whatever the volume (a 1-ticket group shows as plainly as a
    1000-ticket one); the counts are written beside it."""
    label_w, bar_w, row_h, top = 300, 420, 26, 8
    width = label_w + bar_w + 190
    height = top * 2 + row_h * max(1, len(groups))
    title = "Breach rate per row of the table: met (green) vs breached (red), every clock"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, group in enumerate(groups):
        y = top + row_h * i
        parts.append(_text(label_w - 8, y + 17, group.label, anchor="end", size=12, fill=INK))
        decided = group.met + group.breached
        if not decided:
            parts.append(
                f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="{row_h - 8}" '
                f'fill="{GRID}"/>'
            )
            parts.append(
                _text(
                    label_w + 8, y + 17, "nothing decided yet", anchor="start", size=11, fill=MUTED
                )
            )
            continue
        met_w = bar_w * group.met / decided
        parts.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{met_w:.1f}" height="{row_h - 8}" '
            f'fill="{MET}"><title>{escape(f"{group.label}: {group.met} met")}</title></rect>'
        )
        parts.append(
            f'<rect x="{label_w + met_w:.1f}" y="{y + 4}" width="{bar_w - met_w:.1f}" '
            f'height="{row_h - 8}" fill="{BREACHED}"><title>'
            f"{escape(f'{group.label}: {group.breached} breached')}</title></rect>"
        )
        parts.append(
            _text(
                label_w + bar_w + 8,
                y + 17,
                f"breach {_percent(group.breach_rate)} ({group.breached}/{decided})",
                anchor="start",
                size=12,
                fill=INK,
            )
        )
    parts.append("</svg>")
    return "".join(parts)


def clock_table(report: SlaReport) -> str:
    """Met / breached per clock and severity: each rate labelled with the clock it is of."""
    rows = []
    for clock, by_sev in report.clocks_by_severity.items():
        for sev, counts in by_sev.items():
            rows.append(
                "<tr>"
                f"<td>{escape(clock.replace('_', ' '))}</td>"
                f"<td>{escape(report.severity_labels.get(sev, sev))}</td>"
                f"<td>{counts.met}</td><td>{counts.breached}</td><td>{counts.open}</td>"
                f"<td>{_percent(counts.breach_rate)}</td></tr>"
            )
    if not rows:
        return '<p class="note">No clock was met or breached in this range.</p>'
    head = "".join(
        f"<th>{h}</th>" for h in ("clock", "severity", "met", "breached", "open", "breach rate")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def open_section(items: list[OpenClock]) -> str:
    if not items:
        return '<p class="note">No clock of these tickets is running.</p>'
    rows = []
    for o in items[:200]:
        css = ' class="risk"' if o.at_risk else ""
        state = "breached elsewhere" if o.breached else "warned" if o.warned else ""
        if o.at_risk and not state:
            state = "under an hour left"
        rows.append(
            f"<tr{css}><td>{escape(o.key)}</td><td>{escape(o.policy)}</td>"
            f"<td>{escape(o.severity_label)}</td><td>{o.rank or '-'}</td>"
            f"<td>{escape(o.clock.replace('_', ' '))}</td><td>{escape(o.due_text or '-')}</td>"
            f"<td>{escape(state)}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("ticket", "policy", "severity", "rank", "clock", "due", "at risk because")
    )
    more = f'<p class="note">First 200 of {len(items)}.</p>' if len(items) > 200 else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def distribution_chart(report: SlaReport) -> str:
    """Bars of first-response cycles per time bucket, counts on top."""
    buckets = report.first_response_distribution
    width, height, left, top, bottom = 760, 200, 44, 20, 44
    plot_w, plot_h = width - left - 16, height - top - bottom
    maximum, step = _nice_max(max((b.count for b in buckets), default=0))
    slot = plot_w / max(1, len(buckets))
    bar = slot * 0.7
    title = "first response: business time to the first response (met and breached cycles)"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        _axis(left, top, plot_w, plot_h, maximum, step),
    ]
    for i, bucket in enumerate(buckets):
        h = plot_h * bucket.count / maximum
        if bucket.count:
            h = max(h, 3.0)  # one sample beside a hundred still shows
        x = left + slot * i + (slot - bar) / 2
        y = top + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{BAR}">'
            f"<title>{escape(f'{bucket.label}: {bucket.count}')}</title></rect>"
        )
        if bucket.count:
            parts.append(_text(x + bar / 2, y - 4, str(bucket.count), size=11, fill=INK))
        parts.append(_text(x + bar / 2, top + plot_h + 16, bucket.label, size=11, fill=INK))
    parts.append(
        _text(
            left + plot_w / 2,
            height - 6,
            "time to first response (business time on business-hours clocks)",
            size=11,
            fill=MUTED,
        )
    )
    parts.append("</svg>")
    return "".join(parts)


def _row(group: GroupStats, css: str = "") -> str:
    cells = [
        escape(group.label),
        str(group.tickets),
        str(group.clocks),
        str(group.met),
        str(group.breached),
        str(group.open),
        _percent(group.breach_rate),
        escape(minutes_text(group.first_response_business_minutes_median)),
        escape(minutes_text(group.first_response_business_minutes_p90)),
    ]
    attr = f' class="{css}"' if css else ""
    return f"<tr{attr}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _cards(totals: GroupStats) -> str:
    cards: Sequence[tuple[str, str]] = (
        (str(totals.tickets), "tickets"),
        (str(totals.met), "clocks met"),
        (str(totals.breached), "clocks breached"),
        (_percent(totals.breach_rate), "breach rate"),
        (minutes_text(totals.first_response_business_minutes_median), "first response p50"),
        (minutes_text(totals.first_response_business_minutes_p90), "first response p90"),
    )
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><b>{escape(v)}</b><span>{escape(k)}</span></div>' for v, k in cards
        )
        + "</div>"
    )


def render_html(report: SlaReport) -> str:
    q = report.query
    start, end = q.from_.astimezone(UTC), q.to.astimezone(UTC)
    title = f"SLA report {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"
    grouping = "rank, then policy" if q.group_by == "severity" else q.group_by
    subtitle = (
        f"Tickets started from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, "
        f"policy {q.policy or 'all'}, grouped by {grouping}. "
        f"Generated {report.generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC."
    )
    charts = rate_chart(report.groups)
    head = "".join(
        f"<th>{escape(h)}</th>"
        for h in (
            "severity (rank · policy · name)" if q.group_by == "severity" else q.group_by,
            "tickets",
            "clocks",
            "met",
            "breached",
            "open",
            "breach rate",
            "1st response p50",
            "p90",
        )
    )
    rows = "".join(_row(g) for g in report.groups) + _row(report.totals, "total")
    skipped = ""
    if report.skipped:
        items = "".join(
            f"<li>{escape(s.key)}: {escape(s.reason)}</li>" for s in report.skipped[:50]
        )
        skipped = (
            f"<h2>Not counted ({len(report.skipped)})</h2>"
            f'<p class="note">Listed by Temporal, but their ledger could not be read.</p>'
            f"<ul>{items}</ul>"
        )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="sub">{escape(subtitle)}</p>
{_cards(report.totals)}
<h2>Open and at risk ({sum(o.at_risk for o in report.open_clocks)} of \
{len(report.open_clocks)} running clocks)</h2>
{open_section(report.open_clocks)}
<h2>By {escape(grouping)}</h2>
<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>
<h2>Met vs breached, per row</h2>
<div class="charts"><figure>{charts}</figure></div>
<h2>Per clock</h2>
{clock_table(report)}
<h2>Time to first response</h2>
<div class="charts"><figure>{distribution_chart(report)}</figure></div>
{skipped}
<p class="note">Breach rate is breached / (met + breached); open cycles are not decided yet.
First-response time is business time on business-hours clocks and wall time on 24x7 ones; a
breach nobody had answered yet counts with the time until the breach (a lower bound). Median
and p90 interpolate between the closest ranks.</p>
</body>
</html>
"""
