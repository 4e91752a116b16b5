"""The `rollup` job: `hourly_stats[_<dims>]` -> `daily_stats`, `weekly_stats` or
`monthly_stats` (`[_<dims>]`), by UTC day, ISO week (Monday to Sunday, never split)
or month, from the hourly table alone: the events table is never read.

    run(spark, cfg)  pins the hourly table at its current version, picks the periods to
                     recompute, aggregates their hours with `clickstream.rules.rollup.rollup`
                     (the union of the hours' user sketches), and rewrites exactly those
                     periods of the rollup table in one commit (`replaceWhere` on period_start).

Which periods: --from/--to forces every period that holds a day of the range.
Otherwise the periods that hold a day whose hourly rows changed since the hourly
version this rollup consumed last, read from the hourly table's change data feed
(`hourly_stats` enables it); the consumed version is kept in the rollup commit's
userMetadata (`hourly_version`). With no rollup table yet, or no usable feed, every
period is recomputed.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import pyspark.sql.functions as F
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from clickstream.config import cli, schemas
from clickstream.config.errors import JobFailed, UsageError
from clickstream.rules import hourly_stats as stats_rules
from clickstream.rules import rollup as rollup_rules
from clickstream.runs.hourly_stats import (consuming_commit, days_and_source, missing_columns, parse_dimensions,
                                           written_summary)
from clickstream.warehouse import catalog, fs, run_reports, tables
from clickstream.warehouse.scope import Scope

log = logging.getLogger("clickstream.rollup")
MAX_ATTEMPTS = 5
CONSUMED = "hourly_version"  # the userMetadata key of the hourly version a commit brought the table up to


@dataclass(frozen=True)
class RollupConfig:
    warehouse: str
    grain: str
    dimensions: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    source: str | None = None
    run_id: str = ""


def parser() -> cli.ArgumentParser:
    """The job's command line; the README's "Command line" synopsis and docs/reference.md show the same options."""
    parser = cli.ArgumentParser(prog="rollup", description="Roll the hourly table up to days, ISO weeks or months.")
    parser.add_argument("--warehouse", required=True, help="root directory or URI of the tables")
    parser.add_argument("--grain", required=True, choices=rollup_rules.GRAINS,
                        help="day -> daily_stats, week -> weekly_stats (ISO, from Monday), month -> monthly_stats")
    parser.add_argument("--dimensions", help="the hourly grain to roll up: hourly_stats_<dims> (default: hourly_stats)")
    parser.add_argument("--from", dest="date_from", help="recompute the periods from the one holding this day, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", help="... to the one holding this day, YYYY-MM-DD")
    parser.add_argument("--source", help="recompute only this feed's rows (default: every source)")
    parser.add_argument("--run-id", help="id of this run (default: UTC time plus random suffix)")
    return parser


def parse_args(argv: list[str]) -> RollupConfig:
    args = parser().parse_args(argv)
    date_from, date_to = days_and_source(args)
    return RollupConfig(warehouse=args.warehouse, grain=args.grain, dimensions=parse_dimensions(args.dimensions),
                        date_from=date_from, date_to=date_to, source=args.source, run_id=cli.run_id(args.run_id))


@dataclass(frozen=True)
class Plan:
    """What a run recomputes. `mode`: 'range' (--from/--to), 'catch_up' (the periods
    of the days changed since the consumed hourly version), 'full' (no table yet, or
    no usable feed), 'up_to_date' (nothing). `periods`: the first days of the periods
    a catch-up rewrites; `first`/`last`: a range's, widened to whole periods."""
    mode: str
    sources: tuple[str, ...] = ()
    periods: tuple[dt.date, ...] = ()
    first: dt.date | None = None
    last: dt.date | None = None
    consumed: int | None = None

    @property
    def recomputes(self) -> bool:
        return self.mode in ("range", "full") or (self.mode == "catch_up" and bool(self.periods))

    def hourly_scope(self, grain: str) -> Scope:
        """The hourly rows the run reads: every day of its periods."""
        if self.mode == "catch_up":
            days = rollup_rules.days_of(grain, self.periods)
            return Scope(days=tuple(d.isoformat() for d in days), sources=self.sources)
        return Scope(first=self.first, last=self.last, sources=self.sources)

    def scope(self) -> Scope:
        """The rows of the rollup table the run rewrites."""
        if self.mode == "catch_up":
            return Scope("period_start", days=tuple(p.isoformat() for p in self.periods), sources=self.sources)
        return Scope("period_start", first=self.first, last=self.last, sources=self.sources)


def changed_days(spark: SparkSession, hourly_path: str, first: int, last: int,
                 source: str | None) -> list[dt.date] | None:
    """The event_date values whose hourly rows commits first..last changed, from the
    hourly table's change data feed; None when it does not cover those versions."""
    rows = tables.from_changes(spark, hourly_path, first, last, source,
                               lambda changes: changes.select("event_date").distinct().collect(),
                               log, "recomputing every period")
    return None if rows is None else sorted(r["event_date"] for r in rows if r["event_date"] is not None)


def plan(spark: SparkSession, cfg: RollupConfig, hourly_path: str, path: str, hourly_version: int) -> Plan:
    sources = (cfg.source,) if cfg.source else ()
    if cfg.date_from or cfg.date_to:
        first = rollup_rules.first_day(cfg.grain, cfg.date_from) if cfg.date_from else None
        last = rollup_rules.last_day(cfg.grain, rollup_rules.first_day(cfg.grain, cfg.date_to)) if cfg.date_to else None
        return Plan("range", sources, first=first, last=last)
    last_commit = consuming_commit(spark, path, cfg.source, CONSUMED)
    consumed = None if last_commit is None else last_commit[CONSUMED]
    if consumed is not None and consumed == hourly_version:
        return Plan("up_to_date", sources, consumed=consumed)
    if consumed is not None and consumed < hourly_version:
        days = changed_days(spark, hourly_path, consumed + 1, hourly_version, cfg.source)
        if days is not None:
            periods = tuple(sorted({rollup_rules.first_day(cfg.grain, d) for d in days}))
            return Plan("catch_up", sources, periods=periods, consumed=consumed)
    return Plan("full", sources, consumed=consumed)


def hourly_rows(spark: SparkSession, cfg: RollupConfig, todo: Plan, hourly_path: str,
                hourly_version: int) -> DataFrame:
    """What a run reads: the hourly rows of its periods' days, at the pinned version (and nothing else)."""
    return todo.hourly_scope(cfg.grain).apply(tables.read_version(spark, hourly_path, hourly_version))


def refuse_missing_sketches(hourly: DataFrame, hourly_name: str) -> None:
    """A NULL sketch would make a period undercount silently: refuse the run, naming
    the first periods that hold one and the run that mends them."""
    missing = sorted(r["day"] for r in hourly.where(F.col("user_sketch").isNull())
                     .select(F.col("event_date").alias("day")).distinct().orderBy("day").limit(10).collect())
    if missing:
        days = f"{len(missing)} day(s)" if len(missing) < 10 else "10 or more days"
        raise JobFailed(f"{hourly_name} has rows without user_sketch on {days} from {missing[0]}: "
                        f"run hourly_stats --from {missing[0]} --to {missing[-1]} to recompute them first "
                        f"(a rollup of them would undercount)")


def recompute(spark: SparkSession, cfg: RollupConfig, todo: Plan, hourly_path: str, hourly_version: int,
              path: str, hourly_name: str) -> None:
    metadata = {"job": "rollup", "run_id": cfg.run_id, "grain": cfg.grain}
    if todo.mode != "range":
        metadata[CONSUMED] = hourly_version  # a forced range consumes no changes
        if cfg.source:
            metadata["source"] = cfg.source
    hourly = hourly_rows(spark, cfg, todo, hourly_path, hourly_version)
    refuse_missing_sketches(hourly, hourly_name)
    result = rollup_rules.rollup(hourly, cfg.grain, cfg.dimensions)
    tables.ensure_table(spark, path, schemas.rollup_schema(cfg.dimensions), ("period_start",))
    writer = (result.write.format("delta").mode("overwrite").option("partitionOverwriteMode", "static"))
    predicate = todo.scope().sql()
    if predicate:
        writer = writer.option("replaceWhere", predicate)
    with tables.commit_metadata(spark, **metadata):
        writer.save(path)


def run(spark: SparkSession, cfg: RollupConfig) -> dict:
    started = time.time()
    warehouse = fs.qualify(spark, cfg.warehouse)
    catalog.database(spark)  # a bad name is refused before anything is read
    hourly_name = stats_rules.table_name(cfg.dimensions)
    hourly_path = tables.table_path(warehouse, hourly_name)
    if not DeltaTable.isDeltaTable(spark, hourly_path):
        raise UsageError(f"no {hourly_name} table at {hourly_path}: run the hourly_stats job"
                         f"{' with --dimensions ' + ','.join(cfg.dimensions) if cfg.dimensions else ''} first")
    missing = missing_columns(spark, hourly_path, cfg.dimensions)
    if missing:
        raise UsageError(f"{hourly_name} at {hourly_path} has no {', '.join(missing)} column yet: run the "
                         "hourly_stats job once, which adds it (docs/tables.md, Migrations)")
    name = rollup_rules.table_name(cfg.grain, cfg.dimensions)
    path = tables.table_path(warehouse, name)

    def attempt() -> tuple[int, Plan]:
        hourly_version = tables.current_version(spark, hourly_path)
        todo = plan(spark, cfg, hourly_path, path, hourly_version)
        if todo.recomputes:
            recompute(spark, cfg, todo, hourly_path, hourly_version, path, hourly_name)
        return hourly_version, todo

    (hourly_version, todo), attempts = tables.retrying(attempt, MAX_ATTEMPTS, log, "planning",
                                                       "nothing of this run is committed")
    rep = {
        "run_id": cfg.run_id, "job": "rollup", "table": name, "grain": cfg.grain, "hourly_table": hourly_name,
        "warehouse": warehouse, "mode": todo.mode, "source": cfg.source,
        "from": cfg.date_from.isoformat() if cfg.date_from else None,
        "to": cfg.date_to.isoformat() if cfg.date_to else None,
        "dimensions": list(cfg.dimensions), "hourly_version": hourly_version, "consumed_before": todo.consumed,
        "periods_recomputed": [], "rows_written": 0, "events_counted": 0, "commit": None,
        "status": "succeeded", "attempts": attempts,
    }
    if todo.recomputes:
        scope = todo.scope()
        summary = written_summary(spark, path, scope, scope.apply(spark.read.format("delta").load(path)))
        rep.update(rows_written=summary["rows_written"], events_counted=summary["events_counted"],
                   periods_recomputed=[p.isoformat() for p in todo.periods] or summary["dates"],
                   commit=summary["commit"])
    rep["duration_s"] = round(time.time() - started, 3)
    run_reports.publish(spark, warehouse, rep, [name])
    print(f"rollup run_id={cfg.run_id} table={name} mode={rep['mode']} hourly_version={hourly_version} "
          f"periods={len(rep['periods_recomputed'])} rows={rep['rows_written']} events={rep['events_counted']} "
          f"duration_s={rep['duration_s']}", flush=True)
    return rep
