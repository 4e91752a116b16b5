"""The hourly_stats job in process: the real sample against an independent
computation, ranges, grains, partition pruning, and the challenge's CSV extracts."""

import csv
import datetime as dt
import json
from collections import defaultdict
from urllib.parse import urlsplit

import pyspark.sql.functions as F
import pytest
from delta.tables import DeltaTable

from clickstream.warehouse import extracts, tables
from clickstream.warehouse.scope import Scope
from clickstream.runs import events, hourly_stats, rollup
from clickstream.config.errors import UsageError

from helpers import SHARED_DATA
from helpers import hipages_line as L
from helpers import write_lines


def ingest(spark, profile, src, wh, run_id="r", csv_path=None):
    cfg = events.EventsConfig(input=str(src), warehouse=str(wh), profile=profile, run_id=run_id,
                              max_reject_rate=1.0, csv=csv_path)
    return events.run(spark, cfg)


def stats_run(spark, wh, run_id="s", **kw):
    return hourly_stats.run(spark, hourly_stats.StatsConfig(warehouse=str(wh), run_id=run_id, **kw))


def rows_of(spark, path):
    """The rows of a stats table of hipages events alone, without `source`, and without
    `user_sketch` once each sketch's estimate is found equal to the exact user_count
    (HLL is exact for the few users of these hours)."""
    df = spark.read.format("delta").load(str(path))
    assert [r["source"] for r in df.select("source").distinct().collect()] in ([], ["hipages"])
    assert df.where(F.hll_sketch_estimate("user_sketch") != F.col("user_count")).count() == 0
    return sorted(tuple(r) for r in df.drop("source", "user_sketch").collect())


def independent_hourly_stats(path):
    """The hourly table computed from the raw file with the standard library only."""
    groups = defaultdict(lambda: [0, set()])
    for raw in open(path, encoding="utf-8"):
        try:
            e = json.loads(raw)
        except ValueError:
            continue
        ts = dt.datetime.strptime(e["timestamp"], "%d/%m/%Y %H:%M:%S")
        url = e["url"] if "://" in e["url"] else "http://" + e["url"]
        host = urlsplit(url).hostname
        key = (ts.strftime("%Y%m%d%H"), host[4:] if host.startswith("www.") else host, e["action"])
        groups[key][0] += 1
        groups[key][1].add(str(e["user"]["id"]))
    return sorted((b, h, a, n, len(users), dt.date(int(b[:4]), int(b[4:6]), int(b[6:8])))
                  for (b, h, a), (n, users) in groups.items())


@pytest.mark.skipif(not (SHARED_DATA / "source_event_data.json").exists(),
                    reason="../shared/data/hipages/source_event_data.json is not beside this checkout")
def test_real_sample_matches_an_independent_computation(spark, hipages_profile, tmp_path):
    src = SHARED_DATA / "source_event_data.json"
    ingest(spark, hipages_profile, src, tmp_path / "wh")
    rep = stats_run(spark, tmp_path / "wh")
    got = rows_of(spark, tmp_path / "wh" / "hourly_stats")
    assert got == independent_hourly_stats(src)
    assert sum(r[3] for r in got) == rep["events_counted"] == 499
    assert all(1 <= r[4] <= r[3] for r in got)
    by_key = {r[:3]: r[3:5] for r in got}
    # Counted by hand with grep on the raw file.
    assert by_key[("2017020220", "hipages.com.au", "page_view")] == (144, 30)
    assert by_key[("2017030120", "hipages.com.au", "button_click")] == (29, 29)
    assert by_key[("2017020220", "petpages.com.au", "page_view")] == (1, 1)


def test_range_rewrites_only_its_days_and_reruns_are_identical(spark, hipages_profile, tmp_path):
    wh = tmp_path / "wh"
    src = write_lines(tmp_path / "a.json", [
        L("e1", timestamp="01/02/2017 10:00:00"), L("e2", timestamp="02/02/2017 10:00:00"),
        L("e3", timestamp="03/02/2017 10:00:00", user_id="u2"),
    ])
    ingest(spark, hipages_profile, src, wh)
    stats_run(spark, wh, "s1")
    table = wh / "hourly_stats"
    before = rows_of(spark, table)
    files_before = {p.relative_to(table) for p in table.rglob("*.parquet")}
    ingest(spark, hipages_profile, write_lines(tmp_path / "b.json", [
        L("e4", timestamp="02/02/2017 10:30:00", user_id="u9"), L("e5", timestamp="03/02/2017 11:00:00"),
    ]), wh, "r2")
    rep = stats_run(spark, wh, "s2", date_from=dt.date(2017, 2, 2), date_to=dt.date(2017, 2, 2))
    assert rep["days_recomputed"] == ["2017-02-02"]
    after = rows_of(spark, table)
    assert [r for r in after if r[5] != dt.date(2017, 2, 2)] == [r for r in before if r[5] != dt.date(2017, 2, 2)]
    assert [r for r in after if r[5] == dt.date(2017, 2, 2)] == [
        ("2017020210", "hipages.com.au", "page_view", 2, 2, dt.date(2017, 2, 2))]
    files_after = {p.relative_to(table) for p in table.rglob("*.parquet")}
    untouched = {f for f in files_before if not str(f).startswith("event_date=2017-02-02")}
    assert untouched <= files_after
    stats_run(spark, wh, "s3", date_from=dt.date(2017, 2, 2), date_to=dt.date(2017, 2, 2))
    assert rows_of(spark, table) == after
    history = DeltaTable.forPath(spark, str(table)).history().orderBy("version").collect()
    # Created empty with its change data feed, then three recomputes.
    assert [h["operation"] for h in history] == ["CREATE TABLE", "WRITE", "WRITE", "WRITE"]
    assert json.loads(history[2]["userMetadata"]) == {"job": "hourly_stats", "run_id": "s2"}


def test_a_grain_with_dimensions_gets_its_own_table(spark, hipages_profile, tmp_path):
    wh = tmp_path / "wh"
    ingest(spark, hipages_profile, write_lines(tmp_path / "a.json", [L("e1")]), wh)
    stats_run(spark, wh, "s1")
    before = rows_of(spark, wh / "hourly_stats")
    stats_run(spark, wh, "s2", dimensions=("url_level2", "url_level3"))
    assert rows_of(spark, wh / "hourly_stats") == before
    assert rows_of(spark, wh / "hourly_stats_url_level2_url_level3") == [
        ("2017020220", "hipages.com.au", "articles", None, "page_view", 1, 1, dt.date(2017, 2, 2))]


def test_reading_a_range_prunes_partitions(spark, hipages_profile, tmp_path):
    wh = tmp_path / "wh"
    ingest(spark, hipages_profile, write_lines(tmp_path / "a.json", [
        L("e1", timestamp="01/02/2017 10:00:00"), L("e2", timestamp="02/02/2017 10:00:00"),
        L("e3", timestamp="03/02/2017 10:00:00")]), wh)
    scope = Scope(first=dt.date(2017, 2, 2), last=dt.date(2017, 2, 3))  # a Column filter, pushed down
    df = scope.apply(tables.read_version(spark, f"file:{wh}/events", 1))
    files = sorted(f.split("/events/", 1)[1].split("/")[0] for f in df.inputFiles())
    assert files == ["event_date=2017-02-02", "event_date=2017-02-03"]
    plan = df._jdf.queryExecution().executedPlan().toString()
    assert "PartitionFilters: [" in plan and "event_date" in plan.split("PartitionFilters: [", 1)[1].split("]")[0]


def test_missing_events_table_is_a_usage_error(spark, tmp_path):
    with pytest.raises(UsageError, match="no events table at .*: run the events job first"):
        stats_run(spark, tmp_path / "empty")


def test_csv_exports(spark, hipages_profile, tmp_path):
    wh = tmp_path / "wh"
    src = write_lines(tmp_path / "a.json", [
        L("e1", user_id="u2", timestamp="02/02/2017 20:22:00"),
        L("e2", user_id="u1", timestamp="02/02/2017 21:05:09", url="https://www.hipages.com.au"),
        L("e3", user_id="u1", timestamp="02/02/2017 20:00:00", action='say "hi", ok'),
        "{bad",
    ])
    hits = tmp_path / "out" / "user_web_hits.csv"
    ingest(spark, hipages_profile, src, wh, csv_path=str(hits))
    assert hits.read_text() == (
        "user_id,time_stamp,url_level1,url_level2,url_level3,activity\n"
        "u1,2017-02-02 20:00:00,hipages.com.au,articles,,\"say \"\"hi\"\", ok\"\n"
        "u1,2017-02-02 21:05:09,hipages.com.au,,,page_view\n"
        "u2,2017-02-02 20:22:00,hipages.com.au,articles,,page_view\n"
    )
    assert not (tmp_path / "out" / "user_web_hits.csv._tmp").exists()
    agg = tmp_path / "out" / "aggregated_web_stats.csv"
    stats_run(spark, wh, csv=str(agg), source="hipages")
    with open(agg, newline="") as f:
        assert list(csv.reader(f)) == [
            ["time_bucket", "url_level1", "activity", "activity_count", "user_count"],
            ["2017020220", "hipages.com.au", "page_view", "1", "1"],
            ["2017020220", "hipages.com.au", 'say "hi", ok', "1", "1"],
            ["2017020221", "hipages.com.au", "page_view", "1", "1"],
        ]


def test_csv_renders_null_as_empty_field_and_sorts_nulls_first(spark, tmp_path):
    df = spark.createDataFrame([("b", None), ("a", dt.datetime(2017, 1, 2, 3, 4, 5)), (None, None)],
                               "k string, t timestamp")
    out = extracts.write_csv(spark, df, str(tmp_path / "x.csv"))
    assert open(out).read() == "k,t\n,\na,2017-01-02 03:04:05\nb,\n"


def test_a_table_without_user_sketch_is_migrated_by_one_full_recompute(spark, hipages_profile, tmp_path):
    wh = tmp_path / "wh"
    table = wh / "hourly_stats"
    ingest(spark, hipages_profile, write_lines(tmp_path / "a.json", [
        L("e1", user_id="u1", timestamp="01/02/2017 10:00:00"), L("e2", user_id="u2", timestamp="01/02/2017 10:10:00"),
        L("e3", user_id="u1", timestamp="02/02/2017 10:00:00")]), wh)
    stats_run(spark, wh, "s1")
    want = rows_of(spark, table)
    # As an older version left it: no sketch column, and no change data feed.
    (spark.read.format("delta").load(str(table)).drop("user_sketch").write.format("delta").mode("overwrite")
     .option("overwriteSchema", "true").save(str(table)))
    spark.sql(f"ALTER TABLE delta.`{table}` SET TBLPROPERTIES ('delta.enableChangeDataFeed' = 'false')")
    with pytest.raises(UsageError, match=r"^hourly_stats at .* has no user_sketch column yet: run the hourly_stats "
                                         r"job once, which adds it"):
        rollup.run(spark, rollup.RollupConfig(warehouse=str(wh), grain="day", run_id="d1"))
    rep = stats_run(spark, wh, "s2")  # nothing new in events: only the migration recomputes
    assert (rep["mode"], rep["migrated_columns"], rep["days_recomputed"]) == \
        ("full", ["user_sketch"], ["2017-02-01", "2017-02-02"])
    assert rows_of(spark, table) == want  # and every sketch's estimate equals user_count
    properties = DeltaTable.forPath(spark, str(table)).detail().first()["properties"]
    assert properties["delta.enableChangeDataFeed"] == "true"
    again = stats_run(spark, wh, "s3")
    assert (again["mode"], again["migrated_columns"]) == ("up_to_date", [])
