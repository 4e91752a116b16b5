"""The benchmark's process-tree memory measured on real child processes. (Timings
themselves are measured by `make bench`, never asserted here.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import bench  # tools/bench.py (pytest.ini puts tools/ on the path)


def test_tree_rss_counts_the_children(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "x = bytearray(200 * 2**20); import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while bench._rss_bytes(child.pid) < 200 * 2**20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bench.tree_rss(os.getpid()) >= bench._rss_bytes(os.getpid()) + 200 * 2**20
    finally:
        child.kill()
        child.wait()


def test_measure_reports_wall_time_and_peak(tmp_path):
    got = bench.measure([sys.executable, "-c", "x = bytearray(100 * 2**20); import time; time.sleep(0.5)"],
                        tmp_path / "log")
    assert got["peak_rss_mb"] >= 100 and got["wall_s"] >= 0.5
