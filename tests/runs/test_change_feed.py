"""hourly_stats and sessions catch up from the events table's change data feed. When
the feed of the versions they need is gone, they recompute whole, with a warning;
any other failure to read it fails the run and commits nothing. (Which errors mean
"gone": tests/unit/test_change_feed_errors.py.)"""
from __future__ import annotations

import datetime as dt
import logging

import pytest
from pyspark.errors import AnalysisException

from clickstream.runs import hourly_stats, sessions
from clickstream.warehouse import tables

from helpers import hipages_line, run_events, write_lines


def two_ingests(spark, profile, tmp_path):
    """e1 (u1), the jobs catch up, then e2 (u2): the jobs have versions 2..2 to read."""
    wh = tmp_path / "wh"
    run_events(spark, profile, write_lines(tmp_path / "a.json", [hipages_line("e1", "u1")]), wh, "r1")
    hourly_stats.run(spark, hourly_stats.StatsConfig(warehouse=str(wh), run_id="s1"))
    sessions.run(spark, sessions.SessionsConfig(warehouse=str(wh), run_id="t1"))
    run_events(spark, profile, write_lines(tmp_path / "b.json", [hipages_line("e2", "u2")]), wh, "r2")
    return wh


def vacuum_away_the_second_commit(spark, wh):
    """OPTIMIZE rewrites the partition (removing r2's file without a data change) and
    VACUUM with no retention deletes it: version 2's changes can no longer be read."""
    path = str(wh / "events")
    spark.sql(f"OPTIMIZE delta.`{path}`")
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        spark.sql(f"VACUUM delta.`{path}` RETAIN 0 HOURS")
    finally:
        spark.conf.unset("spark.databricks.delta.retentionDurationCheck.enabled")


def warnings(caplog, logger):
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == logging.WARNING]


def test_a_gone_feed_means_a_full_recompute_and_any_other_failure_fails_the_run(spark, hipages_profile, tmp_path,
                                                                                 monkeypatch, caplog):
    wh = two_ingests(spark, hipages_profile, tmp_path)
    versions = {t: tables.current_version(spark, str(wh / t)) for t in ("hourly_stats", "sessions")}

    # Not "gone" (here: no permission): the run fails with that error and commits nothing.
    def denied(*args, **kwargs):
        raise AnalysisException(message="[INSUFFICIENT_PERMISSIONS] no SELECT on the events table's change feed")

    with monkeypatch.context() as patch:
        patch.setattr(tables, "read_changes", denied)
        with pytest.raises(AnalysisException, match="INSUFFICIENT_PERMISSIONS"):
            hourly_stats.run(spark, hourly_stats.StatsConfig(warehouse=str(wh), run_id="s2"))
        with pytest.raises(AnalysisException, match="INSUFFICIENT_PERMISSIONS"):
            sessions.run(spark, sessions.SessionsConfig(warehouse=str(wh), run_id="t2"))
    assert {t: tables.current_version(spark, str(wh / t)) for t in versions} == versions

    # Vacuumed: version 2's data files are deleted (FAILED_READ_FILE.FILE_NOT_EXIST).
    vacuum_away_the_second_commit(spark, wh)
    with caplog.at_level(logging.WARNING):
        stats = hourly_stats.run(spark, hourly_stats.StatsConfig(warehouse=str(wh), run_id="s3"))
        sess = sessions.run(spark, sessions.SessionsConfig(warehouse=str(wh), run_id="t3"))
    assert (stats["mode"], stats["consumed_before"], stats["events_version"]) == ("full", 1, 5)  # 3..5: OPTIMIZE,
    assert [tuple(r) for r in spark.read.format("delta").load(str(wh / "hourly_stats")).drop("user_sketch").collect()] == [  # VACUUM x2
        ("2017020220", "hipages", "hipages.com.au", "page_view", 2, 2, dt.date(2017, 2, 2))]
    assert (sess["modes"], sess["sessions_written"]) == ({"hipages": "full"}, 2)
    stats_warning, = warnings(caplog, "clickstream.hourly_stats")
    assert stats_warning.startswith("no change data feed for events versions 2..5 (")
    assert stats_warning.endswith("): recomputing every day")
    assert "FILE_NOT_EXIST" in stats_warning or "FileNotFoundException" in stats_warning  # Spark 4, Spark 3.5
    sessions_warning, = warnings(caplog, "clickstream.sessions")
    assert sessions_warning.startswith("no change data feed for events versions 2..5 (")
    assert sessions_warning.endswith("): recomputing source hipages whole")
