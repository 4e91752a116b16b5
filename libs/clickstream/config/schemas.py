"""The schema of each table the jobs write, defined once: the tables are created from
these, the rules' outputs are tested against them, and docs/tables.md describes them.

    events, rejects      the events job (events is partitioned by event_date)
    sessions             the sessions job (partitioned by session_date)
    hourly_stats[_dims]  the hourly_stats job, one schema per grain (partitioned by event_date)
    daily_stats, weekly_stats, monthly_stats[_dims]
                         the rollup job (partitioned by period_start)
"""
from __future__ import annotations

import pyspark.sql.types as T

# The size and modification time of the file a line was read from, as a text read's
# select names them (clickstream.warehouse.ingested.file_columns); the parse keeps
# them for the per-file accounting (clickstream.rules.events.file_summary).
READ_AT = ("file_size", "file_modified")

EVENTS_SCHEMA = T.StructType([
    T.StructField("source", T.StringType(), False),
    T.StructField("event_id", T.StringType(), False),
    T.StructField("user_id", T.StringType(), False),
    T.StructField("session_id", T.StringType(), True),
    T.StructField("time_stamp", T.TimestampType(), False),
    T.StructField("url_level1", T.StringType(), True),
    T.StructField("url_level2", T.StringType(), True),
    T.StructField("url_level3", T.StringType(), True),
    T.StructField("activity", T.StringType(), False),
    T.StructField("url", T.StringType(), True),
    T.StructField("ip", T.StringType(), True),
    T.StructField("properties", T.MapType(T.StringType(), T.StringType()), True),
    T.StructField("source_file", T.StringType(), False),
    T.StructField("run_id", T.StringType(), False),
    T.StructField("event_date", T.DateType(), False),
])
EVENTS_COLUMNS = EVENTS_SCHEMA.fieldNames()

REJECTS_SCHEMA = T.StructType([
    T.StructField("raw", T.StringType(), True),
    T.StructField("reason", T.StringType(), False),
    T.StructField("source_file", T.StringType(), False),
    T.StructField("run_id", T.StringType(), False),
    # The line's length in bytes as read (line_too_long keeps only a prefix in `raw`).
    T.StructField("raw_bytes", T.LongType(), True),
    # The bytes of `raw` exactly as read, when they are not valid UTF-8 (`raw` then holds
    # U+FFFD for each invalid sequence, so that every engine can read it); else NULL.
    T.StructField("raw_binary", T.BinaryType(), True),
])
REJECTS_COLUMNS = REJECTS_SCHEMA.fieldNames()

SESSIONS_SCHEMA = T.StructType([
    T.StructField("session_id", T.StringType(), False),
    T.StructField("source", T.StringType(), False),
    T.StructField("user_id", T.StringType(), False),
    T.StructField("device", T.StringType(), True),
    T.StructField("session_start", T.TimestampType(), False),
    T.StructField("session_end", T.TimestampType(), False),
    T.StructField("duration_seconds", T.LongType(), False),
    T.StructField("event_count", T.LongType(), False),
    T.StructField("first_activity", T.StringType(), False),
    T.StructField("last_activity", T.StringType(), False),
    T.StructField("landing_url_level1", T.StringType(), True),
    T.StructField("landing_url_level2", T.StringType(), True),
    T.StructField("converted", T.BooleanType(), True),
    T.StructField("converted_at", T.TimestampType(), True),
    T.StructField("conversion_activity", T.StringType(), True),
    T.StructField("session_date", T.DateType(), False),
])
SESSIONS_COLUMNS = SESSIONS_SCHEMA.fieldNames()


def hourly_stats_schema(dimensions: tuple[str, ...] | list[str] = ()) -> T.StructType:
    """`hourly_stats` with the default grain, or `hourly_stats_<dims>` with `dimensions`
    (event columns or property keys, strings) between url_level1 and activity."""
    return T.StructType([
        T.StructField("time_bucket", T.StringType(), True),
        T.StructField("source", T.StringType(), False),
        T.StructField("url_level1", T.StringType(), True),
        *[T.StructField(d, T.StringType(), True) for d in dimensions],
        T.StructField("activity", T.StringType(), False),
        T.StructField("activity_count", T.LongType(), False),
        T.StructField("user_count", T.LongType(), False),
        # The HLL sketch of the row's distinct user_id (Apache DataSketches' HLL, as
        # Spark's hll_sketch_agg writes it): NULL only in rows no run has recomputed
        # since an older version, which a rollup refuses.
        T.StructField("user_sketch", T.BinaryType(), True),
        T.StructField("event_date", T.DateType(), False),
    ])


def rollup_schema(dimensions: tuple[str, ...] | list[str] = ()) -> T.StructType:
    """`daily_stats`, `weekly_stats` and `monthly_stats` (`_<dims>`): one row per period
    and grain (partitioned by period_start, the period's first UTC day)."""
    return T.StructType([
        T.StructField("period_start", T.DateType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("url_level1", T.StringType(), True),
        *[T.StructField(d, T.StringType(), True) for d in dimensions],
        T.StructField("activity", T.StringType(), False),
        T.StructField("activity_count", T.LongType(), False),
        T.StructField("user_count_estimate", T.LongType(), False),
        T.StructField("user_sketch", T.BinaryType(), False),
    ])
