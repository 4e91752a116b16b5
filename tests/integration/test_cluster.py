"""The pipeline job (its events step) on a real Spark standalone cluster (master +
worker on 127.0.0.1), through ./spark-submit.sh in client mode, with a Python that can
import clickstream only from the shipped zip; the tables must equal a local-mode run's.

One application is enough: the jobs run no Python on the executors (column
expressions only), so what a cluster adds is the driver's zip and the executors' JVM
work, and the events step has both (its MERGE, rejects and report)."""

from __future__ import annotations

import subprocess

from helpers import ROOT, TEST_ONLY_SUBMIT_CONF, read_report, run_events, state, submit_ok
from servers import isolated_python


SAMPLE = ROOT / "data" / "sample"

FAST_JVM = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"


def test_events_on_a_standalone_cluster(spark, hipages_profile, spark_master, tmp_path):
    python = isolated_python(tmp_path)
    probe = subprocess.run([str(python), "-c", "import clickstream"], capture_output=True, text=True)
    assert probe.returncode == 1 and "No module named 'clickstream'" in probe.stderr

    cluster_wh, local_wh = tmp_path / "cluster-wh", tmp_path / "local-wh"
    master, work = spark_master

    def submit(*args):
        submit_ok("--env", "cluster", "--master", master,
                  "--conf", f"spark.pyspark.python={python}", "--conf", "spark.executor.memory=1g",
                  "--conf", "spark.sql.shuffle.partitions=2",
                  "--conf", "spark.databricks.delta.snapshotPartitions=1",
                  "--conf", "spark.ui.enabled=false",
                  *TEST_ONLY_SUBMIT_CONF,
                  # test-only: fast-start JVMs for the executors, as for the driver
                  "--conf", f"spark.executor.extraJavaOptions={FAST_JVM}", "--driver-java-options", FAST_JVM,
                  *args, python=python)

    submit("pipeline", "--input", str(SAMPLE), "--warehouse", str(cluster_wh), "--run-id", "c",
           "--steps", "events", "--max-reject-rate", "1")
    # It really ran on the cluster: the job had an executor JVM on the worker, which ran its tasks.
    executors = sorted((work / "worker").glob("app-*/*/stderr"))
    assert len(executors) == 1, executors
    for log in executors:
        assert "Finished task" in log.read_text(errors="replace")

    run_events(spark, hipages_profile, SAMPLE, local_wh, "l-events")
    assert state(spark, cluster_wh) == state(spark, local_wh)
    assert (len(state(spark, cluster_wh)["events"]), len(state(spark, cluster_wh)["rejects"])) == (13, 14)
    assert [s["step"] for s in read_report(cluster_wh, "c")["steps"]] == ["events"]
    cluster, local = read_report(cluster_wh, "c-events"), read_report(local_wh, "l-events")
    keys = ("records", "events_written", "rejected", "duplicates", "blank_lines")
    assert [cluster[k] for k in keys] == [local[k] for k in keys]
    assert [cluster[k] for k in keys[:2]] == [28, 13] and sum(cluster["rejected"].values()) == 14
