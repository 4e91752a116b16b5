"""The benchmark behind `make bench`: our pipeline against Spark's own floor and the
DuckDB reference, in one run.

    python tools/bench.py --events N [--runs R] [--files K] [--duckdb PATH] [--sample FILE] [--history H]
                          [--random-ids]

1. Generates the input once per parameters with `./spark-submit.sh generate`, cached
   under build/bench/input-<N>-<K>-<seed>/ (a `_COMPLETE` marker says it is whole).
2. Each run, in turn, on the same files: the floor (`./spark-submit.sh tools/floor.py`,
   a bare read, parse and Delta append, then the hourly aggregate, with the same Spark
   settings); `./spark-submit.sh pipeline --steps events,hourly_stats` into a fresh
   warehouse, exactly as a user runs it (local mode, conf/spark/local); then the DuckDB
   reference (../shared/bench/duckdb_reference.py).
   With `--history H`, the same input also goes, each run, into a copy of a warehouse
   that already holds H other events (generated with their own ids over the 30 days
   before, ingested once and cached under build/bench/history-wh-<H>/): once with the
   default exact dedup, once with `--dedup-horizon-days 1`. Against the run into the
   empty warehouse, that is how a run's cost grows with the table.
   The report page: `./spark-submit.sh report` (30 days) on a warehouse of the same
   input with every table (`pipeline --steps events,hourly_stats,sessions`, built once
   and cached under build/bench/report-wh-<N>/): its wall time, page size and charts.
3. The challenge's own sample (../shared/data/hipages/source_event_data.json, when it
   is there) through the floor, `pipeline --steps events,hourly_stats` and
   `--steps events,hourly_stats,sessions`: the fixed cost a daily run pays.
4. Measures wall time per process and the peak resident memory of each whole process tree
   (spark-submit's JVM, the Python driver, everything they start), sampled from /proc
   every 100 ms; counts the Parquet files per event_date partition the run wrote.
5. Keeps the medians per event count in docs/benchmarks.json and rewrites the tables in
   docs/benchmarks.md from it.

Linux only (/proc). Timings are noisy on small machines: compare within one run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DUCKDB = ROOT.parent / "shared" / "bench" / "duckdb_reference.py"
DEFAULT_SAMPLE = ROOT.parent / "shared" / "data" / "hipages" / "source_event_data.json"


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _vm_size(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def _shares_memory(child: int, parent: int) -> bool:
    """True for a child that still runs in its parent's memory: the JVM starts a
    subprocess with a vfork-style clone, and until its `exec` the child reports the
    JVM's whole RSS as its own. (Same address-space size, read back to back.)"""
    size = _vm_size(child)
    return size is not None and size == _vm_size(parent)


def tree_rss(root: int) -> int:
    """Resident memory of a process and all its descendants, now; a child that still
    shares its parent's memory is counted once (see `_shares_memory`)."""
    tree, todo, total = _children(), [(root, None)], 0
    while todo:
        pid, parent = todo.pop()
        if parent is None or not _shares_memory(pid, parent):
            total += _rss_bytes(pid)
        todo.extend((child, pid) for child in tree.get(pid, []))
    return total


def measure(cmd: list[str], log: Path, env: dict | None = None) -> dict:
    """Run cmd to completion; its wall time and the peak RSS of its process tree."""
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
        peak = [0]

        def sample():
            while proc.poll() is None:
                peak[0] = max(peak[0], tree_rss(proc.pid))
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        sampler.join()
    wall = time.monotonic() - started
    if code != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:3])} ... failed with exit {code}; see {log}")
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(peak[0] / 2**20)}


def default_files(events: int) -> int:
    """Input files for `events` generated events: one per 250k, at least 4."""
    return max(4, events // 250_000)


def ids_suffix(random_ids: bool) -> str:
    """What random-id runs add to the name of what they cache and keep."""
    return "-random" if random_ids else ""


def ids_name(summary: dict) -> str:
    """The ids of a kept run, as docs/benchmarks.md names them."""
    return "random" if summary.get("random_ids") else "hex"


def cached(target: Path, what: str, build) -> Path:
    """`target`, made by `build()` unless a `_COMPLETE` marker says an earlier run made it whole."""
    if (target / "_COMPLETE").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    print(f"bench: {what} -> {target}", flush=True)
    build()
    (target / "_COMPLETE").write_text("")
    return target


def input_dir(events: int, files: int, seed: int, work: Path, name: str | None = None,
              generate_opts: tuple[str, ...] = (), random_ids: bool = False) -> Path:
    """The generated input for these parameters (in `work/name`, default
    input-<N>-<K>-<seed>[-random]), generated on first use."""
    target = work / (name or f"input-{events}-{files}-{seed}{ids_suffix(random_ids)}")
    generate_opts = (*generate_opts, *(["--random-ids"] if random_ids else []))
    return cached(target, f"generating {events} events in {files} files", lambda: measure(
        ["./spark-submit.sh", "generate", "--events", str(events), "--files", str(files),
         "--output", str(target), "--days", "30", "--seed", str(seed), "--bad-rate", "0.01", *generate_opts],
        work / f"generate-{target.name}.log"))


def files_per_partition(table: Path) -> dict:
    counts = [len(list(d.glob("*.parquet"))) for d in table.glob("event_date=*") if d.is_dir()]
    return {"partitions": len(counts), "max": max(counts, default=0), "min": min(counts, default=0)}


def floor_cmd(inp: Path, wh: Path, submit_opts: list[str]) -> list[str]:
    return ["./spark-submit.sh", *submit_opts, "tools/floor.py", "--input", str(inp), "--warehouse", str(wh)]


def pipeline_cmd(inp: Path, wh: Path, run_id: str, steps: str, submit_opts: list[str]) -> list[str]:
    return ["./spark-submit.sh", *submit_opts, "pipeline", "--input", str(inp), "--warehouse", str(wh),
            "--run-id", run_id, "--steps", steps, "--max-reject-rate", "1"]


def step_seconds(wh: Path, run_id: str) -> dict[str, float]:
    """Each step's duration, from the pipeline's report."""
    report = json.loads((wh / "_runs" / f"{run_id}.pipeline.json").read_text())
    return {s["step"]: s["duration_s"] for s in report["steps"]}


HISTORY_FIRST_ID = 10**9  # the history's rows: ids of their own, never the new input's


def history_warehouse(events: int, seed: int, work: Path, submit_opts: list[str], random_ids: bool = False) -> Path:
    """A warehouse holding `events` generated events over the 30 days before the bench
    input's, ingested by the pipeline once and cached (`_COMPLETE` says it is whole)."""
    suffix = ids_suffix(random_ids)
    target = work / f"history-wh-{events}{suffix}"
    if (target / "_COMPLETE").exists():
        return target
    inp = input_dir(events, default_files(events), seed, work, name=f"history-{events}{suffix}",
                    generate_opts=("--start", "2017-01-02", "--first-id", str(HISTORY_FIRST_ID)),
                    random_ids=random_ids)
    return cached(target, "ingesting the history", lambda: measure(
        pipeline_cmd(inp, target, "history", "events,hourly_stats", submit_opts), work / "history-wh.log"))


def into_history(inp: Path, history: Path, work: Path, i: int, submit_opts: list[str]) -> dict:
    """The run's input into copies of the history warehouse: exact dedup, then a 1-day horizon."""
    got = {}
    for name, extra in (("exact", []), ("horizon_1d", ["--dedup-horizon-days", "1"])):
        wh = work / f"into-history-{name}-{i}"
        shutil.rmtree(wh, ignore_errors=True)
        shutil.copytree(history, wh)
        got[name] = measure(pipeline_cmd(inp, wh, f"bench-{i}", "events,hourly_stats", submit_opts) + extra,
                            work / f"into-history-{name}-{i}.log")
        got[name]["steps"] = step_seconds(wh, f"bench-{i}")
        shutil.rmtree(wh, ignore_errors=True)
    return got


def report_warehouse(inp: Path, events: int, work: Path, submit_opts: list[str], random_ids: bool = False) -> Path:
    """A warehouse of the bench input with every table the report reads, built once and
    cached (`_COMPLETE` says it is whole)."""
    target = work / f"report-wh-{events}{ids_suffix(random_ids)}"
    return cached(target, "building the report's warehouse", lambda: measure(
        pipeline_cmd(inp, target, "report-wh", "events,hourly_stats,sessions", submit_opts), work / "report-wh.log"))


def report_run(wh: Path, work: Path, i: int, submit_opts: list[str]) -> dict:
    """The report job on `wh`, 30 days, as a user runs it: wall time, peak RSS, the page."""
    out, run_id = work / f"report-{i}.html", f"bench-report-{i}"
    got = measure(["./spark-submit.sh", *submit_opts, "report", "--warehouse", str(wh), "--output", str(out),
                   "--days", "30", "--run-id", run_id], work / f"report-{i}.log")
    rep = json.loads((wh / "_runs" / f"{run_id}.report.json").read_text())
    return {**got, "job_s": rep["duration_s"], "bytes": out.stat().st_size, "charts": rep["charts"]}


def one_run(inp: Path, work: Path, i: int, duckdb_script: Path, submit_opts: list[str]) -> dict:
    wh, floor_wh, out = work / f"wh-{i}", work / f"floor-{i}", work / f"duckdb-{i}"
    for d in (wh, floor_wh, out):
        shutil.rmtree(d, ignore_errors=True)
    floor = measure(floor_cmd(inp, floor_wh, submit_opts), work / f"floor-{i}.log")
    ours = measure(pipeline_cmd(inp, wh, f"bench-{i}", "events,hourly_stats", submit_opts),
                   work / f"pipeline-{i}.log")
    report = json.loads((wh / "_runs" / f"bench-{i}-events.events.json").read_text())
    duck = measure([sys.executable, str(duckdb_script), f"{inp}/*.jsonl", str(out)], work / f"duckdb-{i}.log")
    return {"pipeline": ours, "steps": step_seconds(wh, f"bench-{i}"), "floor": floor, "duckdb": duck,
            "events_written": report["events_written"], "records": report["records"],
            "files": files_per_partition(wh / "events")}


def sample_run(sample: Path, work: Path, submit_opts: list[str]) -> dict:
    """The challenge's sample through the floor and the pipeline: what a small daily run costs."""
    got = {}
    for name, steps in (("floor", None), ("events_hourly_stats", "events,hourly_stats"),
                        ("all_steps", "events,hourly_stats,sessions")):
        wh = work / f"sample-{name}"
        shutil.rmtree(wh, ignore_errors=True)
        cmd = floor_cmd(sample, wh, submit_opts) if steps is None else \
            pipeline_cmd(sample, wh, f"sample-{name}", steps, submit_opts)
        got[name] = measure(cmd, work / f"sample-{name}.log")
    return {"lines": sum(1 for _ in sample.open(encoding="utf-8", errors="replace")),
            "floor_s": got["floor"]["wall_s"], "pipeline_s": got["events_hourly_stats"]["wall_s"],
            "all_steps_s": got["all_steps"]["wall_s"],
            "ratio_floor": round(got["events_hourly_stats"]["wall_s"] / got["floor"]["wall_s"], 2),
            "peak_rss_mb": max(g["peak_rss_mb"] for g in got.values()),
            "measured_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def summarize(events: int, runs: list[dict], input_mb: float, confs: list[str] = (), history: int = 0,
              random_ids: bool = False) -> dict:
    def med(f):
        return round(statistics.median(f(r) for r in runs), 2)

    ours = med(lambda r: r["pipeline"]["wall_s"])
    into = {}
    if history:
        for name in ("exact", "horizon_1d"):
            wall = med(lambda r: r["into_history"][name]["wall_s"])
            into[name] = {"wall_s": wall, "events_step_s": med(lambda r: r["into_history"][name]["steps"]["events"]),
                          "ratio_empty": round(wall / ours, 2)}

    floor = med(lambda r: r["floor"]["wall_s"])
    duck = med(lambda r: r["duckdb"]["wall_s"])
    return {
        "events": events, "random_ids": random_ids, "runs": len(runs), "input_mb": round(input_mb, 1),
        "events_step_s": med(lambda r: r["steps"]["events"]),
        "hourly_stats_step_s": med(lambda r: r["steps"]["hourly_stats"]),
        "total_wall_s": ours, "events_per_s": round(events / ours), "input_mb_per_s": round(input_mb / ours, 2),
        "peak_rss_mb": max(r["pipeline"]["peak_rss_mb"] for r in runs),
        "max_files_per_partition": max(r["files"]["max"] for r in runs),
        "partitions": runs[-1]["files"]["partitions"],
        "floor_wall_s": floor, "floor_peak_rss_mb": max(r["floor"]["peak_rss_mb"] for r in runs),
        "duckdb_wall_s": duck, "duckdb_peak_rss_mb": max(r["duckdb"]["peak_rss_mb"] for r in runs),
        "ratio_floor": round(ours / floor, 2), "ratio": round(ours / duck, 2),
        "events_written": runs[-1]["events_written"],
        "measured_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "cores": os.cpu_count(),
        "conf": list(confs),
        **({"history": {"events": history, **into}} if history else {}),
        **({"report": {"wall_s": med(lambda r: r["report"]["wall_s"]), "job_s": med(lambda r: r["report"]["job_s"]),
                       "bytes": runs[-1]["report"]["bytes"], "charts": runs[-1]["report"]["charts"],
                       "peak_rss_mb": max(r["report"]["peak_rss_mb"] for r in runs)}}
           if all("report" in r for r in runs) else {}),
        "all_runs": runs,
    }


def result_key(summary: dict) -> str:
    """Where a summary is kept in docs/benchmarks.json: its event count, and `-random` for
    random 15-digit ids."""
    return f"{summary['events']}{ids_suffix(summary.get('random_ids', False))}"


def measured_keys(results: dict) -> list[str]:
    """The kept runs' keys (not the sample's), by event count, the default ids first."""
    keys = [k for k in results if k.removesuffix("-random").isdigit()]
    return sorted(keys, key=lambda k: (int(k.removesuffix("-random")), k.endswith("-random")))


def markdown(results: dict) -> str:
    rows = ["| events | ids | input MB | runs | pipeline s (events + hourly_stats steps) | floor s | ours / floor "
            "| DuckDB s | ours / DuckDB | events/s | peak RSS MB (floor) | files/partition (max) | measured "
            "| extra --conf |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for key in measured_keys(results):
        r = results[key]
        if "floor_wall_s" not in r:  # measured before the floor was part of the benchmark
            continue
        rows.append(f"| {r['events']:,} | {ids_name(r)} | {r['input_mb']} | {r['runs']} | {r['total_wall_s']} "
                    f"({r['events_step_s']} + {r['hourly_stats_step_s']}) | {r['floor_wall_s']} | "
                    f"{r['ratio_floor']}x | {r['duckdb_wall_s']} | {r['ratio']}x | {r['events_per_s']:,} | "
                    f"{r['peak_rss_mb']} ({r['floor_peak_rss_mb']}) | {r['max_files_per_partition']} | "
                    f"{r['measured_at']} | {' '.join(r.get('conf', [])) or '(none)'} |")
    grown = [(k, results[k]) for k in measured_keys(results) if "history" in results[k]]
    if grown:
        rows += ["", "| new events | ids | into an empty table s | stored events | into them, exact dedup s | / empty "
                 "| with --dedup-horizon-days 1 s | / empty | measured |",
                 "|---:|---|---:|---:|---:|---:|---:|---:|---|"]
        for _, r in grown:
            h = r["history"]
            rows.append(f"| {r['events']:,} | {ids_name(r)} | {r['total_wall_s']} | {h['events']:,} | {h['exact']['wall_s']} | "
                        f"{h['exact']['ratio_empty']}x | {h['horizon_1d']['wall_s']} | "
                        f"{h['horizon_1d']['ratio_empty']}x | {r['measured_at']} |")
    reported = [results[k] for k in measured_keys(results) if "report" in results[k]]
    if reported:
        rows += ["", "| the report page of a warehouse of | days | wall s (in the job s) | page KB | charts "
                 "| peak RSS MB | measured |", "|---:|---:|---:|---:|---:|---:|---|"]
        for r in reported:
            p = r["report"]
            rows.append(f"| {r['events']:,} events | 30 | {p['wall_s']} ({p['job_s']}) | {p['bytes'] // 1024:,} | "
                        f"{p['charts']} | {p['peak_rss_mb']} | {p.get('measured_at', r['measured_at'])} |")
    sample = results.get("sample")
    if sample:
        rows += ["", "| the challenge's sample | lines | floor s | pipeline events,hourly_stats s | ours / floor "
                 "| pipeline all three steps s | peak RSS MB | measured |",
                 "|---|---:|---:|---:|---:|---:|---:|---|",
                 f"| source_event_data.json | {sample['lines']} | {sample['floor_s']} | {sample['pipeline_s']} | "
                 f"{sample['ratio_floor']}x | {sample['all_steps_s']} | {sample['peak_rss_mb']} | "
                 f"{sample['measured_at']} |"]
    return "\n".join(rows)


def write_docs(summary: dict, docs: Path, sample: dict | None = None) -> None:
    store = docs / "benchmarks.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    results[result_key(summary)] = summary
    if sample:
        results["sample"] = sample
    store.write_text(json.dumps(results, indent=2) + "\n")
    page = docs / "benchmarks.md"
    text = page.read_text() if page.exists() else ""
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    table = f"{begin}\n{markdown(results)}\n{end}"
    if begin in text and end in text:
        text = text[:text.index(begin)] + table + text[text.index(end) + len(end):]
    else:
        text = text + "\n" + table + "\n"
    page.write_text(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs to take the median of (default 3)")
    parser.add_argument("--files", type=int, help="input files (default: one per 250k events, at least 4)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--duckdb", type=Path, default=DEFAULT_DUCKDB, help="the DuckDB reference script")
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE,
                        help="the challenge's sample file (its row is skipped when the file is absent)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    parser.add_argument("--history", type=int, default=0, metavar="H",
                        help="also run the input into a warehouse already holding H events (default 0: skip)")
    parser.add_argument("--random-ids", action="store_true",
                        help="event ids of 15 random digits, as hipages sends them (generate --random-ids), in the "
                             "input and the history: no key range narrows the dedup (kept as <N>-random)")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                        help="a Spark setting for our jobs on top of conf/spark/local (repeatable; recorded)")
    args = parser.parse_args(argv)
    if not args.duckdb.is_file():
        print(f"bench: error: no DuckDB reference at {args.duckdb} (--duckdb PATH)", file=sys.stderr)
        return 2
    files = args.files or default_files(args.events)
    args.work.mkdir(parents=True, exist_ok=True)
    inp = input_dir(args.events, files, args.seed, args.work, random_ids=args.random_ids)
    input_mb = sum(p.stat().st_size for p in inp.glob("*.jsonl")) / 2**20
    opts = [a for c in args.conf for a in ("--conf", c)]
    history = None
    if args.history:
        history = history_warehouse(args.history, args.seed, args.work, opts, args.random_ids)
    report_wh = report_warehouse(inp, args.events, args.work, opts, args.random_ids)
    runs = []
    for i in range(args.runs):
        runs.append(one_run(inp, args.work, i, args.duckdb, opts))
        r = runs[-1]
        print(f"bench: run {i + 1}/{args.runs}: floor {r['floor']['wall_s']}s, pipeline {r['pipeline']['wall_s']}s "
              f"(events {r['steps']['events']}s, hourly_stats {r['steps']['hourly_stats']}s), "
              f"duckdb {r['duckdb']['wall_s']}s", flush=True)
        r["report"] = report_run(report_wh, args.work, i, opts)
        print(f"bench: run {i + 1}/{args.runs}: report {r['report']['wall_s']}s, "
              f"{r['report']['bytes'] // 1024} KB, {r['report']['charts']} charts", flush=True)
        if history:
            r["into_history"] = into_history(inp, history, args.work, i, opts)
            print(f"bench: run {i + 1}/{args.runs} into {args.history} stored events: exact "
                  f"{r['into_history']['exact']['wall_s']}s, 1-day horizon "
                  f"{r['into_history']['horizon_1d']['wall_s']}s", flush=True)
    sample = None
    if args.sample.is_file():
        sample = sample_run(args.sample, args.work, opts)
        print(f"bench: the sample: floor {sample['floor_s']}s, pipeline {sample['pipeline_s']}s, "
              f"all steps {sample['all_steps_s']}s", flush=True)
    else:
        print(f"bench: no sample at {args.sample}: its row is skipped", flush=True)
    summary = summarize(args.events, runs, input_mb, args.conf, args.history, args.random_ids)
    args.docs.mkdir(parents=True, exist_ok=True)
    write_docs(summary, args.docs, sample)
    print(json.dumps({k: v for k, v in summary.items() if k != "all_runs"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
