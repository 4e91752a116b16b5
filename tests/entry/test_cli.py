"""A job through its real entry point, `./spark-submit.sh`, as a subprocess: what only
a process shows. The driver's exit code passed on by spark-submit (0, and 2 for a
failure found after the JVM started), one summary line or one error line on the
output spark-submit merges, no traceback; and a warehouse the job may not write, with
the job run as a process without root's capabilities (so that file modes bind it). Every job's exit codes and lines are tested
in process through its own main (tests/runs, helpers.run_job), and its argument
checks before the JVM in tests/unit and tests/entry/test_wrapper.py."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import error_lines
from helpers import hipages_line as L
from helpers import ROOT, SUBMIT_OPTS, read_report, run_events, state, table_rows, write_lines


SALT = "entry-s3cr3t-pepper"
APP_EVENTS = ROOT / "data" / "feeds" / "app_events"  # a feed with a PII field, which the salt hashes


# Tests run as root, and root writes where file modes say no (CAP_DAC_OVERRIDE). Run
# without every capability, a root process is an unprivileged user to any file it does
# not own: the read-only warehouse below belongs to `nobody` and has no write bit.
UNPRIVILEGED = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"] if os.geteuid() == 0 else []


def start(*args, env: dict | None = None, prefix: list[str] = ()) -> subprocess.Popen:
    env = {**os.environ, "CLICKSTREAM_PYTHON": sys.executable, **(env or {})}
    return subprocess.Popen([*prefix, "./spark-submit.sh", *SUBMIT_OPTS, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def runs(spark, hipages_profile, tmp_path_factory):
    """Two JVMs at once: a salted run of a feed with PII that writes Spark's event log and
    registers its tables in a Hive metastore, and a run into a warehouse it may not
    write; then a second application on the same metastore."""
    base = tmp_path_factory.mktemp("cli")
    a = write_lines(base / "in" / "a.json", [L("a1")])
    readonly = base / "wh-ro"
    run_events(spark, hipages_profile, write_lines(base / "in-ro" / "x.json", [L("x1")]), readonly, "before")
    before = state(spark, readonly)
    subprocess.run(["chown", "-R", "nobody", str(readonly)], check=True)
    subprocess.run(["chmod", "-R", "a-w", str(readonly)], check=True)
    refused = start("events", "--input", str(a), "--warehouse", str(readonly), "--run-id", "ro",
                    "--max-reject-rate", "0.5", prefix=UNPRIVILEGED)
    (base / "event-log").mkdir()
    ok = start(*hive(base), "--conf", "spark.eventLog.enabled=true", "--conf", f"spark.eventLog.dir=file:{base}/event-log",
               "--conf", "spark.eventLog.compress=false",  # plain text, so that a search would find the salt
               "events", "--source", "app_events", "--input", str(APP_EVENTS), "--warehouse", str(base / "wh"),
               "--run-id", "a", "--max-reject-rate", "0.9", env={"CLICKSTREAM_PII_SALT": SALT})
    procs = {"a": finish(ok), "before": before}
    # A second application on the same metastore, while the refused run finishes: the names the first registered are there.
    register = start(*hive(base), "maintain", "--warehouse", str(base / "wh"), "--no-optimize", "--no-vacuum",
                     "--register", "cli", "--run-id", "reg")
    procs.update(ro=finish(refused), register=finish(register))
    return base, procs


def hive(base) -> list[str]:
    """Spark's own Hive metastore (embedded Derby) in `base`, and the database the jobs register their tables in."""
    return ["--conf", "spark.sql.catalogImplementation=hive",
            "--conf", f"spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName={base}/metastore_db;"
                      "create=true",
            "--conf", f"spark.sql.warehouse.dir={base}/spark-warehouse", "--conf", "spark.clickstream.catalog.database=cli"]


def test_a_run_exits_0_with_one_summary_line_and_its_report(spark, runs):
    base, procs = runs
    assert procs["a"].returncode == 0, procs["a"].stderr[-3000:]
    summary = [line for line in procs["a"].stdout.splitlines() if line.startswith("events ")]
    assert len(summary) == 1 and "records=11 events_written=6 rejected=4 (bad_timestamp=1,bad_url=1," \
        "malformed_json=1,missing_user_id=1) duplicates=1 blank_lines=0 partitions_written=1" in summary[0], summary
    report = read_report(base / "wh", "a")
    assert report["records"] == report["events_written"] + report["rejected_total"] + report["duplicates"] == 11
    assert report["partitions_written"] == ["2020-01-13"]
    assert len(table_rows(spark, base / "wh", "events", "event_id", "run_id")) == 6
    assert "Traceback" not in procs["a"].stdout + procs["a"].stderr
    # Its tables by name in the Hive metastore, which the next application finds there.
    assert report["catalog"] == {"database": "cli", "registered": ["events", "rejects"], "present": []}
    assert "catalog: registered cli.events, cli.rejects" in procs["a"].stdout
    assert procs["register"].returncode == 0, procs["register"].stderr[-3000:]
    assert read_report(base / "wh", "reg")["catalog"] == {"database": "cli", "registered": [],
                                                          "present": ["events", "rejects"]}
    assert (base / "metastore_db").is_dir()


def test_a_warehouse_the_job_may_not_write_is_one_line_exit_1_and_no_commit(spark, runs):
    base, procs = runs
    proc = procs["ro"]
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    [line] = error_lines(proc)
    assert line.startswith("events: error: the storage refused: ") and "Permission denied" in line, line
    assert line.endswith("(a Delta commit is all or nothing: no table holds half of one; run again once the "
                         "storage takes writes)")
    assert "Traceback" not in proc.stdout + proc.stderr
    assert state(spark, base / "wh-ro") == procs["before"]
    assert sorted(p.name for p in (base / "wh-ro" / "_runs").glob("*.json")) == ["before.events.json"]


def test_the_pii_salt_is_not_in_the_event_log(runs):
    """Spark's event log holds every plan and every job's properties: never the salt."""
    base, procs = runs
    assert procs["a"].returncode == 0, procs["a"].stderr[-3000:]
    logs = [p for p in (base / "event-log").rglob("*") if p.is_file() and not p.name.startswith(".")]
    text = "".join(p.read_text(errors="replace") for p in logs)  # Spark 4 rolls it into a folder of files
    assert logs and "SparkListenerSQLExecutionStart" in text and "physicalPlanDescription" in text
    assert SALT not in text
