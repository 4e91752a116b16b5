"""The report page from hand-made aggregates (clickstream.report.page and .charts): what
it holds, and that it can make no request. How a browser draws it: tests/entry/test_report_browser.py."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from clickstream.report import page
from clickstream.report.model import ReportData
from helpers import report_data

CHARTS = ("events-per-hour", "run-accounting", "rejects-per-day", "mix", "sessions-per-day", "conversion-per-day",
          "session-length")


def charts_of(html: str) -> list[str]:
    return re.findall(r'<figure class="chart" data-chart="([^"]+)"><svg', html)


@pytest.fixture(scope="module")
def html():
    return page.render(report_data())


def test_a_full_page_has_every_chart_of_every_source_and_the_flag_at_the_top(html):
    assert charts_of(html) == [f"{s}:{c}" for s in ("hipages", "impressions") for c in CHARTS]
    assert re.findall(r'data-flag="([^"]+)"', html) == ["hipages events 2017-03-21"]
    assert html.index('id="flags"') < html.index('id="freshness"') < html.index('data-source="hipages"')
    assert ("<tr><td>hipages</td><td>2017-03-30 23:41:07</td><td class=\"n\">2 h 48 min</td></tr>") in html
    assert "Table versions: events v31, rejects v30, hourly_stats v29, sessions (none)" in html
    assert 'data-no-runs="1">No events run started on 1 day(s): 2017-03-25.' in html
    assert "&lt;" not in html.split("<body>")[0]  # nothing escaped twice in the head


def test_the_page_is_self_contained_and_forbids_every_request(html):
    references = re.findall(r'(?:src|href|xlink:href|url)\s*[=(]\s*["\']?([^"\')\s>]+)', html)
    assert references and all(r.startswith("#") for r in references)  # only the SVGs' own glyphs and clips
    assert "default-src 'none'" in html and "http-equiv=\"Content-Security-Policy\"" in html
    assert not re.search(r"<(?:img|link|iframe|object|embed)\b", html) and "@import" not in html


def test_no_two_charts_share_an_svg_id(html):
    """Inline SVGs share the page's id space: a clip path of one chart must not be another's."""
    ids = re.findall(r'<clipPath id="([^"]+)"', html)
    assert len(ids) == len(set(ids)) > 10


def test_a_page_of_an_empty_warehouse_says_so_and_draws_nothing():
    empty = ReportData(warehouse="file:/tmp/wh", first=dt.date(2026, 11, 3), last=dt.date(2026, 12, 2),
                       run_first=dt.date(2026, 11, 3), run_last=dt.date(2026, 12, 2),
                       generated_at=dt.datetime(2026, 12, 2, 8), versions=dict.fromkeys(("events", "sessions")),
                       sources=[], notes=["The warehouse at file:/tmp/wh holds no tables and no run reports yet."])
    html = page.render(empty)
    assert charts_of(html) == []
    assert "No anomaly flags." in html and "holds no tables and no run reports yet" in html


def test_a_source_without_runs_or_sessions_says_which_charts_it_lacks():
    data = report_data(sources=("hipages",), flagged_day=None)
    src = data.sources[0]
    src.runs, src.rejects_by_day, src.reject_rate, src.sessions = [], {}, {}, []
    html = page.render(data)
    assert charts_of(html) == ["hipages:events-per-hour", "hipages:mix"]
    assert re.findall(r'data-empty="([^"]+)">([^<]+)<', html) == [
        ("hipages:run-accounting", "No events runs started between 2017-03-01 and 2017-03-30."),
        ("hipages:rejects-per-day", "No events runs started between 2017-03-01 and 2017-03-30, so no rejects are "
                                    "dated in it."),
        ("hipages:sessions-per-day", "No sessions between 2017-03-01 and 2017-03-30."),
        ("hipages:conversion-per-day", "No sessions between 2017-03-01 and 2017-03-30."),
        ("hipages:session-length", "No sessions between 2017-03-01 and 2017-03-30.")]


def test_an_hour_without_events_is_a_gap_in_the_line():
    """matplotlib breaks a line at NaN: the 2 quiet hours of every fifth night split the
    one line into separate runs (an SVG path with one 'M' per piece)."""
    data = report_data(sources=("hipages",), flagged_day=None, days=10)
    svg = page.charts.events_per_hour(data.sources[0], data.first, data.last)
    line = max(re.findall(r'<path d="(M [^"]+)"[^>]*style="fill: none; stroke: #4c78a8', svg), key=len)
    assert line.count("M ") == 3  # nights 0 and 5 have gaps: before, between and after


def test_lag_reads_as_time():
    now = dt.datetime(2026, 12, 2, 12, 0)
    assert [page.lag(now - d, now) for d in (dt.timedelta(minutes=7), dt.timedelta(hours=3, minutes=12),
                                              dt.timedelta(days=2, hours=4, minutes=5), dt.timedelta(minutes=-5))] \
        == ["7 min", "3 h 12 min", "2 d 4 h", "-5 min"]


def test_values_from_the_events_cannot_add_markup():
    """Sources, activities and pages come from the raw lines: in the page's HTML and in
    matplotlib's SVG (which keeps each label in a comment) they stay text."""
    hostile = "--><script>alert(1)</script><!--"
    data = report_data(sources=(hostile,), flagged_day=None, days=3)
    src = data.sources[0]
    src.activities = [(hostile, 5), ("<img src=x onerror=alert(2)>", 3)]
    src.top_pages = [(hostile, 5)]
    html = page.render(data)
    assert html.count("<script") == 1 and "<img" not in html  # the page's own script, and no tag of theirs
    assert 'data-source="--&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--"' in html


def test_text_from_the_data_is_drawn_as_written_and_a_long_value_is_cut():
    """Activities and url_level1 values are tick labels: a '$' is a dollar sign, never
    mathtext (r'$\\foo$' used to raise "ValueError: Unknown symbol" when the figure was
    saved, failing the report job), and a value of 10,000 characters shows as its first
    39 and "…". matplotlib keeps each drawn text in an SVG comment, escaped."""
    data = report_data(sources=("hipages",), flagged_day=None, days=3)
    src = data.sources[0]
    long = "x" * 10_000
    src.activities = [("$\\foo$", 9), ("50% off $5 $", 8), ("<script>", 7), (long, 6), ("two\nlines", 5)]
    src.other_activities = (19_995, 100)
    src.top_pages = [("$\\foo$", 3), (r"$\sqrt{x}$ ^_^", 2), (None, 1)]
    html = page.render(data)
    mix = html[html.index('data-chart="hipages:mix"'):html.index('data-chart="hipages:sessions-per-day"')]
    drawn = re.findall(r"<!-- (.*?) -->", mix)
    assert drawn[6:12] == ["other (19,995 values)", "two lines", "x" * 39 + "…", "&lt;script&gt;", "50% off $5 $",
                           "$\\foo$"]
    assert drawn[-7:-4] == ["(none)", r"$\sqrt{x}$ ^_^", "$\\foo$"]
    assert long not in html and html.count("<script") == 1
    assert [page.charts.label(v) for v in (None, "", "  ", "a\tb", "y" * 40, "y" * 41)] == [
        "(none)", "(empty)", "  ", "a b", "y" * 40, "y" * 39 + "…"]


def test_a_page_of_20_sources_charts_10_and_lists_the_others():
    """A page of many sources stays small: the first MAX_CHARTED_SOURCES (those with
    flags first, then the busiest) get charts, the rest a row of figures each."""
    names = tuple(f"feed{i:02d}" for i in range(20))
    data = report_data(sources=names, flagged_day=20)
    for i, src in enumerate(data.sources):  # feed00 is flagged; then the busier the higher the number
        src.hours = {h: n * (1 + i) for h, n in src.hours.items()}
        if i:  # two charts each is enough to see which are drawn (the full page's size: docs/report.md)
            src.runs, src.rejects_by_day, src.sessions = [], {}, []
    html = page.render(data)
    charted = sorted({c.split(":")[0] for c in charts_of(html)})
    assert charted == ["feed00", *names[11:]]
    assert re.findall(r"<tr><td>(feed\d+)</td><td class=\"n\">", html) == list(names[1:11])
    assert 'data-uncharted="10"' in html and len(html.encode()) < 5_000_000
