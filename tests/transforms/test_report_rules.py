"""The report's aggregates (clickstream.rules.report) on a few hand-made rows."""
from __future__ import annotations

import datetime as dt

import pyspark.sql.types as T
from chispa import assert_df_equality

from clickstream.config import schemas
from clickstream.rules import report as rules


def hourly(spark, rows):
    return spark.createDataFrame([(t, s, u, a, n, 1, None, dt.date(2017, 2, 2)) for t, s, u, a, n in rows],
                                 schemas.hourly_stats_schema())


def test_hourly_events_and_the_top_values_rank_by_events_then_value(spark):
    df = hourly(spark, [("2017020210", "a", "x", "page_view", 5), ("2017020210", "a", "y", "claim", 5),
                        ("2017020211", "a", None, "claim", 9), ("2017020211", "b", "x", "claim", 1)])
    assert sorted(map(tuple, df.transform(rules.hourly_events).collect())) == [
        ("a", dt.datetime(2017, 2, 2, 10), 10), ("a", dt.datetime(2017, 2, 2, 11), 9),
        ("b", dt.datetime(2017, 2, 2, 11), 1)]
    top = df.transform(rules.top_values, "url_level1", 2).orderBy("source", "rank")
    assert [tuple(r) for r in top.collect()] == [("a", None, 9, 1), ("a", "x", 5, 2), ("b", "x", 1, 1)]


def test_session_days_count_convert_and_take_quantiles_of_the_data(spark):
    day = dt.date(2017, 2, 2)
    rows = [(f"s{i}", "a", "u", None, dt.datetime(2017, 2, 2, 10), dt.datetime(2017, 2, 2, 10), d, 1, "v", "v",
             None, None, conv, None, None, day) for i, (d, conv) in enumerate(
                 [(10, True), (20, False), (30, False), (40, False), (1000, False)])]
    rows.append(("t", "b", "u", None, dt.datetime(2017, 2, 2, 10), dt.datetime(2017, 2, 2, 10), 5, 1, "v", "v",
                 None, None, None, None, None, day))  # no conversion rule: NULL
    got = spark.createDataFrame(rows, schemas.SESSIONS_SCHEMA).transform(rules.session_days)
    expected = spark.createDataFrame(
        [("a", day, 5, 1, 0.2, 30, 1000, 1000), ("b", day, 1, None, None, 5, 5, 5)],
        "source string, session_date date, sessions bigint, conversions bigint, conversion_rate double, "
        "duration_p50 bigint, duration_p90 bigint, duration_p99 bigint")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_rejects_are_dated_and_sourced_by_their_runs_report_or_left_undated(spark):
    rejects = spark.createDataFrame([("x", "bad_url", "f", "r1", 1, None), ("y", "bad_url", "f", "r1", 1, None),
                                     ("z", "malformed_json", "g", "killed", 1, None)], schemas.REJECTS_SCHEMA)
    # r1 reported twice: under the old name (an earlier try of the run), then the new one.
    reports = spark.createDataFrame(
        [("r1", "events", "a", "2017-02-02T23:59:00+00:00", "succeeded", 3, 1, 2, 0, "file:/w/_runs/r1.events.json"),
         ("r1", "events", "a", "2017-02-02T23:00:00+00:00", "succeeded", 9, 9, 0, 0, "file:/w/_runs/r1.json"),
         ("s1", "hourly_stats", "a", "2017-02-03T00:10:00+00:00", "succeeded", None, None, None, None,
          "file:/w/_runs/s1.hourly_stats.json")],
        T.StructType([*rules.RUN_REPORT_SCHEMA.fields, T.StructField("file", T.StringType())]))
    runs = reports.transform(rules.event_runs)
    assert [tuple(r) for r in runs.collect()] == [("r1", "a", dt.datetime(2017, 2, 2, 23, 59), "succeeded", 3, 1, 2, 0)]
    got = sorted(map(tuple, rules.rejects_per_day(rejects, runs).collect()), key=repr)
    assert got == [("a", dt.date(2017, 2, 2), "bad_url", 2), (None, None, "malformed_json", 1)]
    assert sorted(map(tuple, rules.rejects_per_day(rejects, None).collect()), key=repr) == [
        (None, None, "bad_url", 2), (None, None, "malformed_json", 1)]
