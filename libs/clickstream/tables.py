"""The warehouse's Delta tables: locations, schemas, and the writes that commit to them."""
from __future__ import annotations

import json
from contextlib import contextmanager

import pyspark.sql.types as T
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from clickstream import fs

EVENTS_SCHEMA = T.StructType([
    T.StructField("event_id", T.StringType(), False),
    T.StructField("user_id", T.StringType(), False),
    T.StructField("session_id", T.StringType(), True),
    T.StructField("time_stamp", T.TimestampType(), False),
    T.StructField("url_level1", T.StringType(), True),
    T.StructField("url_level2", T.StringType(), True),
    T.StructField("url_level3", T.StringType(), True),
    T.StructField("activity", T.StringType(), False),
    T.StructField("url", T.StringType(), True),
    T.StructField("ip", T.StringType(), True),
    T.StructField("source_file", T.StringType(), False),
    T.StructField("run_id", T.StringType(), False),
    T.StructField("event_date", T.DateType(), False),
])
EVENTS_COLUMNS = EVENTS_SCHEMA.fieldNames()

REJECTS_SCHEMA = T.StructType([
    T.StructField("raw", T.StringType(), True),
    T.StructField("reason", T.StringType(), False),
    T.StructField("source_file", T.StringType(), False),
    T.StructField("run_id", T.StringType(), False),
])
REJECTS_COLUMNS = REJECTS_SCHEMA.fieldNames()

_REPORTED_METRICS = ("numSourceRows", "numTargetRowsInserted", "numTargetFilesAdded", "executionTimeMs")
_USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


def table_path(warehouse: str, name: str) -> str:
    return fs.join(warehouse, name)


def ensure_table(spark: SparkSession, path: str, schema: T.StructType, partition_by=()) -> DeltaTable:
    """Create the Delta table at `path` when it does not exist yet."""
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    return builder.execute()


@contextmanager
def commit_metadata(spark: SparkSession, **fields):
    """Tag the Delta commits made inside the block (`DESCRIBE HISTORY` shows it as
    userMetadata), so a table's history leads back to the run report."""
    spark.conf.set(_USER_METADATA, json.dumps(fields, sort_keys=True))
    try:
        yield
    finally:
        spark.conf.unset(_USER_METADATA)


def read_version(spark: SparkSession, path: str, version: int) -> DataFrame:
    """The table as of one version (Delta time travel)."""
    return spark.read.format("delta").option("versionAsOf", version).load(path)


def last_commit(table: DeltaTable) -> dict:
    """Version, operation and metrics of the table's newest commit."""
    row = table.history(1).select("version", "operation", "operationMetrics").first()
    metrics = {k: v for k, v in (row["operationMetrics"] or {}).items() if k in _REPORTED_METRICS}
    return {"version": row["version"], "operation": row["operation"], "metrics": metrics}


def merge_new_events(spark: SparkSession, path: str, new_events: DataFrame, key: str = "event_id") -> dict:
    """Insert the events whose key the table lacks, in one MERGE commit; return that commit."""
    table = DeltaTable.forPath(spark, path)
    (
        table.alias("t")
        .merge(new_events.alias("s"), f"t.{key} = s.{key}")
        .whenNotMatchedInsertAll()
        .execute()
    )
    return last_commit(table)


def sql_string(value: str) -> str:
    """A Spark SQL string literal: "it's" -> 'it\\'s'."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def replace_rejects(path: str, rejects: DataFrame, source_files: list[str]) -> None:
    """Replace every earlier reject of these source files with `rejects`, in one commit."""
    predicate = f"source_file IN ({', '.join(sql_string(f) for f in source_files)})"
    (
        rejects.select(*REJECTS_COLUMNS)
        .write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", predicate)
        .save(path)
    )
