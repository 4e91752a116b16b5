"""The `events` job: raw event lines -> the warehouse's `events` and `rejects` Delta tables.

    run(spark, cfg)  reads the input files, classifies every line with the
                     transforms in `clickstream.ingest`, then commits:
                     1. rejects: one replaceWhere on the run's source files in `rejects`;
                     2. new events: one MERGE into `events` (none if nothing is new);
                     3. the run report: `_runs/<run_id>.json` (and the --csv extract).

When the reject rate is above `max_reject_rate`, step 2 is skipped and the run exits 3.
A run killed between 1 and 2 is repaired by running it again: the rejects are replaced,
and the MERGE inserts what is missing.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import pyspark.sql.functions as F
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from clickstream import cli, csv_export, fs, ingest, report, tables
from clickstream.profile import Profile, load_profile

log = logging.getLogger("clickstream.events")


@dataclass(frozen=True)
class EventsConfig:
    input: str
    warehouse: str
    profile: Profile
    source: str = "hipages"
    max_reject_rate: float = 0.05
    run_id: str = ""
    csv: str | None = None


def parse_args(argv: list[str], conf_dir: str) -> EventsConfig:
    """Validate the command line and the source profile, before Spark starts."""
    parser = cli.ArgumentParser(prog="events", description="Ingest raw event lines into the warehouse.")
    parser.add_argument("--input", required=True, help="file, directory, glob or URI of JSON-lines files")
    parser.add_argument("--warehouse", required=True, help="root directory or URI of the tables")
    parser.add_argument("--source", default="hipages", help="source profile in conf/sources/ (default: hipages)")
    parser.add_argument("--max-reject-rate", type=cli.fraction, default=0.05,
                        help="fail with exit 3, committing no events, above this rejected/records (default: 0.05)")
    parser.add_argument("--run-id", help="id of this run (default: UTC time plus random suffix)")
    parser.add_argument("--csv", help="also write the events this run added as one CSV file (user_web_hits)")
    parser.add_argument("--conf-dir", default=conf_dir, help=f"configuration root (default: {conf_dir})")
    args = parser.parse_args(argv)
    return EventsConfig(
        input=args.input,
        warehouse=args.warehouse,
        profile=load_profile(args.conf_dir, args.source),
        source=args.source,
        max_reject_rate=args.max_reject_rate,
        run_id=cli.run_id(args.run_id),
        csv=args.csv,
    )


def read_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """Every line of the files, with its file and an order that follows the lines of a file."""
    return spark.read.text(files).select(
        F.col("value"),
        F.col("_metadata.file_path").alias("source_file"),
        F.monotonically_increasing_id().alias("line_order"),
    )


def classify(lines: DataFrame, profile: Profile, existing_events: DataFrame) -> DataFrame:
    """Every line with its `status` and `reason`, and the event's columns where it has them."""
    return (
        lines.transform(ingest.with_json_fields, profile.fields)
        .transform(ingest.with_event_columns, profile.timestamp_formats, profile.timezone)
        .transform(ingest.with_reject_reason, profile.required)
        .transform(ingest.with_dedup_status, existing_events)
    )


def added_events(spark: SparkSession, events_path: str, rep: report.RunReport) -> DataFrame:
    """The user_web_hits columns of the events this run inserted (found by run_id)."""
    dates = [f"DATE'{d}'" for d in rep.partitions_written] or ["NULL"]
    return (
        spark.read.format("delta").load(events_path)
        .where(f"event_date IN ({', '.join(dates)})")
        .where(F.col("run_id") == rep.run_id)
        .select(*csv_export.USER_WEB_HITS)
    )


def run(spark: SparkSession, cfg: EventsConfig) -> report.RunReport:
    started = time.time()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    warehouse = fs.qualify(spark, cfg.warehouse)
    files = fs.list_input_files(spark, cfg.input)
    events_path = tables.table_path(warehouse, "events")
    rejects_path = tables.table_path(warehouse, "rejects")
    events_table = tables.ensure_table(spark, events_path, tables.EVENTS_SCHEMA, ["event_date"])
    tables.ensure_table(spark, rejects_path, tables.REJECTS_SCHEMA)
    log.info("run %s: %d input file(s) from %s", cfg.run_id, len(files), cfg.input)

    # Classify against one pinned version of the table. Everything that reads the
    # classified lines runs before the MERGE: a write to the events table invalidates
    # cached plans that read it.
    existing = tables.read_version(spark, events_path, events_table.history(1).first()["version"])
    classified = classify(read_lines(spark, files), cfg.profile, existing).persist(StorageLevel.MEMORY_AND_DISK)
    metadata = {"job": "events", "run_id": cfg.run_id, "source": cfg.source}
    try:
        counts = report.count_statuses(classified)
        rep = report.RunReport(
            run_id=cfg.run_id, job="events", source=cfg.source, input=cfg.input, warehouse=warehouse,
            input_files=files, started_at=started_at, max_reject_rate=cfg.max_reject_rate, **counts,
        )
        rep.check_arithmetic()
        rejects = classified.filter(F.col("status") == "rejected").select(
            F.col("value").alias("raw"), "reason", "source_file", F.lit(cfg.run_id).alias("run_id")
        )
        with tables.commit_metadata(spark, **metadata):
            tables.replace_rejects(rejects_path, rejects, files)
        if rep.reject_rate > cfg.max_reject_rate:
            rep.status = "failed_reject_rate"
            log.error("reject rate %.4f is above --max-reject-rate %s: no events committed",
                      rep.reject_rate, cfg.max_reject_rate)
        elif rep.events_written:
            new_events = classified.filter(F.col("status") == "new").select(
                *[F.lit(cfg.run_id).alias(c) if c == "run_id" else F.col(c) for c in tables.EVENTS_COLUMNS]
            )
            with tables.commit_metadata(spark, **metadata):
                rep.events_commit = tables.merge_new_events(spark, events_path, new_events)
            inserted = int(rep.events_commit["metrics"].get("numTargetRowsInserted", -1))
            if inserted != rep.events_written:
                raise RuntimeError(
                    f"MERGE inserted {inserted} events where {rep.events_written} were new: "
                    "another writer changed the events table during this run"
                )
    finally:
        classified.unpersist()
    if cfg.csv and rep.status == "succeeded":
        rep.csv = csv_export.write_csv(spark, added_events(spark, events_path, rep), cfg.csv)
    rep.duration_s = round(time.time() - started, 3)
    report.write(spark, warehouse, rep)
    print(rep.summary_line(), flush=True)
    return rep
