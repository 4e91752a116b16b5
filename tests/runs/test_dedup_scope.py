"""Which stored events a batch is compared with: every one of its source whose key lies
within the batch's key range (exact), or, with --dedup-horizon-days, also within the
batch's dates widened by the horizon. Stored files outside are never opened: the proof
here is a stored data file deleted behind Delta's back, which a run that read it would
fail on."""

import datetime as dt

import pytest

from clickstream.runs import events

from helpers import hipages_line as L
from helpers import table_rows, write_lines


def run(spark, profile, src, wh, run_id, horizon=None):
    cfg = events.EventsConfig(input=str(src), warehouse=str(wh), profile=profile, run_id=run_id,
                              max_reject_rate=0.5, dedup_horizon_days=horizon)
    return events.run(spark, cfg)


def delete_data_files(wh, partition):
    files = sorted((wh / "events" / partition).glob("*.parquet"))
    assert len(files) == 1
    for f in files:
        f.unlink()


def test_stored_files_outside_the_batch_key_range_are_never_read(spark, hipages_profile, tmp_path):
    wh = tmp_path / "wh"
    first = [L("a1"), L("a2"), L("m1", timestamp="03/02/2017 01:00:00")]
    run(spark, hipages_profile, write_lines(tmp_path / "in" / "1.json", first), wh, "r1")
    delete_data_files(wh, "event_date=2017-02-02")  # the file of keys a1..a2

    # Keys b1..m1 (m1 stored, in the other file): the a-file is skipped by its
    # statistics, in the comparison and in the MERGE alike.
    later = write_lines(tmp_path / "in" / "2.json", [L("b1"), L("c1"), L("m1", timestamp="03/02/2017 01:00:00")])
    rep = run(spark, hipages_profile, later, wh, "r2")
    assert (rep.records, rep.events_written, rep.duplicates, rep.rejected) == (3, 2, 1, {})
    assert rep.dedup_horizon_days is None
    stored = spark.read.format("delta").load(str(wh / "events")).where("event_date = '2017-02-03'")
    assert sorted(tuple(r) for r in stored.select("event_id", "run_id").collect()) == [("m1", "r1")]

    # A key within the a-file's range must be compared with it: that run opens the file.
    with pytest.raises(Exception, match="(?s)FILE_NOT_EXIST|FileNotFound|does not exist"):
        run(spark, hipages_profile, write_lines(tmp_path / "in" / "3.json", [L("a15")]), wh, "r3")


def test_a_dedup_horizon_compares_nearby_dates_only_and_lets_an_older_copy_in(spark, hipages_profile, tmp_path):
    wh = tmp_path / "wh"
    first = [L("e1", timestamp="01/02/2017 10:00:00"), L("e2", timestamp="10/02/2017 10:00:00")]
    run(spark, hipages_profile, write_lines(tmp_path / "in" / "1.json", first), wh, "r1")
    # e2 again, identical (dated 2017-02-10), and a copy of e1 dated 2017-02-20 that differs.
    again = [L("e2", timestamp="10/02/2017 10:00:00"), L("e1", action="claim", timestamp="20/02/2017 10:00:00")]
    src = write_lines(tmp_path / "in" / "2.json", again)

    # By default every stored event is compared, whatever its date: the e1 copy conflicts.
    rep = run(spark, hipages_profile, src, wh, "r2")
    assert (rep.events_written, rep.duplicates, rep.rejected) == (0, 1, {"conflicting_duplicate": 1})

    # With a 2-day horizon the batch sees stored dates 2017-02-08..2017-02-22: e2's copy is
    # a duplicate, e1's stored copy (2017-02-01) is out of sight, so its later copy is new.
    rep = run(spark, hipages_profile, src, wh, "r3", horizon=2)
    assert (rep.events_written, rep.duplicates, rep.rejected, rep.dedup_horizon_days) == (1, 1, {}, 2)
    assert table_rows(spark, wh, "events", "event_id", "activity", "event_date", "run_id") == [
        ("e1", "claim", dt.date(2017, 2, 20), "r3"),
        ("e1", "page_view", dt.date(2017, 2, 1), "r1"),
        ("e2", "page_view", dt.date(2017, 2, 10), "r1"),
    ]
    assert table_rows(spark, wh, "rejects", "reason") == []  # r3 replaced the file's rejects of r2
