"""The pipeline job in process, through jobs/pipeline.py's main: the steps on one
session (rollup and report when asked), each with its own report and commit, and a step that fails stops the rest.
(That each step gets the configuration its own job would is tests/unit/test_arguments.py.)"""
from __future__ import annotations

import datetime as dt

from delta.tables import DeltaTable

from helpers import hipages_line as L
from helpers import read_report, run_job, table_rows, write_lines


def test_three_steps_one_session_each_reporting_as_its_own_job(spark, tmp_path, capsys):
    src = write_lines(tmp_path / "in" / "a.json", [
        L("e1", user_id="u1", action="search", timestamp="02/02/2017 20:22:00"),
        L("e2", user_id="u1", action="booking", timestamp="02/02/2017 20:40:00"),
        L("e3", user_id="u2", timestamp="02/02/2017 21:05:00"), "{bad"])
    wh, out = tmp_path / "wh", tmp_path / "out"
    assert run_job(spark, "pipeline", "--input", str(src), "--warehouse", str(wh), "--run-id", "day1",
                   "--max-reject-rate", "0.5", "--csv", str(out), "--allow-unsalted",
                   "--sessions-conversion", "^booking$", "--steps", "events,hourly_stats,rollup,sessions,report",
                   "--rollup-grains", "month", "--report-output", str(out / "report.html")) == 0
    printed = [line.split(" run_id=")[0] for line in capsys.readouterr().out.splitlines() if " run_id=" in line]
    assert printed == ["events", "hourly_stats", "rollup", "sessions", "report", "pipeline"]
    rep = read_report(wh, "day1")
    assert [(s["step"], s["run_id"], s["status"]) for s in rep["steps"]] == [
        ("events", "day1-events", "succeeded"), ("hourly_stats", "day1-hourly_stats", "succeeded"),
        ("rollup", "day1-rollup-month", "succeeded"),
        ("sessions", "day1-sessions", "succeeded"), ("report", "day1-report", "succeeded")]
    # the report, last, sees every table the steps wrote: 7 charts, the conversion rate among them
    page = read_report(wh, "day1-report")
    assert (page["charts"], page["output"], page["flags"], page["to"]) == (
        7, f"file:{out}/report.html", [], "2017-02-02")
    assert 'data-chart="hipages:conversion-per-day"' in (out / "report.html").read_text()
    assert table_rows(spark, wh, "monthly_stats", "period_start", "activity", "activity_count",
                      "user_count_estimate") == [(dt.date(2017, 2, 1), "booking", 1, 1),
                                                 (dt.date(2017, 2, 1), "page_view", 1, 1),
                                                 (dt.date(2017, 2, 1), "search", 1, 1)]
    assert read_report(wh, "day1-rollup-month")["rows_written"] == 3
    assert (read_report(wh, "day1-events")["events_written"], read_report(wh, "day1-hourly_stats")["mode"],
            read_report(wh, "day1-sessions")["job"]) == (3, "full", "sessions")
    assert [str(r[0]) + f" {r[1]} {r[2]}" for r in table_rows(spark, wh, "hourly_stats", "time_bucket", "activity",
                                                               "activity_count")] == [
        "2017020220 booking 1", "2017020220 search 1", "2017020221 page_view 1"]
    assert table_rows(spark, wh, "sessions", "user_id", "event_count", "converted") == [("u1", 2, True),
                                                                                        ("u2", 1, False)]
    assert (out / "user_web_hits.csv").read_text().splitlines()[0] == \
        "user_id,time_stamp,url_level1,url_level2,url_level3,activity"
    assert len((out / "user_web_hits.csv").read_text().splitlines()) == 1 + 3
    assert (out / "aggregated_web_stats.csv").read_text().splitlines()[0] == \
        "time_bucket,url_level1,activity,activity_count,user_count"


def test_a_step_that_fails_stops_the_later_ones_with_its_own_exit_code(spark, tmp_path, capsys):
    src = write_lines(tmp_path / "a.json", [L("e1"), "{bad", "{bad"])
    wh = tmp_path / "wh"
    assert run_job(spark, "pipeline", "--input", str(src), "--warehouse", str(wh), "--run-id", "r",
                   "--allow-unsalted") == 3  # the events job's exit code for its reject rate
    assert capsys.readouterr().out.splitlines()[-1].startswith("pipeline run_id=r status=stopped_after_events "
                                                               "steps=events duration_s=")
    rep = read_report(wh, "r", "pipeline")
    assert [(s["step"], s["status"]) for s in rep["steps"]] == [("events", "failed_reject_rate")]
    assert not DeltaTable.isDeltaTable(spark, str(wh / "hourly_stats"))
    assert sorted(p.name for p in (wh / "_runs").glob("*.json")) == ["r-events.events.json", "r.pipeline.json"]


def test_a_conversion_regex_java_refuses_stops_the_pipeline_before_any_step(spark, tmp_path, capsys):
    """Each step's own checks run before the first step: a conversion regex that Python
    accepts and Java refuses used to pass the pipeline's parsing and be refused by the
    sessions step (naming --conversion) after events and hourly_stats had committed."""
    src = write_lines(tmp_path / "a.json", [L("e1")])
    wh = tmp_path / "wh"
    for regex in ("(?<x", "(?P<x>page)"):
        assert run_job(spark, "pipeline", "--input", str(src), "--warehouse", str(wh), "--run-id", "r",
                       "--allow-unsalted", "--sessions-conversion", regex) == 2
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"pipeline: error: bad --sessions-conversion {regex!r}: ") and \
            line.endswith("(Java's regex syntax)"), line
        assert not wh.exists()  # nothing committed, nothing written


def test_a_step_that_raises_is_recorded_in_the_pipelines_report(spark, tmp_path, capsys, monkeypatch):
    """A step's exception still propagates (exit 1 through the job's guard), after the
    pipeline's report records which step failed and the error's first line."""
    from clickstream.runs import hourly_stats

    def broken(spark, cfg):
        raise RuntimeError("the disk went away\nsecond line")

    monkeypatch.setattr(hourly_stats, "run", broken)
    src = write_lines(tmp_path / "a.json", [L("e1")])
    wh = tmp_path / "wh"
    assert run_job(spark, "pipeline", "--input", str(src), "--warehouse", str(wh), "--run-id", "r",
                   "--allow-unsalted") == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith(
        "pipeline run_id=r status=failed_at_hourly_stats steps=events,hourly_stats duration_s=")
    rep = read_report(wh, "r", "pipeline")
    assert [{k: v for k, v in s.items() if k != "duration_s"} for s in rep["steps"]] == [
        {"step": "events", "run_id": "r-events", "status": "succeeded"},
        {"step": "hourly_stats", "run_id": "r-hourly_stats", "status": "failed", "error": "the disk went away"}]
    assert rep["status"] == "failed_at_hourly_stats"
