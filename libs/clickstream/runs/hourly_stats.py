"""The `hourly_stats` job: the events table -> `hourly_stats[_<dims>]`, by hourly bucket.

    run(spark, cfg)  pins the events table at its current version, picks the days to
                     recompute, aggregates them with `clickstream.rules.hourly_stats.hourly_stats`,
                     and rewrites exactly those days of the grain's table in one commit
                     (`replaceWhere` on event_date).

Which days: --from/--to forces a range. Otherwise the days that the events table's
commits changed since the version this stats table consumed last, read from the
events table's change data feed; the consumed version is kept in the stats commit's
userMetadata (`events_version`), so the data and the record move in one commit. With
no stats table yet, or no usable feed, every day is recomputed (the whole table).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import pyspark.sql.functions as F
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from clickstream.config import cli, faults, schemas
from clickstream.rules import hourly_stats as stats_rules
from clickstream.warehouse import catalog, extracts, fs, run_reports, tables
from clickstream.warehouse.scope import Scope
from clickstream.config.errors import UsageError
from clickstream.config.profiles import PROPERTY_NAME, SOURCE_NAME

log = logging.getLogger("clickstream.hourly_stats")
# Tries when another run's commit to the same table conflicts (as events' --max-attempts).
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class StatsConfig:
    warehouse: str
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    dimensions: tuple[str, ...] = ()
    csv: str | None = None
    run_id: str = ""
    source: str | None = None


def parse_dimensions(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    dims = tuple(d.strip() for d in value.split(","))
    taken = {*schemas.EVENTS_COLUMNS, *schemas.hourly_stats_schema().fieldNames(),  # a property may not shadow these
             *schemas.rollup_schema().fieldNames()}
    for d in dims:
        if d not in stats_rules.DIMENSIONS and (not PROPERTY_NAME.match(d) or d in taken):
            raise UsageError(f"bad dimension {d!r} in --dimensions: use {', '.join(stats_rules.DIMENSIONS)} "
                             "or a property key such as campaign_id ([a-z][a-z0-9_]*)")
    if len(set(dims)) != len(dims):
        raise UsageError(f"--dimensions names a column twice: {value}")
    return dims


def parser() -> cli.ArgumentParser:
    """The job's command line; the README's "Command line" synopsis and docs/reference.md show the same options."""
    parser = cli.ArgumentParser(prog="hourly_stats", description="Aggregate the events table by hour.")
    parser.add_argument("--warehouse", required=True, help="root directory or URI of the tables")
    parser.add_argument("--from", dest="date_from", help="first event_date to recompute, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", help="last event_date to recompute, YYYY-MM-DD")
    parser.add_argument("--dimensions", help=f"extra grain columns, comma-separated: {', '.join(stats_rules.DIMENSIONS)} "
                                             "or property keys (e.g. campaign_id)")
    parser.add_argument("--source", help="recompute only this feed's rows (default: every source)")
    parser.add_argument("--csv", help="also write the recomputed rows as one CSV file here")
    parser.add_argument("--run-id", help="id of this run (default: UTC time plus random suffix)")
    return parser


def days_and_source(args) -> tuple[dt.date | None, dt.date | None]:
    """--from and --to (either may be open, in order), once --source is found a
    well-formed feed name: the checks of hourly_stats and rollup."""
    date_from = cli.parse_date(args.date_from) if args.date_from else None
    date_to = cli.parse_date(args.date_to) if args.date_to else None
    if date_from and date_to and date_from > date_to:
        raise UsageError(f"--from {date_from} is after --to {date_to}")
    if args.source is not None and not SOURCE_NAME.match(args.source):
        raise UsageError(f"bad --source {args.source!r}: use letters, digits, '_', '.' or '-'")
    return date_from, date_to


def parse_args(argv: list[str]) -> StatsConfig:
    args = parser().parse_args(argv)
    date_from, date_to = days_and_source(args)
    return StatsConfig(warehouse=args.warehouse, date_from=date_from, date_to=date_to,
                       dimensions=parse_dimensions(args.dimensions), csv=args.csv, run_id=cli.run_id(args.run_id),
                       source=args.source)


def consuming_commit(spark: SparkSession, path: str, source: str | None = None,
                     key: str = "events_version") -> dict | None:
    """The userMetadata of the newest commit that brought the table up to a version of
    the table it reads (`key`: `events_version`; `hourly_version` for a rollup), for
    every source or, with `source`, for that one (a commit of every source counts for
    it too); or None."""
    for meta in tables.metadata_newest_first(spark, path):
        if isinstance(meta.get(key), int) and meta.get("source") in (None, source):
            return meta
    return None


def consumed_version(spark: SparkSession, path: str, source: str | None = None) -> int | None:
    """The events table version the stats table was last brought up to, or None."""
    meta = consuming_commit(spark, path, source)
    return None if meta is None else meta["events_version"]


def changed_days(spark: SparkSession, events_path: str, first: int, last: int,
                 source: str | None = None) -> list[str] | None:
    """The event_date values that commits first..last of the events table inserted,
    updated or deleted (for one source, or any), from its change data feed; None when
    the feed does not cover those versions (it was enabled later, or they were vacuumed)."""
    rows = tables.from_changes(
        spark, events_path, first, last, source,
        lambda changes: changes.select(F.date_format("event_date", "yyyy-MM-dd").alias("day")).distinct().collect(),
        log, "recomputing every day")
    return None if rows is None else sorted(r["day"] for r in rows if r["day"] is not None)


@dataclass(frozen=True)
class Plan:
    """What a run recomputes. `mode`: 'range' (forced by --from/--to), 'catch_up' (the
    days changed since the consumed version), 'full' (no table yet, or no usable feed),
    'up_to_date' (nothing). `scope`: the rows of the stats table it rewrites, and of the
    events it reads; `consumed`: the events version the table held before; `days`: the
    changed days of a catch-up; `extract`: what --csv writes when there is nothing to
    recompute, the rows the last recompute rewrote (None: unknown); `migrated`: the
    columns a full recompute adds to a table an older version wrote."""
    mode: str
    scope: Scope
    consumed: int | None = None
    days: tuple[str, ...] = ()
    extract: Scope | None = None
    migrated: tuple[str, ...] = ()

    @property
    def source(self) -> str | None:
        """The one source the run is limited to, or None for every source."""
        return self.scope.sources[0] if self.scope.sources else None

    @property
    def recomputes(self) -> bool:
        return self.mode in ("range", "full") or (self.mode == "catch_up" and bool(self.days))


def plan(spark: SparkSession, cfg: StatsConfig, events_path: str, path: str, events_version: int) -> Plan:
    """Which days to recompute: a forced range; the days changed since the version the
    stats table consumed last; or every day (no table yet, or no usable history)."""
    sources = (cfg.source,) if cfg.source else ()
    missing = missing_columns(spark, path, cfg.dimensions)
    if missing:
        # Written by an older version (before `source`, or before `user_sketch`): every
        # source, every day, once, with the new schema (docs/tables.md, "Migrations").
        return Plan("full", Scope(), migrated=missing)
    if cfg.date_from or cfg.date_to:
        return Plan("range", Scope(first=cfg.date_from, last=cfg.date_to, sources=sources))
    last = consuming_commit(spark, path, cfg.source)
    consumed = None if last is None else last["events_version"]
    if consumed is not None and consumed == events_version:
        # Nothing to recompute; --csv writes again what the commit that consumed this
        # version rewrote, as that run did (or would have, had it not stopped after its commit).
        recorded = last.get("scope")
        return Plan("up_to_date", Scope(days=(), sources=sources), consumed,
                    extract=Scope.from_json(recorded) if recorded else None)
    if consumed is not None and consumed < events_version:
        days = changed_days(spark, events_path, consumed + 1, events_version, cfg.source)
        if days is not None:
            return Plan("catch_up", Scope(days=tuple(days), sources=sources), consumed, tuple(days))
    return Plan("full", Scope(sources=sources), consumed)


def missing_columns(spark: SparkSession, path: str, dimensions: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of the grain's schema that an existing stats table lacks (an older
    version wrote it: before the grain had `source`, or rows had `user_sketch`)."""
    if not DeltaTable.isDeltaTable(spark, path):
        return ()
    have = set(DeltaTable.forPath(spark, path).toDF().columns)
    return tuple(f.name for f in schemas.hourly_stats_schema(dimensions) if f.name not in have)


def recompute(spark: SparkSession, cfg: StatsConfig, todo: Plan, events_path: str, events_version: int,
              path: str) -> None:
    """Aggregate the events of the plan's scope (at the pinned version) and replace
    exactly that scope of the stats table, in one commit that records what it consumed."""
    metadata = {"job": "hourly_stats", "run_id": cfg.run_id}
    if todo.mode != "range":
        metadata["events_version"] = events_version  # a forced range consumes no changes
        metadata["scope"] = todo.scope.to_json()  # what a rerun's --csv writes again
        if todo.source:
            metadata["source"] = todo.source  # ... and a run of one source consumes them for it alone
    events = todo.scope.apply(tables.read_version(spark, events_path, events_version))
    result = stats_rules.hourly_stats(events, cfg.dimensions)
    # The scope of the overwrite is stated here, whatever the session's
    # partitionOverwriteMode (conf/spark/*.properties set it to dynamic): a scope
    # replaces its rows; the whole table is replaced when every day is recomputed.
    writer = (result.write.format("delta").mode("overwrite").partitionBy("event_date")
              .option("partitionOverwriteMode", "static"))
    predicate = todo.scope.sql()
    writer = writer.option("replaceWhere", predicate) if predicate else writer.option("overwriteSchema", "true")
    # The change data feed that `rollup` catches up from (given to older tables here, once).
    tables.ensure_table(spark, path, schemas.hourly_stats_schema(cfg.dimensions), ("event_date",), tables.CHANGE_FEED)
    with tables.commit_metadata(spark, **metadata):
        writer.save(path)
    faults.point("stats_committed")


def written_summary(spark: SparkSession, path: str, scope: Scope, written: DataFrame) -> dict:
    """What a commit wrote into the `scope` of a stats table (hourly or rollup), given
    those rows (`written`): their number, the events they count, the dates of
    scope.date_column, and the commit."""
    summary = written.agg(
        F.count(F.lit(1)).alias("rows"),
        F.coalesce(F.sum("activity_count"), F.lit(0)).alias("events"),
        F.collect_set(F.date_format(scope.date_column, "yyyy-MM-dd")).alias("dates"),
    ).first()
    return {"rows_written": summary["rows"], "events_counted": summary["events"], "dates": sorted(summary["dates"]),
            "commit": tables.last_commit(DeltaTable.forPath(spark, path))}


def summarise(spark: SparkSession, cfg: StatsConfig, todo: Plan, path: str, rep: dict) -> None:
    """Count what the commit wrote into the report, and write the CSV extract."""
    written = todo.scope.apply(spark.read.format("delta").load(path))
    summary = written_summary(spark, path, todo.scope, written)
    rep.update(rows_written=summary["rows_written"], events_counted=summary["events_counted"],
               days_recomputed=list(todo.days) or summary["dates"], commit=summary["commit"])
    write_extract(spark, cfg, todo, written, rep)


def write_extract(spark: SparkSession, cfg: StatsConfig, todo: Plan, rows: DataFrame, rep: dict) -> None:
    """--csv: `rows` as the challenge's aggregated_web_stats extract. One source's
    extract has the challenge's columns; several sources' keep `source`."""
    if cfg.csv:
        rows = rows.drop("event_date", "user_sketch")
        extracts.write_csv(spark, rows.drop("source") if todo.source else rows, cfg.csv)
        rep["csv"] = cfg.csv


def run(spark: SparkSession, cfg: StatsConfig) -> dict:
    started = time.time()
    warehouse = fs.qualify(spark, cfg.warehouse)
    catalog.database(spark)  # a bad name is refused before anything is read
    events_path = tables.table_path(warehouse, "events")
    if not DeltaTable.isDeltaTable(spark, events_path):
        raise UsageError(f"no events table at {events_path}: run the events job first")
    name = stats_rules.table_name(cfg.dimensions)
    path = tables.table_path(warehouse, name)

    def attempt() -> tuple[int, Plan]:
        # One pinned version of the events table: what is read is what is recorded as consumed.
        events_version = tables.current_version(spark, events_path)
        todo = plan(spark, cfg, events_path, path, events_version)
        if todo.recomputes:
            recompute(spark, cfg, todo, events_path, events_version, path)
        return events_version, todo

    # Another run committing to the same days first is a conflict: plan again, at most MAX_ATTEMPTS times.
    (events_version, todo), attempts = tables.retrying(attempt, MAX_ATTEMPTS, log, "planning",
                                                       "nothing of this run is committed")
    rep = {
        "run_id": cfg.run_id, "job": "hourly_stats", "table": name, "warehouse": warehouse, "mode": todo.mode,
        "from": cfg.date_from.isoformat() if cfg.date_from else None,
        "to": cfg.date_to.isoformat() if cfg.date_to else None,
        "dimensions": list(cfg.dimensions), "source": todo.source, "events_version": events_version,
        "consumed_before": todo.consumed, "migrated_columns": list(todo.migrated), "rows_written": 0,
        "events_counted": 0, "days_recomputed": [], "commit": None, "status": "succeeded", "attempts": attempts,
    }
    if todo.recomputes:
        summarise(spark, cfg, todo, path, rep)
    elif cfg.csv and todo.extract is not None:
        write_extract(spark, cfg, todo, todo.extract.apply(spark.read.format("delta").load(path)), rep)
    elif cfg.csv:
        log.warning("nothing to recompute, and the commit that consumed events version %s does not say which "
                    "rows it rewrote (it predates that record): %s is left as it is", events_version, cfg.csv)
    rep["duration_s"] = round(time.time() - started, 3)
    run_reports.publish(spark, warehouse, rep, [name])
    print(
        f"hourly_stats run_id={cfg.run_id} table={name} mode={rep['mode']} events_version={events_version} "
        f"days={len(rep['days_recomputed'])} rows={rep['rows_written']} events={rep['events_counted']} "
        f"duration_s={rep['duration_s']}",
        flush=True,
    )
    return rep
