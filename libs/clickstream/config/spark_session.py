"""SparkSession settings every clickstream job relies on.

The master is never set here: it comes from `spark-submit` (`local[*]` by the
wrapper, `spark://` or YARN on a cluster).
"""
from __future__ import annotations

from pyspark.sql import SparkSession

SESSION_CONF = {
    # Every timestamp is stored and bucketed in UTC, whatever the machine's zone.
    "spark.sql.session.timeZone": "UTC",
    # Delta Lake tables by path, no metastore.
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # Spark 3.5's default (EXCEPTION) makes even try_to_timestamp throw on some
    # inputs; CORRECTED is the default on Spark 4.
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
}


def build_session(app_name: str, extra_conf: dict | None = None) -> SparkSession:
    """Get or create the session with clickstream's settings."""
    builder = SparkSession.builder.appName(app_name)
    for key, value in {**SESSION_CONF, **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
