"""The report's charts: matplotlib figures rendered to inline SVG (docs/report.md says
why matplotlib: no script, no font or network request, a few tens of KB per chart).

Every function takes plain values (clickstream.report.model) and returns one `<svg>`
element as text, or None when there is nothing to draw (the page then says so). Only
matplotlib's object API is used (no pyplot): no global figure state, no GUI backend.
"""
from __future__ import annotations

import datetime as dt
import io
import math

from clickstream.report.model import SourceReport, days

WIDTH, HEIGHT = 10.0, 2.8  # inches; the page scales every chart to its column's width
COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d",
           "#bab0ac")
FLAG_COLOUR = "#d62728"
# The most characters of a value from the data (an activity, a url_level1) a chart shows;
# a longer one is cut, with "…" at its end.
LABEL_CHARS = 40
RC = {
    # Text from the data is drawn as written: a '$' is a dollar sign, never mathtext or TeX.
    "text.parse_math": False,
    "text.usetex": False,
    "svg.fonttype": "path",  # glyphs as shapes: the same look in any browser, with no font installed
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e6e6e6",
    "axes.titlelocation": "left",
    "axes.titlesize": 10,
    "legend.frameon": False,
    "legend.fontsize": 8,
}


def _figure(height: float = HEIGHT):
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH, height), layout="constrained")


def _svg(fig, name: str) -> str:
    """The figure as one `<svg>` element: no XML prolog, no creation date, and ids
    salted with the chart's name so that no two charts of a page share one."""
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": name}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _rc():
    import matplotlib

    return matplotlib.rc_context(RC)


def _date_axis(ax, first: dt.date, last: dt.date) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlim(dt.datetime.combine(first, dt.time()), dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))


def _mark_flags(ax, src: SourceReport, metric: str) -> None:
    """Shade each flagged day, with a flag at its top (the page lists the days)."""
    for flag in (f for f in src.flags if f.metric == metric):
        day = dt.datetime.fromisoformat(flag.day)
        ax.axvspan(day, day + dt.timedelta(days=1), color=FLAG_COLOUR, alpha=0.18, linewidth=0)
        ax.annotate("⚑", xy=(day + dt.timedelta(hours=12), 1), xycoords=("data", "axes fraction"),
                    color=FLAG_COLOUR, fontsize=10, va="bottom", ha="center", annotation_clip=False)


def _counts(ax) -> None:
    import matplotlib.ticker as mticker

    ax.yaxis.set_major_locator(mticker.MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))


def events_per_hour(src: SourceReport, first: dt.date, last: dt.date) -> str | None:
    """A line of events per UTC hour; an hour without events is a gap, never a slope
    between its neighbours. Flagged days are shaded."""
    if not src.hours:
        return None
    hours = [dt.datetime.combine(first, dt.time()) + dt.timedelta(hours=h) for h in range(24 * ((last - first).days + 1))]
    values = [src.hours.get(h, math.nan) for h in hours]
    with _rc():
        fig = _figure()
        ax = fig.subplots()
        ax.plot(hours, values, color=COLOURS[0], linewidth=1, marker=".", markersize=2)
        ax.set_ylim(bottom=0)
        _counts(ax)
        ax.set_title(f"Events per hour, UTC ({sum(src.hours.values()):,} events; gaps are hours without events)")
        _date_axis(ax, first, last)
        _mark_flags(ax, src, "events")
        return _svg(fig, f"{src.source}-events-per-hour")


def run_accounting(src: SourceReport) -> str | None:
    """Per events run, stacked: events written, rejects, duplicates (records = their sum)."""
    if not src.runs:
        return None
    runs = sorted(src.runs, key=lambda r: r.started)
    x = list(range(len(runs)))
    with _rc():
        fig = _figure()
        ax = fig.subplots()
        bottom = [0] * len(runs)
        for (label, values), colour in zip((("events written", [r.events_written for r in runs]),
                                            ("rejected", [r.rejected for r in runs]),
                                            ("duplicates", [r.duplicates for r in runs])),
                                           (COLOURS[0], COLOURS[3], COLOURS[5])):
            ax.bar(x, values, bottom=bottom, color=colour, label=label, width=0.8)
            bottom = [b + v for b, v in zip(bottom, values)]
        failed = [i for i, r in enumerate(runs) if r.status != "succeeded"]
        if failed:
            ax.bar(failed, [bottom[i] for i in failed], fill=False, edgecolor=FLAG_COLOUR, hatch="//", width=0.8,
                   label="not succeeded")
        step = max(1, math.ceil(len(runs) / 12))
        ax.set_xticks(x[::step], [r.started.strftime("%m-%d %H:%M") for r in runs][::step])
        ax.set_xlim(-0.6, len(runs) - 0.4)
        _counts(ax)
        ax.set_title(f"Records per events run, by what became of them ({len(runs)} runs, by start time UTC)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(axis="x", visible=False)
        return _svg(fig, f"{src.source}-run-accounting")


def rejects_per_day(src: SourceReport, first: dt.date, last: dt.date) -> str | None:
    """Rejects per day of the run that wrote them, stacked by reason; days whose
    reject rate is flagged are shaded."""
    if not any(src.rejects_by_day.values()) and not any(f.metric == "reject_rate" for f in src.flags):
        return None
    reasons = sorted({r for by in src.rejects_by_day.values() for r in by},
                     key=lambda r: -sum(by.get(r, 0) for by in src.rejects_by_day.values()))
    shown = days(first, last)
    centres = [dt.datetime.combine(d, dt.time(12)) for d in shown]
    with _rc():
        fig = _figure()
        ax = fig.subplots()
        bottom = [0] * len(shown)
        for i, reason in enumerate(reasons):
            values = [src.rejects_by_day.get(d, {}).get(reason, 0) for d in shown]
            ax.bar(centres, values, bottom=bottom, width=0.8, color=COLOURS[i % len(COLOURS)], label=reason)
            bottom = [b + v for b, v in zip(bottom, values)]
        _counts(ax)
        ax.set_title("Rejects per day, by reason (dated by the run that wrote them)")
        _date_axis(ax, first, last)
        ax.grid(axis="x", visible=False)
        if reasons:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        _mark_flags(ax, src, "reject_rate")
        return _svg(fig, f"{src.source}-rejects-per-day")


def label(value: str | None) -> str:
    """A value from the data as a chart shows it: "(none)" for NULL, "(empty)" for '',
    else its first LABEL_CHARS characters (one line: a line break shows as a space)."""
    if value is None:
        return "(none)"
    text = " ".join(value.split()) if value.strip() else value
    if not text:
        return "(empty)"
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"


def _barh(ax, pairs: list[tuple[str | None, int]], colour: str, title: str, rest: tuple[int, int] | None = None) -> None:
    """Horizontal bars of (value, events), the first on top; `rest`: (how many values,
    their events) folded into one last bar."""
    import matplotlib.ticker as mticker

    labels = [label(value) for value, _ in pairs]
    values = [v for _, v in pairs]
    if rest:
        labels.append(f"other ({rest[0]:,} values)")
        values.append(rest[1])
    labels, values = labels[::-1], values[::-1]
    # The ticks are positions: two values cut to the same label stay two bars.
    positions = list(range(len(labels)))
    ax.barh(positions, values, color=colour)
    ax.set_yticks(positions, labels)
    total = sum(values)
    for y, v in enumerate(values):
        ax.annotate(f" {v / total:.0%}" if total else "", (v, y), va="center", fontsize=8)
    ax.xaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))
    ax.set_title(title)
    ax.grid(axis="y", visible=False)


def mix(src: SourceReport, top: int) -> str | None:
    """The activity mix and the top url_level1 values, side by side, by events."""
    if not src.activities:
        return None
    with _rc():
        bars = max(len(src.top_pages), len(src.activities) + bool(src.other_activities))
        fig = _figure(HEIGHT * max(1.0, min(top + 1, bars) / 8))
        left, right = fig.subplots(1, 2)
        _barh(left, src.activities, COLOURS[0], "Events by activity", src.other_activities)
        _barh(right, src.top_pages, COLOURS[2], f"Top {top} url_level1 by events")
        return _svg(fig, f"{src.source}-mix")


def _session_axis(src: SourceReport, first: dt.date, last: dt.date, name: str, title: str, series) -> str:
    """`series(ax, days, by_day)` draws over every day of the range (noon, UTC); a day
    without sessions has no value there, and a line leaves a gap."""
    by_day = {s.day: s for s in src.sessions}
    noons = [dt.datetime.combine(d, dt.time(12)) for d in days(first, last)]
    with _rc():
        fig = _figure(HEIGHT * 0.85)
        ax = fig.subplots()
        series(ax, noons, [by_day.get(d.date()) for d in noons])
        ax.set_title(title)
        _date_axis(ax, first, last)
        return _svg(fig, f"{src.source}-{name}")


def sessions_per_day(src: SourceReport, first: dt.date, last: dt.date) -> str | None:
    if not src.sessions:
        return None
    return _session_axis(src, first, last, "sessions-per-day", "Sessions per day (by session start, UTC)",
                         lambda ax, days, by_day: (ax.bar(days, [s.sessions if s else 0 for s in by_day],
                                                          width=0.8, color=COLOURS[4]), _counts(ax)))


def conversion_per_day(src: SourceReport, first: dt.date, last: dt.date) -> str | None:
    if not any(s.conversion_rate is not None for s in src.sessions):
        return None

    def series(ax, days, by_day):
        import matplotlib.ticker as mticker

        rates = [math.nan if s is None or s.conversion_rate is None else s.conversion_rate for s in by_day]
        ax.plot(days, rates, color=COLOURS[1], marker="o", markersize=3, linewidth=1.2)
        ax.yaxis.set_major_formatter(mticker.PercentFormatter(1.0))
        ax.set_ylim(bottom=0)

    return _session_axis(src, first, last, "conversion-per-day", "Conversion rate per day (converted sessions)",
                         series)


def session_length(src: SourceReport, first: dt.date, last: dt.date) -> str | None:
    if not src.sessions:
        return None

    def series(ax, days, by_day):
        for (label, attr), colour in zip((("median", "duration_p50"), ("p90", "duration_p90"),
                                          ("p99", "duration_p99")), COLOURS[6:9]):
            ax.plot(days, [math.nan if s is None else getattr(s, attr) / 60 for s in by_day], label=label,
                    color=colour, marker="o",
                    markersize=3, linewidth=1.2)
        ax.set_ylabel("minutes")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))

    return _session_axis(src, first, last, "session-length", "Session length quantiles per day", series)
