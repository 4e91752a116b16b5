"""Helpers shared by the end-to-end and command-line tests."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data" / "hipages"
CONF_DIR = ROOT / "conf"


# Test-only settings, for rows this few; the jobs themselves keep Spark's defaults.
# - Code generation compiles Java for every new query, which costs more than it saves
#   here: a spark-submit of the events job on the sample took 38.5 s with it and 33.4 s
#   without; a sample of the runs layer 173 s and 142 s (whole-stage alone). The
#   interpreted path is the one Spark falls back to anyway, with the same results.
# - Delta's checksum file after each commit needs the new snapshot's full state, one
#   more Spark job per commit: two events runs and a stats run took 14.4 s with it and
#   12.4 s without. It speeds up later snapshot loads; no result depends on it.
# - PySpark's DataFrame debugging context records the Python call site of each
#   Column and DataFrame call in the JVM, for error messages only: an events run on
#   three lines made 7,600 py4j round trips with it and 2,700 without, and a warm run
#   took about 6.2 s with it and 5.2 s without.
# - Adaptive execution re-plans each query at every shuffle, to coalesce or split
#   partitions and switch joins: with one shuffle partition of a few rows there is
#   nothing to gain. The sessions, rollup and hourly_stats run tests took 162 s with
#   it and 134 s without. Results do not depend on it (the jobs run with it on).
TEST_ONLY_CONF = {"spark.sql.adaptive.enabled": "false",
                  "spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN",
                  "spark.databricks.delta.writeChecksumFile.enabled": "false",
                  "spark.python.sql.dataFrameDebugging.enabled": "false"}
# The same, as spark-submit options, for the tests' subprocesses.
TEST_ONLY_SUBMIT_CONF = [arg for key, value in TEST_ONLY_CONF.items() for arg in ("--conf", f"{key}={value}")]


HEAP = "3g"  # the shared session's heap, all of it from the start (shared_session)


def shared_session(s3a: bool = False):
    """The tests' SparkSession, tuned for tiny data on 2 cores: local[1], one shuffle
    partition, one Delta snapshot partition, no UI, the serial collector, and no code
    generation (TEST_ONLY_CONF); with clickstream's own settings (clickstream.config.spark_session)
    and the pinned JVM packages. `s3a`: also the s3a connector spark-submit.sh adds for
    s3a:// paths (hadoop-aws of Spark's own Hadoop, with its AWS SDK bundle)."""
    import pyspark
    from pyspark.sql import SparkSession

    from clickstream.deploy.packages import POSTGRESQL_JDBC, hadoop_aws, jvm_packages
    from clickstream.config.spark_session import SESSION_CONF
    from clickstream.deploy.submit import hadoop_version

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    packages = [*jvm_packages(), POSTGRESQL_JDBC]
    if s3a:
        packages.append(hadoop_aws(hadoop_version(Path(pyspark.__file__).parent)))
    builder = (
        SparkSession.builder.master("local[1]")
        .appName("clickstream-tests")
        .config("spark.jars.packages", ",".join(packages))
        .config("spark.jars.ivySettings", str(CONF_DIR / "ivysettings.xml"))  # as spark-submit.sh resolves
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.databricks.delta.snapshotPartitions", "1")
        # VACUUM lists folders with this many tasks (10000 by default: 40 s, as the maintain job knows).
        .config("spark.sql.sources.parallelPartitionDiscovery.parallelism", "1")
        # As conf/spark/*.properties set it: the jobs' overwrites must not depend on it.
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        # A heap for a JVM that lives for the whole suite, all of it from the start
        # (-Xms), and room for Spark's and Delta's classes (MetaspaceSize): with Spark's
        # 1 GB default, each worker of the runs layer spent 78-88 s of its ~900 s in the
        # collector, 41-47 s of it in 34-35 full collections; with 3 GB alone, 50 s with
        # 27-29 full ones, as the heap and the class space grew (JMX, 2026-12-07). Two
        # runs modules: 162 young and 10 full collections (6.0 s) with 3 GB alone, 40 and 0
        # (2.7 s) with all three.
        .config("spark.driver.memory", HEAP)
        # The serial collector suits one core. Unlike a short spark-submit (SUBMIT_OPTS),
        # this JVM lives for the whole suite: the C2 compiler pays for itself
        # (transforms layer: 129 s with it, 158 s with -XX:TieredStopAtLevel=1).
        .config("spark.driver.extraJavaOptions", f"-XX:+UseSerialGC -Xms{HEAP} -XX:MetaspaceSize=512m -Duser.timezone=UTC")
    )
    for key, value in {**SESSION_CONF, **TEST_ONLY_CONF}.items():
        builder = builder.config(key, value)
    with ivy_lock():
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextlib.contextmanager
def ivy_lock():
    """One JVM at a time resolves the JVM packages. Two pytest-xdist workers that start
    their sessions at once on an empty Ivy cache download the same files into it
    together: Ivy then fails with "Downloaded file size (0) doesn't match expected
    Content Length" or "impossible to move part file", and every test of both workers
    errors. The second waits for the first (a few seconds on a warm cache) and finds
    everything in the cache."""
    with open(Path(tempfile.gettempdir()) / "clickstream-tests-ivy.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# The impressions feed's header (conf/sources/impressions.json).
IMP_HEADER = "impression_id,campaign_id,user_id,timestamp,url"
# A fourth feed, described by nothing but this profile: '|'-separated lines without a
# header, a PII field, a property that is required, a local time zone.
CHECKOUT = {
    "name": "checkout",
    "format": "csv",
    "csv": {"delimiter": "|", "header": False, "columns": ["order", "customer", "step", "at", "page", "store"]},
    "fields": {
        "event_id": {"column": "order"},
        "user_id": {"column": "customer", "pii": "sha256"},
        "activity": {"column": "step", "lower": True},
        "timestamp": {"column": "at"},
        "url": {"column": "page"},
    },
    "properties": {"store": {"column": "store", "lower": True}},
    "url_base": "https://shop.example.com/",
    "required": ["event_id", "user_id", "activity", "timestamp", "store"],
    "timestamp_formats": ["dd.MM.yyyy HH:mm"],
    "timezone": "Europe/Berlin",
}


def hipages_line(event_id, user_id="u1", action="page_view", url="https://www.hipages.com.au/articles",
                 timestamp="02/02/2017 20:22:00", session_id="s1", ip="1.2.3.4") -> str:
    return json.dumps({"event_id": event_id, "user": {"session_id": session_id, "id": user_id, "ip": ip},
                       "action": action, "url": url, "timestamp": timestamp})


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


JOBS = ("events", "hourly_stats", "rollup", "sessions", "export", "maintain", "report", "pipeline")


def read_report(warehouse: Path, run_id: str, job: str | None = None) -> dict:
    """The run report of `run_id` (`_runs/<run_id>.<job>.json`); without `job`, the one job's
    report of that run id there is."""
    found = [p for p in (warehouse / "_runs").glob(f"{run_id}.*.json")
             if p.name[len(run_id) + 1:-len(".json")] in (JOBS if job is None else (job,))]
    assert len(found) == 1, (run_id, job, sorted(p.name for p in (warehouse / "_runs").glob("*.json")))
    return json.loads(found[0].read_text())


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


# A short-lived test JVM: one core, one partition, no UI, no code generation, and the
# fast-start flags (C1 only: 38 s and 41 s of CPU for an events run on the sample,
# against 44 s and 70 s of CPU with C2).
SUBMIT_OPTS = ["--master", "local[1]", "--conf", "spark.sql.shuffle.partitions=1",
               "--conf", "spark.databricks.delta.snapshotPartitions=1", "--conf", "spark.ui.enabled=false",
               *TEST_ONLY_SUBMIT_CONF,
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
    from clickstream.runs import events

    kw.setdefault("max_reject_rate", 1.0)
    return events.run(spark, events.EventsConfig(input=str(src), warehouse=str(wh), profile=profile,
                                                 run_id=run_id, **kw))


def run_stats(spark, wh, run_id, **kw):
    from clickstream.runs import hourly_stats

    return hourly_stats.run(spark, hourly_stats.StatsConfig(warehouse=str(wh), run_id=run_id, **kw))


# Tables `state` compares, and the one column it leaves out: each run's own id.
STATE_TABLES = ("events", "rejects", "hourly_stats", "sessions")
RUN_SPECIFIC = ("run_id",)


def _plain(value, file_name: bool):
    """A value that sorts and compares: a map as its sorted items; a file URI as its name."""
    if isinstance(value, dict):
        return tuple(sorted(value.items()))
    if file_name and isinstance(value, str):
        return value.rsplit("/", 1)[-1]
    return value


def state(spark, wh, file_names: bool = False) -> dict[str, list[tuple]]:
    """What an analyst sees: every row of every table in STATE_TABLES that exists,
    with every column but run_id, sorted. With `file_names`, `source_file` holds the
    file's name alone (two runs that read the same files through s3a:// and file:)."""
    import pyspark.sql.functions as F
    from delta.tables import DeltaTable

    got = {}
    for name in STATE_TABLES:
        path = f"{wh}/{name}"  # a folder or an s3a:// URI
        if not DeltaTable.isDeltaTable(spark, path):
            continue
        df = spark.read.format("delta").load(path)
        columns = sorted(c for c in df.columns if c not in RUN_SPECIFIC)
        rows = []
        # A sketch as its estimate: a sketch of few users lists their hashes in the order
        # it met them, so two runs that read the same events in another order differ in bytes.
        for row in df.select(*[F.hll_sketch_estimate(c).alias(c) if c == "user_sketch" else c
                               for c in columns]).collect():
            rows.append(tuple((c, _plain(row[c], file_names and c == "source_file")) for c in columns))
        got[name] = sorted(rows, key=repr)
    return got


def run_job(spark, job: str, *argv: str) -> int:
    """jobs/<job>.py's own `main`, in this process on the shared session: its
    arguments parsed and checked, known failures as one `<job>: error:` line on
    stderr, and its exit code, as spark-submit would run it (no JVM started)."""
    import importlib.util

    from clickstream.config import cli

    spec = importlib.util.spec_from_file_location(f"jobs_{job}", ROOT / "jobs" / f"{job}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        return cli.guarded(getattr(module, job).parse_args, module.main, list(argv), job)
    finally:
        spark.sparkContext.setLogLevel("ERROR")  # build_session set WARN


def log_actions(table_dir, kind: str) -> list[dict]:
    """The table's `kind` actions (`add`, `protocol`, ...) in commit order, read from its
    log as Delta wrote them (no Delta needed)."""
    actions = (json.loads(line) for log in sorted((Path(table_dir) / "_delta_log").glob("*.json"))
               for line in log.read_text().splitlines())
    return [action[kind] for action in actions if kind in action]


def data_files(table_dir):
    return {p.name for p in table_dir.rglob("*.parquet") if "_delta_log" not in p.parts}


def new_parquet(table_dir, before):
    return lambda: bool(data_files(table_dir) - before)


# --- The input of the crash and concurrency tests --------------------------------------------

def write_first_day(src: Path) -> None:
    """Day 1 (2020-01-13): five events of three users and a malformed line."""
    write_lines(src / "2020/01/13/a.json", [hipages_line(f"a{i}", user_id=f"u{i % 3}", timestamp="13/01/2020 10:00:00")
                                            for i in range(5)] + ["{bad"])


def write_later_days(src: Path) -> None:
    """Then: a new day with late day-1 events, a repeated event and a reject; and a third day."""
    write_lines(src / "2020/01/14/b.json", [hipages_line(f"b{i}", user_id=f"u{i}", timestamp="14/01/2020 09:00:00")
                                            for i in range(4)] +
                [hipages_line("late1", timestamp="13/01/2020 11:00:00"),
                 hipages_line("late2", timestamp="13/01/2020 10:30:00"),
                 hipages_line("a1", user_id="u1", timestamp="13/01/2020 10:00:00"), '{"event_id": "x", "timestamp": 3}'])
    write_lines(src / "2020/01/15/c.json", [hipages_line(f"c{i}", timestamp="15/01/2020 23:59:59") for i in range(3)])


# What spark-submit prints on stderr before a job's own lines when it resolves
# --packages (abridged from real runs: a download, and Ivy's problems summary), then a
# line of the JVM and a warning with its stack; and what the quiet console keeps of it
# (libs/clickstream/console.py).
IVY_REPORT = b"""Ivy Default Cache set to: /root/.ivy2.5.2/cache
The jars for the packages stored in: /root/.ivy2.5.2/jars
io.delta#delta-spark_4.2_2.13 added as a dependency
:: resolving dependencies :: org.apache.spark#spark-submit-parent-cdb2;1.0
\tconfs: [default]
\tfound io.delta#delta-spark_4.2_2.13;4.4.0 in spark-list
\tfound io.delta#delta-storage;4.4.0 in central
downloading https://repo1.maven.org/maven2/io/delta/delta-storage/4.4.0/delta-storage-4.4.0.jar ...
\t[SUCCESSFUL ] io.delta#delta-storage;4.4.0!delta-storage.jar (120ms)
:: resolution report :: resolve 512ms :: artifacts dl 29ms
\t:: modules in use:
\tio.delta#delta-spark_4.2_2.13;4.4.0 from spark-list in [default]
\t:: evicted modules:
\torg.slf4j#slf4j-api;1.7.36 by [org.slf4j#slf4j-api;2.0.13] in [default]
\t---------------------------------------------------------------------
\t|                  |            modules            ||   artifacts   |
\t|      default     |   37  |   0   |   0   |   4   ||   33  |   0   |
\t---------------------------------------------------------------------

:: problems summary ::
:::: ERRORS
\tunknown resolver null

:: retrieving :: org.apache.spark#spark-submit-parent-cdb2
\tconfs: [default]
\t0 artifacts copied, 33 already retrieved (0kB/65ms)
WARNING: Using incubator modules: jdk.incubator.vector
26/12/02 04:22:31 WARN SomeSparkClass: a warning the user should see
\tat a.stack.Frame(Frame.java:1)
"""
QUIET_REPORT = b"""downloading https://repo1.maven.org/maven2/io/delta/delta-storage/4.4.0/delta-storage-4.4.0.jar ...
:: problems summary ::
:::: ERRORS
\tunknown resolver null

26/12/02 04:22:31 WARN SomeSparkClass: a warning the user should see
\tat a.stack.Frame(Frame.java:1)
"""


def report_data(sources=("hipages", "impressions"), flagged_day: int | None = 20, days: int = 30):
    """A report's aggregates made by hand (clickstream.report.model), with every chart
    filled: two sources, hourly events with a quiet night gap, one run a day (none on
    the 25th), rejects of three reasons, sessions with conversion; `flagged_day`: that
    day of the first source drops to a tenth and is flagged."""
    import datetime as dt
    import math

    from clickstream.report import anomalies
    from clickstream.report.model import ReportData, Run, SessionDay, SourceReport

    first = dt.date(2017, 3, 1)
    last = first + dt.timedelta(days=days - 1)
    out = []
    for i, name in enumerate(sources):
        src = SourceReport(name)
        for d in range(days):
            day = first + dt.timedelta(days=d)
            scale = 0.1 if (i == 0 and d == flagged_day) else 1.0
            for h in range(24):
                if h in (3, 4) and d % 5 == 0:
                    continue  # a gap: hours without events
                src.hours[dt.datetime.combine(day, dt.time(h))] = round(scale * (100 + 60 * math.sin(h / 24 * 6.28)))
            src.daily_events[day] = sum(v for k, v in src.hours.items() if k.date() == day)
            if d != 24:
                src.runs.append(Run(f"{name}-{d}", dt.datetime.combine(day, dt.time(2, 5)), "succeeded",
                                    src.daily_events[day] + 30, src.daily_events[day], 20, 10))
                src.rejects_by_day[day] = {"bad_timestamp": 12, "missing_user_id": 6, "bad_url": 2}
                src.reject_rate[day] = 20 / (src.daily_events[day] + 30)
            src.sessions.append(SessionDay(day, 400 + d, 40 + d % 7, (40 + d % 7) / (400 + d), 95, 1310, 2400))
        src.activities = [("page_view", 52000), ("button_click", 21000), ("claim", 7000)]
        src.top_pages = [("hipages.com.au", 70000), ("w3.hipages.com.au", 9000), (None, 1000)]
        src.newest_event = dt.datetime.combine(last, dt.time(23, 41, 7))
        src.flags = anomalies.flag_series(name, "events", src.daily_events, list(src.daily_events), 20)
        out.append(src)
    return ReportData(warehouse="s3a://bucket/warehouse", first=first, last=last, run_first=first, run_last=last,
                      generated_at=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(2, 30)),
                      versions={"events": 31, "rejects": 30, "hourly_stats": 29, "sessions": None}, sources=out)
