"""The report job's run() on warehouses made for it: 60 generated days with ordinary
variation (no flag), then one day at a tenth of its events (exactly that day flagged,
on the page and in the run report), then a run that rejects 8% (that day too); a day
without runs, an empty warehouse and one with only events."""
from __future__ import annotations

import datetime as dt
import json
import math
import random
import re

import pytest

from clickstream.config import schemas
from clickstream.runs import report
from helpers import hipages_line as L
from helpers import read_report, run_events, write_lines

FIRST = dt.date(2017, 1, 2)
DAYS = 60
LAST = FIRST + dt.timedelta(days=DAYS - 1)  # 2017-03-02
DROPPED = dt.date(2017, 2, 20)
SPIKE = dt.date(2017, 2, 8)  # its run, rewritten, rejects 8% of its records, against about 1%
NO_RUN = dt.date(2017, 2, 14)
NOW = dt.datetime(2017, 3, 3, 1, 30)


def daily_total(rng: random.Random, day: dt.date) -> int:
    """About 4,800 events a weekday, 15% fewer on weekends, +-5% of noise."""
    return round(4800 * (0.85 if day.weekday() >= 5 else 1.0) * rng.gauss(1.0, 0.05))


def hourly_rows(scale: dict[dt.date, float]) -> list[tuple]:
    rng = random.Random(42)
    shape = [1 + 0.8 * (8 <= h <= 20) for h in range(24)]
    rows = []
    for k in range(DAYS):
        day = FIRST + dt.timedelta(days=k)
        total = daily_total(rng, day) * scale.get(day, 1.0)
        for h in range(24):
            n = round(total * shape[h] / sum(shape))
            for activity, share in (("page_view", 0.7), ("claim", 0.3)):
                rows.append((f"{day:%Y%m%d}{h:02d}", "hipages", "www.hipages.com.au", activity,
                             round(n * share), round(n * share / 3), None, day))
    return rows


def write_hourly(spark, wh, scale: dict[dt.date, float]) -> None:
    (spark.createDataFrame(hourly_rows(scale), schemas.hourly_stats_schema())
     .write.format("delta").mode("overwrite").partitionBy("event_date").save(str(wh / "hourly_stats")))


def run_report_file(wh, day: dt.date, rejected: int) -> tuple[str, int]:
    """The events run report of `day` (5,000 records at 02:10 UTC): its run id, and its records."""
    run_id, records = f"r-{day}", 5000
    (wh / "_runs" / f"{run_id}.json").write_text(json.dumps({
        "run_id": run_id, "job": "events", "source": "hipages", "started_at": f"{day}T02:10:00+00:00",
        "status": "succeeded", "records": records, "events_written": records - rejected - 10,
        "rejected_total": rejected, "duplicates": 10, "rejected": {"bad_url": rejected}}, indent=2))
    return run_id, records


def reject_rows(day: dt.date, run_id: str, n: int, first: int = 0) -> list[tuple]:
    """n rejects of a run; every fourth is malformed_json."""
    return [("{bad", "malformed_json" if i % 4 == 0 else "bad_url", f"file:/in/{day}.json", run_id, 4, None)
            for i in range(first, first + n)]


def write_runs_and_rejects(spark, wh) -> None:
    """One events run a day at 02:10 (none on NO_RUN), rejecting 40 to 60 of 5,000 records."""
    rng = random.Random(7)
    (wh / "_runs").mkdir(parents=True)
    rejects = []
    for k in range(DAYS):
        day = FIRST + dt.timedelta(days=k)
        if day != NO_RUN:
            rejected = rng.randint(40, 60)
            rejects += reject_rows(day, run_report_file(wh, day, rejected)[0], rejected)
    (wh / "_runs" / "other-job.json").write_text(json.dumps({"run_id": "x", "job": "hourly_stats"}))
    spark.createDataFrame(rejects, schemas.REJECTS_SCHEMA).write.format("delta").save(str(wh / "rejects"))


def write_sessions(spark, wh) -> None:
    """On each of the last 3 days: 4 sessions of 60, 120, 600 and 3600 s, one converted."""
    rows = []
    for k in range(3):
        day = LAST - dt.timedelta(days=k)
        for i, seconds in enumerate((60, 120, 600, 3600)):
            start = dt.datetime.combine(day, dt.time(10, i))
            rows.append((f"s{k}{i}", "hipages", f"u{i}", None, start, start + dt.timedelta(seconds=seconds), seconds,
                         2, "page_view", "claim" if i == 0 else "page_view", "www.hipages.com.au", None, i == 0,
                         start if i == 0 else None, "claim" if i == 0 else None, day))
    spark.createDataFrame(rows, schemas.SESSIONS_SCHEMA).write.format("delta").save(str(wh / "sessions"))


@pytest.fixture(scope="module")
def generated(spark, tmp_path_factory):
    wh = tmp_path_factory.mktemp("report") / "wh"
    write_hourly(spark, wh, {})
    write_runs_and_rejects(spark, wh)
    write_sessions(spark, wh)
    return wh


def run_report(spark, wh, run_id, **kw) -> tuple[dict, str]:
    kw.setdefault("now", NOW)
    rep = report.run(spark, report.ReportConfig(warehouse=str(wh), run_id=run_id, **kw))
    return rep, open(kw.get("output") or wh / "report.html").read()


def flags_on_page(html: str) -> list[str]:
    return re.findall(r'data-flag="([^"]+)"', html)


def charts_on_page(html: str) -> list[str]:
    return re.findall(r'<figure class="chart" data-chart="([^"]+)"><svg', html)


def test_sixty_ordinary_days_flag_nothing_then_a_tenth_of_a_day_and_a_reject_spike_flag_exactly_their_days(
        spark, generated):
    wh = generated
    rep, html = run_report(spark, wh, "rep1", days=DAYS)
    assert (rep["from"], rep["to"], rep["runs_from"], rep["runs_to"]) == \
        ("2017-01-02", "2017-03-02", "2017-01-03", "2017-03-03")  # events up to the newest day, runs up to today
    assert rep["flags"] == [] and flags_on_page(html) == [] and "No anomaly flags." in html
    assert charts_on_page(html) == [f"hipages:{c}" for c in (
        "events-per-hour", "run-accounting", "rejects-per-day", "mix", "sessions-per-day", "conversion-per-day",
        "session-length")]
    assert rep["charts"] == 7 and rep["sources"] == ["hipages"] and rep["notes"] == [
        "The warehouse has no events table: run the events job (freshness needs it)."]
    assert rep["versions"] == {"events": None, "rejects": 0, "hourly_stats": 0, "sessions": 0}
    total = sum(r[4] for r in hourly_rows({}))
    assert f"Events per hour, UTC ({total:,} events;" in html
    # today (2017-03-03, 01:30) is no missed day: its run may come yet
    assert 'data-no-runs="1">No events run started on 1 day(s): 2017-02-14.' in html
    assert read_report(wh, "rep1") == rep

    write_hourly(spark, wh, {DROPPED: 0.1})
    rep, html = run_report(spark, wh, "rep2", days=30)
    assert rep["from"] == "2017-02-01"  # 30 days, each judged against the 14 before it
    assert [(f["metric"], f["day"]) for f in rep["flags"]] == [("events", "2017-02-20")]
    drop = rep["flags"][0]
    assert drop["change"] < -0.85 and drop["score"] > 10 and drop["source"] == "hipages"
    assert flags_on_page(html) == ["hipages events 2017-02-20"]

    run_id, records = run_report_file(wh, SPIKE, 400)  # that run again, now rejecting 400 lines
    had = spark.read.format("delta").load(str(wh / "rejects")).where(f"run_id = '{run_id}'").count()
    (spark.createDataFrame(reject_rows(SPIKE, run_id, 400 - had, first=had), schemas.REJECTS_SCHEMA)
     .write.format("delta").mode("append").save(str(wh / "rejects")))
    rep, html = run_report(spark, wh, "rep3", days=30)
    assert [(f["metric"], f["day"], f["value"]) for f in rep["flags"]] == [
        ("reject_rate", "2017-02-08", 400 / records), ("events", "2017-02-20", drop["value"])]
    assert flags_on_page(html) == ["hipages reject_rate 2017-02-08", "hipages events 2017-02-20"]


def test_the_aggregates_reach_the_page_exactly(spark, generated):
    """--source and --until, and the numbers the page states: activity shares, the
    conversion rate and the session length quantiles of the last day."""
    src = report.gather(spark, report.ReportConfig(warehouse=str(generated), days=3, source="hipages",
                                                   until=LAST), f"file:{generated}", NOW)
    [s] = src.sources
    assert (src.first, src.last, src.run_first, src.run_last) == (LAST - dt.timedelta(days=2), LAST,
                                                                   LAST - dt.timedelta(days=2), LAST)
    rows = [r for r in hourly_rows({}) if r[7] >= src.first]
    assert s.activities == [(a, sum(r[4] for r in rows if r[3] == a)) for a in ("page_view", "claim")]
    assert s.top_pages == [("www.hipages.com.au", sum(r[4] for r in rows))]
    assert [(d.day, d.sessions, d.conversions, d.conversion_rate, d.duration_p50, d.duration_p90, d.duration_p99)
            for d in s.sessions] == [(LAST - dt.timedelta(days=k), 4, 1, 0.25, 120, 3600, 3600) for k in (2, 1, 0)]
    assert [r.run_id for r in s.runs] == [f"r-{LAST - dt.timedelta(days=k)}" for k in (2, 1, 0)]
    n = s.runs[-1].rejected  # every fourth reject of a run is malformed_json
    assert s.rejects_by_day[LAST] == {"bad_url": n - math.ceil(n / 4), "malformed_json": math.ceil(n / 4)}
    assert len(s.hours) == 3 * 24 and s.newest_event is None


def test_an_empty_warehouse_gives_a_page_that_says_so(spark, tmp_path):
    rep, html = run_report(spark, tmp_path / "nothing", "empty", output=str(tmp_path / "out" / "empty.html"))
    assert (rep["charts"], rep["flags"], rep["sources"]) == (0, [], [])
    assert rep["notes"] == [f"The warehouse at file:{tmp_path}/nothing holds no tables and no run reports yet: run "
                            "the events job (or the pipeline) into it first."]
    assert rep["notes"][0] in html and "No anomaly flags." in html
    assert (rep["from"], rep["to"]) == ("2017-02-02", "2017-03-03")  # the 30 days up to today


def test_a_warehouse_with_only_events_gives_a_page_of_its_runs_and_freshness(spark, hipages_profile, tmp_path):
    wh = tmp_path / "wh"
    run_events(spark, hipages_profile, write_lines(tmp_path / "in" / "a.json", [
        L("a1", timestamp="02/02/2017 20:22:00"), L("a2", timestamp="03/02/2017 10:00:05"), "{bad"]), wh, "only")
    rep, html = run_report(spark, wh, "rep", now=None)  # the run started today
    assert rep["charts"] == 2 and charts_on_page(html) == ["hipages:run-accounting", "hipages:rejects-per-day"]
    assert rep["to"] == "2017-02-03" and rep["runs_to"] == dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert "<tr><td>hipages</td><td>2017-02-03 10:00:05</td>" in html
    assert [n.split(":")[0] for n in rep["notes"]] == [
        "The warehouse has no hourly_stats table", "The warehouse has no sessions table"]
    assert 'data-empty="hipages:events-per-hour">No hourly_stats rows between 2017-01-05 and 2017-02-03.' in html


def test_twenty_thousand_activities_make_eight_bars_and_one_other(spark, tmp_path):
    """The activity mix is the TOP_VALUES biggest activities and one bar for the rest,
    whatever the feed sends: 20,000 distinct activities, one of them 1 MiB long, make a
    page of a few hundred KB (it used to draw one bar per activity)."""
    wh, day = tmp_path / "wh", dt.date(2017, 2, 2)
    huge = "$" + "a" * (1 << 20)
    rows = [(f"{day:%Y%m%d}{k % 24:02d}", "hipages", "x", f"act-{k:05d}", 1, 1, None, day) for k in range(20_000)]
    rows += [(f"{day:%Y%m%d}10", "hipages", "x", name, n, 1, None, day)
             for name, n in ((huge, 500), ("page_view", 900), (r"$\foo$", 40), *((f"top{i}", 30 - i) for i in range(5)))]
    (spark.createDataFrame(rows, schemas.hourly_stats_schema())
     .write.format("delta").partitionBy("event_date").save(str(wh / "hourly_stats")))
    rep, html = run_report(spark, wh, "many", days=1, until=day)
    data = report.gather(spark, report.ReportConfig(warehouse=str(wh), days=1, until=day), f"file:{wh}", NOW)
    [s] = data.sources
    assert s.activities == [("page_view", 900), (huge, 500), (r"$\foo$", 40), *((f"top{i}", 30 - i) for i in range(5))]
    assert s.other_activities == (20_000, 20_000)
    assert charts_on_page(html) == ["hipages:events-per-hour", "hipages:mix"]
    assert "other (20,000 values)" in html and "$" + "a" * 38 + "…" in html and "a" * 40 not in html
    assert rep["bytes"] < 500_000
