"""Which dates an export republishes, from the commits of the Delta table: the
partition values under the key the table's own metadata gives (the physical name,
with column mapping), and every date when the table cannot tell."""
from __future__ import annotations

import datetime as dt

from clickstream.runs import export

D = dt.date


def test_changed_dates_read_the_physical_partition_key_of_a_column_mapped_table(spark, tmp_path):
    path = f"file:{tmp_path}/mapped"
    spark.sql(f"CREATE TABLE delta.`{path}` (event_date DATE, n INT) USING DELTA PARTITIONED BY (event_date) "
              "TBLPROPERTIES ('delta.columnMapping.mode' = 'name', 'delta.minReaderVersion' = '2', "
              "'delta.minWriterVersion' = '5')")
    for day in (D(2017, 2, 2), D(2017, 2, 3)):  # versions 1 and 2
        spark.createDataFrame([(day, 1)], "event_date date, n int").write.format("delta").mode("append").save(path)
    key = export.partition_key(spark, path, "event_date")
    assert key.startswith("col-")  # the physical name, not the column's
    assert export.changed_dates(spark, path, "event_date", 1, 2) == ["2017-02-02", "2017-02-03"]
    assert export.changed_dates(spark, path, "event_date", 2, 2) == ["2017-02-03"]


def test_a_table_not_partitioned_by_the_date_means_every_date(spark, tmp_path, caplog):
    path = f"file:{tmp_path}/flat"
    spark.createDataFrame([(D(2017, 2, 2), 1)], "event_date date, n int").write.format("delta").save(path)
    spark.createDataFrame([(D(2017, 2, 3), 1)], "event_date date, n int").write.format("delta").mode("append") \
        .save(path)
    assert export.partition_key(spark, path, "event_date") is None
    assert export.changed_dates(spark, path, "event_date", 1, 1) is None
    assert f"{path} is not partitioned by event_date as far as its metadata tells: publishing every date" \
        in caplog.text
