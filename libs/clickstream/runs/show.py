"""The `show` job: where the warehouse's tables are, how big, and their first rows."""
from __future__ import annotations

import pyspark.sql.functions as F
import pyspark.sql.types as T
from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from clickstream.config import cli
from clickstream.warehouse import fs, tables

# Table name -> the columns that order its rows for display.
TABLES = {
    "events": ["time_stamp", "event_id"],
    "rejects": ["source_file", "reason", "raw"],
    "hourly_stats": ["time_bucket", "url_level1", "activity"],
    "sessions": ["session_start", "source", "user_id", "session_id"],
    **{name: ["period_start", "source", "url_level1", "activity"]
       for name in ("daily_stats", "weekly_stats", "monthly_stats")},
}


def parser() -> cli.ArgumentParser:
    """The job's command line; the README's "Command line" synopsis and docs/reference.md show the same options."""
    parser = cli.ArgumentParser(prog="show", description="Show the warehouse's tables.")
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--table", action="append", choices=sorted(TABLES),
                        help="table to show (repeatable; default: all that exist)")
    parser.add_argument("--rows", type=int, default=5)
    return parser


def parse_args(argv):
    return parser().parse_args(argv)


def run(spark: SparkSession, args) -> int:
    """The chosen tables (--table; default: every one) with their first rows; with
    --table, the warehouse's other tables are named with their row counts."""
    warehouse = fs.qualify(spark, args.warehouse)
    for name in args.table or list(TABLES):
        path = fs.join(warehouse, name)
        if not DeltaTable.isDeltaTable(spark, path):
            print(f"{name}: no table at {path}")
            continue
        df = spark.read.format("delta").load(path)
        version = tables.current_version(spark, path)
        print(f"\n{name}: {df.count()} rows, Delta version {version}, at {path}")
        binary = [f.name for f in df.schema.fields if isinstance(f.dataType, T.BinaryType)]  # sketches, raw bytes
        df.orderBy(*[F.col(c) for c in TABLES[name]]).drop(*binary).show(args.rows, truncate=60)
    others = [(name, fs.join(warehouse, name)) for name in TABLES if args.table and name not in args.table]
    counts = [f"{name} ({spark.read.format('delta').load(path).count():,} rows)" for name, path in others
              if DeltaTable.isDeltaTable(spark, path)]
    if counts:
        print(f"\nAlso in {warehouse}: {', '.join(counts)}")
    events = fs.join(warehouse, "events")
    local = events[len("file:"):] if events.startswith("file:") else events
    print(f'\nQuery with Spark:  spark.read.format("delta").load("{events}")')
    print(f'Query with Python: deltalake.DeltaTable("{local}").to_pyarrow_dataset().to_table(use_threads=False)')
    return cli.EXIT_OK
