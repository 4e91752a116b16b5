"""Crash safety and concurrency through the real entry point.

Runs of `./spark-submit.sh` are SIGKILLed at the pause points of `clickstream.faults`
(and once mid-MERGE, as soon as its data files appear), and two runs write one
warehouse at the same time. After each kill the tables must be readable and either
unchanged or fully updated, and the next run must give exactly the rows of one clean
run. The subprocesses start together (one JVM each) to keep the suite short.
"""
from __future__ import annotations

import shutil
import signal
import threading

import pytest
from delta.tables import DeltaTable

from clickstream import events
from helpers import Job, data_files, events_args, new_parquet, run_events, run_stats, state, table_rows, write_lines
from helpers import hipages_line as L

EVENT_POINTS = ("reading", "rejects_committed", "events_committed")


@pytest.fixture(scope="module")
def crashed(spark, hipages_profile, tmp_path_factory):
    base = tmp_path_factory.mktemp("crash")
    src = base / "in"
    write_lines(src / "2020/01/13/a.json", [L(f"a{i}", user_id=f"u{i % 3}", timestamp="13/01/2020 10:00:00")
                                            for i in range(5)] + ["{bad"])
    wh0 = base / "wh0"
    run_events(spark, hipages_profile, src, wh0, "first", new_files_only=True)
    jobs = {}
    # The stats run killed after its commit, before its report.
    shutil.copytree(wh0, base / "stats_committed")
    jobs["stats_committed"] = Job(["hourly_stats", "--warehouse", str(base / "stats_committed"),
                                   "--run-id", "killed-stats"], pause="stats_committed")
    run_stats(spark, wh0, "first-stats")
    before = state(spark, wh0)
    # Then: late day-1 events, a repeated event, a reject, and a new day.
    write_lines(src / "2020/01/14/b.json", [L(f"b{i}", user_id=f"u{i}", timestamp="14/01/2020 09:00:00")
                                            for i in range(4)] +
                [L("late1", timestamp="13/01/2020 11:00:00"), L("late2", timestamp="13/01/2020 10:30:00"),
                 L("a1", user_id="u1", timestamp="13/01/2020 10:00:00"), '{"event_id": "x", "timestamp": 3}'])
    write_lines(src / "2020/01/15/c.json", [L(f"c{i}", timestamp="15/01/2020 23:59:59") for i in range(3)])

    for point in EVENT_POINTS:
        shutil.copytree(wh0, base / point)
        jobs[point] = Job(events_args(src, base / point, "killed", "--new-files-only"), pause=point)
    shutil.copytree(wh0, base / "mid_merge")
    existing = data_files(wh0 / "events")
    jobs["mid_merge"] = Job(events_args(src, base / "mid_merge", "killed", "--new-files-only"),
                            watch=new_parquet(base / "mid_merge" / "events", existing))
    # Meanwhile, in this process: the clean run.
    shutil.copytree(wh0, base / "clean")
    run_events(spark, hipages_profile, src, base / "clean", "clean", new_files_only=True)
    run_stats(spark, base / "clean", "clean-stats")
    clean = state(spark, base / "clean")
    codes = {name: job.wait() for name, job in jobs.items()}
    return {"src": src, "base": base, "before": before, "clean": clean, "jobs": jobs, "codes": codes}


@pytest.mark.parametrize("point", [*EVENT_POINTS, "mid_merge"])
def test_a_killed_events_run_leaves_old_or_new_tables_and_the_next_run_completes_it(
        spark, hipages_profile, crashed, point):
    job, wh = crashed["jobs"][point], crashed["base"] / point
    assert job.killed, job.output
    assert crashed["codes"][point] == -signal.SIGKILL
    before, clean = crashed["before"], crashed["clean"]
    after_kill = state(spark, wh)  # readable
    for name in ("events", "rejects"):
        assert after_kill[name] in (before[name], clean[name]), name
    assert after_kill["hourly_stats"] == before["hourly_stats"]
    if point == "reading":
        assert after_kill == before
    if point == "events_committed":
        assert after_kill["events"] == clean["events"]
    assert not (wh / "_runs" / "killed.json").exists()

    rep = run_events(spark, hipages_profile, crashed["src"], wh, "next", new_files_only=True)
    assert [f.rsplit("/in/", 1)[1] for f in rep.input_files] == ["2020/01/14/b.json", "2020/01/15/c.json"]
    assert [f.rsplit("/in/", 1)[1] for f in rep.files_skipped] == ["2020/01/13/a.json"]
    stats = run_stats(spark, wh, "next-stats")
    assert stats["mode"] == "catch_up" and stats["days_recomputed"] == ["2020-01-13", "2020-01-14", "2020-01-15"]
    assert state(spark, wh) == clean


def test_a_killed_stats_run_is_completed_by_the_next(spark, crashed):
    wh = crashed["base"] / "stats_committed"
    assert crashed["jobs"]["stats_committed"].killed
    assert state(spark, wh) == crashed["before"]  # the commit had landed; the report had not
    assert not (wh / "_runs" / "killed-stats.json").exists()
    version = DeltaTable.forPath(spark, str(wh / "hourly_stats")).history(1).first()["version"]
    rep = run_stats(spark, wh, "next-stats")
    assert (rep["mode"], rep["days_recomputed"]) == ("up_to_date", [])
    assert DeltaTable.forPath(spark, str(wh / "hourly_stats")).history(1).first()["version"] == version
    assert state(spark, wh) == crashed["before"]


def test_two_runs_at_once_lose_and_double_nothing(spark, hipages_profile, crashed):
    """Two runs over overlapping inputs into one new warehouse, at the same time: two
    threads with their own sessions (their own commit metadata) on one SparkContext."""
    src, wh = crashed["src"], crashed["base"] / "concurrent"
    results, barrier = {}, threading.Barrier(2)

    def run(name, pattern):
        session = spark.newSession()
        barrier.wait()
        try:
            results[name] = run_events(session, hipages_profile, pattern, wh, name, max_attempts=10)
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            results[name] = err

    threads = [threading.Thread(target=run, args=("a", src / "2020/01")),
               threading.Thread(target=run, args=("b", src / "2020/01/1[34]"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert all(isinstance(r, events.report.RunReport) for r in results.values()), results
    assert results["a"].events_written + results["b"].events_written == 14
    got = state(spark, wh)
    assert got["events"] == crashed["clean"]["events"]
    assert got["rejects"] == crashed["clean"]["rejects"]
    ids = [r[0] for r in table_rows(spark, wh, "events", "event_id")]
    assert len(ids) == len(set(ids)) == 14
