"""The rollup transform: days, ISO weeks and months from hourly rows alone, unique users
from the union of the hours' sketches, within 3 standard errors of the exact count
(exact for a few users), and a week that spans two months."""

import datetime as dt

import pyspark.sql.functions as F
import pytest

from clickstream.config import schemas
from clickstream.rules import hourly_stats as stats_rules
from clickstream.rules import rollup as rollup_rules

# HLL's relative standard error at lgConfigK 12: 1.04 / sqrt(2^12).
STANDARD_ERROR = 1.04 / 2 ** (stats_rules.LG_CONFIG_K / 2)


def generated_events(spark, first: dt.date, days: int, per_day: int, users: int, source: str):
    """`per_day` events a day from `first` on, spread over the day's hours, two pages
    and two activities; user_id cycles through `users` ids with a stride, so each
    period sees a known but irregular set of users."""
    n = days * per_day
    start = dt.datetime.combine(first, dt.time())
    return (spark.range(n)
            .select(F.lit(source).alias("source"),
                    ((F.col("id") * 7919 + F.col("id") / per_day) % users).cast("long").cast("string").alias("user_id"),
                    (F.lit(start) + F.make_dt_interval(F.floor(F.col("id") / per_day).cast("int"),
                                                       (F.col("id") % 24).cast("int"))).alias("time_stamp"),
                    F.when(F.col("id") % 3 == 0, "a.com").otherwise("b.com").alias("url_level1"),
                    F.when(F.col("id") % 5 == 0, "claim").otherwise("page_view").alias("activity"))
            .withColumn("event_date", F.to_date("time_stamp")))


def exact(events, grain):
    """Distinct users per (period, source) counted from the events themselves."""
    return {(r["period_start"], r["source"]): r["users"] for r in
            events.groupBy(rollup_rules.period_start(grain, F.col("event_date")).alias("period_start"), "source")
            .agg(F.countDistinct("user_id").alias("users")).collect()}


def estimated(hourly, grain):
    """The rollup's estimate per (period, source), over every url_level1 and activity:
    the sketches of its rows unioned once more, as an analyst's query would."""
    rolled = rollup_rules.rollup(hourly, grain)
    assert [(f.name, f.dataType) for f in rolled.schema] == [(f.name, f.dataType) for f in schemas.rollup_schema()]
    return {(r["period_start"], r["source"]): r["users"] for r in
            rolled.groupBy("period_start", "source")
            .agg(F.hll_sketch_estimate(F.hll_union_agg("user_sketch")).alias("users")).collect()}


@pytest.fixture(scope="module")
def generated(spark):
    """61 days from Monday 2017-01-30 (Jan 30-31, all of February, March): `many`, 4,000
    events a day over 30,000 users; `few`, 40 a day over 60 users."""
    events = (generated_events(spark, dt.date(2017, 1, 30), 61, 4000, 30000, "many")
              .unionByName(generated_events(spark, dt.date(2017, 1, 30), 61, 40, 60, "few"))).cache()
    hourly = stats_rules.hourly_stats(events).cache()
    yield events, hourly
    events.unpersist()
    hourly.unpersist()


@pytest.mark.parametrize("grain, periods", [("day", 61), ("week", 9), ("month", 3)])
def test_unique_users_are_within_3_standard_errors_and_exact_for_a_few_users(generated, grain, periods):
    events, hourly = generated
    want, got = exact(events, grain), estimated(hourly, grain)
    assert sorted(got) == sorted(want) and len(want) == 2 * periods
    for (period, source), users in want.items():
        estimate = got[(period, source)]
        if source == "few":
            assert estimate == users, (period, users)  # HLL's sparse mode: exact
        else:
            assert abs(estimate - users) <= 3 * STANDARD_ERROR * users, (period, users, estimate)
    # The periods are big enough to leave the exact mode: the estimates are not all exact.
    assert any(got[k] != v for k, v in want.items() if k[1] == "many")


def test_a_week_across_two_months_is_one_row_and_each_month_counts_its_own_days(spark):
    def hour(day, user):
        return ("2017", "s", "a.com", "page_view", 1, 1, user, dt.date(2017, *day))

    rows = [hour((1, 30), "u1"), hour((1, 31), "u2"), hour((2, 1), "u3"), hour((2, 5), "u1"), hour((2, 6), "u4")]
    hourly = (spark.createDataFrame(rows, "time_bucket string, source string, url_level1 string, activity string, "
                                          "activity_count long, user_count long, user string, event_date date")
              .groupBy("time_bucket", "source", "url_level1", "activity", "event_date")
              .agg(F.sum("activity_count").alias("activity_count"), F.sum("user_count").alias("user_count"),
                   F.hll_sketch_agg("user", stats_rules.LG_CONFIG_K).alias("user_sketch")))

    def rolled(grain):
        return sorted((r["period_start"], r["activity_count"], r["user_count_estimate"])
                      for r in rollup_rules.rollup(hourly, grain).collect())

    # Monday 30 January to Sunday 5 February is one week: u1 twice, u2, u3.
    assert rolled("week") == [(dt.date(2017, 1, 30), 4, 3), (dt.date(2017, 2, 6), 1, 1)]
    assert rolled("month") == [(dt.date(2017, 1, 1), 2, 2), (dt.date(2017, 2, 1), 3, 3)]
    assert rolled("day") == [(dt.date(2017, 1, 30), 1, 1), (dt.date(2017, 1, 31), 1, 1), (dt.date(2017, 2, 1), 1, 1),
                             (dt.date(2017, 2, 5), 1, 1), (dt.date(2017, 2, 6), 1, 1)]


@pytest.mark.parametrize("grain, day, start, last", [
    ("day", dt.date(2017, 2, 5), dt.date(2017, 2, 5), dt.date(2017, 2, 5)),
    ("week", dt.date(2017, 2, 1), dt.date(2017, 1, 30), dt.date(2017, 2, 5)),  # a Wednesday
    ("week", dt.date(2017, 1, 1), dt.date(2016, 12, 26), dt.date(2017, 1, 1)),  # a Sunday, ISO week 52 of 2016
    ("month", dt.date(2016, 2, 29), dt.date(2016, 2, 1), dt.date(2016, 2, 29)),
    ("month", dt.date(2017, 12, 31), dt.date(2017, 12, 1), dt.date(2017, 12, 31)),
])
def test_the_plans_periods_agree_with_sparks(spark, grain, day, start, last):
    assert (rollup_rules.first_day(grain, day), rollup_rules.last_day(grain, start)) == (start, last)
    got = spark.range(1).select(rollup_rules.period_start(grain, F.lit(day)).alias("p")).first()["p"]
    assert got == start
    assert rollup_rules.days_of(grain, [start])[0] == start and rollup_rules.days_of(grain, [start])[-1] == last


def test_pythons_datasketches_reads_sparks_sketch_and_gets_the_same_estimate(spark):
    """Another engine's reading of the stored bytes: Apache DataSketches' Python package."""
    from datasketches import hll_sketch, hll_union

    users = spark.range(20000).select((F.col("id") % 9000).cast("string").alias("a"),
                                      (F.col("id") % 7000 + 5000).cast("string").alias("b"))
    row = users.agg(F.hll_sketch_agg("a", stats_rules.LG_CONFIG_K).alias("a"),
                    F.hll_sketch_agg("b", stats_rules.LG_CONFIG_K).alias("b")).select(
        "a", "b", F.hll_sketch_estimate("a").alias("estimate_a"),
        F.hll_sketch_estimate(F.hll_union("a", "b")).alias("estimate_union")).first()
    a, b = hll_sketch.deserialize(bytes(row["a"])), hll_sketch.deserialize(bytes(row["b"]))
    assert a.lg_config_k == stats_rules.LG_CONFIG_K
    assert round(a.get_estimate()) == row["estimate_a"]
    assert abs(row["estimate_a"] - 9000) <= 3 * STANDARD_ERROR * 9000
    union = hll_union(stats_rules.LG_CONFIG_K)
    union.update(a)
    union.update(b)
    assert round(union.get_result().get_estimate()) == row["estimate_union"]
    assert abs(row["estimate_union"] - 12000) <= 3 * STANDARD_ERROR * 12000  # ids 0..11999
