"""The rollup job in process: days, ISO weeks and months from the hourly table, caught
up from its change data feed (a late event updates its day, week and month and nothing
else; a rerun commits nothing), never reading the events table, and refusing hours
without a sketch."""
from __future__ import annotations

import datetime as dt
import shutil

import pytest
from delta.tables import DeltaTable

from clickstream.config.errors import JobFailed
from clickstream.rules.rollup import GRAINS
from clickstream.runs import rollup
from clickstream.warehouse import tables

from helpers import hipages_line as L
from helpers import run_events, run_stats, write_lines

D = dt.date


def rollup_run(spark, wh, grain, run_id, **kw):
    return rollup.run(spark, rollup.RollupConfig(warehouse=str(wh), grain=grain, run_id=run_id, **kw))


def rows(spark, wh, table):
    """(period_start, activity_count, user_count_estimate) of the table's one source and page."""
    df = spark.read.format("delta").load(str(wh / table))
    return sorted((r["period_start"], r["activity_count"], r["user_count_estimate"]) for r in df.collect())


def version(spark, wh, table):
    return tables.current_version(spark, str(wh / table))


@pytest.fixture
def warehouse(spark, hipages_profile, tmp_path):
    """Monday 30 January 2017 to Wednesday 1 March: u1 on two days of one week that spans
    two months, then the hourly table and each grain's first (full) rollup."""
    wh = tmp_path / "wh"
    run_events(spark, hipages_profile, write_lines(tmp_path / "a.json", [
        L("e1", "u1", timestamp="30/01/2017 10:00:00"), L("e2", "u2", timestamp="31/01/2017 23:59:59"),
        L("e3", "u3", timestamp="01/02/2017 00:00:00"), L("e4", "u1", timestamp="05/02/2017 12:00:00"),
        L("e5", "u4", timestamp="06/02/2017 09:00:00"), L("e6", "u5", timestamp="01/03/2017 09:00:00")]), wh, "r1")
    run_stats(spark, wh, "s1")
    reps = {grain: rollup_run(spark, wh, grain, f"{grain}-1") for grain in GRAINS}
    assert {g: (r["mode"], r["events_counted"]) for g, r in reps.items()} == {g: ("full", 6) for g in GRAINS}
    return wh


def test_a_late_event_updates_its_day_week_and_month_and_rollups_read_the_hourly_table_alone(
        spark, hipages_profile, tmp_path, warehouse):
    wh = warehouse
    assert rows(spark, wh, "daily_stats") == [(D(2017, 1, 30), 1, 1), (D(2017, 1, 31), 1, 1), (D(2017, 2, 1), 1, 1),
                                              (D(2017, 2, 5), 1, 1), (D(2017, 2, 6), 1, 1), (D(2017, 3, 1), 1, 1)]
    # One ISO week from Monday 30 January to Sunday 5 February: u1 twice, u2, u3.
    assert rows(spark, wh, "weekly_stats") == [(D(2017, 1, 30), 4, 3), (D(2017, 2, 6), 1, 1), (D(2017, 2, 27), 1, 1)]
    assert rows(spark, wh, "monthly_stats") == [(D(2017, 1, 1), 2, 2), (D(2017, 2, 1), 3, 3), (D(2017, 3, 1), 1, 1)]

    before = {g: version(spark, wh, f"{name}_stats") for g, name in zip(GRAINS, ("daily", "weekly", "monthly"))}
    rerun = rollup_run(spark, wh, "week", "week-2")
    assert (rerun["mode"], rerun["commit"], rerun["periods_recomputed"]) == ("up_to_date", None, [])
    assert version(spark, wh, "weekly_stats") == before["week"]

    # A late event on Tuesday 31 January by u1, already counted that week but not that day.
    run_events(spark, hipages_profile, write_lines(tmp_path / "late.json", [
        L("e7", "u1", timestamp="31/01/2017 08:00:00")]), wh, "r2")
    run_stats(spark, wh, "s2")
    reps = {grain: rollup_run(spark, wh, grain, f"{grain}-3") for grain in GRAINS}
    assert {g: (r["mode"], r["periods_recomputed"], r["events_counted"]) for g, r in reps.items()} == {
        "day": ("catch_up", ["2017-01-31"], 2), "week": ("catch_up", ["2017-01-30"], 5),
        "month": ("catch_up", ["2017-01-01"], 3)}
    assert rows(spark, wh, "daily_stats")[1] == (D(2017, 1, 31), 2, 2)
    assert rows(spark, wh, "weekly_stats") == [(D(2017, 1, 30), 5, 3), (D(2017, 2, 6), 1, 1), (D(2017, 2, 27), 1, 1)]
    assert rows(spark, wh, "monthly_stats") == [(D(2017, 1, 1), 3, 2), (D(2017, 2, 1), 3, 3), (D(2017, 3, 1), 1, 1)]
    for grain, name in zip(GRAINS, ("daily", "weekly", "monthly")):
        history = DeltaTable.forPath(spark, str(wh / f"{name}_stats")).history(1).first()
        assert history["version"] == before[grain] + 1
        assert tables.user_metadata(history["userMetadata"]) == {
            "job": "rollup", "run_id": f"{grain}-3", "grain": grain, "hourly_version": version(spark, wh, "hourly_stats")}
    assert {g: rollup_run(spark, wh, g, f"{g}-4")["commit"] for g in GRAINS} == {g: None for g in GRAINS}

    # A rollup reads the hourly table alone ...
    want = rows(spark, wh, "weekly_stats")
    cfg = rollup.RollupConfig(warehouse=str(wh), grain="week", date_from=D(2017, 2, 1), run_id="w")
    hourly_path, hourly_version = str(wh / "hourly_stats"), version(spark, wh, "hourly_stats")
    todo = rollup.plan(spark, cfg, hourly_path, str(wh / "weekly_stats"), hourly_version)
    assert (todo.mode, todo.first, todo.last) == ("range", D(2017, 1, 30), None)  # widened to the whole week
    read = rollup.hourly_rows(spark, cfg, todo, hourly_path, hourly_version).inputFiles()
    assert read and all("/wh/hourly_stats/event_date=2017-0" in f for f in read)
    assert sorted({f.split("event_date=")[1][:10] for f in read}) == \
        ["2017-01-30", "2017-01-31", "2017-02-01", "2017-02-05", "2017-02-06", "2017-03-01"]  # from the week's Monday
    shutil.rmtree(wh / "events")  # and with no events table at all:
    rep = rollup.run(spark, cfg)
    assert (rep["mode"], rep["rows_written"], rows(spark, wh, "weekly_stats")) == ("range", 3, want)

    # ... and refuses an hour without a sketch (as if an older version had added the column as NULL).
    spark.sql(f"UPDATE delta.`{hourly_path}` SET user_sketch = NULL WHERE event_date = DATE'2017-02-05'")
    weekly = version(spark, wh, "weekly_stats")
    with pytest.raises(JobFailed, match=r"^hourly_stats has rows without user_sketch on 1 day\(s\) from 2017-02-05: "
                                        r"run hourly_stats --from 2017-02-05 --to 2017-02-05 to recompute them first"):
        rollup_run(spark, wh, "week", "w-null")
    assert version(spark, wh, "weekly_stats") == weekly
