"""The hourly_stats transform: the challenge's example, exact distinct users, hour and
day boundaries, and the user sketch beside the exact count."""

import datetime as dt

import pyspark.sql.functions as F
import pyspark.sql.types as T
from chispa import assert_df_equality

from clickstream.config import schemas
from clickstream.rules import hourly_stats as stats_rules


def checked(stats, dimensions=()):
    """`stats` with its table's schema, and each sketch as its estimate (the sketch is
    exact for a few users, so that estimate equals user_count)."""
    assert [(f.name, f.dataType) for f in stats.schema] == \
        [(f.name, f.dataType) for f in schemas.hourly_stats_schema(dimensions)]
    return stats.withColumn("user_sketch", F.hll_sketch_estimate("user_sketch"))


def expected(spark, rows, dimensions=()):
    """Rows of the table without the sketch, which `checked` compares with user_count."""
    fields = [T.StructField(f.name, T.LongType()) if f.name == "user_sketch" else f
              for f in schemas.hourly_stats_schema(dimensions)]
    return spark.createDataFrame([(*r[:-2], r[-2], r[-2], r[-1]) for r in rows], T.StructType(fields))


def events_df(spark, rows):
    """Events from (event_id, user_id, time_stamp, url_level1, url_level2, activity) tuples."""
    full = [("hipages", eid, uid, None, ts, l1, l2, None, act, None, None, {}, "f", "r", ts.date())
            for eid, uid, ts, l1, l2, act in rows]
    return spark.createDataFrame(full, schemas.EVENTS_SCHEMA)


def test_challenge_example_with_url_level2(spark):
    t = dt.datetime(2017, 2, 2, 20, 22)
    rows = [(f"p{i}", "564561", t + dt.timedelta(seconds=i), "hipages.com.au", "articles", "page_view")
            for i in range(4)]
    rows += [(f"c{i}", "564561", t + dt.timedelta(minutes=1, seconds=i), "hipages.com.au", "connect", "button_click")
             for i in range(2)]
    got = checked(stats_rules.hourly_stats(events_df(spark, rows), ["url_level2"]), ["url_level2"])
    want = expected(spark, [
        ("2017020220", "hipages", "hipages.com.au", "articles", "page_view", 4, 1, dt.date(2017, 2, 2)),
        ("2017020220", "hipages", "hipages.com.au", "connect", "button_click", 2, 1, dt.date(2017, 2, 2)),
    ], ["url_level2"])
    assert_df_equality(got, want, ignore_row_order=True, ignore_nullable=True)


def test_user_count_is_exact_and_distinct(spark):
    t = dt.datetime(2017, 2, 2, 10, 0)
    rows = [(f"a{i}", "u1", t + dt.timedelta(minutes=i), "a.com", None, "page_view") for i in range(50)]
    rows += [("b1", "u2", t, "a.com", None, "page_view"), ("b2", "u3", t, "a.com", None, "claim")]
    got = checked(stats_rules.hourly_stats(events_df(spark, rows)))
    want = expected(spark, [
        ("2017020210", "hipages", "a.com", "page_view", 51, 2, dt.date(2017, 2, 2)),
        ("2017020210", "hipages", "a.com", "claim", 1, 1, dt.date(2017, 2, 2)),
    ])
    assert_df_equality(got, want, ignore_row_order=True, ignore_nullable=True)


def test_hour_and_day_boundaries(spark):
    rows = [
        ("e1", "u1", dt.datetime(2017, 2, 2, 10, 59, 59), "a.com", None, "page_view"),
        ("e2", "u1", dt.datetime(2017, 2, 2, 11, 0, 0), "a.com", None, "page_view"),
        ("e3", "u1", dt.datetime(2016, 12, 31, 23, 59, 59), "a.com", None, "page_view"),
        ("e4", "u1", dt.datetime(2017, 1, 1, 0, 0, 0), "a.com", None, "page_view"),
        ("e5", "u2", dt.datetime(2017, 1, 1, 0, 0, 0), None, None, "page_view"),
    ]
    got = checked(stats_rules.hourly_stats(events_df(spark, rows)))
    want = expected(spark, [
        ("2017020210", "hipages", "a.com", "page_view", 1, 1, dt.date(2017, 2, 2)),
        ("2017020211", "hipages", "a.com", "page_view", 1, 1, dt.date(2017, 2, 2)),
        ("2016123123", "hipages", "a.com", "page_view", 1, 1, dt.date(2016, 12, 31)),
        ("2017010100", "hipages", "a.com", "page_view", 1, 1, dt.date(2017, 1, 1)),
        ("2017010100", "hipages", None, "page_view", 1, 1, dt.date(2017, 1, 1)),
    ])
    assert_df_equality(got, want, ignore_row_order=True, ignore_nullable=True)
