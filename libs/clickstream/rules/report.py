"""The report's aggregates, DataFrame -> DataFrame: each a few hundred rows at most, which
the report job brings to the driver for its charts (never an event row).

    hourly_events(hourly)      source, hour, events          from hourly_stats
    activity_mix(hourly, n)    source, activity, events, rank, activities  (the n biggest, then the rest in one row)
    top_values(hourly, c, n)   source, c, events, rank       the n biggest values of c
    session_days(sessions)     source, session_date, sessions, conversions, conversion_rate,
                               duration_p50, duration_p90, duration_p99
    rejects_by_run(rejects)    run_id, reason, rejects
    rejects_per_day(rejects, runs)  source, day, reason, rejects  (dated by the run that wrote them)
    newest_events(events)      source, newest_event
    event_runs(reports)        the events runs' accounting, from the run reports
"""
from __future__ import annotations

import pyspark.sql.functions as F
import pyspark.sql.types as T
from pyspark.sql import DataFrame, Window

QUANTILES = (0.5, 0.9, 0.99)
# The fields of a run report (`_runs/<run_id>.<job>.json`) the report reads; the rest is left unread.
RUN_REPORT_SCHEMA = T.StructType([
    T.StructField("run_id", T.StringType()),
    T.StructField("job", T.StringType()),
    T.StructField("source", T.StringType()),
    T.StructField("started_at", T.StringType()),
    T.StructField("status", T.StringType()),
    T.StructField("records", T.LongType()),
    T.StructField("events_written", T.LongType()),
    T.StructField("rejected_total", T.LongType()),
    T.StructField("duplicates", T.LongType()),
])


def hourly_events(hourly: DataFrame) -> DataFrame:
    """Events per source and UTC hour (hours without events have no row)."""
    return (hourly.groupBy("source", F.try_to_timestamp("time_bucket", F.lit("yyyyMMddHH")).alias("hour"))
            .agg(F.sum("activity_count").alias("events")))


def activity_mix(hourly: DataFrame, n: int) -> DataFrame:
    """The n activities with the most events per source, ranked 1..n (ties by value),
    then one row of rank n + 1 for all the others (activity NULL); `activities`: how
    many activities a row stands for. At most n + 1 rows per source, however many
    distinct activities the feed sends."""
    ranked = top_values(hourly, "activity", None)
    is_top = F.col("rank") <= n
    return (ranked.groupBy("source", F.when(is_top, F.col("rank")).otherwise(F.lit(n + 1)).alias("rank"),
                           F.when(is_top, F.col("activity")).alias("activity"))
            .agg(F.sum("events").alias("events"), F.count(F.lit(1)).alias("activities"))
            .select("source", "activity", "events", "rank", "activities"))


def top_values(hourly: DataFrame, column: str, n: int | None) -> DataFrame:
    """The n values of `column` with the most events per source, ranked 1..n (ties by
    value); None: every value, ranked."""
    by_events = Window.partitionBy("source").orderBy(F.desc("events"), F.asc_nulls_last(column))
    ranked = (hourly.groupBy("source", column).agg(F.sum("activity_count").alias("events"))
              .withColumn("rank", F.row_number().over(by_events)))
    return ranked if n is None else ranked.where(F.col("rank") <= n)


def session_days(sessions: DataFrame) -> DataFrame:
    """Sessions per source and session_date: their number, how many converted (NULL
    conversion_rate when no conversion rule marked any session either way), and the
    QUANTILES of their length in seconds (values of the data, not interpolated)."""
    quantiles = F.percentile_approx("duration_seconds", F.array(*[F.lit(q) for q in QUANTILES]), F.lit(10000))
    return (sessions.groupBy("source", "session_date")
            .agg(F.count(F.lit(1)).alias("sessions"),
                 F.sum(F.col("converted").cast("long")).alias("conversions"),
                 F.avg(F.col("converted").cast("double")).alias("conversion_rate"),
                 quantiles.alias("_q"))
            .select("source", "session_date", "sessions", "conversions", "conversion_rate",
                    *[F.col("_q")[i].alias(f"duration_p{round(q * 100)}") for i, q in enumerate(QUANTILES)]))


def rejects_by_run(rejects: DataFrame) -> DataFrame:
    return rejects.groupBy("run_id", "reason").agg(F.count(F.lit(1)).alias("rejects"))


def rejects_per_day(rejects: DataFrame, runs: DataFrame | None) -> DataFrame:
    """Rejects per source, reason and `day`, the UTC day the run that wrote them started
    (`runs`: event_runs); source and day are NULL for a run that left no report."""
    by_run = rejects_by_run(rejects)
    if runs is None:
        runs = by_run.sparkSession.createDataFrame([], "run_id string, source string, started timestamp")
    dated = by_run.join(runs.select("run_id", "source", F.to_date("started").alias("day")), "run_id", "left")
    return dated.groupBy("source", "day", "reason").agg(F.sum("rejects").alias("rejects"))


def newest_events(events: DataFrame) -> DataFrame:
    return events.groupBy("source").agg(F.max("time_stamp").alias("newest_event"))


def event_runs(reports: DataFrame) -> DataFrame:
    """The events job's runs, from their run reports (`file`: each one's name), with the
    UTC start as a timestamp. A run reported under both names (`<run_id>.json`, as
    reports were named before, and `<run_id>.events.json`) counts once, as the newer
    name says."""
    newest_name = Window.partitionBy("run_id").orderBy(F.col("file").endswith(".events.json").desc(), F.desc("file"))
    return (reports.where(F.col("job") == "events")
            .withColumn("_n", F.row_number().over(newest_name)).where(F.col("_n") == 1)
            .withColumn("started", F.try_to_timestamp("started_at", F.lit("yyyy-MM-dd'T'HH:mm:ssXXX")))
            .select("run_id", "source", "started", "status", "records", "events_written", "rejected_total",
                    "duplicates"))
