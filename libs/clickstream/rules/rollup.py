"""Transforms of the `rollup` job: `hourly_stats[_<dims>]` rows -> one row per UTC day,
ISO week or month, with the union of the hours' user sketches.

Unique users do not add up, but HLL sketches merge: the union of the hours' sketches
is the sketch of the period's users. Every grain is computed from the hourly rows of
its days (a union is associative, so that equals building weeks and months from days).
"""
from __future__ import annotations

import datetime as dt

import pyspark.sql.functions as F
from pyspark.sql import Column, DataFrame

GRAINS = ("day", "week", "month")
TABLES = {"day": "daily_stats", "week": "weekly_stats", "month": "monthly_stats"}
# The columns the aggregate computes per period and grain: every other column is a key.
MEASURES = ("activity_count", "user_count_estimate", "user_sketch")


def period_start(grain: str, day: Column) -> Column:
    """The first day of the period that holds `day` (a date column): the day itself,
    the Monday of its ISO week, or the first of its month."""
    if grain == "day":
        return day
    return F.trunc(day, "week" if grain == "week" else "month")


def first_day(grain: str, day: dt.date) -> dt.date:
    """period_start in Python, for the plan: the days a run rewrites."""
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def last_day(grain: str, start: dt.date) -> dt.date:
    """The last day of the period that starts on `start`."""
    if grain == "week":
        return start + dt.timedelta(days=6)
    if grain == "month":
        following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return following - dt.timedelta(days=1)
    return start


def days_of(grain: str, starts) -> list[dt.date]:
    """Every day of the periods that start on `starts`, in order."""
    days = set()
    for start in starts:
        day, last = start, last_day(grain, start)
        while day <= last:
            days.add(day)
            day += dt.timedelta(days=1)
    return sorted(days)


def rollup(hourly: DataFrame, grain: str, dimensions: tuple[str, ...] | list[str] = ()) -> DataFrame:
    """Hourly rows per (period_start, source, url_level1, *dimensions, activity):
    `activity_count`, their sum; `user_sketch`, the union of their sketches; and
    `user_count_estimate`, that union's estimate of the distinct users."""
    keys = ["source", "url_level1", *dimensions, "activity"]
    return (
        hourly.groupBy(period_start(grain, F.col("event_date")).alias("period_start"), *keys)
        .agg(F.sum("activity_count").alias("activity_count"), F.hll_union_agg("user_sketch").alias("user_sketch"))
        .select("period_start", *keys, "activity_count",
                F.hll_sketch_estimate("user_sketch").alias("user_count_estimate"), "user_sketch")
    )


def table_name(grain: str, dimensions: tuple[str, ...] | list[str] = ()) -> str:
    """'weekly_stats' for the week and the default grain, 'weekly_stats_url_level2' with url_level2."""
    return "_".join([TABLES[grain], *dimensions])
