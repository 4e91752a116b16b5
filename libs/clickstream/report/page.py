"""The report page: one self-contained HTML file. Every chart is inline SVG, the style is
inline, and a Content-Security-Policy forbids every request (no script, style, font or
image can be fetched) and every script but the page's own, so the file opens offline, as an e-mail attachment or from S3.

A few lines of inline script mark the page once it has rendered: `data-rendered` on
<body> is the number of charts whose SVG has a size, or "error: ..."; each chart gets
`data-box` (its place on the page, x,y,width,height in CSS pixels), which the browser
test reads. The page reads the same without the script.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
from typing import Callable

from clickstream.report import charts
from clickstream.report.model import TOP_VALUES, ReportData, SourceReport, days

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #222;
       margin: 0 auto; max-width: 1100px; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: #555; margin: 0 0 12px; } .meta code { font-size: 13px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid #eee; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.flags { border-left: 4px solid #d62728; background: #fdf0f0; padding: 8px 14px; margin: 12px 0; }
.flags.none { border-color: #54a24b; background: #f0f8ef; }
.flags ul { margin: 4px 0; padding-left: 20px; }
.note { color: #555; background: #f6f6f6; padding: 6px 12px; margin: 6px 0; }
figure.chart { margin: 4px 0 14px; } figure.chart svg { width: 100%; height: auto; display: block; }
p.empty { color: #777; font-style: italic; margin: 4px 0 14px; }
"""
SCRIPT = """
(function () {
  try {
    var figures = document.querySelectorAll("figure.chart"), drawn = 0;
    for (var i = 0; i < figures.length; i++) {
      var svg = figures[i].querySelector("svg"), box = figures[i].getBoundingClientRect();
      if (svg && svg.getBBox().width > 0 && box.height > 0) { drawn++; }
      figures[i].setAttribute("data-box", [Math.round(box.left + window.scrollX), Math.round(box.top + window.scrollY),
                                           Math.round(box.width), Math.round(box.height)].join(","));
    }
    document.body.setAttribute("data-height", document.documentElement.scrollHeight);
    document.body.setAttribute("data-rendered", drawn === figures.length ? String(drawn)
                               : "error: " + (figures.length - drawn) + " chart(s) without a drawing");
  } catch (e) {
    document.body.setAttribute("data-rendered", "error: " + e);
  }
})();
"""


# Every request forbidden; the one script allowed by its hash, so that no other inline
# script could run even if one slipped into the page; styles inline (matplotlib's SVG
# styles its elements with style attributes).
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'none'; connect-src 'none'; "
       f"script-src 'sha256-{base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()}'")


# A page charts at most this many sources (about 400 KB and 0.6 s of drawing each); the
# others get one row of figures each (docs/report.md).
MAX_CHARTED_SOURCES = 10


def _e(value) -> str:
    return html.escape(str(value))


def lag(newest: dt.datetime, now: dt.datetime) -> str:
    """'3 h 12 min', '2 d 4 h', '-5 min' (an event stamped after the report's time)."""
    minutes = int((now - newest).total_seconds() // 60)
    sign, minutes = ("-" if minutes < 0 else ""), abs(minutes)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{sign}{days:,} d {hours} h"
    return f"{sign}{hours} h {minutes} min" if hours else f"{sign}{minutes} min"


def _header(data: ReportData) -> str:
    versions = ", ".join(f"{_e(t)} v{v}" if v is not None else f"{_e(t)} (none)" for t, v in data.versions.items())
    return (f"<h1>clickstream report</h1>\n<p class=\"meta\">Warehouse <code>{_e(data.warehouse)}</code><br>"
            f"Events of {data.first} to {data.last} (UTC, {(data.last - data.first).days + 1} days)"
            + ("" if (data.run_first, data.run_last) == (data.first, data.last) else
               f"; runs started {data.run_first} to {data.run_last}")
            + f" &middot; generated {data.generated_at:%Y-%m-%d %H:%M:%S} UTC<br>Table versions: {versions}</p>\n")


def _flags(data: ReportData) -> str:
    flags = data.flags
    if not flags:
        return ("<div class=\"flags none\" id=\"flags\"><strong>No anomaly flags.</strong> No day's event count or "
                "reject rate is an outlier against its trailing 14 days.</div>\n")
    items = "".join(f"<li data-flag=\"{_e(f.source)} {_e(f.metric)} {_e(f.day)}\">{_e(f.metric)}: "
                    f"{_e(f.describe())}</li>" for f in flags)
    return (f"<div class=\"flags\" id=\"flags\"><strong>{len(flags)} anomaly flag(s)</strong>: a day whose event "
            f"count or reject rate is an outlier against its trailing 14 days.<ul>{items}</ul></div>\n")


def _freshness(data: ReportData) -> str:
    if not data.sources:
        return ""
    rows = "".join(
        f"<tr><td>{_e(s.source)}</td><td>{s.newest_event:%Y-%m-%d %H:%M:%S}</td>"
        f"<td class=\"n\">{_e(lag(s.newest_event, data.generated_at))}</td></tr>" if s.newest_event else
        f"<tr><td>{_e(s.source)}</td><td colspan=\"2\">no events between {data.first} and {data.last}</td></tr>"
        for s in data.sources)
    return ("<h2>Freshness</h2>\n<table id=\"freshness\"><tr><th>source</th><th>newest event (UTC)</th>"
            f"<th>lag to this report</th></tr>{rows}</table>\n")


def _chart(name: str, svg: str | None, empty: str) -> str:
    if svg is None:
        return f"<p class=\"empty\" data-empty=\"{_e(name)}\">{_e(empty)}</p>\n"
    return f"<figure class=\"chart\" data-chart=\"{_e(name)}\">{svg}</figure>\n"


def _runs_table(src: SourceReport) -> str:
    if not src.runs:
        return ""
    last = max(src.runs, key=lambda r: r.started)
    return (f"<p class=\"meta\">Last run <code>{_e(last.run_id)}</code> at {last.started:%Y-%m-%d %H:%M} UTC: "
            f"{_e(last.status)}, {last.records:,} records = {last.events_written:,} events + {last.rejected:,} "
            f"rejects + {last.duplicates:,} duplicates.</p>\n")


def _days_without_runs(data: ReportData, src: SourceReport) -> str:
    """The days of the runs' range, from the first with a run of this source, on which
    no events run of it started."""
    if not src.runs:
        return ""
    ran = {r.started.date() for r in src.runs}
    since = min(ran)  # a day before the first run in the range is no missed run
    missing = [d for d in days(since, data.run_last)
               if d not in ran and d < data.generated_at.date()]  # today's run may come yet
    if not missing:
        return ""
    shown = ", ".join(str(d) for d in missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    return f"<p class=\"note\" data-no-runs=\"{len(missing)}\">No events run started on {len(missing)} day(s): {shown}.</p>\n"


def _source(data: ReportData, src: SourceReport) -> str:
    first, last = data.first, data.last
    span, run_span = f"between {first} and {last}", f"between {data.run_first} and {data.run_last}"
    sections: list[tuple[str, Callable[[], str]]] = [
        ("Volume", lambda: _chart(f"{src.source}:events-per-hour", charts.events_per_hour(src, first, last),
                                  f"No hourly_stats rows {span}.")),
        ("Runs", lambda: _runs_table(src) + _chart(f"{src.source}:run-accounting", charts.run_accounting(src),
                                                   f"No events runs started {run_span}.")
                 + _days_without_runs(data, src)),
        ("Rejects", lambda: _chart(f"{src.source}:rejects-per-day",
                                   charts.rejects_per_day(src, data.run_first, data.run_last),
                                   f"No rejects written by the runs started {run_span}." if src.runs else
                                   f"No events runs started {run_span}, so no rejects are dated in it.")),
        ("Activity and pages", lambda: _chart(f"{src.source}:mix", charts.mix(src, TOP_VALUES),
                                              f"No hourly_stats rows {span}.")),
        ("Sessions", lambda: "".join((
            _chart(f"{src.source}:sessions-per-day", charts.sessions_per_day(src, first, last),
                   f"No sessions {span}."),
            _chart(f"{src.source}:conversion-per-day", charts.conversion_per_day(src, first, last),
                   "No conversion rate: no session was marked converted or not (the sessions job's --conversion)."
                   if src.sessions else f"No sessions {span}."),
            _chart(f"{src.source}:session-length", charts.session_length(src, first, last),
                   f"No sessions {span}.")))),
    ]
    body = "".join(f"<h3>{_e(title)}</h3>\n{render()}" for title, render in sections)
    return f"<section data-source=\"{_e(src.source)}\"><h2>{_e(src.source)}</h2>\n{body}</section>\n"


def charted(sources: list[SourceReport]) -> list[SourceReport]:
    """The sources that get charts, in page order (by name): all of them up to
    MAX_CHARTED_SOURCES, else that many, those with flags first, then the most events."""
    if len(sources) <= MAX_CHARTED_SOURCES:
        return list(sources)
    ranked = sorted(sources, key=lambda s: (not s.flags, -sum(s.hours.values()), s.source))
    chosen = {s.source for s in ranked[:MAX_CHARTED_SOURCES]}
    return [s for s in sources if s.source in chosen]


def _uncharted(data: ReportData, shown: list[SourceReport]) -> str:
    """One table row for each source left without charts."""
    names = {s.source for s in shown}
    rest = [s for s in data.sources if s.source not in names]
    if not rest:
        return ""
    rows = "".join(f"<tr><td>{_e(s.source)}</td><td class=\"n\">{sum(s.hours.values()):,}</td>"
                   f"<td class=\"n\">{len(s.runs):,}</td><td class=\"n\">"
                   f"{sum(sum(by.values()) for by in s.rejects_by_day.values()):,}</td></tr>" for s in rest)
    return (f"<h2>Other sources</h2>\n<p class=\"note\" data-uncharted=\"{len(rest)}\">This page charts "
            f"{MAX_CHARTED_SOURCES} of its {len(data.sources)} sources (those with flags first, then the busiest); "
            "the flags and freshness above cover every source. For the charts of one of these, run the report job "
            "with <code>--source</code>.</p>\n<table id=\"uncharted\"><tr><th>source</th><th>events</th>"
            f"<th>events runs</th><th>rejects</th></tr>{rows}</table>\n")


def render(data: ReportData) -> str:
    notes = "".join(f"<p class=\"note\">{_e(n)}</p>\n" for n in data.notes)
    if data.undated_rejects:
        notes += (f"<p class=\"note\">{data.undated_rejects:,} rejects were written by runs that left no run "
                  "report (killed runs), so they are on no day.</p>\n")
    shown = charted(data.sources)
    sources = "".join(_source(data, s) for s in shown) + _uncharted(data, shown)
    title = f"clickstream report {data.first} to {data.last}"
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_e(title)}</title>\n<style>{STYLE}</style></head>\n<body>\n"
            f"{_header(data)}{_flags(data)}{notes}{_freshness(data)}{sources}"
            f"<script>{SCRIPT}</script>\n</body></html>\n")
