"""The `hourly_stats` job: the events table -> `hourly_stats[_<dims>]`, by hourly bucket.

    run(spark, cfg)  reads the events table pruned to the days in range, aggregates
                     them with `clickstream.stats.hourly_stats`, and rewrites exactly
                     those days of the grain's table in one commit (`replaceWhere` on
                     event_date; the whole table when no range is given).
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import pyspark.sql.functions as F
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from clickstream import cli, csv_export, fs, stats, tables
from clickstream.errors import UsageError

@dataclass(frozen=True)
class StatsConfig:
    warehouse: str
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    dimensions: tuple[str, ...] = ()
    csv: str | None = None
    run_id: str = ""


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"bad date {value!r}: use YYYY-MM-DD") from None


def parse_dimensions(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    dims = tuple(d.strip() for d in value.split(","))
    for d in dims:
        if d not in stats.DIMENSIONS:
            raise UsageError(f"unknown dimension {d!r} in --dimensions (known: {', '.join(stats.DIMENSIONS)})")
    if len(set(dims)) != len(dims):
        raise UsageError(f"--dimensions names a column twice: {value}")
    return dims


def parse_args(argv: list[str]) -> StatsConfig:
    parser = cli.ArgumentParser(prog="hourly_stats", description="Aggregate the events table by hour.")
    parser.add_argument("--warehouse", required=True, help="root directory or URI of the tables")
    parser.add_argument("--from", dest="date_from", help="first event_date to recompute, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", help="last event_date to recompute, YYYY-MM-DD")
    parser.add_argument("--dimensions", help=f"extra grain columns, comma-separated ({', '.join(stats.DIMENSIONS)})")
    parser.add_argument("--csv", help="also write the recomputed rows as one CSV file here")
    parser.add_argument("--run-id", help="id of this run (default: UTC time plus random suffix)")
    args = parser.parse_args(argv)
    date_from = _date(args.date_from) if args.date_from else None
    date_to = _date(args.date_to) if args.date_to else None
    if date_from and date_to and date_from > date_to:
        raise UsageError(f"--from {date_from} is after --to {date_to}")
    return StatsConfig(warehouse=args.warehouse, date_from=date_from, date_to=date_to,
                       dimensions=parse_dimensions(args.dimensions), csv=args.csv, run_id=cli.run_id(args.run_id))


def date_range_predicate(date_from: dt.date | None, date_to: dt.date | None) -> str | None:
    """SQL predicate on event_date for the range, or None for every day."""
    parts = []
    if date_from:
        parts.append(f"event_date >= DATE'{date_from.isoformat()}'")
    if date_to:
        parts.append(f"event_date <= DATE'{date_to.isoformat()}'")
    return " AND ".join(parts) or None


def read_events(spark: SparkSession, warehouse: str, predicate: str | None) -> DataFrame:
    """The events table, pruned to the partitions the predicate keeps."""
    path = tables.table_path(warehouse, "events")
    if not DeltaTable.isDeltaTable(spark, path):
        raise UsageError(f"no events table at {path}: run the events job first")
    events = spark.read.format("delta").load(path)
    return events.where(predicate) if predicate else events


def run(spark: SparkSession, cfg: StatsConfig) -> dict:
    started = time.time()
    warehouse = fs.qualify(spark, cfg.warehouse)
    predicate = date_range_predicate(cfg.date_from, cfg.date_to)
    name = stats.table_name(cfg.dimensions)
    path = tables.table_path(warehouse, name)
    result = stats.hourly_stats(read_events(spark, warehouse, predicate), cfg.dimensions)
    writer = result.write.format("delta").mode("overwrite").partitionBy("event_date")
    # Without a range every day is recomputed, so the whole table is replaced.
    writer = writer.option("replaceWhere", predicate) if predicate else writer.option("overwriteSchema", "true")
    with tables.commit_metadata(spark, job="hourly_stats", run_id=cfg.run_id):
        writer.save(path)
    written = spark.read.format("delta").load(path)
    written = written.where(predicate) if predicate else written
    summary = written.agg(
        F.count(F.lit(1)).alias("rows"),
        F.coalesce(F.sum("activity_count"), F.lit(0)).alias("events"),
        F.collect_set(F.date_format("event_date", "yyyy-MM-dd")).alias("days"),
    ).first()
    rep = {
        "run_id": cfg.run_id, "job": "hourly_stats", "table": name, "warehouse": warehouse,
        "from": cfg.date_from.isoformat() if cfg.date_from else None,
        "to": cfg.date_to.isoformat() if cfg.date_to else None,
        "dimensions": list(cfg.dimensions), "rows_written": summary["rows"], "events_counted": summary["events"],
        "days_recomputed": sorted(summary["days"]), "commit": tables.last_commit(DeltaTable.forPath(spark, path)),
        "status": "succeeded",
    }
    if cfg.csv:
        csv_export.write_csv(spark, written.drop("event_date"), cfg.csv)
        rep["csv"] = cfg.csv
    rep["duration_s"] = round(time.time() - started, 3)
    fs.write_json(spark, fs.join(warehouse, "_runs", f"{cfg.run_id}.json"), rep)
    print(
        f"hourly_stats run_id={cfg.run_id} table={name} days={len(rep['days_recomputed'])} "
        f"rows={rep['rows_written']} events={rep['events_counted']} duration_s={rep['duration_s']}",
        flush=True,
    )
    return rep
