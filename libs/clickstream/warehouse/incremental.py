"""Only new files, exactly once: Spark's file-source stream does the bookkeeping.

A stream over the input root with `Trigger.AvailableNow` takes every file its
checkpoint has not seen, in one or more micro-batches, and stops. Spark records a
batch's files in the checkpoint's offset and source logs before the batch runs, and
marks the batch done (the commit log) only after `foreachBatch` returns: a run killed
in between replays the same batch, with the same files, on its next start. Each
batch's events commit carries Delta's idempotent-write tag (a SetTransaction: app id = the
query's id, which the checkpoint keeps; version = the batch id), so a replayed batch
commits once.

There is one checkpoint per source profile and input root, under
`<warehouse>/_checkpoints/`. Deleting it makes the next run read every file again;
the classification then finds every event already stored (no duplicates), and the
rejects of those files are replaced.
"""
from __future__ import annotations

import hashlib
import json
import threading
from typing import Callable

import pyspark.sql.functions as F
from pyspark.sql import DataFrame, SparkSession

from clickstream.warehouse import fs, ingested
from clickstream.config.errors import JobFailed

# The file source skips files older than maxFileAge (default 7 days) relative to the
# newest file it has seen. A late file must be taken whatever its modification time.
NEVER_TOO_OLD = "365000d"


# What Spark says when two queries write one checkpoint's logs at the same time.
_CONCURRENT_QUERY = ("Concurrent update to the log", "Multiple streaming queries are concurrently using",
                     "CONCURRENT_QUERY", "Multiple streaming jobs detected")


def checkpoint_path(warehouse: str, source: str, root: str) -> str:
    digest = hashlib.sha256(root.encode("utf-8")).hexdigest()[:16]
    return fs.join(warehouse, "_checkpoints", f"events-{source}-{digest}")


def new_file_stream(spark: SparkSession, root: str, max_files_per_batch: int | None = None) -> DataFrame:
    """Lines of the files under `root` (recursively), with their file."""
    reader = (
        spark.readStream.format("text")
        .option("recursiveFileLookup", "true")  # no partition columns from dt=... directories
        .option("maxFileAge", NEVER_TOO_OLD)
        # A planned file deleted before its batch reads it is not read (and not an error
        # in the middle of Spark's planning): the events job finds it gone and says so.
        .option("ignoreMissingFiles", "true")
    )
    if max_files_per_batch:
        reader = reader.option("maxFilesPerTrigger", str(max_files_per_batch))
    # The root is a name, not a glob: 'in[1]' is that directory (escaped, Hadoop's glob
    # matches only it).
    return reader.load(fs.literal_path(root)).select(
        "value", F.col("_metadata.file_path").alias("source_file"),
        F.col("_metadata.file_block_start").alias("block_start"), *ingested.file_columns())


def batch_files(spark: SparkSession, checkpoint: str, batch_id: int) -> dict[str, int]:
    """The files Spark's file-source log gave one batch (`sources/0/<id>`, or the
    `<id>.compact` file that holds every entry up to it), each with the modification
    time (ms) Spark listed it at when it planned the batch, sorted by path."""
    base = fs.join(checkpoint, "sources", "0")
    for name in (str(batch_id), f"{batch_id}.compact"):
        text = fs.read_text(spark, fs.join(base, name))
        if text is not None:
            entries = [json.loads(line) for line in text.splitlines()[1:] if line.strip()]
            # The log holds URIs ('%20' for a space); the run works with paths.
            return dict(sorted((fs.from_uri(spark, e["path"]), int(e["timestamp"]))
                               for e in entries if e.get("batchId") == batch_id))
    raise RuntimeError(f"the file-source log in {base} has no entry for batch {batch_id}")


def run_available_now(stream: DataFrame, checkpoint: str,
                      handle_batch: Callable[[DataFrame, int, str], None]) -> None:
    """Run `stream` over what is there now, calling `handle_batch(lines, batch_id,
    txn_app_id)` for each micro-batch; re-raise a batch's own error if one fails."""
    ready, state = threading.Event(), {}

    def on_batch(batch: DataFrame, batch_id: int) -> None:
        ready.wait()
        try:
            handle_batch(batch, batch_id, state["app_id"])
        except BaseException as err:
            state.setdefault("error", err)
            raise

    query = (
        stream.writeStream.foreachBatch(on_batch)
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    state["app_id"] = f"clickstream-{query.id}"
    ready.set()
    try:
        query.awaitTermination()
    except Exception as err:
        if "error" in state:
            raise state["error"] from None
        if any(sign in str(err) for sign in _CONCURRENT_QUERY):
            raise JobFailed(f"another run is using the checkpoint {checkpoint}: run again when it is done") from None
        raise
