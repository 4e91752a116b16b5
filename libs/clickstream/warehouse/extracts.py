"""The challenge's CSV extracts: one file, a header, RFC 4180 quoting, rows sorted by
every column left to right, timestamps as `yyyy-MM-dd HH:mm:ss` UTC, NULL as an empty
field. The Delta tables stay the source of truth."""
from __future__ import annotations

import pyspark.sql.functions as F
import pyspark.sql.types as T
from pyspark.sql import DataFrame, SparkSession

from clickstream.warehouse import fs

USER_WEB_HITS = ["user_id", "time_stamp", "url_level1", "url_level2", "url_level3", "activity"]


def for_csv(df: DataFrame) -> DataFrame:
    """Timestamps as 'yyyy-MM-dd HH:mm:ss' text; other columns unchanged."""
    return df.select(*[
        F.date_format(F.col(f.name), "yyyy-MM-dd HH:mm:ss").alias(f.name)
        if isinstance(f.dataType, T.TimestampType) else F.col(f.name)
        for f in df.schema.fields
    ])


def write_csv(spark: SparkSession, df: DataFrame, path: str) -> str:
    """Write `df` as the single CSV file `path`, sorted by all its columns."""
    # Timestamp text sorts like the timestamp; one partition gives one ordered file.
    ordered = for_csv(df).repartition(1).sortWithinPartitions(*df.columns)
    tmp_dir = f"{path}._tmp"
    (
        ordered.write.mode("overwrite")
        .option("header", "true")
        .option("quote", '"')
        .option("escape", '"')  # RFC 4180: a quote inside a quoted field is doubled
        .option("nullValue", "")
        .option("emptyValue", '""')
        .option("lineSep", "\n")
        .csv(tmp_dir)
    )
    fs.move_single_part(spark, tmp_dir, path, suffix=".csv")
    return path
