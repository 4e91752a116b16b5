"""Delta 3.x, what EMR 7 ships, reads and extends a warehouse that Delta 4.x wrote
(the table protocol itself is checked in tests/runs/test_delta_protocol.py).

Runs on Spark 3.5 (make test-spark35): the Spark 4 venv (.venv), in a Python process
of its own, runs events, hourly_stats and maintain (an OPTIMIZE) through the jobs'
own mains; this Spark 3.5 session then reads the warehouse, appends to it and
catches the stats up from the change data feed that Delta 4.x recorded."""
from __future__ import annotations

import json
import subprocess

import pyspark
import pytest

from helpers import ROOT, hipages_line, read_report, run_events, run_stats, state, write_lines


pytestmark = pytest.mark.skipif(not pyspark.__version__.startswith("3."), reason="runs on Spark 3.5 (make test-spark35)")

SAMPLE = ROOT / "data" / "sample"
SPARK4_PYTHON = ROOT / ".venv" / "bin" / "python"
# One Spark 4 application: the three jobs' mains on the tests' session.
WRITE_WITH_SPARK4 = """
import sys
sys.path[:0] = ["libs", "tests"]
import pyspark, helpers
assert pyspark.__version__.startswith("4."), pyspark.__version__
wh, sample = sys.argv[1], sys.argv[2]
spark = helpers.shared_session()
for args in (["events", "--input", sample, "--warehouse", wh, "--run-id", "d4-events", "--max-reject-rate", "1"],
             ["hourly_stats", "--warehouse", wh, "--run-id", "d4-stats"],
             ["maintain", "--warehouse", wh, "--no-vacuum", "--run-id", "d4-maintain"]):
    assert helpers.run_job(spark, *args) == 0, args
"""


def min_writer_version(table_dir) -> int:
    for log in sorted((table_dir / "_delta_log").glob("*.json"), reverse=True):
        for line in log.read_text().splitlines():
            if "protocol" in json.loads(line):
                return json.loads(line)["protocol"]["minWriterVersion"]
    raise AssertionError(f"no protocol in {table_dir}")


def test_delta3_reads_and_extends_a_warehouse_that_delta4_wrote(spark, hipages_profile, tmp_path):
    assert SPARK4_PYTHON.exists(), "make test-spark35 builds .venv (Spark 4) first"
    wh, reference = tmp_path / "wh", tmp_path / "reference"
    wrote = subprocess.run([str(SPARK4_PYTHON), "-c", WRITE_WITH_SPARK4, str(wh), str(SAMPLE)], cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
    assert wrote.returncode == 0, wrote.stdout[-3000:] + wrote.stderr[-3000:]
    assert min_writer_version(wh / "events") == 7  # written with table features

    # Read by Delta 3.x: the same rows as a 3.x run of the same input.
    run_events(spark, hipages_profile, SAMPLE, reference, "d3-events")
    run_stats(spark, reference, "d3-stats")
    assert state(spark, wh) == state(spark, reference)

    # Written by Delta 3.x on top: a MERGE, a rejects replaceWhere, and the stats catch-up
    # through the change data feed that Delta 4.x recorded.
    late = write_lines(tmp_path / "in" / "late.jsonl", [
        hipages_line("d3-new", "u7", timestamp="02/02/2017 20:40:00"), "{broken"])
    for target, prefix in ((wh, "d3"), (reference, "ref")):
        run_events(spark, hipages_profile, late, target, f"{prefix}-late")
        report = run_stats(spark, target, f"{prefix}-late-stats")
        assert (report["mode"], report["days_recomputed"]) == ("catch_up", ["2017-02-02"])
    assert read_report(wh, "d3-late")["events_written"] == 1
    assert state(spark, wh) == state(spark, reference)
