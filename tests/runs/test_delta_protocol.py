"""Tables written by Delta 4.x stay readable (and writable) by Delta 3.x, what EMR 7
ships: we enable no table feature that 3.x lacks. (On Spark 3.5,
tests/integration/test_delta_compat.py reads and extends such a warehouse.)"""
from __future__ import annotations

import pyspark
import pytest

from helpers import ROOT, log_actions, run_events, run_stats


SAMPLE = ROOT / "data" / "sample"

# Writer features that Delta 3.x (and 2.3+) reads and writes; no reader features at all.
DELTA3_WRITER_FEATURES = {"appendOnly", "invariants", "checkConstraints", "changeDataFeed", "generatedColumns"}


def protocol(table_dir):
    """The table's current protocol action, from its log (no Delta needed)."""
    return (log_actions(table_dir, "protocol") or [None])[-1]


@pytest.mark.skipif(pyspark.__version__.startswith("3."), reason="checks what Delta 4.x writes")
def test_our_tables_need_nothing_delta3_lacks(spark, hipages_profile, tmp_path):
    wh = tmp_path / "wh"
    run_events(spark, hipages_profile, SAMPLE, wh, "r1")
    run_stats(spark, wh, "s1")
    assert protocol(wh / "events") == {"minReaderVersion": 1, "minWriterVersion": 7,
                                       "writerFeatures": ["invariants", "changeDataFeed", "appendOnly"]}
    assert protocol(wh / "rejects") == {"minReaderVersion": 1, "minWriterVersion": 2}
    assert protocol(wh / "hourly_stats") == protocol(wh / "events")  # a change data feed too, for rollup
    for table in ("events", "rejects", "hourly_stats"):
        p = protocol(wh / table)
        assert "readerFeatures" not in p and set(p.get("writerFeatures", [])) <= DELTA3_WRITER_FEATURES
