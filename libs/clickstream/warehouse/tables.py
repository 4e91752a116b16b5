"""The warehouse's Delta tables: locations, and the writes that commit to them (their
schemas are in `clickstream.config.schemas`)."""
from __future__ import annotations

import json
import logging
import random
import time
import uuid
from contextlib import contextmanager
from typing import Callable, TypeVar

import pyspark.sql.types as T
from delta.exceptions import (
    ConcurrentAppendException,
    ConcurrentDeleteDeleteException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    DeltaConcurrentModificationException,
    MetadataChangedException,
    ProtocolChangedException,
)
from delta.tables import DeltaTable
from py4j.protocol import Py4JError, Py4JJavaError
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

from clickstream.config import faults
from clickstream.config.errors import JobFailed
from clickstream.config.schemas import REJECTS_COLUMNS, REJECTS_SCHEMA
from clickstream.warehouse import fs, run_reports
from clickstream.warehouse.scope import Scope, sql_string

Result = TypeVar("Result")

# The source of events written before the table had a `source` column and no run report says.
LEGACY_SOURCE = "hipages"

_REPORTED_METRICS = ("numOutputRows", "numFiles", "numSourceRows", "numTargetRowsInserted", "numTargetFilesAdded",
                     "executionTimeMs")
_USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
# The events and hourly tables keep a change data feed: `hourly_stats` and `sessions`
# find the days that changed since their last run in the events table's, `rollup` in
# the hourly table's.
CHANGE_FEED = {"delta.enableChangeDataFeed": "true"}
# The events table's file statistics (min/max/null count per Parquet file, which Delta
# writes for each column it names) cover the columns its readers filter on: `source`
# and `event_id` (each run's dedup reads, by key range), `time_stamp` (analysts' time
# ranges) and `source_file` (a rerun's extract); `event_date` is the partition. Leaving
# out the rest (the URL, IP, properties, levels, ids) makes the events write cheaper:
# 5.8 s against 6.9 s for 1M new events (docs/performance.md).
EVENTS_STATS_COLUMNS = ("source", "event_id", "time_stamp", "source_file")
EVENTS_STATS = {"delta.dataSkippingStatsColumns": ",".join(EVENTS_STATS_COLUMNS)}


def table_path(warehouse: str, name: str) -> str:
    return fs.join(warehouse, name)


SETTLE_ATTEMPTS = 5


def settled(change: Callable[[], Result], attempts: int = SETTLE_ATTEMPTS) -> Result:
    """`change()`, a change to a table's definition (create it, add columns, set a
    property), tried again after a short wait when another run changes the same table
    at the same moment: Delta's conflicts, and the AnalysisException of a table another
    run is creating (its `_delta_log` exists before its first commit: "not empty and
    not a Delta table"). Once the other commit lands, the next try finds the table."""
    for attempt in range(1, attempts + 1):
        try:
            return change()
        except CONFLICTS + (AnalysisException,):
            if attempt == attempts:
                raise
            _sleep(attempt * (0.5 + random.random()))
    raise AssertionError("unreachable")


def ensure_table(spark: SparkSession, path: str, schema: T.StructType, partition_by=(),
                 properties: dict[str, str] | None = None, add_columns: bool = False,
                 attempts: int = SETTLE_ATTEMPTS, defaults: dict[str, str] | None = None) -> DeltaTable:
    """Create the Delta table at `path` when it does not exist yet; give an existing
    table the `properties` it lacks and, with `add_columns`, the nullable columns of
    `schema` it lacks (one ALTER commit each, once: a migration for tables an older
    version made, where NULL is the right value for the old rows). `defaults`: properties
    a new table gets, and an existing one only when it has none (a user's own value
    stays). `settled`: two runs that make the same new table at once both go on."""
    return settled(lambda: _ensure_table(spark, path, schema, partition_by, properties, add_columns, defaults),
                   attempts)


def _ensure_table(spark: SparkSession, path: str, schema: T.StructType, partition_by,
                  properties: dict[str, str] | None, add_columns: bool,
                  defaults: dict[str, str] | None = None) -> DeltaTable:
    if DeltaTable.isDeltaTable(spark, path):
        table = DeltaTable.forPath(spark, path)
        have = set(table.toDF().columns)
        added = [f for f in schema.fields if f.name not in have and f.nullable] if add_columns else []
        if added:
            columns = ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in added)
            spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({columns})")
        current = (table.detail().first()["properties"] or {}) if properties or defaults else {}  # a Spark job
        missing = {**{k: v for k, v in (defaults or {}).items() if k not in current},
                   **{k: v for k, v in (properties or {}).items() if current.get(k) != v}}
        if missing:
            assignments = ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in sorted(missing.items()))
            spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({assignments})")
        return table
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    for key, value in {**(defaults or {}), **(properties or {})}.items():
        builder = builder.property(key, value)
    return builder.execute()


# Set on a rejects table whose `raw` holds only valid UTF-8 (one made or repaired by
# `ensure_rejects`). Before it, a bad_encoding reject kept its invalid bytes in `raw`.
RAW_UTF8_PROPERTY = "clickstream.rejectsRawValidUtf8"


def ensure_rejects(spark: SparkSession, path: str, attempts: int = SETTLE_ATTEMPTS) -> None:
    """The rejects table, created, or brought up to REJECTS_SCHEMA: the columns an older
    version lacked (`raw_bytes`, `raw_binary`; one ALTER commit) and, once, a repair of
    `raw` (one UPDATE of the files that hold a reject with invalid UTF-8 in `raw`: its
    bytes move to `raw_binary`, `raw` gets U+FFFD in their place), then the property
    that says it is done. A run killed in between repeats the repair, which finds
    nothing left to change. `settled` as a whole (its steps do not retry on their own)."""
    settled(lambda: _ensure_rejects(spark, path), attempts)


def _ensure_rejects(spark: SparkSession, path: str) -> None:
    if not DeltaTable.isDeltaTable(spark, path):
        _ensure_table(spark, path, REJECTS_SCHEMA, (), {RAW_UTF8_PROPERTY: "true"}, False)
        return
    table = _ensure_table(spark, path, REJECTS_SCHEMA, (), None, True)
    if (table.detail().first()["properties"] or {}).get(RAW_UTF8_PROPERTY) == "true":
        return
    # Spark 3.5 has no is_valid_utf8: invalid bytes are those that differ from the UTF-8
    # encoding of their decoding (see rules.events.is_valid_utf8).
    table.update("raw IS NOT NULL AND CAST(raw AS BINARY) != encode(raw, 'UTF-8')", {
        "raw_binary": "CAST(raw AS BINARY)",
        "raw": "CAST(encode(raw, 'UTF-8') AS STRING)",
    })
    _pin_property(spark, path, RAW_UTF8_PROPERTY, "true")


def pin_property(spark: SparkSession, path: str, key: str, value: str) -> str | None:
    """Give the table the property `key` = `value` when it has none (one ALTER commit);
    return the value it holds when that differs, else None. Two runs that pin it at
    once: the second's ALTER conflicts, and its next try reads what the first pinned."""
    return settled(lambda: _pin_property(spark, path, key, value))


def _pin_property(spark: SparkSession, path: str, key: str, value: str) -> str | None:
    held = (DeltaTable.forPath(spark, path).detail().first()["properties"] or {}).get(key)
    if held is None:
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({sql_string(key)} = {sql_string(value)})")
        return None
    return held if held != value else None


def migrate_events(spark: SparkSession, path: str, warehouse: str, attempts: int = SETTLE_ATTEMPTS) -> None:
    """Bring an events table written before feeds had names up to EVENTS_SCHEMA: add
    `source` and `properties` (one ALTER commit), then give the old rows the source
    their run report names (one UPDATE commit; 'hipages', the old default, for a run
    without a report). A run killed between the two finishes it. No table: nothing to do."""
    settled(lambda: _migrate_events(spark, path, warehouse), attempts)


def _migrate_events(spark: SparkSession, path: str, warehouse: str) -> None:
    if not DeltaTable.isDeltaTable(spark, path):
        return  # nothing to migrate: the table is made new, with EVENTS_SCHEMA
    table = DeltaTable.forPath(spark, path)
    if "source" not in table.toDF().columns:
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS (source STRING, properties MAP<STRING, STRING>)")
    unnamed = spark.read.format("delta").load(path).where("source IS NULL")
    if not unnamed.limit(1).count():
        return
    sources = {}
    for row in unnamed.select("run_id").distinct().collect():  # one row per old run
        report = run_reports.find(spark, warehouse, "events", row["run_id"]) or {}
        sources[row["run_id"]] = report.get("source") or LEGACY_SOURCE
    cases = " ".join(f"WHEN {sql_string(r)} THEN {sql_string(s)}" for r, s in sorted(sources.items()))
    table.update("source IS NULL", {
        "source": f"CASE run_id {cases} ELSE {sql_string(LEGACY_SOURCE)} END",
        "properties": "map()",
    })


def current_version(spark: SparkSession, path: str) -> int:
    return DeltaTable.forPath(spark, path).history(1).first()["version"]


@contextmanager
def commit_metadata(spark: SparkSession, **fields):
    """Tag the Delta commits made inside the block (`DESCRIBE HISTORY` shows it as
    userMetadata), so a table's history leads back to the run report."""
    spark.conf.set(_USER_METADATA, metadata_text(fields))
    try:
        yield
    finally:
        spark.conf.unset(_USER_METADATA)


def metadata_text(fields: dict) -> str:
    """A commit's userMetadata as this project writes it (`user_metadata` reads it back)."""
    return json.dumps(fields, sort_keys=True)


def user_metadata(value: str | None) -> dict:
    """A commit's userMetadata as written by `commit_metadata`; {} for anything else."""
    try:
        data = json.loads(value) if value else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def metadata_newest_first(spark: SparkSession, path: str):
    """The userMetadata of the table's commits (as `user_metadata` reads it), newest
    first; nothing when there is no table."""
    if not DeltaTable.isDeltaTable(spark, path):
        return
    for row in DeltaTable.forPath(spark, path).history().orderBy("version", ascending=False).collect():
        yield user_metadata(row["userMetadata"])


def read_version(spark: SparkSession, path: str, version: int) -> DataFrame:
    """The table as of one version (Delta time travel)."""
    return spark.read.format("delta").option("versionAsOf", version).load(path)


def _commit(row) -> dict:
    metrics = {k: v for k, v in (row["operationMetrics"] or {}).items() if k in _REPORTED_METRICS}
    return {"version": row["version"], "operation": row["operation"], "metrics": metrics}


def last_commit(table: DeltaTable) -> dict:
    """Version, operation and metrics of the table's newest commit."""
    return _commit(table.history(1).first())


@contextmanager
def one_commit(spark: SparkSession):
    """Add a one-off `commit_id` to the userMetadata of the commit made inside the
    block, and yield it: `commit_tagged` then finds that commit in the history, whatever
    other writers committed before or after it, without reading the version first."""
    previous = spark.conf.get(_USER_METADATA, None)
    commit_id = uuid.uuid4().hex
    spark.conf.set(_USER_METADATA, metadata_text({**user_metadata(previous), "commit_id": commit_id}))
    try:
        yield commit_id
    finally:
        if previous is None:
            spark.conf.unset(_USER_METADATA)
        else:
            spark.conf.set(_USER_METADATA, previous)


def commit_tagged(table: DeltaTable, commit_id: str) -> dict | None:
    """The commit whose userMetadata carries `commit_id`, among the newest (the last 5,
    then the last 100 when other writers were busy), or None when there is none (Delta
    made no commit: nothing to write)."""
    row = _newest_commit(table, lambda r: user_metadata(r["userMetadata"]).get("commit_id") == commit_id)
    return _commit(row) if row else None


def _newest_commit(table: DeltaTable, matches: Callable):
    """The newest history row that `matches`, among the last 5, then the last 100 when
    other writers were busy; None when there is none."""
    for depth in (5, 100):
        for row in table.history(depth).collect():
            if matches(row):
                return row
    return None


class TableMoved(Exception):
    """A table got a commit after a batch was classified against it."""


def append_classified(spark: SparkSession, path: str, rows: DataFrame, read_version: int, metadata: dict,
                      txn: tuple[str, int] | None = None, partition: str = "event_date") -> dict | None:
    """Append `rows`, which were classified against the table at `read_version`, in one
    commit that lands only if no other writer committed after that version; return that
    commit, or None when the table already holds `txn`, (app id, version): Delta's
    idempotent-write tag (SetTransaction), which the commit carries, so that a replayed
    stream batch commits once.

    One optimistic transaction through Delta's JVM API: its snapshot must be
    `read_version` (else TableMoved, before anything is written), and it declares that
    it read the whole table, so a data commit that lands after `read_version` and
    before this one fails it with ConcurrentAppendException (Delta's conflict check;
    a blind append, which no job here makes, would not). The classification was exact
    at `read_version`, so nothing else needs comparing: unlike a MERGE, the commit
    reads none of the stored keys, whatever the size of the table. The rows are
    shuffled by `partition` first: one file per partition value, as the MERGE wrote."""
    jvm = spark._jvm
    delta = jvm.org.apache.spark.sql.delta
    # Delta's transaction reads its settings from the thread's active session: this one.
    jvm.org.apache.spark.sql.SparkSession.setActiveSession(spark._jsparkSession)
    transaction = delta.DeltaLog.forTable(spark._jsparkSession, path).startTransaction()
    at = transaction.snapshot().version()
    if at != read_version:
        raise TableMoved(f"{path.rstrip('/').rsplit('/', 1)[-1]} moved past version {read_version} (now {at})")
    if txn is not None and transaction.txnVersion(txn[0]) >= txn[1]:
        return None
    transaction.readWholeTable()
    faults.point("events_writing")
    option = jvm.scala.Option.apply
    # The commit's userMetadata as `commit_metadata` writes it, given to the operation
    # (which wins over the session's setting).
    operation = delta.DeltaOperations.Write(
        jvm.org.apache.spark.sql.SaveMode.Append, option(jvm.PythonUtils.toSeq([partition])), option(None),
        option(metadata_text(metadata)), *[option(None)] * (_write_arity(jvm) - 4))
    actions = transaction.writeFiles(rows.repartition(partition)._jdf)
    if txn is not None:
        transaction.updateSetTransaction(txn[0], txn[1], option(int(time.time() * 1000)))
    return commit_at(DeltaTable.forPath(spark, path), transaction.commit(actions, operation))


def commit_at(table: DeltaTable, version: int) -> dict:
    """Version, operation and metrics of the table's commit `version`, one of its
    newest (the last 5, then the last 100 when other writers were busy)."""
    row = _newest_commit(table, lambda r: r["version"] == version)
    if row:
        return _commit(row)
    raise JobFailed(f"commit {version} is made, but not among the table's last 100 to report: other writers were "
                    "that busy; a rerun finds its rows stored")


def _write_arity(jvm) -> int:
    """The number of fields of Delta's `DeltaOperations.Write` (4 in Delta 3.3, 9 in 4.4;
    every one after the mode is an Option)."""
    cls = jvm.py4j.reflection.ReflectionUtil.classForName("org.apache.spark.sql.delta.DeltaOperations$Write")
    return max(c.getParameterCount() for c in cls.getConstructors())


def replace_rejects(spark: SparkSession, path: str, rejects: DataFrame, source_files: list[str]) -> dict | None:
    """Replace every earlier reject of these source files (spelled as `source_file` is:
    `fs.file_uri`) with `rejects`, in one commit (tagged by the caller's
    `commit_metadata`); return that commit, or None when Delta made none (nothing to
    write and nothing to remove)."""
    if not source_files:
        raise ValueError("replace_rejects needs the batch's source files: none would replace every reject")
    with one_commit(spark) as commit_id:
        (
            rejects.select(*REJECTS_COLUMNS)
            .write.format("delta")
            .mode("overwrite")
            .option("partitionOverwriteMode", "static")  # whatever the session's mode
            .option("replaceWhere", Scope(files=tuple(source_files)).sql())
            .save(path)
        )
    return commit_tagged(DeltaTable.forPath(spark, path), commit_id)


# What Delta and Spark raise when the change data feed of a version range cannot be
# read because it is gone or was never kept: the feed was off for some of the versions,
# the log retention cleaned their commit files, or VACUUM removed their data files. Any
# other failure (credentials, permissions, the network) is not "gone" and propagates.
FEED_GONE = ("DELTA_MISSING_CHANGE_DATA", "DELTA_LOG_FILE_NOT_FOUND", "DELTA_FILE_NOT_FOUND_DETAILED",
             "DELTA_CHANGE_DATA_FILE_NOT_FOUND", "DELTA_VERSIONS_NOT_CONTIGUOUS", "FAILED_READ_FILE.FILE_NOT_EXIST")


def _condition(obj, failures: tuple[type[BaseException], ...]) -> str | None:
    """The error condition of a PySpark error or a Java SparkThrowable (getCondition on
    Spark 4, getErrorClass before), or None."""
    for getter in ("getCondition", "getErrorClass"):
        try:
            condition = getattr(obj, getter)()
        except failures:  # not a SparkThrowable, or a Spark without that getter
            continue
        if condition:
            return condition
    return None


def _conditions(err: BaseException):
    """The error conditions and Java classes of a PySpark or Py4J error and its causes."""
    condition = _condition(err, (AttributeError,))
    if condition:
        yield condition
    java = getattr(err, "java_exception", None) or getattr(err, "_origin", None)
    for _ in range(10):  # the cause chain, bounded
        if java is None or not hasattr(java, "getClass"):
            return
        yield java.getClass().getName()
        condition = _condition(java, (AttributeError, Py4JError))
        if condition:
            yield condition
        java = java.getCause()


def change_feed_gone(err: BaseException) -> bool:
    """True when `err` says the change data feed asked for is gone: a condition of
    FEED_GONE, or a file not found anywhere in its causes (java.io's, Delta's
    DeltaFileNotFoundException, Spark 3.5's SparkFileNotFoundException for a vacuumed file)."""
    return any(c in FEED_GONE or c.endswith("FileNotFoundException") for c in _conditions(err))


def read_changes(spark: SparkSession, path: str, first: int, last: int) -> DataFrame:
    """The change data feed of versions first..last (lazy: a gone feed may fail only
    when the rows are read; callers catch what `change_feed_gone` recognises)."""
    return (spark.read.format("delta").option("readChangeFeed", "true")
            .option("startingVersion", first).option("endingVersion", last).load(path))


def from_changes(spark: SparkSession, path: str, first: int, last: int, source: str | None,
                 read: Callable[[DataFrame], Result], log: logging.Logger, instead: str) -> Result | None:
    """`read(changes)` of the change data feed of versions first..last (one source's
    rows, or every source's), or None with a warning that names Delta's error and what
    the job does `instead`, when that feed is gone. `read` must read the rows (collect,
    count), so that a gone feed fails here. Any other error propagates."""
    try:
        return read(Scope(sources=(source,) if source else ()).apply(read_changes(spark, path, first, last)))
    except (AnalysisException, Py4JJavaError) as err:
        if not change_feed_gone(err):
            raise
        log.warning("no change data feed for %s versions %d..%d (%s): %s", path.rstrip("/").rsplit("/", 1)[-1], first, last,
                    fs.first_line(err), instead)
        return None


# Delta's optimistic concurrency control: another writer committed first.
CONFLICTS = (
    ConcurrentAppendException, ConcurrentDeleteDeleteException, ConcurrentDeleteReadException,
    ConcurrentTransactionException, ConcurrentWriteException, DeltaConcurrentModificationException,
    MetadataChangedException, ProtocolChangedException,
)
_sleep = time.sleep  # the backoff between tries (tests skip it)


def retrying(attempt: Callable[[], Result], attempts: int, log: logging.Logger, redo: str, lost: str,
             also: tuple[type[BaseException], ...] = ()) -> tuple[Result, int]:
    """`attempt()` and the number of tries it took. A conflict with another writer's
    commit (CONFLICTS, or `also`) starts it over after a jittered backoff, at most
    `attempts` times in all; then a JobFailed, one line, that says what is `lost`.
    `redo` names what a retry does again ('classifying', 'planning')."""
    for number in range(1, attempts + 1):
        try:
            return attempt(), number
        except (*CONFLICTS, *also) as err:
            first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
            if number == attempts:
                raise JobFailed(f"gave up after {number} attempts: other writers kept committing to the warehouse "
                                f"({type(err).__name__}: {first_line[:200]}); {lost}") from None
            delay = min(2 ** number, 30) * (0.5 + random.random())
            log.warning("attempt %d: %s: %s; %s again in %.1f s", number, type(err).__name__, first_line[:200],
                        redo, delay)
            _sleep(delay)
    raise AssertionError("unreachable")
