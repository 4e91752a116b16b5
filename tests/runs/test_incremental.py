"""Incremental runs in-process: dated input days, only-new files through the file-source
stream, replays, retries on concurrent commits, and the hourly stats catch-up."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading

import pyspark.sql.functions as F
import pytest
from delta.tables import DeltaTable

from clickstream.config import faults, schemas
from clickstream.warehouse import ingested, tables
from clickstream.runs import events, hourly_stats
from clickstream.config.errors import JobFailed, UsageError

from helpers import hipages_line as L
from helpers import run_events, run_job, run_stats, table_rows, write_lines


D = dt.date


def version(spark, path) -> int:
    return DeltaTable.forPath(spark, str(path)).history(1).first()["version"]


def ledger(wh, name: str) -> str:
    """The text of the one record of files read whose name starts with `name`."""
    [path] = (wh / "_files" / "hipages").glob(f"{name}-*.jsonl")
    return path.read_text()


def ts(day: D, hour: int = 10) -> str:
    return f"{day:%d/%m/%Y} {hour:02d}:00:00"


def test_a_28_day_backfill_reads_each_days_prefix_and_names_the_missing_days(spark, hipages_profile, tmp_path,
                                                                              caplog):
    first = D(2020, 1, 1)
    days = [first + dt.timedelta(days=i) for i in range(28)]
    for day in days:
        if day.day in (5, 17):
            continue  # two days with no files
        write_lines(tmp_path / "in" / f"{day:%Y/%m/%d}" / "part-1.json", [L(f"e{day:%d}", timestamp=ts(day))])
    write_lines(tmp_path / "in" / "2019/12/31/x.json", [L("outside")])  # a day outside the range
    rep = run_events(spark, hipages_profile, tmp_path / "in", tmp_path / "wh", "r1",
                     days=events.inputs.days_between(first, D(2020, 1, 28)))
    assert rep.days_missing == ["2020-01-05", "2020-01-17"]
    assert len(rep.days_requested) == 28 and rep.days_requested[0] == "2020-01-01"
    assert len(rep.input_files) == 26 and rep.events_written == 26 and len(rep.partitions_written) == 26
    assert [(r.name, r.getMessage()) for r in caplog.records if r.levelno == logging.WARNING] == [(
        "clickstream.events", f"no input files for 2 of 28 requested day(s): 2020-01-05, 2020-01-17 "
        f"(layout {{yyyy}}/{{MM}}/{{dd}} under {tmp_path / 'in'})")]
    assert "outside" not in {r[0] for r in table_rows(spark, tmp_path / "wh", "events", "event_id")}


def test_the_dt_layout_and_a_request_with_no_files(spark, hipages_profile, tmp_path):
    write_lines(tmp_path / "in" / "dt=2020-01-13" / "a.json", [L("a", timestamp=ts(D(2020, 1, 13)))])
    write_lines(tmp_path / "in" / "dt=2020-01-14" / "b.json", [L("b", timestamp=ts(D(2020, 1, 14)))])
    rep = run_events(spark, hipages_profile, tmp_path / "in", tmp_path / "wh", "r1", days=(D(2020, 1, 14),),
                     layout="dt={yyyy}-{MM}-{dd}")
    assert [f.rsplit("/in/", 1)[1] for f in rep.input_files] == ["dt=2020-01-14/b.json"]
    assert table_rows(spark, tmp_path / "wh", "events", "event_id", "event_date") == [("b", D(2020, 1, 14))]
    with pytest.raises(UsageError, match=r"^no input files for any requested day \(2020-01-15\.\.2020-01-16\) "
                                         r"under .*/in with layout \{yyyy\}/\{MM\}/\{dd\}$"):
        run_events(spark, hipages_profile, tmp_path / "in", tmp_path / "wh2", "r2",
                   days=(D(2020, 1, 15), D(2020, 1, 16)))
    assert not (tmp_path / "wh2").exists()


def test_new_files_only_takes_each_file_once_whatever_its_age(spark, hipages_profile, tmp_path):
    src, wh = tmp_path / "in", tmp_path / "wh"
    write_lines(src / "2017/02/02/a.json", [L("a1"), L("a2"), "{bad"])
    write_lines(src / "2017/02/03/b.json", [L("b1", timestamp="03/02/2017 10:00:00")])
    rep1 = run_events(spark, hipages_profile, src, wh, "r1", new_files_only=True)
    assert [f.rsplit("/in/", 1)[1] for f in rep1.input_files] == ["2017/02/02/a.json", "2017/02/03/b.json"]
    assert (rep1.files_skipped, rep1.events_written, rep1.rejected) == ([], 3, {"malformed_json": 1})
    assert rep1.checkpoint.startswith(f"file:{wh}/_checkpoints/events-hipages-")

    # A late file, dated two years back, into an old prefix; it repeats a1.
    late = write_lines(src / "2017/02/02/late.json", [L("c1"), L("a1")])
    os.utime(late, (0, 63072000))
    rep2 = run_events(spark, hipages_profile, src, wh, "r2", new_files_only=True)
    assert [f.rsplit("/in/", 1)[1] for f in rep2.input_files] == ["2017/02/02/late.json"]
    assert [f.rsplit("/in/", 1)[1] for f in rep2.files_skipped] == ["2017/02/02/a.json", "2017/02/03/b.json"]
    assert (rep2.events_written, rep2.duplicates, rep2.partitions_written) == (1, 1, ["2017-02-02"])
    assert rep2.batches == [{"batch_id": 1, "files": 1, "lines_read": 2, "records": 2, "events_written": 1,
                             "rejected": 0, "duplicates": 1, "status": "succeeded", "attempts": 1,
                             "events_version": rep2.events_commits[0]["version"]}]

    # Nothing new: no batch, and no commit to the events table.
    before = version(spark, wh / "events")
    rep3 = run_events(spark, hipages_profile, src, wh, "r3", new_files_only=True)
    assert (rep3.input_files, rep3.batches, rep3.records) == ([], [], 0)
    assert len(rep3.files_skipped) == 3
    assert version(spark, wh / "events") == before
    assert table_rows(spark, wh, "events", "event_id", "run_id") == [
        ("a1", "r1"), ("a2", "r1"), ("b1", "r1"), ("c1", "r2")]


def test_a_file_appended_after_it_was_taken_is_reported_and_taken_again_by_path(spark, hipages_profile, tmp_path,
                                                                               caplog):
    """--new-files-only takes a file once; one that grows afterwards is reported (the
    record of files read keeps the size Spark read it at) until `events --input FILE`
    takes it again: its old lines come back as duplicates, its late lines as events."""
    src, wh = tmp_path / "in", tmp_path / "wh"
    a = write_lines(src / "2017/02/02/a.json", [L("a1"), L("a2"), "{bad"])
    write_lines(src / "2017/02/02/b.json", [L("b1")])
    assert run_events(spark, hipages_profile, src, wh, "r1", new_files_only=True).files_changed_after_ingest == []
    assert sorted(json.loads(line)["path"].rsplit("/in/", 1)[1] + f" {json.loads(line)['lines']}"
                  for line in ledger(wh, "run-r1-b0").splitlines()) == [
        "2017/02/02/a.json 3", "2017/02/02/b.json 1"]
    with a.open("a") as f:  # a writer that was not done
        f.write(L("a3") + "\n")

    rep = run_events(spark, hipages_profile, src, wh, "r2", new_files_only=True)
    assert (rep.files_changed_after_ingest, rep.input_files, rep.records) == ([f"file:{a}"], [], 0)
    assert f"1 file(s) changed after they were ingested (another size or modification time): file:{a}" in caplog.text
    assert "files_changed_after_ingest=1" in rep.summary_line()

    again = run_events(spark, hipages_profile, a, wh, "r3")  # the documented re-ingest
    assert (again.events_written, again.duplicates, again.rejected) == (1, 2, {"malformed_json": 1})
    rep = run_events(spark, hipages_profile, src, wh, "r4", new_files_only=True)
    assert (rep.files_changed_after_ingest, rep.input_files) == ([], [])
    assert table_rows(spark, wh, "events", "event_id", "run_id") == [
        ("a1", "r1"), ("a2", "r1"), ("a3", "r3"), ("b1", "r1")]
    assert table_rows(spark, wh, "rejects", "raw", "run_id") == [("{bad", "r3")]


def test_a_file_empty_when_planned_and_written_during_the_batch_is_reported_and_taken_by_path(
        spark, hipages_profile, tmp_path, monkeypatch, caplog):
    """Log rotation: b.json is created empty, a stream plans it (Spark reads nothing of a
    0-byte file), and the writer appends while the batch commits. The record keeps what
    the read saw (0 bytes, at the modification time it was planned at), so the next run
    reports b.json as changed, and `events --input b.json` takes its lines. (The record
    used to take the size at record time: b.json matched it, and its lines were lost.)
    The batch pauses at `events_committed` (after the MERGE, before the record) and goes
    on once CLICKSTREAM_RESUME_FILE exists."""
    src, wh = tmp_path / "in", tmp_path / "wh"
    write_lines(src / "a.json", [L("a1")])
    b = src / "b.json"
    b.write_bytes(b"")
    os.utime(b, ns=(1_600_000_000_123_000_000, 1_600_000_000_123_000_000))
    resume, paused = tmp_path / "resume", threading.Event()
    monkeypatch.setenv(faults.ENV, "events_committed")
    monkeypatch.setenv(faults.RESUME_ENV, str(resume))
    point = faults.point

    def announce(name):
        if name == "events_committed":
            paused.set()
        point(name)

    monkeypatch.setattr(faults, "point", announce)
    done = {}
    job = threading.Thread(target=lambda: done.setdefault("rep", run_events(
        spark, hipages_profile, src, wh, "r1", new_files_only=True)))
    job.start()
    assert paused.wait(300)
    with b.open("a") as f:  # the writer, during the batch
        f.write(L("b1") + "\n" + L("b2") + "\n")
    resume.touch()
    job.join(300)
    monkeypatch.delenv(faults.ENV)
    assert done["rep"].events_written == 1
    record = {json.loads(line)["path"].rsplit("/", 1)[1]: json.loads(line)
              for line in ledger(wh, "run-r1-b0").splitlines()}
    assert [(r["lines"], r["size"], r["modified"]) for r in (record["a.json"], record["b.json"])] == [
        (1, (src / "a.json").stat().st_size, (src / "a.json").stat().st_mtime_ns // 1_000_000),
        (0, 0, 1_600_000_000_123)]
    assert f"file:{b} was empty when this batch read it and has {b.stat().st_size} byte(s) now" in caplog.text

    rep = run_events(spark, hipages_profile, src, wh, "r2", new_files_only=True)
    assert (rep.files_changed_after_ingest, rep.input_files) == ([f"file:{b}"], [])
    assert f"changed after they were ingested (another size or modification time): file:{b}" in caplog.text
    again = run_events(spark, hipages_profile, b, wh, "r3")
    assert (again.events_written, again.duplicates) == (2, 0)
    assert run_events(spark, hipages_profile, src, wh, "r4", new_files_only=True).files_changed_after_ingest == []
    assert table_rows(spark, wh, "events", "event_id", "run_id") == [("a1", "r1"), ("b1", "r3"), ("b2", "r3")]


def test_a_batch_committed_but_not_recorded_is_replayed_without_duplicates(spark, hipages_profile, tmp_path):
    src, wh = tmp_path / "in", tmp_path / "wh"
    write_lines(src / "2017/02/02/a.json", [L("a1"), L("a2"), "{bad"])
    run_events(spark, hipages_profile, src, wh, "r1", new_files_only=True)
    rows, rejects = table_rows(spark, wh, "events", *schemas.EVENTS_COLUMNS), table_rows(spark, wh, "rejects", "raw")
    # A run that died after its commits, before Spark recorded the batch as done.
    checkpoint = next((wh / "_checkpoints").iterdir())
    for name in ("0", ".0.crc"):
        (checkpoint / "commits" / name).unlink()
    before = version(spark, wh / "events")
    rep = run_events(spark, hipages_profile, src, wh, "r2", new_files_only=True)
    assert [b["batch_id"] for b in rep.batches] == [0]
    assert (rep.events_written, rep.duplicates, rep.rejected_total, rep.events_commits) == (0, 2, 1, [])
    assert version(spark, wh / "events") == before
    assert table_rows(spark, wh, "events", *schemas.EVENTS_COLUMNS) == rows
    assert table_rows(spark, wh, "rejects", "raw") == rejects


def test_an_events_commit_tagged_with_a_committed_batch_is_skipped(spark, hipages_profile, tmp_path):
    wh = tmp_path / "wh"
    run_events(spark, hipages_profile, write_lines(tmp_path / "a.json", [L("a1")]), wh, "r1")
    path = f"file:{wh}/events"
    first = events.read_lines(spark, [str(write_lines(tmp_path / "b.json", [L("b1")]))])
    cfg = events.EventsConfig(input="", warehouse=str(wh), profile=hipages_profile, run_id="r2")
    batch = events.commit_batch(spark, cfg, f"file:{wh}", first, {f"file:{tmp_path}/b.json": 0}, txn=("app-1", 7))
    assert batch.events_written == 1 and batch.events_commit is not None
    before = version(spark, path)
    new = spark.read.format("delta").load(path).where("event_id = 'b1'").withColumn("event_id", F.lit("c1"))
    assert tables.append_classified(spark, path, new, before, {"run_id": "r3"}, txn=("app-1", 7)) is None
    assert version(spark, path) == before
    assert tables.append_classified(spark, path, new, before, {"run_id": "r3"}, txn=("app-1", 8))["version"] == before + 1
    assert {r[0] for r in table_rows(spark, wh, "events", "event_id")} == {"a1", "b1", "c1"}


def test_a_commit_by_another_writer_mid_batch_is_retried(spark, hipages_profile, tmp_path, monkeypatch):
    wh = tmp_path / "wh"
    replace_rejects = tables.replace_rejects
    others = iter(["x1", "x2"])
    calls = []

    def rejects_then_another_writer(*args, **kw):
        commit = replace_rejects(*args, **kw)
        calls.append(1)
        if len(calls) == 1:  # another run inserts an event after this batch was classified
            event_id = next(others)
            other = write_lines(tmp_path / f"{event_id}.json", [L(event_id, user_id="other")])
            run_events(spark, hipages_profile, other, wh, "other")
        return commit

    monkeypatch.setattr(tables, "replace_rejects", rejects_then_another_writer)
    backoff = []
    monkeypatch.setattr(tables, "_sleep", backoff.append)
    rep = run_events(spark, hipages_profile, write_lines(tmp_path / "b.json", [L("b1"), L("x1", user_id="other")]),
                     wh, "r2")
    assert rep.batches[0]["attempts"] == 2
    assert len(backoff) == 1 and 1 <= backoff[0] <= 3  # 2 s for a first retry, jittered by ±50%
    assert (rep.events_written, rep.duplicates) == (1, 1)
    assert table_rows(spark, wh, "events", "event_id", "run_id") == [("b1", "r2"), ("x1", "other")]

    calls.clear()
    with pytest.raises(JobFailed, match=r"^gave up after 1 attempts: other writers kept committing"):
        run_events(spark, hipages_profile, write_lines(tmp_path / "c.json", [L("c1")]), wh, "r3", max_attempts=1)
    assert {r[0] for r in table_rows(spark, wh, "events", "event_id")} == {"b1", "x1", "x2"}


def test_two_writers_of_the_same_new_key_at_the_same_moment_give_one_event(spark, hipages_profile, tmp_path,
                                                                            monkeypatch):
    """The events commit reads no stored key: another writer's commit that lands after
    this batch's transaction started (so after its version check) must fail it, and the
    retry, classified again, finds the key stored."""
    wh = tmp_path / "wh"
    run_events(spark, hipages_profile, write_lines(tmp_path / "a.json", [L("a1")]), wh, "r1")
    point = faults.point
    landed = []

    def other_writer_first(name):
        if name == "events_writing" and not landed:  # r2's events transaction has begun
            landed.append("other")
            landed.append(run_events(spark, hipages_profile, write_lines(tmp_path / "o.json", [L("k1")]), wh,
                                     "other").events_written)
        point(name)

    monkeypatch.setattr(faults, "point", other_writer_first)
    monkeypatch.setattr(tables, "_sleep", lambda s: None)
    rep = run_events(spark, hipages_profile, write_lines(tmp_path / "b.json", [L("k1"), L("b1")]), wh, "r2")
    assert landed == ["other", 1]
    assert (rep.batches[0]["attempts"], rep.events_written, rep.duplicates) == (2, 1, 1)
    assert table_rows(spark, wh, "events", "event_id", "run_id") == [("a1", "r1"), ("b1", "r2"), ("k1", "other")]


def test_late_events_are_merged_and_the_stats_recompute_exactly_the_changed_days(spark, hipages_profile, tmp_path):
    src, wh = tmp_path / "in", tmp_path / "wh"
    day0, day1, day2 = D(2020, 1, 12), D(2020, 1, 13), D(2020, 1, 14)
    write_lines(src / "2020/01/13/a.json", [L("d0", timestamp=ts(day0))] + [
        L(f"d1-{i}", user_id=f"u{i % 2}", timestamp=ts(day1)) for i in range(4)])
    run_events(spark, hipages_profile, src, wh, "r1", new_files_only=True)
    rep = run_stats(spark, wh, "s1")
    assert (rep["mode"], rep["days_recomputed"]) == ("full", ["2020-01-12", "2020-01-13"])
    stats_path = wh / "hourly_stats"
    before = table_rows(spark, wh, "hourly_stats", "time_bucket", "activity_count", "user_count")
    assert before == [("2020011210", 1, 1), ("2020011310", 4, 2)]
    day0_files = sorted(p.name for p in (stats_path / "event_date=2020-01-12").glob("*.parquet"))

    # A day-2 file carrying 3 day-1 events (two new users) and one of day 1's again.
    write_lines(src / "2020/01/14/b.json", [L("d2", timestamp=ts(day2))] + [
        L(f"late-{i}", user_id=f"late{i % 2}", timestamp=ts(day1)) for i in range(3)] + [
        L("d1-0", user_id="u0", timestamp=ts(day1))])
    ingest = run_events(spark, hipages_profile, src, wh, "r2", new_files_only=True)
    assert (ingest.events_written, ingest.duplicates, ingest.partitions_written) == (
        4, 1, ["2020-01-13", "2020-01-14"])
    rep = run_stats(spark, wh, "s2")
    assert (rep["mode"], rep["days_recomputed"], rep["consumed_before"]) == (
        "catch_up", ["2020-01-13", "2020-01-14"], 1)
    assert table_rows(spark, wh, "hourly_stats", "time_bucket", "activity_count", "user_count") == [
        ("2020011210", 1, 1), ("2020011310", 7, 4), ("2020011410", 1, 1)]
    assert sorted(p.name for p in (stats_path / "event_date=2020-01-12").glob("*.parquet")) == day0_files
    assert DeltaTable.forPath(spark, str(stats_path)).history(1).first()["operationParameters"]["predicate"] \
        .count("2020-01-1") == 2

    # Up to date: nothing is recomputed and nothing committed.
    stats_version = version(spark, stats_path)
    rep = run_stats(spark, wh, "s3")
    assert (rep["mode"], rep["days_recomputed"], rep["commit"]) == ("up_to_date", [], None)
    assert version(spark, stats_path) == stats_version

    # A forced range rewrites its days but consumes nothing.
    rep = run_stats(spark, wh, "s4", date_from=day0, date_to=day0)
    assert (rep["mode"], rep["days_recomputed"]) == ("range", ["2020-01-12"])
    assert hourly_stats.consumed_version(spark, f"file:{stats_path}") == version(spark, wh / "events")
    meta = json.loads(DeltaTable.forPath(spark, str(stats_path)).history(1).first()["userMetadata"])
    assert meta == {"job": "hourly_stats", "run_id": "s4"}


def test_dated_days_without_files_are_one_line_and_exit_2(spark, tmp_path, capsys):
    root = tmp_path / "d"
    write_lines(root / "2020" / "01" / "10" / "a.json", [L("a1")])
    assert run_job(spark, "events", "--input", str(root), "--warehouse", str(tmp_path / "wh"),
                   "--from", "2020-01-11", "--to", "2020-01-12") == 2
    assert capsys.readouterr().err.splitlines() == [
        f"events: error: no input files for any requested day (2020-01-11..2020-01-12) under file:{root} "
        "with layout {yyyy}/{MM}/{dd}"]
    assert not (tmp_path / "wh").exists()


def test_an_input_root_and_a_warehouse_with_glob_characters_are_read_as_named(spark, hipages_profile, tmp_path):
    """`in[1]` is that directory, never `in1`; `w{x}` that warehouse: the stream, the
    dated days, the record of files read and the report read them as named (they used
    to be read as globs: `in[1]` matched `in1`, and `w{x}` matched `wx`)."""
    src, decoy, wh = tmp_path / "in[1]", tmp_path / "in1", tmp_path / "w{x}"
    write_lines(src / "2017/02/02/a.json", [L("a1", timestamp="02/02/2017 10:00:00")])
    write_lines(decoy / "2017/02/02/b.json", [L("b1", timestamp="02/02/2017 10:00:00")])
    (tmp_path / "wx").mkdir()
    first = run_events(spark, hipages_profile, src, wh, "r1", new_files_only=True)
    assert (first.input_files, first.files_changed_after_ingest) == ([f"file:{src}/2017/02/02/a.json"], [])
    with (src / "2017/02/02/a.json").open("a") as f:
        f.write(L("a2", timestamp="02/02/2017 11:00:00") + "\n")
    dated = run_events(spark, hipages_profile, src, wh, "r2", days=(D(2017, 2, 2),))
    assert (dated.input_files, dated.events_written, dated.duplicates) == ([f"file:{src}/2017/02/02/a.json"], 1, 1)
    assert ingested.changed_after_ingest(spark, f"file:{wh}", "hipages", {f"file:{src}/2017/02/02/a.json": (
        (src / "2017/02/02/a.json").stat().st_size, 1)}) == [f"file:{src}/2017/02/02/a.json"]
    from clickstream.runs import report

    assert [(r["run_id"], r["job"]) for r in report._run_reports(spark, f"file:{wh}").select(
        "run_id", "job").orderBy("run_id").collect()] == [("r1", "events"), ("r2", "events")]
    assert table_rows(spark, wh, "events", "event_id", "run_id") == [("a1", "r1"), ("a2", "r2")]
