"""A job through its real entry point, `./spark-submit.sh`, as a subprocess: what only
a process shows. The driver's exit code passed on by spark-submit (0, and 2 for a
failure found after the JVM started), one summary line or one error line on the
output spark-submit merges, no traceback. Every job's exit codes and lines are tested
in process through its own main (tests/runs, helpers.run_job), and its argument
checks before the JVM in tests/unit and tests/entry/test_wrapper.py."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import error_lines
from helpers import hipages_line as L
from helpers import ROOT, SUBMIT_OPTS, read_report, table_rows, write_lines


SALT = "entry-s3cr3t-pepper"


def start(*args, env: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "CLICKSTREAM_PYTHON": sys.executable, **(env or {})}
    return subprocess.Popen(["./spark-submit.sh", *SUBMIT_OPTS, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three JVMs at once: a run that succeeds, one whose input matches nothing, and a
    salted run of a feed with PII that writes Spark's event log."""
    base = tmp_path_factory.mktemp("cli")
    a = write_lines(base / "in" / "a.json", [L("a1"), L("a2", timestamp="03/02/2017 10:00:00"), "{bad", "", L("a1")])
    nothing = start("events", "--input", str(base / "missing" / "*.json"), "--warehouse", str(base / "wh-m"))
    ok = start("events", "--input", str(a), "--warehouse", str(base / "wh"), "--run-id", "a", "--max-reject-rate", "0.5")
    (base / "event-log").mkdir()
    salted = start("--conf", "spark.eventLog.enabled=true", "--conf", f"spark.eventLog.dir=file:{base}/event-log",
                   "--conf", "spark.eventLog.compress=false",  # plain text, so that a search would find the salt
                   "events", "--source", "app_events", "--input", str(ROOT / "data" / "feeds" / "app_events"),
                   "--warehouse", str(base / "wh-pii"), "--run-id", "pii", "--max-reject-rate", "0.9",
                   env={"CLICKSTREAM_PII_SALT": SALT})
    return base, {"a": finish(ok), "nothing": finish(nothing), "pii": finish(salted)}


def test_a_run_exits_0_with_one_summary_line_and_its_report(spark, runs):
    base, procs = runs
    assert procs["a"].returncode == 0, procs["a"].stderr[-3000:]
    summary = [line for line in procs["a"].stdout.splitlines() if line.startswith("events ")]
    assert len(summary) == 1 and "records=4 events_written=2 rejected=1 (malformed_json=1) duplicates=1 " \
        "blank_lines=1 partitions_written=2" in summary[0]
    report = read_report(base / "wh", "a")
    assert report["records"] == report["events_written"] + report["rejected_total"] + report["duplicates"] == 4
    assert report["partitions_written"] == ["2017-02-02", "2017-02-03"]
    assert table_rows(spark, base / "wh", "events", "event_id", "run_id") == [("a1", "a"), ("a2", "a")]
    assert "Traceback" not in procs["a"].stdout + procs["a"].stderr


def test_a_failure_the_driver_finds_exits_2_with_one_line(runs):
    base, procs = runs
    proc = procs["nothing"]
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert error_lines(proc) == [f"events: error: input path matches no files: {base}/missing/*.json"]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (base / "wh-m").exists()


def test_the_pii_salt_is_not_in_the_event_log(runs):
    """Spark's event log holds every plan and every job's properties: never the salt."""
    base, procs = runs
    assert procs["pii"].returncode == 0, procs["pii"].stderr[-3000:]
    logs = [p for p in (base / "event-log").rglob("*") if p.is_file() and not p.name.startswith(".")]
    text = "".join(p.read_text(errors="replace") for p in logs)  # Spark 4 rolls it into a folder of files
    assert logs and "SparkListenerSQLExecutionStart" in text and "physicalPlanDescription" in text
    assert SALT not in text
