"""Two events runs into one new warehouse at the same time, in process: two threads
with their own sessions (their own commit metadata) on the shared SparkContext. They
must lose and double nothing: the tables equal one clean run's."""
from __future__ import annotations

import threading

import pytest

from clickstream.runs import events, hourly_stats, sessions
from clickstream.warehouse import tables

from helpers import (hipages_line, read_report, run_events, run_job, state, table_rows, write_first_day,
                     write_later_days, write_lines)


def test_two_runs_at_once_lose_and_double_nothing(spark, hipages_profile, tmp_path):
    src, wh = tmp_path / "in", tmp_path / "concurrent"
    write_first_day(src)
    write_later_days(src)
    run_events(spark, hipages_profile, src, tmp_path / "clean", "clean")
    clean = state(spark, tmp_path / "clean")
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
    assert all(isinstance(r, events.run_reports.RunReport) for r in results.values()), results
    assert results["a"].events_written + results["b"].events_written == 14
    assert state(spark, wh) == clean
    ids = [r[0] for r in table_rows(spark, wh, "events", "event_id")]
    assert len(ids) == len(set(ids)) == 14


class Conflict(Exception):
    """Stands in for Delta's conflict exceptions (their constructors differ between
    delta-spark versions); tables.CONFLICTS is patched to hold it."""


@pytest.mark.parametrize("job, module, step", [("hourly_stats", hourly_stats, "recompute"),
                                               ("sessions", sessions, "write")])
def test_a_conflicting_commit_is_planned_again_then_given_up_in_one_line(spark, hipages_profile, tmp_path, monkeypatch,
                                                                         capsys, job, module, step):
    wh = tmp_path / "wh"
    run_events(spark, hipages_profile, write_lines(tmp_path / "a.json", [hipages_line("e1")]), wh, "e1")
    monkeypatch.setattr(tables, "CONFLICTS", (Conflict,))
    monkeypatch.setattr(tables, "_sleep", lambda seconds: None)
    real, calls = getattr(module, step), []

    def conflicting_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # another run committed to the same days first
            raise Conflict("[DELTA_CONCURRENT_APPEND] Files were added to partition [2017-02-02] by a concurrent update")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, step, conflicting_once)
    assert run_job(spark, job, "--warehouse", str(wh), "--run-id", "once") == 0
    assert (read_report(wh, "once")["attempts"], len(calls)) == (2, 2)
    assert len(table_rows(spark, wh, job, "source")) == 1
    capsys.readouterr()

    def always(*args, **kwargs):
        raise Conflict("[DELTA_CONCURRENT_APPEND] Files were added by a concurrent update\nmore detail")

    monkeypatch.setattr(module, step, always)
    assert run_job(spark, job, "--warehouse", str(wh), "--from", "2017-02-02", "--to", "2017-02-02") == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{job}: error: gave up after 5 attempts: other writers kept committing to the warehouse (Conflict: "
        "[DELTA_CONCURRENT_APPEND] Files were added by a concurrent update); nothing of this run is committed"]
