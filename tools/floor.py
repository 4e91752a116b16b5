"""The floor: the least work a Spark + Delta job does with the input `events` and
`hourly_stats` read, so that `make bench` can say how far above it the pipeline runs.

    ./spark-submit.sh tools/floor.py --input DIR --warehouse DIR

One application, with the pipeline's Spark properties, driver memory and JVM flags
(spark-submit.sh gives it the same ones it gives every job):

1. read the text, one `from_json` with an explicit schema, `try_to_timestamp`, the
   host as url_level1, `repartition(event_date)`, a plain Delta append partitioned by
   event_date (no rejects, no dedup, no accounting, no report);
2. the hourly aggregate, `count` and `count_distinct(user_id)` per hour, url_level1 and
   activity, written to Delta.

It changes only to follow Spark's API: a floor that gets slower makes every ratio a lie.
"""
from __future__ import annotations

import argparse
import time

import pyspark.sql.functions as F
import pyspark.sql.types as T

from clickstream.config.spark_session import build_session

SCHEMA = T.StructType([
    T.StructField("event_id", T.StringType()),
    T.StructField("user", T.StructType([T.StructField("session_id", T.StringType()),
                                       T.StructField("id", T.StringType()),
                                       T.StructField("ip", T.StringType())])),
    T.StructField("action", T.StringType()),
    T.StructField("url", T.StringType()),
    T.StructField("timestamp", T.StringType()),
])


def main() -> None:
    parser = argparse.ArgumentParser(prog="floor")
    parser.add_argument("--input", required=True)
    parser.add_argument("--warehouse", required=True)
    args = parser.parse_args()
    spark = build_session("clickstream-floor")
    started = time.time()
    events = (
        spark.read.text(args.input)
        .select(F.from_json("value", SCHEMA).alias("e"))
        .select(
            F.col("e.event_id").alias("event_id"),
            F.col("e.user.id").alias("user_id"),
            F.col("e.action").alias("activity"),
            F.col("e.url").alias("url"),
            F.try_to_timestamp(F.col("e.timestamp"), F.lit("dd/MM/yyyy HH:mm:ss")).alias("time_stamp"),
            F.regexp_extract(F.col("e.url"), r"^[A-Za-z][A-Za-z0-9+.-]*://(?:www\.)?([^/?#:]*)", 1)
            .alias("url_level1"),
        )
        .withColumn("event_date", F.to_date("time_stamp"))
    )
    events_path = f"{args.warehouse}/events"
    (events.repartition("event_date").write.format("delta").mode("append").partitionBy("event_date")
     .save(events_path))
    loaded = time.time()
    hourly = (
        spark.read.format("delta").load(events_path)
        .groupBy(F.date_trunc("hour", "time_stamp").alias("time_bucket"), "url_level1", "activity")
        .agg(F.count(F.lit(1)).alias("activity_count"), F.count_distinct("user_id").alias("user_count"))
    )
    hourly.write.format("delta").mode("overwrite").save(f"{args.warehouse}/hourly_stats")
    print(f"floor events_s={loaded - started:.1f} hourly_stats_s={time.time() - loaded:.1f}", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
