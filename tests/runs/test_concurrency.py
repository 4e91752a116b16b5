"""Two events runs into one new warehouse at the same time, in process: two threads
with their own sessions (their own commit metadata) on the shared SparkContext. They
must lose and double nothing: the tables equal one clean run's."""
from __future__ import annotations

import shutil
import threading

import pytest

from clickstream.config import schemas
from clickstream.runs import events, hourly_stats, sessions
from clickstream.warehouse import tables

from helpers import (hipages_line, read_report, run_events, run_job, state, table_rows, write_first_day,
                     write_later_days, write_lines)


def at_once(spark, jobs: dict) -> dict:
    """Run each job (a function of a session) in its own thread and session, started
    together; what each returned or raised."""
    results, barrier = {}, threading.Barrier(len(jobs))

    def run(name, job):
        session = spark.newSession()
        barrier.wait()
        try:
            results[name] = job(session)
        except Exception as err:  # noqa: BLE001 - reported by the caller's assertion
            results[name] = err

    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    return results


def test_two_runs_at_once_lose_and_double_nothing(spark, hipages_profile, tmp_path):
    src, wh = tmp_path / "in", tmp_path / "concurrent"
    write_first_day(src)
    write_later_days(src)
    run_events(spark, hipages_profile, src, tmp_path / "clean", "clean")
    clean = state(spark, tmp_path / "clean")
    def events_of(pattern, name):
        return lambda session: run_events(session, hipages_profile, pattern, wh, name, max_attempts=10)

    results = at_once(spark, {"a": events_of(src / "2020/01", "a"), "b": events_of(src / "2020/01/1[34]", "b")})
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



def test_two_first_stats_runs_at_once_both_make_their_table(spark, hipages_profile, tmp_path):
    """Two hourly_stats runs at the same time on a warehouse without the table: both
    create it at once, and both go on. (Threads on one local[1] JVM rarely hit the race;
    the test below makes its moment deterministic.)"""
    wh = tmp_path / "wh"
    src = write_lines(tmp_path / "a.json", [hipages_line(f"e{i}", f"u{i % 3}") for i in range(6)])
    run_events(spark, hipages_profile, src, wh, "ev")
    stats = at_once(spark, {name: (lambda s, n=name: hourly_stats.run(s, hourly_stats.StatsConfig(
        warehouse=str(wh), run_id=n))) for name in ("s1", "s2")})
    assert sorted((k, v["status"]) if isinstance(v, dict) else (k, repr(v)) for k, v in stats.items()) == [
        ("s1", "succeeded"), ("s2", "succeeded")]
    assert table_rows(spark, wh, "hourly_stats", "activity", "activity_count", "user_count") == [
        ("page_view", 6, 3)]


@pytest.mark.parametrize("job", ["hourly_stats"])  # rollup makes its table with the same tables.ensure_table
def test_a_table_another_run_is_creating_is_waited_for(spark, hipages_profile, tmp_path, monkeypatch, job):
    """The moment two real runs race for (above) made deterministic: this run finds the
    other's `_delta_log` holding only its commit's temporary file ("not empty and not a
    Delta table"); it waits, the other's commit lands, and it goes on. (On the old code:
    AnalysisException DELTA_TABLE_NOT_FOUND, for rollup's daily_stats as well.)"""
    from clickstream.runs import rollup

    wh = tmp_path / "wh"
    run_events(spark, hipages_profile, write_lines(tmp_path / "a.json", [hipages_line("e1")]), wh, "ev")
    if job == "rollup":
        hourly_stats.run(spark, hourly_stats.StatsConfig(warehouse=str(wh), run_id="st"))
    table = wh / ("hourly_stats" if job == "hourly_stats" else "daily_stats")
    (table / "_delta_log").mkdir(parents=True)
    (table / "_delta_log" / ".00000000000000000000.json.7f3e.tmp").write_text("{}")
    waits = []

    def other_commit_lands(seconds):
        waits.append(seconds)
        shutil.rmtree(table)
        tables.ensure_table(spark, str(table), (schemas.hourly_stats_schema() if job == "hourly_stats"
                                                else schemas.rollup_schema()),
                            ("event_date",) if job == "hourly_stats" else ("period_start",))

    monkeypatch.setattr(tables, "_sleep", other_commit_lands)
    rep = (hourly_stats.run(spark, hourly_stats.StatsConfig(warehouse=str(wh), run_id="second")) if job == "hourly_stats"
           else rollup.run(spark, rollup.RollupConfig(warehouse=str(wh), grain="day", run_id="second")))
    assert (rep["status"], len(waits)) == ("succeeded", 1)
    assert table_rows(spark, wh, table.name, "activity", "activity_count") == [("page_view", 1)]
