"""Crash safety through the real entry point.

Runs of `./spark-submit.sh` are SIGKILLed mid-MERGE and at a pause point of
`clickstream.config.faults`. After each kill the tables must be readable and either unchanged
or fully updated, and the next run must give exactly the rows of one clean run. The
subprocesses start together (one JVM each), beside the clean run in process.
"""
from __future__ import annotations

import shutil
import signal

import pytest

from helpers import (
    Job, data_files, events_args, new_parquet, run_events, run_stats, state, write_first_day, write_later_days
)


# SIGKILLed where only a real process death shows what is left: mid-MERGE, as soon as
# its data files appear (below), and after the MERGE commit, before the checkpoint and
# the report. The other points (after the rejects commit, after the stats commit) are
# stopped in process by tests/runs/test_interrupted.py; the scenario kills two more runs.
EVENT_POINTS = ("events_committed",)


@pytest.fixture(scope="module")
def crashed(spark, hipages_profile, tmp_path_factory):
    base = tmp_path_factory.mktemp("crash")
    src = base / "in"
    write_first_day(src)
    wh0 = base / "wh0"
    run_events(spark, hipages_profile, src, wh0, "first", new_files_only=True)
    jobs = {}
    run_stats(spark, wh0, "first-stats")
    before = state(spark, wh0)
    write_later_days(src)

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
    if point == "events_committed":
        assert after_kill["events"] == clean["events"]
    assert not (wh / "_runs" / "killed.events.json").exists()

    rep = run_events(spark, hipages_profile, crashed["src"], wh, "next", new_files_only=True)
    assert [f.rsplit("/in/", 1)[1] for f in rep.input_files] == ["2020/01/14/b.json", "2020/01/15/c.json"]
    assert [f.rsplit("/in/", 1)[1] for f in rep.files_skipped] == ["2020/01/13/a.json"]
    stats = run_stats(spark, wh, "next-stats")
    assert stats["mode"] == "catch_up" and stats["days_recomputed"] == ["2020-01-13", "2020-01-14", "2020-01-15"]
    assert state(spark, wh) == clean
