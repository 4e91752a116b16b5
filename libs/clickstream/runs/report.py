"""The `report` job: one self-contained HTML page of the warehouse's last days, with
anomaly flags that also go into its run report (`_runs/<run_id>.report.json`).

    run(spark, cfg)  aggregates hourly_stats, sessions, rejects, the run reports and the
                     newest event per source in Spark (clickstream.rules.report), brings
                     those aggregates (never an event) to the driver, flags outlier days
                     (clickstream.report.anomalies), renders the page
                     (clickstream.report.page) and writes it to --output.

The days: the events' last --days up to --until (default: the newest day with events),
so a warehouse of old data gets a page of its data, not of empty recent days; the runs'
(and the rejects they wrote) are dated by when the runs started, up to --until, else
up to today. Each judged day is compared with the 14 days before it, which are read
as well. A missing table,
an empty warehouse or a day without runs makes the page say so; none of them fails.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

import pyspark.sql.functions as F
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from clickstream.config import cli
from clickstream.config.errors import UsageError
from clickstream.report import anomalies
from clickstream.report.model import TOP_VALUES, ReportData, Run, SessionDay, SourceReport, days
from clickstream.rules import report as report_rules
from clickstream.warehouse import fs, run_reports, tables

log = logging.getLogger("clickstream.report")
TABLES = ("events", "rejects", "hourly_stats", "sessions")
MAX_DAYS = 366
# Besides the relative floor, a flag needs an absolute change: 20 events a day (so that a
# sparse feed's 3 events after a quiet week are no news), or half a percentage point of
# reject rate.
EVENTS_STEP = 20
REJECT_RATE_STEP = 0.005


@dataclass(frozen=True)
class ReportConfig:
    warehouse: str
    output: str | None = None  # None: <warehouse>/report.html (`target`)
    days: int = 30
    source: str | None = None
    until: dt.date | None = None
    run_id: str = ""
    now: dt.datetime | None = None  # the report's time, UTC (tests); None: the clock

    @property
    def target(self) -> str:
        return self.output or fs.join(self.warehouse, "report.html")


def parser() -> cli.ArgumentParser:
    """The job's command line; the README's "Command line" synopsis and docs/reference.md show the same options."""
    parser = cli.ArgumentParser(prog="report", description="Write one self-contained HTML page of the warehouse.")
    parser.add_argument("--warehouse", required=True, help="root directory or URI of the tables")
    parser.add_argument("--output", help="the HTML file to write, a path or URI (default: <warehouse>/report.html)")
    parser.add_argument("--days", type=cli.positive_int, default=30, help="how many days to show (default: 30)")
    parser.add_argument("--source", help="only this feed (default: every source)")
    parser.add_argument("--until", help="the last day shown, YYYY-MM-DD (default: the newest day with events)")
    parser.add_argument("--run-id", help="id of this run (default: UTC time plus random suffix)")
    return parser


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("the report job needs matplotlib on the driver: pip install 'matplotlib>=3.7,<4' "
                         "(docs/report.md)") from None


def parse_args(argv: list[str]) -> ReportConfig:
    args = parser().parse_args(argv)
    if args.days > MAX_DAYS:
        raise UsageError(f"bad --days {args.days}: at most {MAX_DAYS}")
    if args.output is not None and (not args.output.strip() or args.output.endswith("/")):
        raise UsageError(f"bad --output {args.output!r}: give a file name, such as report.html")
    require_matplotlib()
    return ReportConfig(warehouse=args.warehouse, output=args.output, days=args.days, source=args.source,
                        until=cli.parse_date(args.until, "--until") if args.until else None,
                        run_id=cli.run_id(args.run_id))


def _table(spark: SparkSession, path: str) -> DataFrame | None:
    return spark.read.format("delta").load(path) if DeltaTable.isDeltaTable(spark, path) else None


def _of_source(df: DataFrame, source: str | None) -> DataFrame:
    return df if source is None else df.where(F.col("source") == source)


def _run_reports(spark: SparkSession, warehouse: str) -> DataFrame | None:
    """The run reports, each file read as named (a glob would make Spark warn that it
    finds no streaming metadata under it)."""
    files = fs.list_files(spark, fs.join(fs.literal_path(warehouse), "_runs", "*.json"))
    if not files:
        return None
    return (spark.read.schema(report_rules.RUN_REPORT_SCHEMA).option("multiLine", True)
            .json([fs.literal_path(f) for f in files])
            .withColumn("file", F.col("_metadata.file_path")))


def _window(cfg: ReportConfig, hourly: DataFrame | None, events: DataFrame | None,
            today: dt.date) -> tuple[dt.date, dt.date]:
    """(first, last) day shown: --until, else the newest day with events (hourly_stats',
    or the events table's when it has newer ones), else today."""
    last = cfg.until
    if last is None:
        newest = None
        if hourly is not None:
            newest = _of_source(hourly, cfg.source).agg(F.max("event_date")).first()[0]
        if events is not None:
            recent = events if newest is None else events.where(F.col("event_date") > F.lit(newest))
            newer = _of_source(recent, cfg.source).agg(F.max("event_date")).first()[0]
            newest = max(d for d in (newest, newer) if d is not None) if (newest or newer) else None
        last = newest or today
    return last - dt.timedelta(days=cfg.days - 1), last


def _volume(hourly: DataFrame, cfg: ReportConfig, history_from: dt.date, first: dt.date, last: dt.date,
            src) -> None:
    """Events per hour (shown days), per day (with the trailing days the flags need, 0
    for a quiet day after a feed's first), the activity mix and the top pages."""
    shown = _of_source(hourly, cfg.source).where(F.col("event_date").between(F.lit(history_from), F.lit(last)))
    daily: dict[str, dict[dt.date, int]] = defaultdict(dict)
    for r in shown.transform(report_rules.hourly_events).collect():
        if r["hour"] is None:
            continue
        day = r["hour"].date()
        daily[r["source"]][day] = daily[r["source"]].get(day, 0) + r["events"]
        if day >= first:
            src(r["source"]).hours[r["hour"]] = r["events"]
    for name, per_day in daily.items():
        src(name).daily_events = {d: per_day.get(d, 0) for d in days(min(per_day), last)}
    in_window = shown.where(F.col("event_date") >= F.lit(first))
    for r in in_window.transform(report_rules.activity_mix, TOP_VALUES).orderBy("rank").collect():
        if r["rank"] > TOP_VALUES:
            src(r["source"]).other_activities = (r["activities"], r["events"])
        else:
            src(r["source"]).activities.append((r["activity"], r["events"]))
    for r in in_window.transform(report_rules.top_values, "url_level1", TOP_VALUES).orderBy("rank").collect():
        src(r["source"]).top_pages.append((r["url_level1"], r["events"]))


def _runs(all_runs: DataFrame, cfg: ReportConfig, since: dt.date, run_last: dt.date, src) -> None:
    started = F.to_date("started")
    for r in _of_source(all_runs, cfg.source).where(started.between(F.lit(since), F.lit(run_last))).collect():
        src(r["source"]).runs.append(Run(r["run_id"], r["started"], r["status"], r["records"] or 0,
                                         r["events_written"] or 0, r["rejected_total"] or 0, r["duplicates"] or 0))


def _rejects(rejects: DataFrame, all_runs: DataFrame | None, cfg: ReportConfig, run_first: dt.date,
             run_last: dt.date, src) -> int:
    """Rejects by day and reason into each source; the number of undated ones (their run left no report)."""
    undated = 0
    per_day = report_rules.rejects_per_day(rejects, all_runs)
    for r in per_day.where(F.col("day").isNull() | F.col("day").between(F.lit(run_first), F.lit(run_last))).collect():
        if r["day"] is None:
            undated += r["rejects"]
        elif cfg.source is None or r["source"] == cfg.source:
            src(r["source"]).rejects_by_day.setdefault(r["day"], {})[r["reason"]] = r["rejects"]
    return undated


def _sessions(sessions: DataFrame, cfg: ReportConfig, first: dt.date, last: dt.date, src) -> None:
    shown = _of_source(sessions, cfg.source).where(F.col("session_date").between(F.lit(first), F.lit(last)))
    for r in shown.transform(report_rules.session_days).orderBy("source", "session_date").collect():
        src(r["source"]).sessions.append(SessionDay(r["session_date"], r["sessions"], r["conversions"],
                                                    r["conversion_rate"], r["duration_p50"], r["duration_p90"],
                                                    r["duration_p99"]))


def _flag(s: SourceReport, judged: list[dt.date], judged_runs: list[dt.date], first: dt.date,
          run_first: dt.date) -> None:
    """The source's reject rate per run day and its flags; then its days and runs trimmed to the shown ones."""
    by_day: dict[dt.date, list[Run]] = defaultdict(list)
    for run in s.runs:
        by_day[run.started.date()].append(run)
    s.reject_rate = {d: sum(r.rejected for r in rs) / sum(r.records for r in rs)
                     for d, rs in by_day.items() if sum(r.records for r in rs)}
    s.flags = sorted(anomalies.flag_series(s.source, "events", s.daily_events, judged, EVENTS_STEP)
                     + anomalies.flag_series(s.source, "reject_rate", s.reject_rate, judged_runs, REJECT_RATE_STEP),
                     key=lambda f: (f.day, f.metric))
    s.runs = [r for r in s.runs if r.started.date() >= run_first]
    s.daily_events = {d: n for d, n in s.daily_events.items() if d >= first}


def _shows_something(s: SourceReport) -> bool:
    return bool(s.hours or s.runs or s.rejects_by_day or s.sessions or s.newest_event or s.flags)


def gather(spark: SparkSession, cfg: ReportConfig, warehouse: str, now: dt.datetime) -> ReportData:
    """Every aggregate the page shows, with the flags, as plain values."""
    paths = {name: tables.table_path(warehouse, name) for name in TABLES}
    frames = {name: _table(spark, path) for name, path in paths.items()}
    versions = {name: (tables.current_version(spark, paths[name]) if frames[name] is not None else None)
                for name in TABLES}
    hourly, events, sessions, rejects = (frames[n] for n in ("hourly_stats", "events", "sessions", "rejects"))
    reports = _run_reports(spark, warehouse)
    first, last = _window(cfg, hourly, events, now.date())
    # Runs and their rejects are dated by when the runs started: the same days up to
    # --until, else up to today (the events' days may be years back, in a backfill).
    run_last = cfg.until or now.date()
    run_first = run_last - dt.timedelta(days=cfg.days - 1)
    trailing = dt.timedelta(days=anomalies.WINDOW)  # the days before the first judged one, which judge it
    by_source: dict[str, SourceReport] = {}

    def src(name: str) -> SourceReport:
        return by_source.setdefault(name, SourceReport(name))

    if hourly is not None:
        _volume(hourly, cfg, first - trailing, first, last, src)
    all_runs = None if reports is None else reports.transform(report_rules.event_runs)
    if all_runs is not None:
        _runs(all_runs, cfg, run_first - trailing, run_last, src)
    undated = _rejects(rejects, all_runs, cfg, run_first, run_last, src) if rejects is not None else 0
    if sessions is not None:
        _sessions(sessions, cfg, first, last, src)
    if events is not None:
        recent = _of_source(events, cfg.source).where(F.col("event_date") >= F.lit(first))
        for r in recent.transform(report_rules.newest_events).collect():
            src(r["source"]).newest_event = r["newest_event"]

    # Today is still filling: never judged.
    judged = [d for d in days(first, last) if d != now.date()]
    judged_runs = [d for d in days(run_first, run_last) if d != now.date()]
    for s in by_source.values():
        _flag(s, judged, judged_runs, first, run_first)
    shown = [by_source[k] for k in sorted(by_source) if _shows_something(by_source[k]) or k == cfg.source]
    if cfg.source and cfg.source not in by_source:
        shown.append(SourceReport(cfg.source))
    return ReportData(warehouse=warehouse, first=first, last=last, run_first=run_first, run_last=run_last,
                      generated_at=now, versions=versions, sources=shown, notes=_notes(frames, reports, warehouse),
                      undated_rejects=undated)


def _notes(frames: dict, reports: DataFrame | None, warehouse: str) -> list[str]:
    """What the warehouse lacks, in a sentence each."""
    if all(f is None for f in frames.values()) and reports is None:
        return [f"The warehouse at {warehouse} holds no tables and no run reports yet: run the events job "
                "(or the pipeline) into it first."]
    lacks = {
        "events": "no events table: run the events job (freshness needs it)",
        "rejects": "no rejects table: the events job writes it",
        "hourly_stats": "no hourly_stats table: run the hourly_stats job (events per hour, the activity mix, "
                        "the top pages and the volume flags need it)",
        "sessions": "no sessions table: run the sessions job to see sessions, conversion and session length",
    }
    notes = [f"The warehouse has {text}." for name, text in lacks.items() if frames[name] is None]
    if reports is None:
        notes.append("The warehouse has no run reports (_runs/*.json): no run accounting and no reject-rate flags.")
    return notes


def run(spark: SparkSession, cfg: ReportConfig) -> dict:
    from clickstream.report import page

    started = time.time()
    warehouse = fs.qualify(spark, cfg.warehouse)
    output = fs.qualify(spark, cfg.target)
    now = cfg.now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    data = gather(spark, cfg, warehouse, now)
    text = page.render(data)
    fs.write_text(spark, output, text)
    rep = {
        "run_id": cfg.run_id, "job": "report", "warehouse": warehouse, "output": output,
        "bytes": len(text.encode("utf-8")), "charts": text.count("<figure class=\"chart\""),
        "from": data.first.isoformat(), "to": data.last.isoformat(), "runs_from": data.run_first.isoformat(),
        "runs_to": data.run_last.isoformat(), "days": cfg.days, "source": cfg.source,
        "generated_at": now.isoformat() + "Z", "versions": data.versions,
        "sources": [s.source for s in data.sources], "notes": data.notes,
        "flags": [f.to_dict() for f in data.flags], "status": "succeeded",
    }
    rep["duration_s"] = round(time.time() - started, 3)
    run_reports.write(spark, warehouse, rep)
    print(f"report run_id={cfg.run_id} output={output} days={data.first}..{data.last} charts={rep['charts']} "
          f"flags={len(rep['flags'])} bytes={rep['bytes']} duration_s={rep['duration_s']}", flush=True)
    for flag in data.flags:
        print(f"  flag {flag.metric}: {flag.describe()}", flush=True)
    return rep
