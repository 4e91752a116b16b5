"""The `maintain` job: OPTIMIZE compacts without changing rows or the stats catch-up;
VACUUM deletes only files no version within the retention uses."""

from __future__ import annotations

import pytest
from delta.tables import DeltaTable

from clickstream.runs import events, hourly_stats, maintain
from clickstream.config.errors import UsageError

from helpers import hipages_line as L
from helpers import table_rows, write_lines


def data_files(table_dir):
    return sorted(p for p in table_dir.rglob("*.parquet") if not any(part.startswith("_") for part in p.parts))


def test_optimize_then_vacuum(spark, hipages_profile, tmp_path):
    wh = tmp_path / "wh"
    for i in range(3):
        write_lines(tmp_path / "in" / f"{i}.json", [L(f"e{i}", user_id=f"u{i}")])
    # One file per batch: three small commits into one partition.
    rep = events.run(spark, events.EventsConfig(input=str(tmp_path / "in"), warehouse=str(wh),
                                                profile=hipages_profile, run_id="r", new_files_only=True,
                                                max_files_per_batch=1))
    assert [(b["batch_id"], b["files"], b["events_written"]) for b in rep.batches] == [(0, 1, 1), (1, 1, 1),
                                                                                        (2, 1, 1)]
    hourly_stats.run(spark, hourly_stats.StatsConfig(warehouse=str(wh), run_id="s1"))
    rows = table_rows(spark, wh, "events", "event_id", "user_id", "run_id")
    assert len(data_files(wh / "events")) == 3

    rep = maintain.run(spark, maintain.MaintainConfig(warehouse=str(wh), tables=("events",), vacuum=False,
                                                      run_id="m1"))
    assert rep["tables"]["events"]["optimize"] == {"files_removed": 3, "files_added": 1}
    assert table_rows(spark, wh, "events", "event_id", "user_id", "run_id") == rows
    assert len(data_files(wh / "events")) == 4  # the compacted files stay until VACUUM
    # OPTIMIZE changes no data: the stats have nothing to recompute.
    stats = hourly_stats.run(spark, hourly_stats.StatsConfig(warehouse=str(wh), run_id="s2"))
    assert (stats["days_recomputed"], stats["commit"]) == ([], None)

    # A retention that keeps the compacted files (they were removed seconds ago)...
    rep = maintain.run(spark, maintain.MaintainConfig(warehouse=str(wh), optimize=False, retain_hours=24,
                                                      run_id="m2"))
    assert sorted(rep["tables"]) == ["events", "hourly_stats", "rejects"]
    assert rep["tables"]["events"]["vacuum"] == {"files_deleted": 0}
    # ... and one that does not (below the job's own 24-hour minimum: only a test can ask for it).
    rep = maintain.run(spark, maintain.MaintainConfig(warehouse=str(wh), tables=("events",), optimize=False,
                                                      retain_hours=0, run_id="m3"))
    assert rep["tables"]["events"]["vacuum"] == {"files_deleted": 3}
    assert len(data_files(wh / "events")) == 1
    assert table_rows(spark, wh, "events", "event_id", "user_id", "run_id") == rows
    history = DeltaTable.forPath(spark, str(wh / "events")).history().orderBy("version").collect()
    assert [h["operation"] for h in history][-5:] == ["OPTIMIZE"] + ["VACUUM START", "VACUUM END"] * 2


def test_the_symlink_manifest_lists_each_partitions_current_files(spark, hipages_profile, tmp_path):
    src = write_lines(tmp_path / "in" / "a.json", [L("1", timestamp="02/02/2017 20:22:00"),
                                                    L("2", timestamp="03/02/2017 20:22:00")])
    wh = tmp_path / "wh"
    events.run(spark, events.EventsConfig(input=str(src), warehouse=str(wh), profile=hipages_profile, run_id="e1"))
    rep = maintain.run(spark, maintain.MaintainConfig(warehouse=str(wh), tables=("events",), optimize=False,
                                                      vacuum=False, manifest=True, run_id="m1"))
    assert rep["tables"]["events"]["manifest"] == {"files": 2}
    manifests = sorted((wh / "events" / "_symlink_format_manifest").glob("*/manifest"))
    assert [m.parent.name for m in manifests] == ["event_date=2017-02-02", "event_date=2017-02-03"]
    listed = sorted(line for m in manifests for line in m.read_text().splitlines())
    assert listed == sorted(spark.read.format("delta").load(str(wh / "events")).inputFiles())
    assert maintain.parse_args(["--warehouse", "wh", "--no-optimize", "--no-vacuum", "--manifest"]).manifest


def test_an_unknown_table_is_a_usage_error(spark, tmp_path):
    (tmp_path / "wh").mkdir()
    with pytest.raises(UsageError, match=r"^no Delta table nope in .*/wh \(tables: none\)$"):
        maintain.run(spark, maintain.MaintainConfig(warehouse=str(tmp_path / "wh"), tables=("nope",)))
