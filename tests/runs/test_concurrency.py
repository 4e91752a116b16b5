"""Two events runs into one new warehouse at the same time, in process: two threads
with their own sessions (their own commit metadata) on the shared SparkContext. They
must lose and double nothing: the tables equal one clean run's."""
from __future__ import annotations

import threading

from clickstream.runs import events

from helpers import run_events, state, table_rows, write_first_day, write_later_days


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
