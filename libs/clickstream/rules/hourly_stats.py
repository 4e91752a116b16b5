"""Transforms of the `hourly_stats` job: events -> one row per hourly bucket and grain."""
from __future__ import annotations

import pyspark.sql.functions as F
from pyspark.sql import Column, DataFrame

# Event columns that may be added to the grain with --dimensions; any other name is
# a key of the events' `properties` (e.g. campaign_id).
DIMENSIONS = ("url_level2", "url_level3")
# The HLL sketch's log2 of its buckets: 2^12 = 4096 buckets, a relative standard
# error of about 1.04 / sqrt(4096) = 1.6% (exact below a few hundred users, in its
# sparse mode), and at most ~4 KB per row. One value for every table: a union of
# sketches of different lgConfigK is refused (docs/analysts.md).
LG_CONFIG_K = 12
# The columns the aggregate computes per grain: every other column is a key.
MEASURES = ("activity_count", "user_count", "user_sketch")


def grain(dimensions: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The group-by columns, in output order:
    ['time_bucket', 'source', 'url_level1', *dimensions, 'activity']."""
    return ["time_bucket", "source", "url_level1", *dimensions, "activity"]


def dimension(name: str) -> Column:
    """An event column of DIMENSIONS, else the property of that name, as a column of that name."""
    return F.col(name) if name in DIMENSIONS else F.col("properties").getItem(name).alias(name)


def time_bucket(time_stamp: Column) -> Column:
    """The `yyyyMMddHH` of a UTC time's hour: 2017-02-02 20:22:00 -> '2017020220'.
    Needs the session time zone UTC."""
    return F.date_format(time_stamp, "yyyyMMddHH")


def hourly_stats(events: DataFrame, dimensions: tuple[str, ...] | list[str] = ()) -> DataFrame:
    """Events per (hour, source, url_level1, *dimensions, activity): `activity_count`, the number of
    events; `user_count`, the exact number of distinct user_id; and `user_sketch`, their
    HLL sketch (LG_CONFIG_K), which rollups merge. Hours without events have no rows.
    `event_date` (the partition) is the UTC date of the bucket."""
    keys = grain(dimensions)
    # Grouped by the hour as a timestamp; its text is made once per output row, not per event.
    return (
        events.groupBy("event_date", F.date_trunc("hour", "time_stamp").alias("_hour"),
                       *[dimension(k) if k in dimensions else F.col(k) for k in keys[1:]])
        .agg(F.count(F.lit(1)).alias("activity_count"), F.countDistinct("user_id").alias("user_count"),
             F.hll_sketch_agg("user_id", LG_CONFIG_K).alias("user_sketch"))
        .select(time_bucket(F.col("_hour")).alias("time_bucket"), *keys[1:], "activity_count", "user_count",
                "user_sketch", "event_date")
    )


def table_name(dimensions: tuple[str, ...] | list[str] = ()) -> str:
    """'hourly_stats' for the default grain, 'hourly_stats_url_level2' with url_level2."""
    return "_".join(["hourly_stats", *dimensions])
