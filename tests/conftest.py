"""One SparkSession for the whole suite, tuned for a 2-core machine (see ../shared/STYLE.md)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data" / "hipages"
CONF_DIR = ROOT / "conf"


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    from clickstream.packages import POSTGRESQL_JDBC, jvm_packages
    from clickstream.session import SESSION_CONF

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master("local[1]")
        .appName("clickstream-tests")
        .config("spark.jars.packages", ",".join([*jvm_packages(), POSTGRESQL_JDBC]))
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.databricks.delta.snapshotPartitions", "1")
        # As conf/spark/*.properties set it: the jobs' overwrites must not depend on it.
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .config("spark.driver.extraJavaOptions", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Duser.timezone=UTC")
    )
    for key, value in SESSION_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def hipages_profile():
    from clickstream.profile import load_profile

    return load_profile(CONF_DIR, "hipages")
