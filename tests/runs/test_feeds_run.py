"""The feeds of conf/sources/ through the events, hourly_stats and sessions jobs in
process: three feeds in one warehouse, a fourth from a profile file, CSV headers per
file, and a warehouse from before feeds."""

import bz2
import datetime as dt
import gzip
import json

import pyspark.sql.functions as F
import pytest

from clickstream.config import schemas

from helpers import CHECKOUT, IMP_HEADER, ROOT, hipages_line, read_report, run_events, run_job, run_stats, table_rows


FEEDS = ROOT / "data" / "feeds"

SALT = "feeds-test-pepper"
EMAILS = ["alice.walker@example.com", "bob@example.org", "carol@example.net", "dan@example.com",
          "erin@example.com"]


@pytest.fixture(scope="module")
def warehouse(spark, tmp_path_factory, app, imp, mobile):
    wh = tmp_path_factory.mktemp("feeds") / "wh"
    reports = {name: run_events(spark, profile, FEEDS / name, wh, f"e-{name}", source=name,
                                **({"pii_salt": SALT} if profile.pii_fields() else {}))
               for name, profile in (("app_events", app), ("impressions", imp), ("mobile_events", mobile))}
    return wh, reports


def test_three_feeds_land_in_one_events_table(spark, warehouse):
    wh, reports = warehouse
    counts = {name: (r.records, r.events_written, r.duplicates, r.rejected, r.header_lines, r.blank_lines)
              for name, r in reports.items()}
    assert counts == {
        "app_events": (11, 6, 1, {"malformed_json": 1, "missing_user_id": 1, "bad_timestamp": 1, "bad_url": 1}, 0, 0),
        "impressions": (9, 5, 1, {"missing_campaign_id": 1, "malformed_csv": 1, "bad_timestamp": 1}, 1, 0),
        "mobile_events": (10, 6, 1, {"missing_user_id": 1, "malformed_csv": 1, "bad_timestamp": 1}, 1, 0),
    }
    assert table_rows(spark, wh, "events", "source", "activity", "time_stamp")[:3] == [
        ("app_events", "meeting_scheduled", dt.datetime(2020, 1, 13, 6, 2, 55)),
        ("app_events", "message_saved", dt.datetime(2020, 1, 13, 5, 10, 12)),
        ("app_events", "message_sent", dt.datetime(2020, 1, 13, 6, 31, 30)),
    ]
    assert [r for r in table_rows(spark, wh, "events", "source", "event_id") if r[0] == "impressions"] == [
        ("impressions", f"imp-000{i}") for i in range(1, 6)]


def test_the_same_event_id_in_two_sources_is_two_events(spark, tmp_path, imp):
    line = "imp-0001,cmp-1,u-1,2021-03-04 10:15:30,"
    for name in ("impressions", "impressions_eu"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.csv").write_text(f"{IMP_HEADER}\n{line}\n")
        rep = run_events(spark, imp, tmp_path / name, tmp_path / "wh", f"r-{name}", source=name)
        assert (rep.events_written, rep.duplicates) == (1, 0)
    assert table_rows(spark, tmp_path / "wh", "events", "source", "event_id") == [
        ("impressions", "imp-0001"), ("impressions_eu", "imp-0001")]


def stats_rows(spark, wh, table, source):
    df = spark.read.format("delta").load(str(wh / table)).where(F.col("source") == source).drop("event_date", "user_sketch")
    return sorted((tuple(r) for r in df.collect()), key=lambda r: tuple("" if v is None else str(v) for v in r))


def test_hourly_stats_per_source_and_per_campaign(spark, warehouse):
    wh, _ = warehouse
    run_stats(spark, wh, "s-all")
    assert stats_rows(spark, wh, "hourly_stats", "app_events") == [
        ("2020011305", "app_events", None, "message_saved", 1, 1),
        ("2020011305", "app_events", "app.local", "page_visit", 2, 2),
        ("2020011306", "app_events", None, "meeting_scheduled", 1, 1),
        ("2020011306", "app_events", None, "message_sent", 1, 1),
        ("2020011306", "app_events", "app.local", "page_visit", 1, 1),
    ]
    assert stats_rows(spark, wh, "hourly_stats", "mobile_events") == [
        ("2020030208", "mobile_events", None, "App Opened", 2, 2),
        ("2020030208", "mobile_events", None, "Ride Started - Successful", 1, 1),
        ("2020030208", "mobile_events", None, "Search Started", 1, 1),
        ("2020030209", "mobile_events", None, "Rating Screen", 1, 1),
        ("2020030209", "mobile_events", None, "Search Started", 1, 1),
    ]
    rep = run_stats(spark, wh, "s-imp", source="impressions", dimensions=("campaign_id",))
    assert (rep["table"], rep["source"], rep["rows_written"], rep["events_counted"]) == (
        "hourly_stats_campaign_id", "impressions", 3, 5)
    assert stats_rows(spark, wh, "hourly_stats_campaign_id", "impressions") == [
        ("2021030410", "impressions", "news.example.com", "cmp-042", "impression", 3, 2),
        ("2021030410", "impressions", "shop.example.com", "cmp-007", "impression", 1, 1),
        ("2021030411", "impressions", None, "cmp-007", "impression", 1, 1),
    ]
    assert spark.read.format("delta").load(str(wh / "hourly_stats_campaign_id")).columns == [
        "time_bucket", "source", "url_level1", "campaign_id", "activity", "activity_count", "user_count",
        "user_sketch", "event_date"]


def test_a_run_of_one_source_rewrites_only_that_source(spark, warehouse):
    wh, _ = warehouse
    run_stats(spark, wh, "s-all-2")
    before = table_rows(spark, wh, "hourly_stats", "source", "time_bucket", "activity", "activity_count")
    rep = run_stats(spark, wh, "s-mobile", source="mobile_events", date_from=dt.date(2020, 1, 1),
                    date_to=dt.date(2021, 12, 31))
    assert (rep["mode"], rep["rows_written"], rep["events_counted"]) == ("range", 5, 6)
    assert table_rows(spark, wh, "hourly_stats", "source", "time_bucket", "activity", "activity_count") == before
    from delta.tables import DeltaTable
    last = DeltaTable.forPath(spark, str(wh / "hourly_stats")).history(1).first()
    predicate = last["operationParameters"]["predicate"]
    assert "mobile_events" in predicate and "2020-01-01" in predicate


def test_raw_emails_reach_neither_the_events_table_nor_the_report(spark, warehouse):
    wh, reports = warehouse
    rows = spark.read.format("delta").load(str(wh / "events")).where("source = 'app_events'") \
        .select(F.to_json(F.struct("*")).alias("j")).collect()
    assert len(rows) == 6
    text = "\n".join(r["j"] for r in rows).lower()
    assert [e for e in EMAILS if e in text] == [] and "@" not in text
    assert "@" not in json.dumps(read_report(wh, "e-app_events"))
    # Rejected lines keep their raw text, and so their PII (the README says so).
    rejects = [r for r in table_rows(spark, wh, "rejects", "reason", "raw") if "erin@example.com" in r[1]]
    assert [r[0] for r in rejects] == ["bad_timestamp", "bad_url"]


def test_a_csv_header_without_a_required_column_fails_before_any_commit(spark, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.csv").write_text(f"{IMP_HEADER}\ni-1,cmp-1,u-1,2021-03-04 10:15:30,\n")
    (src / "b.csv").write_text("impression_id,user_id,url\ni-2,u-2,\n")
    code = run_job(spark, "events", "--source", "impressions", "--input", str(src), "--warehouse", str(tmp_path / "wh"))
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"events: error: file:{src}/b.csv: the CSV header lacks required column(s) timestamp, "
        "campaign_id (profile impressions; header: impression_id, user_id, url)"]
    assert not (tmp_path / "wh").exists()


def test_a_fourth_feed_from_a_profile_file_end_to_end(spark, tmp_path, capsys, monkeypatch):
    """Each job's own main, as spark-submit runs it, with --conf-dir."""
    monkeypatch.setenv("CLICKSTREAM_PII_SALT", SALT)  # the profile hashes the customer's email
    conf = tmp_path / "conf" / "sources"
    conf.mkdir(parents=True)
    (conf / "checkout.json").write_text(json.dumps(CHECKOUT))
    day = tmp_path / "in" / "2020" / "03" / "02"
    day.mkdir(parents=True)
    (day / "part-1.psv").write_text("o-1|ann@example.com|PAY|02.03.2020 10:30|checkout/pay|Store-7\n"
                                    "o-2|bob@example.com|pay|02.03.2020 10:59|checkout/pay|store-7\n"
                                    "o-3|bob@example.com|pay|02.03.2020 11:00|checkout/pay\n")
    wh = tmp_path / "wh"
    assert run_job(spark, "events", "--conf-dir", str(tmp_path / "conf"), "--source", "checkout",
                   "--date", "2020-03-02", "--input", str(tmp_path / "in"), "--warehouse", str(wh),
                   "--max-reject-rate", "0.5", "--run-id", "e1") == 0
    assert "records=3 events_written=2 rejected=1 (malformed_csv=1)" in capsys.readouterr().out
    assert run_job(spark, "hourly_stats", "--warehouse", str(wh), "--source", "checkout", "--dimensions", "store",
                   "--csv", str(tmp_path / "stats.csv")) == 0
    assert (tmp_path / "stats.csv").read_text().splitlines() == [
        "time_bucket,url_level1,store,activity,activity_count,user_count",
        "2020030209,shop.example.com,store-7,pay,2,2",
    ]
    # ... and sessions, with the profile's default gap and a conversion from the command line.
    capsys.readouterr()
    assert run_job(spark, "sessions", "--conf-dir", str(tmp_path / "conf"), "--warehouse", str(wh),
                   "--conversion", "^pay$") == 0
    out = capsys.readouterr().out
    assert "modes=checkout:full dates=1 sessions=2" in out
    assert "  2020-03-02 checkout: sessions=2 converted=2 conversion_rate=1.0000 median_duration_s=0.0" in out


def test_a_warehouse_from_before_feeds_is_migrated(spark, tmp_path, hipages_profile):
    from helpers import hipages_line, write_lines

    wh = tmp_path / "wh"
    legacy = schemas.EVENTS_SCHEMA.fieldNames()
    old_schema = ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in schemas.EVENTS_SCHEMA.fields
                           if f.name not in ("source", "properties"))
    row = ("e1", "u1", "s1", dt.datetime(2017, 2, 2, 20, 22), "hipages.com.au", "articles", None, "page_view",
           "https://www.hipages.com.au/articles", "1.2.3.4", "file:/old.json", "old-run", dt.date(2017, 2, 2))
    spark.createDataFrame([row], old_schema).write.format("delta").partitionBy("event_date").save(str(wh / "events"))
    (wh / "_runs").mkdir()
    (wh / "_runs" / "old-run.json").write_text(json.dumps({"run_id": "old-run", "source": "hipages"}))
    spark.createDataFrame([("2017020220", "hipages.com.au", "page_view", 1, 1, dt.date(2017, 2, 2))],
                          "time_bucket string, url_level1 string, activity string, activity_count long, "
                          "user_count long, event_date date") \
        .write.format("delta").partitionBy("event_date").save(str(wh / "hourly_stats"))

    src = write_lines(tmp_path / "in" / "a.json", [hipages_line("e1"), hipages_line("e2")])
    rep = run_events(spark, hipages_profile, src, wh, "new-run")
    assert (rep.events_written, rep.duplicates) == (1, 1)
    assert table_rows(spark, wh, "events", "source", "event_id", "run_id", "properties") == [
        ("hipages", "e1", "old-run", {}), ("hipages", "e2", "new-run", {})]
    assert sorted(spark.read.format("delta").load(str(wh / "events")).columns) == sorted(legacy)
    stats = run_stats(spark, wh, "s1")
    assert stats["mode"] == "full"
    assert table_rows(spark, wh, "hourly_stats", "time_bucket", "source", "url_level1", "activity",
                      "activity_count", "user_count") == [
        ("2017020220", "hipages", "hipages.com.au", "page_view", 2, 1)]


def test_new_files_only_takes_csv_files_once_with_their_own_headers(spark, tmp_path, imp):
    src, wh = tmp_path / "in put", tmp_path / "wh"  # a space: Spark spells the file 'in%20put'

    day = src / "2021" / "03" / "04"
    day.mkdir(parents=True)
    (day / "a.csv").write_bytes(f"\ufeff{IMP_HEADER}\r\ni-1,cmp-1,u-1,2021-03-04 10:15:30,\r\n".encode())
    first = run_events(spark, imp, src, wh, "n1", source="impressions", new_files_only=True)
    (day / "b.csv").write_text("user_id,timestamp,campaign_id,impression_id\n"
                               "u-2,2021-03-04 10:20:00,cmp-2,i-2\nu-3,2021-03-04 10:21:00,cmp-2\n")
    second = run_events(spark, imp, src, wh, "n2", source="impressions", new_files_only=True)
    assert [(r.records, r.events_written, r.rejected, r.header_lines) for r in (first, second)] == [
        (1, 1, {}, 1), (2, 1, {"malformed_csv": 1}, 1)]
    assert table_rows(spark, wh, "events", "event_id", "user_id", "properties") == [
        ("i-1", "u-1", {"campaign_id": "cmp-1"}), ("i-2", "u-2", {"campaign_id": "cmp-2"})]


def test_compressed_csv_and_json_lines_are_read_as_spark_reads_them(spark, tmp_path, imp, hipages_profile):
    """.gz and .bz2 files are decompressed by their suffix, the CSV header check included."""
    src = tmp_path / "imp"
    src.mkdir()
    (src / "a.csv.gz").write_bytes(gzip.compress(f"{IMP_HEADER}\ni-1,cmp-1,u-1,2021-03-04 10:15:30,\n".encode()))
    (src / "b.csv.bz2").write_bytes(bz2.compress(f"{IMP_HEADER}\ni-2,cmp-2,u-2,2021-03-04 11:00:00,\n".encode()))
    rep = run_events(spark, imp, src, tmp_path / "wh", "c1", source="impressions")
    assert (rep.lines_read, rep.records, rep.events_written, rep.header_lines) == (4, 2, 2, 2)
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "a.json.gz").write_bytes(gzip.compress(f"{hipages_line('e1')}\n{hipages_line('e2')}\n"
                                                                .encode()))
    rep = run_events(spark, hipages_profile, tmp_path / "json", tmp_path / "wh", "j1")
    assert (rep.lines_read, rep.records, rep.events_written) == (2, 2, 2)
    assert sorted(r[0] for r in table_rows(spark, tmp_path / "wh", "events", "event_id")) == ["e1", "e2", "i-1", "i-2"]


def test_files_whose_path_needs_escaping_keep_their_headers_and_rejects(spark, tmp_path, imp):
    src = tmp_path / "my feed" / "day 1.csv"
    src.parent.mkdir()
    src.write_text(f"{IMP_HEADER}\ni-1,cmp-1,u-1,2021-03-04 10:15:30,\ni-2,cmp-1\n")
    for run in ("r1", "r2"):  # the second run replaces the first one's rejects of that file
        rep = run_events(spark, imp, src.parent, tmp_path / "wh", run, source="impressions")
        assert (rep.events_written if run == "r1" else rep.duplicates, rep.rejected) == (1, {"malformed_csv": 1})
    assert table_rows(spark, tmp_path / "wh", "rejects", "reason", "raw", "run_id") == [
        ("malformed_csv", "i-2,cmp-1", "r2")]


def test_sessions_of_every_feed_with_each_profiles_rules(spark, warehouse):
    from clickstream.runs import sessions

    wh, _ = warehouse
    rep = sessions.run(spark, sessions.SessionsConfig(warehouse=str(wh), run_id="sess-all"))
    assert rep["modes"] == {"app_events": "full", "impressions": "full", "mobile_events": "full"}
    assert [tuple(s.values()) for s in rep["summary"]] == [
        ("2020-01-13", "app_events", 3, 1, 0.3333, 990.0),    # meeting_scheduled, 30-minute gaps
        ("2020-03-02", "mobile_events", 4, 2, 0.5, 0.0),      # the rides, 15-minute gaps, per device
        ("2021-03-04", "impressions", 3, 0, None, 32.0),      # no conversion rule: rate NULL
    ]
    got = spark.read.format("delta").load(str(wh / "sessions")).where("source = 'app_events' AND converted")
    assert [(r["event_count"], r["duration_seconds"], r["first_activity"], r["landing_url_level1"],
             r["landing_url_level2"], r["converted_at"], r["conversion_activity"]) for r in got.collect()] == [
        (2, 1312, "page_visit", "app.local", "main", dt.datetime(2020, 1, 13, 6, 2, 55), "meeting_scheduled")]


def test_batched_new_files_check_the_headers_of_the_new_files_only(spark, tmp_path, imp, monkeypatch):
    """With --max-files-per-batch the headers are checked before the first batch, of the
    files not ingested yet only: an old file is not opened again (it used to be, on every
    run), and an old file whose header no longer suits the profile fails nothing."""
    from clickstream.runs import events
    from clickstream.warehouse import fs

    src, wh = tmp_path / "imp", tmp_path / "wh"
    src.mkdir()
    (src / "a.csv").write_text(f"{IMP_HEADER}\ni-1,cmp-1,u-1,2021-03-04 10:15:30,\n")
    run_events(spark, imp, src, wh, "b1", source="impressions", new_files_only=True, max_files_per_batch=1)
    (src / "a.csv").write_text("no,header,we,know\n")  # rewritten after it was ingested
    (src / "b.csv").write_text(f"{IMP_HEADER}\ni-2,cmp-2,u-2,2021-03-04 11:00:00,\n")
    opened = []
    read_first_line = fs.read_first_line
    monkeypatch.setattr(fs, "read_first_line", lambda s, uri: opened.append(uri.rsplit("/", 1)[1])
                        or read_first_line(s, uri))
    rep = run_events(spark, imp, src, wh, "b2", source="impressions", new_files_only=True, max_files_per_batch=1)
    assert (rep.events_written, rep.files_changed_after_ingest) == (1, [f"file:{src}/a.csv"])
    assert opened == ["b.csv", "b.csv"]  # before the first batch, then by its batch
    assert events.csv_headers(spark, imp, [f"file:{src}/b.csv"]) == {f"file:{src}/b.csv": IMP_HEADER.split(",")}
