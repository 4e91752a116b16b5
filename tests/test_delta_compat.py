"""Tables written by Delta 4.x stay readable (and writable) by Delta 3.x, what EMR 7
ships: we enable no table feature that 3.x lacks.

On Spark 4.x this checks the protocol our tables get. On Spark 3.5 (make
test-spark35) the Spark 4 venv (.venv) writes a warehouse through ./spark-submit.sh
(events, hourly_stats, an OPTIMIZE), and this Spark 3.5 session reads it, appends to
it and catches the stats up from its change data feed."""
from __future__ import annotations

import json
import subprocess

import pyspark
import pytest

from conftest import ROOT
from helpers import SUBMIT_OPTS, hipages_line, submit_ok, read_report, run_events, run_stats, state, write_lines

SAMPLE = ROOT / "data" / "sample"
SPARK4_PYTHON = ROOT / ".venv" / "bin" / "python"
# Writer features that Delta 3.x (and 2.3+) reads and writes; no reader features at all.
DELTA3_WRITER_FEATURES = {"appendOnly", "invariants", "checkConstraints", "changeDataFeed", "generatedColumns"}


def protocol(table_dir):
    """The table's current protocol action, from its log (no Delta needed)."""
    found = None
    for log in sorted((table_dir / "_delta_log").glob("*.json")):
        for line in log.read_text().splitlines():
            action = json.loads(line)
            found = action.get("protocol", found)
    return found


@pytest.mark.skipif(pyspark.__version__.startswith("3."), reason="checks what Delta 4.x writes")
def test_our_tables_need_nothing_delta3_lacks(spark, hipages_profile, tmp_path):
    wh = tmp_path / "wh"
    run_events(spark, hipages_profile, SAMPLE, wh, "r1")
    run_stats(spark, wh, "s1")
    assert protocol(wh / "events") == {"minReaderVersion": 1, "minWriterVersion": 7,
                                       "writerFeatures": ["invariants", "changeDataFeed", "appendOnly"]}
    assert protocol(wh / "rejects") == {"minReaderVersion": 1, "minWriterVersion": 2}
    assert protocol(wh / "hourly_stats") == {"minReaderVersion": 1, "minWriterVersion": 2}
    for table in ("events", "rejects", "hourly_stats"):
        p = protocol(wh / table)
        assert "readerFeatures" not in p and set(p.get("writerFeatures", [])) <= DELTA3_WRITER_FEATURES


@pytest.mark.skipif(not pyspark.__version__.startswith("3."), reason="runs on Spark 3.5 (make test-spark35)")
def test_delta3_reads_and_extends_a_warehouse_that_delta4_wrote(spark, hipages_profile, tmp_path):
    assert SPARK4_PYTHON.exists(), "make test-spark35 builds .venv (Spark 4) first"
    wh, reference = tmp_path / "wh", tmp_path / "reference"
    version = subprocess.run([str(SPARK4_PYTHON), "-c", "import pyspark; print(pyspark.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version.startswith("4."), version
    for args in (["events", "--input", str(SAMPLE), "--warehouse", str(wh), "--run-id", "d4-events",
                  "--max-reject-rate", "1"],
                 ["hourly_stats", "--warehouse", str(wh), "--run-id", "d4-stats"],
                 ["maintain", "--warehouse", str(wh), "--no-vacuum", "--run-id", "d4-maintain"]):
        submit_ok(*SUBMIT_OPTS, *args, python=SPARK4_PYTHON)
    assert protocol(wh / "events")["minWriterVersion"] == 7  # written with table features

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
