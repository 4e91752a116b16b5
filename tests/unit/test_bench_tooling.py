"""The benchmark's own plumbing without a process: the process-tree walk, file
counts, the docs table. (Timings are measured by `make bench`, never asserted here.)"""

from __future__ import annotations

import json

import bench  # tools/bench.py (pytest.ini puts tools/ on the path)


def test_tree_rss_counts_a_child_that_shares_its_parents_memory_once(monkeypatch):
    # 1 -> 2 (a vfork-style child of 1, not yet exec'd: the same address space) -> 3; 1 -> 4
    monkeypatch.setattr(bench, "_children", lambda: {1: [2, 4], 2: [3]})
    monkeypatch.setattr(bench, "_vm_size", {1: 9000, 2: 9000, 3: 200, 4: 300}.get)
    monkeypatch.setattr(bench, "_rss_bytes", {1: 500, 2: 500, 3: 20, 4: 30}.get)
    assert bench.tree_rss(1) == 550


def test_files_per_partition(tmp_path):
    for day, n in (("2017-02-01", 1), ("2017-02-02", 3)):
        (tmp_path / f"event_date={day}").mkdir()
        for i in range(n):
            (tmp_path / f"event_date={day}" / f"part-{i}.parquet").touch()
    (tmp_path / "_delta_log").mkdir()
    assert bench.files_per_partition(tmp_path) == {"partitions": 2, "max": 3, "min": 1}


def test_docs_table_is_rewritten_in_place(tmp_path):
    run = {"pipeline": {"wall_s": 15.0, "peak_rss_mb": 900}, "steps": {"events": 10.0, "hourly_stats": 4.0},
           "floor": {"wall_s": 10.0, "peak_rss_mb": 700}, "duckdb": {"wall_s": 3.0, "peak_rss_mb": 300},
           "events_written": 990, "records": 1000, "files": {"partitions": 3, "max": 1, "min": 1}}
    slow = {**run, "pipeline": {"wall_s": 30.0, "peak_rss_mb": 1000}}
    summary = bench.summarize(1000, [run, slow, run], 2.0)
    assert (summary["total_wall_s"], summary["floor_wall_s"], summary["duckdb_wall_s"]) == (15.0, 10.0, 3.0)
    assert (summary["ratio_floor"], summary["ratio"]) == (1.5, 5.0)
    assert (summary["peak_rss_mb"], summary["events_per_s"], summary["input_mb_per_s"]) == (1000, 67, 0.13)
    (tmp_path / "benchmarks.md").write_text(
        "# Benchmarks\n\nintro\n<!-- bench:begin -->\nold\n<!-- bench:end -->\nafter\n")
    (tmp_path / "benchmarks.json").write_text('{"5": {"events": 5, "total_wall_s": 1}}')  # from before the floor
    sample = {"lines": 500, "floor_s": 20.0, "pipeline_s": 30.0, "all_steps_s": 35.0, "ratio_floor": 1.5,
              "peak_rss_mb": 800, "measured_at": "now"}
    bench.write_docs(summary, tmp_path, sample)
    text = (tmp_path / "benchmarks.md").read_text()
    assert text.startswith("# Benchmarks\n\nintro\n<!-- bench:begin -->\n| events |") and text.endswith("-->\nafter\n")
    assert "| 1,000 | hex | 2.0 | 3 | 15.0 (10.0 + 4.0) | 10.0 | 1.5x | 3.0 | 5.0x | 67 | 1000 (700) | 1 |" in text
    assert "| source_event_data.json | 500 | 20.0 | 30.0 | 1.5x | 35.0 | 800 | now |" in text
    assert "old" not in text and "| 5 |" not in text


def test_the_history_row_gives_each_runs_cost_against_the_run_into_an_empty_table(tmp_path):
    def one(empty, exact, horizon):
        return {"pipeline": {"wall_s": empty, "peak_rss_mb": 900}, "steps": {"events": 10.0, "hourly_stats": 4.0},
                "floor": {"wall_s": 10.0, "peak_rss_mb": 700}, "duckdb": {"wall_s": 3.0, "peak_rss_mb": 300},
                "events_written": 990, "records": 1000, "files": {"partitions": 3, "max": 1, "min": 1},
                "into_history": {"exact": {"wall_s": exact, "steps": {"events": exact - 5}},
                                 "horizon_1d": {"wall_s": horizon, "steps": {"events": horizon - 5}}}}

    summary = bench.summarize(1000, [one(20.0, 30.0, 21.0), one(22.0, 26.0, 23.0), one(40.0, 90.0, 40.0)], 2.0,
                              history=10_000)
    assert summary["history"] == {
        "events": 10_000,
        "exact": {"wall_s": 30.0, "events_step_s": 25.0, "ratio_empty": 1.36},
        "horizon_1d": {"wall_s": 23.0, "events_step_s": 18.0, "ratio_empty": 1.05},
    }
    bench.write_docs(summary, tmp_path)
    assert "| 1,000 | hex | 22.0 | 10,000 | 30.0 | 1.36x | 23.0 | 1.05x |" in (tmp_path / "benchmarks.md").read_text()
    random = bench.summarize(1000, [one(20.0, 22.0, 21.0)], 2.0, history=10_000, random_ids=True)
    bench.write_docs(random, tmp_path)  # kept beside the default ids' row, after it
    text = (tmp_path / "benchmarks.md").read_text()
    assert sorted(json.loads((tmp_path / "benchmarks.json").read_text())) == ["1000", "1000-random"]
    assert text.index("| 1,000 | hex | 22.0 | 10,000 | 30.0 |") < text.index(
        "| 1,000 | random | 20.0 | 10,000 | 22.0 | 1.1x | 21.0 | 1.05x |")
