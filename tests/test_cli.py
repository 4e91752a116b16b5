"""Command-line tests: the real entry point, `./spark-submit.sh`, as a subprocess."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from helpers import hipages_line as L
from helpers import error_lines, read_report, submit, table_rows, write_lines

# Test-only JVM flags: a short-lived driver starts faster without the C2 compiler.
FAST = ["--driver-java-options", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"]


@pytest.mark.parametrize("args, message", [
    (["events", "--warehouse", "/tmp/x"], "events: error: the following arguments are required: --input"),
    (["events", "--input", "a", "--warehouse", "w", "--max-reject-rate", "2"],
     "events: error: argument --max-reject-rate: '2' is not a fraction between 0 and 1"),
    (["events", "--input", "a", "--warehouse", "w", "--source", "nope"],
     "events: error: unknown source profile 'nope'"),
    (["events", "--input", "a", "--warehouse", "w", "--run-id", "a/b"], "events: error: bad --run-id 'a/b'"),
    (["nojob"], "spark-submit.sh: error: unknown job 'nojob'"),
    (["hourly_stats", "--warehouse", "w", "--dimensions", "ip"], "hourly_stats: error: bad dimension 'ip' in --dimensions: use url_level2, url_level3 or a property key"),
    (["events", "--input", "a", "--warehouse", "w", "--new-files-only", "--date", "2020-01-01"],
     "events: error: --new-files-only reads the whole input root"),
    (["maintain", "--warehouse", "w", "--retain-hours", "1"], "maintain: error: --retain-hours 1 is below 24"),
    (["generate", "--events", "10", "--files", "20", "--output", "x"],
     "generate: error: --files 20 is more than --events 10"),
])
def test_bad_arguments_exit_2_with_one_line(args, message):
    proc = submit(*args)
    assert proc.returncode == 2, proc.stderr
    assert len(error_lines(proc)) == 1 and error_lines(proc)[0].startswith(message), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_input_that_matches_nothing_exits_2_naming_the_path(tmp_path):
    proc = submit(*FAST, "events", "--input", str(tmp_path / "missing" / "*.json"), "--warehouse", str(tmp_path / "wh"))
    assert proc.returncode == 2, proc.stderr
    assert error_lines(proc) == [f"events: error: input path matches no files: {tmp_path}/missing/*.json"]
    assert "Traceback" not in proc.stdout + proc.stderr


def start(*args):
    env = {**os.environ, "CLICKSTREAM_PYTHON": sys.executable}
    return subprocess.Popen(["./spark-submit.sh", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A then B into one warehouse, then hourly_stats, through the real entry point;
    meanwhile (in other JVMs) a run above its reject rate and one over days without files."""
    base = tmp_path_factory.mktemp("cli")
    write_lines(base / "d" / "2020" / "01" / "10" / "a.json", [L("a1")])
    side = {
        "reject_rate": start(*FAST, "events", "--input", str(write_lines(base / "r.json", [L("e1"), "{bad"])),
                             "--warehouse", str(base / "wh-r"), "--run-id", "r", "--max-reject-rate", "0.4"),
        "no_days": start(*FAST, "events", "--input", str(base / "d"), "--warehouse", str(base / "wh-d"),
                         "--from", "2020-01-11", "--to", "2020-01-12"),
        "generate": start(*FAST, "generate", "--events", "500", "--files", "2", "--output", str(base / "gen"),
                          "--days", "2", "--bad-rate", "0.2", "--seed", "3"),
    }
    a = write_lines(base / "in" / "a.json", [L("a1"), L("a2", timestamp="03/02/2017 10:00:00"), "{bad", "", L("a1")])
    b = write_lines(base / "in" / "b.json", [L("b1"), L("a2", action="claim", timestamp="03/02/2017 10:00:00")])
    wh = base / "wh"
    procs = {}
    for run_id, src in [("a", a), ("b", b)]:
        procs[run_id] = submit(*FAST, "events", "--input", str(src), "--warehouse", str(wh), "--run-id", run_id,
                               "--max-reject-rate", "0.5")
    procs["stats"] = submit(*FAST, "hourly_stats", "--warehouse", str(wh), "--source", "hipages",
                            "--dimensions", "url_level2",
                            "--csv", str(base / "out" / "stats.csv"), "--run-id", "stats")
    for name, proc in side.items():
        stdout, stderr = proc.communicate(timeout=600)
        procs[name] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return wh, procs


def test_dated_days_without_files_exit_2_naming_them(runs):
    wh, procs = runs
    proc, root = procs["no_days"], wh.parent / "d"
    assert proc.returncode == 2, proc.stdout
    assert error_lines(proc) == [f"events: error: no input files for any requested day (2020-01-11..2020-01-12) "
                                 f"under file:{root} with layout {{yyyy}}/{{MM}}/{{dd}}"]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (wh.parent / "wh-d").exists()


def test_run_exits_0_and_reports_its_arithmetic(runs):
    wh, procs = runs
    assert procs["a"].returncode == 0, procs["a"].stderr
    summary = [line for line in procs["a"].stdout.splitlines() if line.startswith("events ")]
    assert len(summary) == 1 and "records=4 events_written=2 rejected=1 (malformed_json=1) duplicates=1 " \
        "blank_lines=1 partitions_written=2" in summary[0]
    report = read_report(wh, "a")
    assert report["records"] == report["events_written"] + report["rejected_total"] + report["duplicates"] == 4
    assert report["partitions_written"] == ["2017-02-02", "2017-02-03"]


def test_a_then_b_loses_nothing(spark, runs):
    wh, procs = runs
    assert procs["b"].returncode == 0, procs["b"].stdout
    b = read_report(wh, "b")
    assert (b["events_written"], b["rejected"]) == (1, {"conflicting_duplicate": 1})
    assert table_rows(spark, wh, "events", "event_id", "run_id", "activity") == [
        ("a1", "a", "page_view"), ("a2", "a", "page_view"), ("b1", "b", "page_view"),
    ]
    rejects = table_rows(spark, wh, "rejects", "reason", "run_id")
    assert rejects == [("conflicting_duplicate", "b"), ("malformed_json", "a")]


def test_reject_rate_above_limit_exits_3_and_commits_no_events(spark, runs):
    wh, procs = runs
    proc, wh_r = procs["reject_rate"], wh.parent / "wh-r"
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "status=failed_reject_rate" in proc.stdout
    assert table_rows(spark, wh_r, "events", "event_id") == []
    assert table_rows(spark, wh_r, "rejects", "reason") == [("malformed_json",)]
    assert read_report(wh_r, "r")["reject_rate"] == 0.5


def test_hourly_stats_writes_its_grain_table_and_csv(spark, runs):
    wh, procs = runs
    assert procs["stats"].returncode == 0, procs["stats"].stdout
    assert re.search(r"^hourly_stats run_id=stats table=hourly_stats_url_level2 mode=full events_version=\d+ "
                     r"days=2 rows=2 events=3 ", procs["stats"].stdout, re.M)
    assert (wh.parent / "out" / "stats.csv").read_text() == (
        "time_bucket,url_level1,url_level2,activity,activity_count,user_count\n"
        "2017020220,hipages.com.au,articles,page_view,2,1\n"
        "2017020310,hipages.com.au,articles,page_view,1,1\n"
    )


def test_missing_java_is_one_line_that_says_how_to_install_it(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "find", "ls", "sed", "grep", "tr", "nproc", "env"):
        for where in ("/usr/bin", "/bin"):
            if os.path.exists(f"{where}/{tool}"):
                os.symlink(f"{where}/{tool}", bin_dir / tool)
                break
    env = {"PATH": str(bin_dir), "CLICKSTREAM_PYTHON": sys.executable, "HOME": str(tmp_path)}
    proc = subprocess.run(["bash", "./spark-submit.sh", "events", "--input", "x", "--warehouse", "y"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "spark-submit.sh: error: Java not found: install Java 17+ (Debian/Ubuntu: sudo apt-get install "
        "openjdk-17-jre-headless; macOS: brew install openjdk@17) or set JAVA_HOME"
    ]


def test_generate_writes_the_same_lines_as_in_process(spark, runs):
    from clickstream import generate

    wh, procs = runs
    assert procs["generate"].returncode == 0, procs["generate"].stdout[-3000:]
    gen = wh.parent / "gen"
    assert sorted(p.name for p in gen.iterdir() if not p.name.startswith(".")) == \
        ["events-00000.jsonl", "events-00001.jsonl"]
    written = (gen / "events-00000.jsonl").read_text().splitlines() + \
        (gen / "events-00001.jsonl").read_text().splitlines()
    cfg = generate.GenerateConfig(events=500, files=2, output="unused", days=2, bad_rate=0.2, seed=3)
    assert written == [r.value for r in generate.lines(spark, cfg).collect()]
    assert len(written) > 500  # the duplicate kinds add a line each

