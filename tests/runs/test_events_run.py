"""The events job in process (`events.run`, or its own main for exit codes) on files
written under tmp_path."""

import datetime as dt
import glob
import json
from urllib.parse import unquote

import pyspark.sql.functions as F
import pytest
from delta.tables import DeltaTable

from clickstream.rules import events as event_rules
from clickstream.runs import events
from clickstream.warehouse import tables
from clickstream.config.errors import UsageError

from helpers import SHARED_DATA
from helpers import hipages_line as L
from helpers import log_actions, read_report, run_job, table_rows, write_lines


def run(spark, profile, input_path, warehouse, run_id, max_reject_rate=0.5):
    cfg = events.EventsConfig(input=str(input_path), warehouse=str(warehouse), profile=profile,
                              run_id=run_id, max_reject_rate=max_reject_rate)
    return events.run(spark, cfg)


def version(spark, path):
    return DeltaTable.forPath(spark, str(path)).history(1).first()["version"]

UNUSUAL_URLS = {
    "www.hipages.com.au/get_quotes_simple?search_str=sfdg": ("hipages.com.au", "get_quotes_simple", None),
    "https://www.petpages.com.au/find/plumbers": ("petpages.com.au", "find", "plumbers"),
    "https://www.randompages.com.au/find/electricians": ("randompages.com.au", "find", "electricians"),
    "https://www.myhelpfulpages.com.au/articles": ("myhelpfulpages.com.au", "articles", None),
    "https://www.somepages.com.au/find/plumbers": ("somepages.com.au", "find", "plumbers"),
    "https://www.usefulpages.com.au/find/electricians": ("usefulpages.com.au", "find", "electricians"),
    "www.hipages.com.au/articles": ("hipages.com.au", "articles", None),
    "hipages.com.au/connect/sfelectrics/service/190625": ("hipages.com.au", "connect", "sfelectrics"),
    "www.hipages.com.au/photos/bathrooms": ("hipages.com.au", "photos", "bathrooms"),
    "http://www.hipages.com.au/find/electricians": ("hipages.com.au", "find", "electricians"),
    "w3.hipages.com.au/articles": ("w3.hipages.com.au", "articles", None),
}


@pytest.mark.skipif(not (SHARED_DATA / "source_event_data.json").exists(),
                    reason="../shared/data/hipages/source_event_data.json is not beside this checkout")
def test_real_sample(spark, hipages_profile, tmp_path):
    rep = run(spark, hipages_profile, SHARED_DATA / "source_event_data.json", tmp_path / "wh", "real")
    assert (rep.records, rep.events_written, rep.rejected, rep.duplicates, rep.blank_lines) == (
        500, 499, {"malformed_json": 1}, 0, 0)
    assert rep.partitions_written == ["2017-01-01", "2017-02-02", "2017-02-04", "2017-03-01", "2017-04-02",
                                      "2017-05-02", "2017-08-02", "2017-12-02"]
    rejects = table_rows(spark, tmp_path / "wh", "rejects", "reason", "raw")
    assert len(rejects) == 1 and rejects[0][0] == "malformed_json" and '"id" : 56a56' in rejects[0][1]
    levels = spark.read.format("delta").load(str(tmp_path / "wh" / "events")).where(
        "url IN ({})".format(", ".join(f"'{u}'" for u in UNUSUAL_URLS)))
    got = {r["url"]: (r["url_level1"], r["url_level2"], r["url_level3"]) for r in levels.collect()}
    assert got == UNUSUAL_URLS


def test_report_accounts_for_every_line(spark, hipages_profile, tmp_path):
    src = write_lines(tmp_path / "in" / "a.json", [
        L("e1"), L("e2", timestamp="02/02/2017 21:00:00"), "", "{bad", L("e1"),
        L("e2", action="claim"), L("e3", url="not a url"), "  ",
    ])
    rep = run(spark, hipages_profile, src, tmp_path / "wh", "r1")
    saved = read_report(tmp_path / "wh", "r1")
    assert {k: saved[k] for k in ("lines_read", "records", "events_written", "rejected", "duplicates", "blank_lines",
                                  "partitions_written", "status", "run_id", "rejected_total")} == {
        "lines_read": 8, "records": 6, "events_written": 2, "duplicates": 1, "blank_lines": 2, "rejected_total": 3,
        "rejected": {"malformed_json": 1, "conflicting_duplicate": 1, "bad_url": 1},
        "partitions_written": ["2017-02-02"], "status": "succeeded", "run_id": "r1",
    }
    assert saved["input_files"] == [f"file:{src}"]
    assert saved["duration_s"] > 0
    assert rep.exit_code == 0


def test_rerun_doubles_nothing_and_commits_nothing(spark, hipages_profile, tmp_path):
    src = write_lines(tmp_path / "in" / "a.json", [L("e1"), L("e2"), "{bad", L("e3", timestamp="x")])
    wh = tmp_path / "wh"
    run(spark, hipages_profile, src, wh, "r1")
    events_before = table_rows(spark, wh, "events", "event_id", "run_id")
    rejects_before = table_rows(spark, wh, "rejects", "reason", "raw", "source_file")
    events_version = version(spark, wh / "events")
    rep = run(spark, hipages_profile, src, wh, "r2")
    assert (rep.events_written, rep.duplicates, rep.rejected) == (0, 2, {"malformed_json": 1, "bad_timestamp": 1})
    assert table_rows(spark, wh, "events", "event_id", "run_id") == events_before == [("e1", "r1"), ("e2", "r1")]
    assert table_rows(spark, wh, "rejects", "reason", "raw", "source_file") == rejects_before
    assert version(spark, wh / "events") == events_version


def file_statistics(table) -> list[dict]:
    """The `stats` of every file the table's commits added, as Delta wrote them."""
    return [json.loads(add["stats"]) for add in log_actions(table, "add")]


def test_events_files_keep_statistics_of_the_filtered_columns_only(spark, hipages_profile, tmp_path):
    src = write_lines(tmp_path / "in" / "a.json", [L("e1"), L("e2", timestamp="03/02/2017 10:00:00")])
    wh = tmp_path / "wh"
    run(spark, hipages_profile, src, wh, "r1")
    assert DeltaTable.forPath(spark, str(wh / "events")).detail().first()["properties"] == {
        "delta.enableChangeDataFeed": "true", "delta.dataSkippingStatsColumns": "source,event_id,time_stamp,source_file"}
    stats = file_statistics(wh / "events")
    assert [(s["numRecords"], sorted(s["minValues"]), sorted(s["maxValues"]), sorted(s["nullCount"])) for s in stats] == [
        (1, ["event_id", "source", "source_file", "time_stamp"], ["event_id", "source", "source_file", "time_stamp"],
         ["event_id", "source", "source_file", "time_stamp"])] * 2
    # A table made before the setting gets it once, from the next run: its later files follow it.
    old = tmp_path / "old"
    run(spark, hipages_profile, src, old, "r1")
    spark.sql(f"ALTER TABLE delta.`{old / 'events'}` UNSET TBLPROPERTIES ('delta.dataSkippingStatsColumns')")
    run(spark, hipages_profile, write_lines(tmp_path / "in2" / "b.json", [L("e3")]), old, "r2")
    assert "delta.dataSkippingStatsColumns" in DeltaTable.forPath(spark, str(old / "events")).detail().first()["properties"]
    assert [sorted(s["minValues"]) for s in file_statistics(old / "events")][-1] == [
        "event_id", "source", "source_file", "time_stamp"]
    # A value set by hand stays.
    mine = "source,event_id,time_stamp,source_file,user_id"
    spark.sql(f"ALTER TABLE delta.`{old / 'events'}` SET TBLPROPERTIES ('delta.dataSkippingStatsColumns' = '{mine}')")
    run(spark, hipages_profile, write_lines(tmp_path / "in3" / "c.json", [L("e4")]), old, "r3")
    assert DeltaTable.forPath(spark, str(old / "events")).detail().first()["properties"][
        "delta.dataSkippingStatsColumns"] == mine


def test_a_then_b_keeps_a_rows_on_shared_dates(spark, hipages_profile, tmp_path):
    wh = tmp_path / "wh"
    a = write_lines(tmp_path / "in" / "a.json", [L("a1"), L("a2", timestamp="03/02/2017 01:00:00")])
    b = write_lines(tmp_path / "in" / "b.json", [L("b1"), L("a1"), L("a2", action="claim", timestamp="03/02/2017 01:00:00")])
    run(spark, hipages_profile, a, wh, "ra")
    rep = run(spark, hipages_profile, b, wh, "rb")
    assert (rep.events_written, rep.duplicates, rep.rejected) == (1, 1, {"conflicting_duplicate": 1})
    assert table_rows(spark, wh, "rejects", "reason", "run_id") == [("conflicting_duplicate", "rb")]
    assert table_rows(spark, wh, "events", "event_id", "run_id", "event_date") == [
        ("a1", "ra", dt.date(2017, 2, 2)),
        ("a2", "ra", dt.date(2017, 2, 3)),
        ("b1", "rb", dt.date(2017, 2, 2)),
    ]
    history = DeltaTable.forPath(spark, str(wh / "events")).history().orderBy("version").collect()
    meta = [(h["operation"], json.loads(h["userMetadata"])) for h in history[1:]]
    assert meta == [
        ("WRITE", {"job": "events", "run_id": "ra", "source": "hipages"}),
        ("WRITE", {"job": "events", "run_id": "rb", "source": "hipages"}),
    ]


def test_a_run_replaces_earlier_rejects_of_its_files_only(spark, hipages_profile, tmp_path):
    wh = tmp_path / "wh"
    a = tmp_path / "in" / "a.json"
    b = write_lines(tmp_path / "in" / "b.json", ["{b-bad"])
    write_lines(a, ["{a-bad-1", "{a-bad-2"])
    run(spark, hipages_profile, tmp_path / "in", wh, "r1", max_reject_rate=1.0)
    write_lines(a, ["{a-bad-3", L("e1")])  # the file was fixed and replayed
    run(spark, hipages_profile, a, wh, "r2", max_reject_rate=1.0)
    assert table_rows(spark, wh, "rejects", "raw", "source_file", "run_id") == [
        ("{a-bad-3", f"file:{a}", "r2"), ("{b-bad", f"file:{b}", "r1"),
    ]
    # A bare Parquet glob also sees the files that the second commit removed.
    import deltalake

    assert deltalake.DeltaTable(str(wh / "rejects")).to_pyarrow_dataset().to_table(use_threads=False).num_rows == 2
    assert len(glob.glob(str(wh / "rejects" / "*.parquet"))) > len(deltalake.DeltaTable(str(wh / "rejects")).file_uris())


def test_reject_rate_above_limit_exits_3_and_commits_no_events(spark, tmp_path, capsys):
    """Through the job's own main: exit 3, its summary line says why, rejects and report written."""
    wh = tmp_path / "wh"
    src = write_lines(tmp_path / "in" / "a.json", [L("e1"), L("e2"), "{bad", L("e3", url="not a url")])
    assert run_job(spark, "events", "--input", str(src), "--warehouse", str(wh), "--run-id", "r1",
                   "--max-reject-rate", "0.25") == 3
    summary = [line for line in capsys.readouterr().out.splitlines() if line.startswith("events ")]
    assert len(summary) == 1 and "status=failed_reject_rate" in summary[0]
    assert version(spark, wh / "events") == 0
    assert table_rows(spark, wh, "events", "event_id") == []
    assert table_rows(spark, wh, "rejects", "reason") == [("bad_url",), ("malformed_json",)]
    report = read_report(wh, "r1")
    assert (report["status"], report["events_written"], report["reject_rate"]) == ("failed_reject_rate", 2, 0.5)


def test_directory_and_glob_inputs_skip_hidden_files(spark, hipages_profile, tmp_path):
    write_lines(tmp_path / "in" / "2017" / "a.json", [L("e1")])
    write_lines(tmp_path / "in" / "b.json", [L("e2")])
    write_lines(tmp_path / "in" / "_SUCCESS", ["not data"])
    write_lines(tmp_path / "in" / ".hidden.json", ["not data"])
    rep = run(spark, hipages_profile, tmp_path / "in", tmp_path / "wh", "r1")
    assert [f.rsplit("/in/", 1)[1] for f in rep.input_files] == ["2017/a.json", "b.json"]
    rep = run(spark, hipages_profile, f"{tmp_path}/in/*.json", tmp_path / "wh2", "r2")
    assert [f.rsplit("/in/", 1)[1] for f in rep.input_files] == ["b.json"]


def test_files_are_read_exactly_as_named_whatever_their_characters(spark, hipages_profile, tmp_path):
    """A listed file is read literally: its name is not a glob, beside files its name would match as one."""
    names = {"a[1].json": "a1.json", "b{x,y}.json": "bx.json", "c*.json": "cz.json", "d?.json": "dq.json",
             "e f.json": None, "g\\h.json": "gh.json"}
    for i, (odd, decoy) in enumerate(names.items()):
        write_lines(tmp_path / "in" / odd, [L(f"odd{i}")])
        if decoy:
            write_lines(tmp_path / "in" / decoy, [L(f"decoy{i}")])
    rep = run(spark, hipages_profile, tmp_path / "in", tmp_path / "wh", "r1")
    assert (rep.records, rep.events_written, rep.duplicates) == (11, 11, 0)
    got = {(e, unquote(f.rsplit("/in/", 1)[1])) for e, f in table_rows(spark, tmp_path / "wh", "events", "event_id",
                                                                        "source_file")}  # as Spark spells a URI
    assert got == {(f"odd{i}", odd) for i, odd in enumerate(names)} | {
        (f"decoy{i}", decoy) for i, decoy in enumerate(names.values()) if decoy}


def persisted(spark) -> list[str]:
    """The names of the session's persisted datasets, but Delta's own snapshot states."""
    rdds = spark.sparkContext._jsc.getPersistentRDDs()
    return sorted(str(rdd.name()) for rdd in rdds.values() if not str(rdd.name()).startswith("Delta Table State"))


def test_a_line_lost_on_the_way_or_a_short_rejects_commit_fails_the_run(spark, hipages_profile, tmp_path, capsys,
                                                                        monkeypatch):
    """The lines read are counted per file before the classification, and their bytes
    must reach the file's size; the rejects commit must hold every reject. Each fault:
    one line, exit 1, no events."""
    src = write_lines(tmp_path / "a.json", [L("e1"), L("e2"), "", "not json"])
    wh = tmp_path / "wh"
    parse = events.parse_lines
    before = persisted(spark)
    with monkeypatch.context() as patch:  # a fault that drops e2 between the read and the parse
        patch.setattr(events, "parse_lines",
                      lambda lines, *a, **kw: parse(lines.where(~F.col("value").contains('"e2"')), *a, **kw))
        assert run_job(spark, "events", "--input", str(src), "--warehouse", str(wh), "--run-id", "r1") == 1
    assert persisted(spark) == before  # the failed batch left none of its lines persisted
    size, e1_bytes = src.stat().st_size, len(L("e1").encode())
    assert capsys.readouterr().err.splitlines() == [
        f"events: error: file:{src}: 3 line(s) of {e1_bytes + 8} byte(s) were "
        f"read from a file of {size} bytes: lines were lost on the way; nothing of this batch is committed"]
    classify = event_rules.with_dedup_status
    with monkeypatch.context() as patch:  # a fault that loses e2 in the classification
        patch.setattr(event_rules, "with_dedup_status",
                      lambda df, *a, **kw: classify(df, *a, **kw).where(F.col("event_id").isNull()
                                                                         | (F.col("event_id") != "e2")))
        assert run_job(spark, "events", "--input", str(src), "--warehouse", str(wh), "--run-id", "r1") == 1
    assert capsys.readouterr().err.splitlines() == [
        "events: error: the accounting does not add up: 4 lines read, but records (2) + blank lines (1) + header "
        "lines (0) = 3; nothing of this batch is committed"]
    replace = tables.replace_rejects
    with monkeypatch.context() as patch:  # a rejects commit that loses its one row
        patch.setattr(tables, "replace_rejects",
                      lambda spark, path, rejects, *a: replace(spark, path, rejects.limit(0), *a))
        assert run_job(spark, "events", "--input", str(src), "--warehouse", str(wh), "--run-id", "r2") == 1
    assert capsys.readouterr().err.splitlines() == [
        "events: error: the rejects commit holds 0 rows of this batch's files where 1 lines were rejected; no "
        "events are committed, run again to repair it"]
    assert table_rows(spark, wh, "events", "event_id") == []
    rep = run(spark, hipages_profile, src, wh, "r3")  # and the next run completes it
    assert (rep.lines_read, rep.records, rep.events_written, rep.rejected_total, rep.blank_lines) == (4, 3, 2, 1, 1)


def test_a_20_mb_line_is_rejected_unparsed_keeping_a_prefix_and_its_length(spark, hipages_profile, tmp_path):
    """At the default --max-line-bytes and memory settings; and a rejects table from
    before raw_bytes gets the column."""
    wh = tmp_path / "wh"
    spark.createDataFrame([], "raw string, reason string, source_file string, run_id string") \
        .write.format("delta").save(str(wh / "rejects"))
    big = L("big", url="https://www.hipages.com.au/" + "a" * (20 * 1024 * 1024))
    src = write_lines(tmp_path / "a.json", [L("e1"), big])
    rep = run(spark, hipages_profile, src, wh, "r1")
    assert (rep.lines_read, rep.records, rep.events_written, rep.rejected) == (2, 2, 1, {"line_too_long": 1})
    assert table_rows(spark, wh, "rejects", "reason", "raw", "raw_bytes") == [
        ("line_too_long", big[:1000], len(big))]


def test_input_that_matches_nothing_is_a_usage_error(spark, hipages_profile, tmp_path):
    with pytest.raises(UsageError, match="input path matches no files: .*nope"):
        run(spark, hipages_profile, tmp_path / "nope", tmp_path / "wh", "r1")
    (tmp_path / "in").mkdir()
    with pytest.raises(UsageError, match="input path matches no files: .*/in/\\*.json"):
        run(spark, hipages_profile, f"{tmp_path}/in/*.json", tmp_path / "wh", "r1")


def test_an_empty_directory_and_an_empty_file_are_runs_of_nothing(spark, hipages_profile, tmp_path, caplog):
    (tmp_path / "in").mkdir()
    write_lines(tmp_path / "in" / "_SUCCESS", [])  # hidden: the directory holds no input file
    rep = run(spark, hipages_profile, tmp_path / "in", tmp_path / "wh", "r1")
    assert (rep.exit_code, rep.input_files, rep.lines_read, rep.records, rep.events_written) == (0, [], 0, 0, 0)
    assert "no input files in" in caplog.text and read_report(tmp_path / "wh", "r1")["records"] == 0
    empty = tmp_path / "in" / "empty.json"
    empty.write_bytes(b"")
    rep = run(spark, hipages_profile, empty, tmp_path / "wh", "r2")
    assert (rep.exit_code, rep.input_files, rep.lines_read, rep.records, rep.rejected) == (0, [f"file:{empty}"], 0,
                                                                                         0, {})


def test_a_path_with_an_unknown_scheme_is_a_usage_error(spark, hipages_profile, tmp_path):
    src = write_lines(tmp_path / "a.json", [L("e1")])
    with pytest.raises(UsageError, match='cannot use path nope://bucket/wh: .*No FileSystem for scheme "nope"'):
        run(spark, hipages_profile, src, "nope://bucket/wh", "r1")


def read_with_deltalake_and_duckdb(path) -> tuple[list[dict], list[tuple]]:
    """A Delta table as two other engines read it: delta-rs (every column, as Python
    values) and DuckDB over the Parquet files of its current version. Both refuse a
    STRING that is not valid UTF-8."""
    import deltalake
    import duckdb

    table = deltalake.DeltaTable(str(path))
    rows = table.to_pyarrow_dataset().to_table(use_threads=False).to_pylist()
    files = [unquote(uri.removeprefix("file://")) for uri in table.file_uris()]
    with duckdb.connect() as con:
        strings = con.execute("SELECT * FROM read_parquet(?)", [files]).fetchall() if files else []
    return rows, strings


def test_a_badly_encoded_line_is_kept_whole_and_every_engine_reads_the_rejects(spark, hipages_profile, tmp_path):
    """A bad_encoding reject's `raw` is valid UTF-8 (U+FFFD for each invalid sequence) and
    `raw_binary` holds its bytes exactly as read; delta-rs and DuckDB read both tables.
    (`raw` used to hold the bytes as read: DuckDB failed on "Invalid string encoding",
    delta-rs with UnicodeDecodeError.)"""
    wh, src = tmp_path / "wh", tmp_path / "in" / "a.json"
    bad = b'{"event_id": "x", "note": "caf\xff\xfe"}'
    too_long = b"\xe9" * (len(L("e1")) + 40)  # Latin-1 bytes over --max-line-bytes
    src.parent.mkdir()
    src.write_bytes(L("e1").encode() + b"\n" + bad + b"\n" + too_long + b"\n" + L("e2").encode() + b"\n")
    cfg = events.EventsConfig(input=str(src), warehouse=str(wh), profile=hipages_profile, run_id="r1",
                              max_reject_rate=1.0, max_line_bytes=len(L("e1")) + 20)
    rep = events.run(spark, cfg)
    assert (rep.events_written, rep.rejected) == (2, {"bad_encoding": 1, "line_too_long": 1})

    rows, strings = read_with_deltalake_and_duckdb(wh / "rejects")
    assert sorted((r["reason"], r["raw"], r["raw_binary"], r["raw_bytes"]) for r in rows) == [
        ("bad_encoding", '{"event_id": "x", "note": "caf\ufffd\ufffd"}', bad, len(bad)),
        ("line_too_long", "\ufffd" * len(too_long), too_long, len(too_long)),  # under 1,000 characters: all
    ]
    assert len(strings) == 2
    events_rows, events_strings = read_with_deltalake_and_duckdb(wh / "events")
    assert sorted(r["event_id"] for r in events_rows) == ["e1", "e2"] and len(events_strings) == 2
    assert table_rows(spark, wh, "rejects", "reason", "raw_binary") == [
        ("bad_encoding", bytearray(bad)), ("line_too_long", bytearray(too_long))]
    props = DeltaTable.forPath(spark, str(wh / "rejects")).detail().first()["properties"]
    assert props[tables.RAW_UTF8_PROPERTY] == "true"


def test_a_rejects_table_from_before_raw_binary_is_repaired_by_the_next_run(spark, hipages_profile, tmp_path):
    """A table an older version wrote (no `raw_binary`, invalid bytes in `raw`) is brought
    up to date by the next events run: the column added, each invalid `raw` moved to
    `raw_binary` and replaced by its valid text, the other rows untouched."""
    wh = tmp_path / "wh"
    old_lines = tmp_path / "old.txt"
    old_lines.write_bytes(b"{caf\xe9\n{ok\n")
    (spark.read.text(str(old_lines))
     .select(F.col("value").alias("raw"), F.lit("bad_encoding").alias("reason"),
             F.lit("file:/in/old.json").alias("source_file"), F.lit("r0").alias("run_id"),
             F.octet_length("value").cast("long").alias("raw_bytes"))
     .write.format("delta").save(str(wh / "rejects")))
    run(spark, hipages_profile, write_lines(tmp_path / "in" / "a.json", [L("e1"), "{new"]), wh, "r1", 1.0)

    rows, _ = read_with_deltalake_and_duckdb(wh / "rejects")
    assert sorted((r["raw"], r["raw_binary"], r["run_id"]) for r in rows) == [
        ("{caf\ufffd", b"{caf\xe9", "r0"), ("{new", None, "r1"), ("{ok", None, "r0")]
    history = [r["operation"] for r in DeltaTable.forPath(spark, str(wh / "rejects")).history().collect()]
    assert history == ["WRITE", "SET TBLPROPERTIES", "UPDATE", "ADD COLUMNS", "WRITE"]
    tables.ensure_rejects(spark, f"file:{wh}/rejects")  # as the next run does: repaired once, no second UPDATE
    assert [r["operation"] for r in DeltaTable.forPath(spark, str(wh / "rejects")).history().collect()] == history


def test_one_run_id_for_two_jobs_keeps_both_reports_and_the_page_shows_the_run(spark, hipages_profile, tmp_path):
    """`events --run-id D` then `hourly_stats --run-id D` (one scheduler run id for the
    day's jobs): each report is named by its job too, so neither overwrites the other
    (the second used to erase the first: the report page then lost the run and its
    rejects their date). Reports are written atomically: no temporary file is left."""
    from clickstream.runs import report
    from helpers import run_stats

    wh = tmp_path / "wh"
    run(spark, hipages_profile, write_lines(tmp_path / "a.json", [L("e1"), "{bad"]), wh, "D", 1.0)
    run_stats(spark, wh, "D")
    assert sorted(p.name for p in (wh / "_runs").iterdir()) == [  # Hadoop's local checksums beside them
        ".D.events.json.crc", ".D.hourly_stats.json.crc", "D.events.json", "D.hourly_stats.json"]
    assert (read_report(wh, "D", "events")["records"], read_report(wh, "D", "hourly_stats")["job"]) == (
        2, "hourly_stats")
    data = report.gather(spark, report.ReportConfig(warehouse=str(wh)), f"file:{wh}",
                         dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    assert [(r.run_id, r.records, r.rejected) for r in data.sources[0].runs] == [("D", 2, 1)]
    assert data.undated_rejects == 0
    [ledger] = (wh / "_files" / "hipages").glob("run-*")
    assert ledger.name.startswith("run-D-") and ledger.name.endswith(".jsonl")


def test_show_prints_the_chosen_tables_rows_and_names_the_others_with_their_counts(spark, hipages_profile,
                                                                                    tmp_path, capsys):
    """`make run` shows events and hourly_stats; the other tables are named, with their
    row counts, in one line (it used to print five rows of each of seven tables)."""
    wh = tmp_path / "wh"
    run(spark, hipages_profile, write_lines(tmp_path / "a.json", [L("e1"), L("e2"), "{bad"]), wh, "r1", 1.0)
    capsys.readouterr()
    assert run_job(spark, "show", "--warehouse", str(wh), "--table", "events", "--rows", "1") == 0
    out = capsys.readouterr().out
    assert f"\nevents: 2 rows, Delta version 1, at file:{wh}/events\n" in out and "only showing top 1 row" in out
    assert f"\nAlso in file:{wh}: rejects (1 rows)\n" in out and "raw_binary" not in out
