"""Runs stopped at a pause point of clickstream.config.faults, in process: the point raises
instead of pausing, so the tables hold exactly what a SIGKILL there leaves on disk
(every commit before the point, nothing after it: no checkpoint entry, no report).
The next run must complete the work: its tables equal one clean run's. The real
SIGKILLs, mid-MERGE and after the MERGE commit, are in tests/entry/test_crash.py."""
from __future__ import annotations

import shutil

import pytest
from delta.tables import DeltaTable

from clickstream.config import faults

from helpers import (hipages_line, read_report, run_events, run_job, run_stats, state, write_first_day,
                     write_later_days, write_lines)


class Stopped(Exception):
    """Raised at the armed point. (An Exception: py4j passes only those back from a stream's foreachBatch.)"""


@pytest.fixture
def stop_at(monkeypatch):
    """stop_at(point): the runs raise Stopped at that point from now on (with nth=2, the
    second time a run passes it); stop_at(None): they don't."""
    point = faults.point

    def arm(name: str | None, nth: int = 1) -> None:
        passed = []

        def stop(at: str) -> None:
            point(at)
            if at == name:
                passed.append(at)
                if len(passed) == nth:
                    raise Stopped(at)

        monkeypatch.setattr(faults, "point", stop)

    return arm


@pytest.fixture(scope="module")
def days(spark, hipages_profile, tmp_path_factory):
    """Day 1 ingested and aggregated (wh0, `before`); then days 2 and 3 arrive; `clean`:
    one run over a copy of wh0 that takes them."""
    base = tmp_path_factory.mktemp("interrupted")
    src = base / "in"
    write_first_day(src)
    run_events(spark, hipages_profile, src, base / "wh0", "first", new_files_only=True)
    shutil.copytree(base / "wh0", base / "wh0-no-stats")
    run_stats(spark, base / "wh0", "first-stats", csv=str(base / "first-stats.csv"))
    before = state(spark, base / "wh0")
    write_later_days(src)
    shutil.copytree(base / "wh0", base / "clean")
    run_events(spark, hipages_profile, src, base / "clean", "clean", new_files_only=True, csv=str(base / "clean.csv"))
    run_stats(spark, base / "clean", "clean-stats")
    return {"src": src, "base": base, "before": before, "clean": state(spark, base / "clean")}


def test_an_events_run_stopped_after_its_rejects_commit_is_completed_by_the_next(
        spark, hipages_profile, days, stop_at, tmp_path):
    wh = tmp_path / "wh"
    shutil.copytree(days["base"] / "wh0", wh)
    stop_at("rejects_committed")
    with pytest.raises(Stopped):
        run_events(spark, hipages_profile, days["src"], wh, "stopped", new_files_only=True)
    stopped, before, clean = state(spark, wh), days["before"], days["clean"]
    assert (stopped["events"], stopped["hourly_stats"]) == (before["events"], before["hourly_stats"])
    assert stopped["rejects"] == clean["rejects"] != before["rejects"]
    assert not (wh / "_runs" / "stopped.events.json").exists()

    stop_at(None)
    rep = run_events(spark, hipages_profile, days["src"], wh, "next", new_files_only=True)
    assert [f.rsplit("/in/", 1)[1] for f in rep.input_files] == ["2020/01/14/b.json", "2020/01/15/c.json"]
    stats = run_stats(spark, wh, "next-stats")
    assert stats["mode"] == "catch_up" and stats["days_recomputed"] == ["2020-01-13", "2020-01-14", "2020-01-15"]
    assert state(spark, wh) == clean


def test_an_events_run_stopped_after_its_merge_is_completed_by_the_next_with_the_same_extract(
        spark, hipages_profile, days, stop_at, tmp_path):
    """--new-files-only --max-files-per-batch 1 --csv, stopped after the second batch's
    MERGE: the first batch is done (in the checkpoint and the record of files read), so
    the rerun replays only the second, whose events it finds stored (duplicates). Its
    extract still equals one clean run's: the replayed batch's events, and the stopped
    run's first batch's (it used to hold only the replayed and new batches')."""
    wh = tmp_path / "wh"
    shutil.copytree(days["base"] / "wh0", wh)
    stop_at("events_committed", nth=2)  # the second batch's
    with pytest.raises(Stopped):
        run_events(spark, hipages_profile, days["src"], wh, "stopped", new_files_only=True, max_files_per_batch=1,
                   csv=str(tmp_path / "stopped.csv"))
    assert not (tmp_path / "stopped.csv").exists()
    stop_at(None)
    rep = run_events(spark, hipages_profile, days["src"], wh, "next", new_files_only=True, max_files_per_batch=1,
                     csv=str(tmp_path / "next.csv"))
    assert [f.rsplit("/in/", 1)[1] for f in rep.input_files] == ["2020/01/15/c.json"]  # the replayed batch
    assert (rep.events_written, rep.duplicates) == (0, 3)  # its MERGE had landed
    assert (tmp_path / "next.csv").read_text() == (days["base"] / "clean.csv").read_text()
    assert len((tmp_path / "next.csv").read_text().splitlines()) == 1 + 9  # header, b0-b3, late1, late2, c0-c2 (not a1)
    got, clean = state(spark, wh), days["clean"]
    assert (got["events"], got["rejects"]) == (clean["events"], clean["rejects"])


def test_a_stats_run_stopped_after_its_commit_is_completed_by_the_next(spark, days, stop_at, tmp_path):
    """... and the next run, with nothing to recompute, writes the extract the stopped run would have."""
    wh = tmp_path / "wh"
    shutil.copytree(days["base"] / "wh0-no-stats", wh)
    stop_at("stats_committed")
    with pytest.raises(Stopped):
        run_stats(spark, wh, "stopped-stats", csv=str(tmp_path / "stopped.csv"))
    assert state(spark, wh) == days["before"]  # the commit had landed; the report had not
    assert not (wh / "_runs" / "stopped-stats.hourly_stats.json").exists() and not (tmp_path / "stopped.csv").exists()
    version = DeltaTable.forPath(spark, str(wh / "hourly_stats")).history(1).first()["version"]
    rep = run_stats(spark, wh, "next-stats", csv=str(tmp_path / "next.csv"))
    assert (rep["mode"], rep["days_recomputed"], rep["csv"]) == ("up_to_date", [], str(tmp_path / "next.csv"))
    assert (tmp_path / "next.csv").read_text() == (days["base"] / "first-stats.csv").read_text()
    assert DeltaTable.forPath(spark, str(wh / "hourly_stats")).history(1).first()["version"] == version
    assert state(spark, wh) == days["before"]


def test_a_planned_file_deleted_before_it_was_read_is_one_line_then_skipped_as_missing(
        spark, hipages_profile, stop_at, tmp_path, capsys):
    """A run stopped after its batch was planned; one of the batch's files is deleted.
    The next run names it (exit 2) instead of failing on every run; with
    --skip-missing-files the batch goes on without it and the report counts it."""
    src, wh = tmp_path / "in", tmp_path / "wh"
    write_lines(src / "a.json", [hipages_line("a1")])
    gone = write_lines(src / "b.json", [hipages_line("b1")])
    stop_at("reading")
    with pytest.raises(Stopped):
        run_events(spark, hipages_profile, src, wh, "planned", new_files_only=True)
    stop_at(None)
    gone.unlink()
    args = ["--input", str(src), "--warehouse", str(wh), "--new-files-only", "--allow-unsalted"]
    assert run_job(spark, "events", *args, "--run-id", "named") == 2
    assert capsys.readouterr().err.splitlines() == [
        f"events: error: file:{gone} is gone: a batch planned it and it was deleted before it was read; restore it, "
        "or run again with --skip-missing-files to record it as missing and go on (docs/scheduling.md)"]
    rep = run_events(spark, hipages_profile, src, wh, "skipped", new_files_only=True, skip_missing_files=True)
    assert (rep.files_missing, rep.input_files, rep.events_written) == ([f"file:{gone}"], [f"file:{src}/a.json"], 1)
    assert "files_missing=1" in rep.summary_line()
    assert read_report(wh, "skipped")["files_missing"] == [f"file:{gone}"]
    rep = run_events(spark, hipages_profile, src, wh, "after", new_files_only=True)  # the batch is done
    assert (rep.batches, rep.files_missing) == ([], [])
