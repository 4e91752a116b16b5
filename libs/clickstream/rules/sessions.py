"""Transforms of the `sessions` job: events -> one row per session.

A session belongs to one key, (source, user_id, device): `device` is the value of
the profile's device property, NULL when it has none. A key's events are ordered by
(time_stamp, event_id); the first opens a session, and so does every event that
comes `gap` or more after the previous one (exact, in microseconds). The cut is a
window `lag` and a running `sum` of "opens a session" flags: column expressions
only. Each source has its own rules (`profile.SessionRules`), applied per row by
`with_session_rules`, so several feeds are sessionized in one pass.
"""
from __future__ import annotations

import pyspark.sql.functions as F
from pyspark.sql import Column, DataFrame, Window

from clickstream.config.profiles import SessionRules

# A session's key; `device_key` is the device with NULL as '' (joins and hashes need a value).
KEY = ("source", "user_id", "device_key")
_SEPARATOR = "\u001f"
_MICROS_PER_MINUTE = 60_000_000


def _per_source(rules: dict[str, SessionRules], value, default=None) -> Column:
    """CASE source WHEN <name> THEN value(rules) ... END, as one column."""
    column = None
    for name, rule in sorted(rules.items()):
        v = value(rule)
        v = v if isinstance(v, Column) else F.lit(v)
        column = (F if column is None else column).when(F.col("source") == name, v)
    return column.otherwise(default) if column is not None else F.lit(default)


def with_session_rules(events: DataFrame, rules: dict[str, SessionRules]) -> DataFrame:
    """The events of the sources in `rules`, with `device`, `device_key`, `gap_us` (the
    source's gap in microseconds) and `converts` (the activity matches the source's
    conversion regex; false without one)."""
    def device(rule):
        return F.col("properties").getItem(rule.device_property) if rule.device_property else F.lit(None)

    def converts(rule):
        return F.col("activity").rlike(rule.conversion) if rule.conversion else F.lit(False)

    return (
        events.where(F.col("source").isin(sorted(rules)))
        .withColumn("device", _per_source(rules, device).cast("string"))
        .withColumn("device_key", F.coalesce(F.col("device"), F.lit("")))
        .withColumn("gap_us", _per_source(rules, lambda r: r.gap_minutes * _MICROS_PER_MINUTE))
        .withColumn("converts", _per_source(rules, converts, False))
    )


def with_session_numbers(events: DataFrame) -> DataFrame:
    """`session_number`: 1 for a key's first session, +1 at every event `gap_us` or more
    after the previous event of its key, in (time_stamp, event_id) order."""
    order = Window.partitionBy(*KEY).orderBy("time_stamp", "event_id")
    micros = F.unix_micros("time_stamp")
    opens = F.when(F.lag(micros).over(order).isNull() | (micros - F.lag(micros).over(order) >= F.col("gap_us")), 1)
    return (
        events.withColumn("opens", opens.otherwise(0))
        .withColumn("session_number", F.sum("opens").over(order.rowsBetween(Window.unboundedPreceding, 0)))
    )


def sessions(events: DataFrame, rules: dict[str, SessionRules]) -> DataFrame:
    """One row per session of the events of the sources in `rules` (`clickstream.config.schemas.SESSIONS_COLUMNS`).

    The first and last events, and the first converting one, are the minimum and
    maximum of (time_stamp, event_id, ...) structs: the same order as the cut.
    `converted` is NULL for a source without a conversion regex.
    """
    with_rule = sorted(name for name, rule in rules.items() if rule.conversion)
    first = F.min(F.struct("time_stamp", "event_id", "activity", "url_level1", "url_level2"))
    last = F.max(F.struct("time_stamp", "event_id", "activity"))
    conversion = F.min(F.when(F.col("converts"), F.struct("time_stamp", "event_id", "activity")))
    grouped = (
        events.transform(with_session_rules, rules)
        .transform(with_session_numbers)
        .groupBy(*KEY, "session_number")
        .agg(first.alias("first"), last.alias("last"), conversion.alias("conversion"),
             F.count(F.lit(1)).alias("event_count"), F.max("device").alias("device"))
    )
    start, end = F.col("first.time_stamp"), F.col("last.time_stamp")
    has_rule = F.col("source").isin(with_rule) if with_rule else F.lit(False)
    return grouped.select(
        F.sha2(F.concat_ws(_SEPARATOR, "source", "user_id", "device_key", F.col("first.event_id")), 256)
        .alias("session_id"),
        "source", "user_id", "device",
        start.alias("session_start"), end.alias("session_end"),
        F.floor((F.unix_micros(end) - F.unix_micros(start)) / F.lit(1_000_000)).cast("long").alias("duration_seconds"),
        F.col("event_count").cast("long").alias("event_count"),
        F.col("first.activity").alias("first_activity"), F.col("last.activity").alias("last_activity"),
        F.col("first.url_level1").alias("landing_url_level1"), F.col("first.url_level2").alias("landing_url_level2"),
        F.when(has_rule, F.col("conversion").isNotNull()).alias("converted"),
        F.col("conversion.time_stamp").alias("converted_at"),
        F.col("conversion.activity").alias("conversion_activity"),
        F.to_date(start).alias("session_date"),
    )


def session_keys(df: DataFrame, rules: dict[str, SessionRules]) -> DataFrame:
    """The distinct session keys (KEY) of events (or of change-feed rows) of the sources in `rules`."""
    return df.transform(with_session_rules, rules).select(*KEY).distinct()


def daily_summary(sessions_df: DataFrame) -> DataFrame:
    """Per (session_date, source): sessions, converted sessions, the conversion rate
    (NULL when the source has no conversion rule) and the median duration in seconds."""
    return (
        sessions_df.groupBy("session_date", "source")
        .agg(F.count(F.lit(1)).alias("sessions"),
             F.count(F.when(F.col("converted"), 1)).alias("converted"),
             F.count("converted").alias("_judged"),
             F.median("duration_seconds").alias("median_duration_s"))
        .select("session_date", "source", "sessions", "converted",
                F.when(F.col("_judged") > 0, F.round(F.col("converted") / F.col("_judged"), 4))
                .alias("conversion_rate"), "median_duration_s")
    )
