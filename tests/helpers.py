"""Helpers shared by the end-to-end and command-line tests."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def hipages_line(event_id, user_id="u1", action="page_view", url="https://www.hipages.com.au/articles",
                 timestamp="02/02/2017 20:22:00", session_id="s1", ip="1.2.3.4") -> str:
    return json.dumps({"event_id": event_id, "user": {"session_id": session_id, "id": user_id, "ip": ip},
                       "action": action, "url": url, "timestamp": timestamp})


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def read_report(warehouse: Path, run_id: str) -> dict:
    return json.loads((warehouse / "_runs" / f"{run_id}.json").read_text())


def table_rows(spark, warehouse: Path, name: str, *columns: str) -> list[tuple]:
    df = spark.read.format("delta").load(str(warehouse / name))
    return sorted(tuple(r) for r in df.select(*columns).collect())


# --- Runs through the real entry point, and what a run leaves behind -------------

def submit(*args, python=None, env=None, timeout=600) -> subprocess.CompletedProcess:
    """`./spark-submit.sh ARGS` with this test's Python (or `python`), output captured."""
    env = {**os.environ, **(env or {}), "CLICKSTREAM_PYTHON": str(python or sys.executable)}
    return subprocess.run(["./spark-submit.sh", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    """The `<job>: error: ...` lines of a run (spark-submit merges the Python driver's
    stderr into its stdout)."""
    output = proc.stdout.splitlines() + proc.stderr.splitlines()
    return [line for line in output if re.match(r"^[\w.-]+: error: ", line)]


def submit_ok(*args, **kw) -> subprocess.CompletedProcess:
    """`submit`, which must exit 0 (the end of its output is the failure message)."""
    proc = submit(*args, **kw)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    return proc


SUBMIT_OPTS = ["--master", "local[1]", "--conf", "spark.sql.shuffle.partitions=1",
               "--conf", "spark.databricks.delta.snapshotPartitions=1", "--conf", "spark.ui.enabled=false",
               "--driver-java-options", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"]


class Job:
    """One `./spark-submit.sh` run, SIGKILLed (its whole process group: spark-submit's
    JVM and the Python driver) when `kill_when(line)` or `watch()` says so."""

    def __init__(self, args, pause=None, kill_when=None, watch=None):
        env = {**os.environ, "CLICKSTREAM_PYTHON": sys.executable}
        if pause:
            env["CLICKSTREAM_PAUSE_AT"] = pause
            kill_when = kill_when or (lambda line: f"clickstream: paused at {pause}" in line)
        self.kill_when, self.watch, self.killed, self.lines = kill_when, watch, False, []
        self.proc = subprocess.Popen(["./spark-submit.sh", *SUBMIT_OPTS, *args], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        if watch:
            threading.Thread(target=self._poll, daemon=True).start()

    def _kill(self):
        if not self.killed:
            self.killed = True
            os.killpg(self.proc.pid, signal.SIGKILL)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if self.kill_when and self.kill_when(line):
                self._kill()

    def _poll(self):
        while self.proc.poll() is None:
            if self.watch():
                self._kill()
                return
            time.sleep(0.02)

    def wait(self, timeout=600):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise
        finally:
            if self.proc.poll() is None:
                self._kill()

    @property
    def output(self) -> str:
        return "".join(self.lines)


def events_args(src, wh, run_id, *extra):
    return ["events", "--input", str(src), "--warehouse", str(wh), "--run-id", run_id, "--max-reject-rate", "1",
            *extra]


def run_events(spark, profile, src, wh, run_id, **kw):
    from clickstream import events

    kw.setdefault("max_reject_rate", 1.0)
    return events.run(spark, events.EventsConfig(input=str(src), warehouse=str(wh), profile=profile,
                                                 run_id=run_id, **kw))


def run_stats(spark, wh, run_id, **kw):
    from clickstream import hourly_stats

    return hourly_stats.run(spark, hourly_stats.StatsConfig(warehouse=str(wh), run_id=run_id, **kw))


EVENT_COLUMNS = [
    "event_id", "user_id", "session_id", "time_stamp", "url_level1", "url_level2", "url_level3", "activity",
    "url", "ip", "source_file", "event_date",
]  # the events table's columns but run_id
STATS_COLUMNS = ["time_bucket", "url_level1", "activity", "activity_count", "user_count", "event_date"]


def state(spark, wh):
    """What an analyst sees: the rows of events, rejects and hourly_stats (lineage aside)."""
    stats = table_rows(spark, wh, "hourly_stats", *STATS_COLUMNS) if (wh / "hourly_stats").exists() else []
    return {"events": table_rows(spark, wh, "events", *EVENT_COLUMNS),
            "rejects": table_rows(spark, wh, "rejects", "raw", "reason", "source_file"),
            "hourly_stats": stats}


def data_files(table_dir):
    return {p.name for p in table_dir.rglob("*.parquet") if "_delta_log" not in p.parts}


def new_parquet(table_dir, before):
    return lambda: bool(data_files(table_dir) - before)
