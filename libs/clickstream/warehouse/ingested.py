"""Which files the events job read, how big and how old each was when it read them.

Spark's file-source stream takes a file the first time it lists it and never looks at
it again; its log keeps no file size. A file that a writer was still appending to when
it was taken keeps its late lines to itself. So each committed batch records, for
every file it read, the size and modification time Spark read it at (`_metadata`) and
the lines it counted, as one JSON-lines document:

    <warehouse>/_files/<source>/run-<run_id>[-b<batch_id>]-<recorded at>.jsonl

(the time in the name keeps a second run with the same run id from overwriting it)

A `--new-files-only` run compares the files it lists with the newest record of each,
and reports those whose size or modification time differ (`files_changed_after_ingest`).
A path-mode run (`events --input FILE`) records its files too: taking a changed file
again that way brings in its late lines (its old lines are duplicates) and ends the report.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import pyspark.sql.functions as F
import pyspark.sql.types as T
from pyspark.sql import DataFrame, SparkSession

from clickstream.config import schemas
from clickstream.config.errors import JobFailed
from clickstream.warehouse import fs, run_reports

RECORD_SCHEMA = T.StructType([
    T.StructField("path", T.StringType()),
    T.StructField("size", T.LongType()),
    T.StructField("modified", T.LongType()),  # ms since the epoch, as Hadoop's FileStatus gives it
    T.StructField("lines", T.LongType()),
    T.StructField("run_id", T.StringType()),
    T.StructField("batch_id", T.LongType()),
    T.StructField("recorded_at", T.StringType()),  # ISO 8601 UTC, which sorts as time
])


@dataclass(frozen=True)
class FileRead:
    """One file as a batch read it: lines counted, size and modification time read at."""
    lines: int
    size: int
    modified: int


def file_columns() -> list:
    """For a text read's select: the size and modification time Spark read each line's file at."""
    size, modified = schemas.READ_AT
    return [F.col("_metadata.file_size").alias(size),
            F.unix_millis(F.col("_metadata.file_modification_time")).alias(modified)]


BOM = "\ufeff".encode()


def reads_of(spark: SparkSession, summary: list) -> dict[str, FileRead]:
    """Lines per file as read, keyed by `source_file` (a URI), from the rows of
    `rules.events.file_summary` (one per file; a file without a line, 0 bytes, has none).

    JobFailed (one line) when a file's lines fall short of its size: the bytes of its
    lines plus at most two line-break bytes each (CR LF) and a UTF-8 byte-order mark
    (which Hadoop's line reader drops from a file's start) must reach the size the read
    saw, else some of its lines did not arrive. Not checked for a compressed file,
    whose size is not its text's; a file that grew while it was read has more bytes
    than its size, which the next `--new-files-only` run reports as changed."""
    packed = fs.compressed(spark, [r["source_file"] for r in summary])
    for r in summary:
        if r["source_file"] not in packed and r["size"] - r["bytes"] > 2 * r["lines"] + len(BOM):
            raise JobFailed(f"{r['source_file']}: {r['lines']} line(s) of {r['bytes']} byte(s) were read from a file "
                            f"of {r['size']} bytes: lines were lost on the way; nothing of this batch is committed")
    return {r["source_file"]: FileRead(r["lines"], r["size"], r["modified"]) for r in summary}


def ledger_path(warehouse: str, source: str) -> str:
    return fs.join(warehouse, "_files", source)


def record(spark: SparkSession, warehouse: str, source: str, run_id: str, batch_id: int | None,
           files: dict[str, FileRead]) -> None:
    """Write one batch's record; `files` keyed by path (as `fs.list_files` spells it)."""
    now = datetime.now(timezone.utc)
    at = now.isoformat(timespec="microseconds")
    text = "".join(json.dumps({"path": path, "size": read.size, "modified": read.modified, "lines": read.lines,
                               "run_id": run_id, "batch_id": batch_id, "recorded_at": at}, sort_keys=True) + "\n"
                   for path, read in sorted(files.items()))
    batch = "" if batch_id is None else f"-b{batch_id}"
    name = f"run-{run_id}{batch}-{now:%Y%m%dT%H%M%S%fZ}.jsonl"  # never hidden (_ or .)
    fs.write_text_atomic(spark, fs.join(ledger_path(warehouse, source), name), text)


def _records(spark: SparkSession, warehouse: str, source: str) -> DataFrame | None:
    """Every record of files read of the source, or None when there is none yet."""
    ledger = ledger_path(warehouse, source)
    if not fs.is_directory(spark, ledger):
        return None
    return spark.read.schema(RECORD_SCHEMA).json(fs.literal_path(ledger))


def files_of_unfinished_runs(spark: SparkSession, warehouse: str, source: str, run_id: str) -> list[str]:
    """The files recorded by the runs since the newest one that wrote its run report
    (the runs stopped after some of their batches committed), other than `run_id`,
    sorted: what a rerun's extract holds besides its own files."""
    records = _records(spark, warehouse, source)
    if records is None:
        return []
    unfinished = []
    # One row per run that recorded files, newest first; the walk stops at the first finished one.
    for row in records.groupBy("run_id").agg(F.max("recorded_at").alias("at")).orderBy(F.desc("at")).collect():
        if row["run_id"] == run_id:
            continue
        if run_reports.find(spark, warehouse, "events", row["run_id"]) is not None:
            break
        unfinished.append(row["run_id"])
    if not unfinished:
        return []
    return sorted(r["path"] for r in records.where(F.col("run_id").isin(unfinished)).select("path").distinct()
                  .collect())  # the stopped runs' files


def not_recorded(spark: SparkSession, warehouse: str, source: str, paths: list[str]) -> list[str]:
    """The `paths` that no record of files read names (the files not ingested yet), sorted."""
    records = _records(spark, warehouse, source) if paths else None
    if records is None:
        return sorted(paths)
    recorded = records.select("path")
    listed = spark.createDataFrame([(p,) for p in paths], "path string")
    return sorted(r["path"] for r in listed.join(recorded, "path", "left_anti").collect())  # the new files only


def changed_after_ingest(spark: SparkSession, warehouse: str, source: str,
                         listed: dict[str, tuple[int, int]]) -> list[str]:
    """The listed files (path -> (size, modified)) whose newest record says another size
    or modification time, sorted."""
    records = _records(spark, warehouse, source) if listed else None
    if records is None:
        return []
    recorded = (records.groupBy("path").agg(F.max_by(F.struct("size", "modified"), "recorded_at").alias("last")))
    now = spark.createDataFrame([(p, s, m) for p, (s, m) in listed.items()], "path string, size long, modified long")
    changed = (now.join(recorded, "path")
               .where((F.col("size") != F.col("last.size")) | (F.col("modified") != F.col("last.modified")))
               .select("path").collect())  # one row per changed file
    return sorted(r["path"] for r in changed)
