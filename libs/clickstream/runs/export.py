"""The `export` job: publish a warehouse table into PostgreSQL or Redshift, idempotently.

    run(spark, cfg)  pins the Delta table at its current version, picks the dates to
                     publish, has Spark write their rows in parallel into a staging
                     table over JDBC, then in one database transaction deletes the
                     target's rows of those dates, inserts the staged rows and drops
                     the staging table. Readers of the target see the old rows or the
                     new ones, never a mix and never an empty range.

Which dates (`event_date`, or `session_date` for sessions): --from/--to forces a range.
Otherwise the dates whose partitions the table's commits changed since the version
the last export of this table to this target published; that version (and the Delta
table's id, so that a table made again is published whole) is recorded in
`<warehouse>/_exports/<table>/<target>.json` after the transaction commits. The
first export publishes every date (and replaces the whole target). A killed export
leaves the target as it was and its staging table behind; the next export of the
table to that target drops such leftovers and publishes everything changed since the
last recorded export, so nothing is missed and nothing doubled.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass

import pyspark.sql.functions as F
import pyspark.sql.types as T
from delta.tables import DeltaTable
from py4j.protocol import Py4JError
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

from clickstream.config import cli, faults
from clickstream.rules import hourly_stats as stats_rules
from clickstream.rules import rollup as rollup_rules
from clickstream.warehouse import fs, jdbc, run_reports, tables
from clickstream.warehouse.scope import Scope
from clickstream.config.errors import JobFailed, UsageError
from clickstream.config.profiles import SOURCE_NAME

log = logging.getLogger("clickstream.export")

PASSWORD_VARIABLES = ("CLICKSTREAM_JDBC_PASSWORD", "PGPASSWORD")
DATE_COLUMNS = ("session_date", "event_date", "period_start")
# The stats tables' HLL sketches (binary): published as bytea / VARBYTE, or left out with --no-sketch.
SKETCH_COLUMNS = ("user_sketch",)
STAGE_MARK = "__stage_"
DEFAULT_WRITERS = 4
BATCH_ROWS = 10000
# The Delta commit log entries that say which partitions a commit touched.
_LOG_SCHEMA = T.StructType([
    T.StructField(action, T.StructType([
        T.StructField("partitionValues", T.MapType(T.StringType(), T.StringType())),
        T.StructField("dataChange", T.BooleanType()),
    ])) for action in ("add", "remove")
])


@dataclass(frozen=True)
class ExportConfig:
    warehouse: str
    table: str
    jdbc_url: str
    target: str
    user: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    source: str | None = None
    writers: int = DEFAULT_WRITERS
    run_id: str = ""
    sketch: bool = True


def parser() -> cli.ArgumentParser:
    """The job's command line; the README's "Command line" synopsis and docs/reference.md show the same options."""
    parser = cli.ArgumentParser(prog="export", description="Publish a warehouse table into PostgreSQL or Redshift.")
    parser.add_argument("--warehouse", required=True, help="root directory or URI of the tables")
    parser.add_argument("--table", required=True,
                        help="hourly_stats, hourly_stats_<dims>, daily_stats, weekly_stats, monthly_stats "
                             "(_<dims>), sessions or events")
    parser.add_argument("--jdbc-url", required=True,
                        help="jdbc:postgresql://HOST:PORT/DB or jdbc:redshift://HOST:PORT/DB "
                             "(the password comes from CLICKSTREAM_JDBC_PASSWORD or PGPASSWORD)")
    parser.add_argument("--target", required=True, help="SCHEMA.TABLE in the database (schema default: public)")
    parser.add_argument("--user", help="database user (default: the driver's, or user= in the URL)")
    parser.add_argument("--from", dest="date_from", help="first date to publish, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", help="last date to publish, YYYY-MM-DD")
    parser.add_argument("--source", help="publish only this source's rows (and replace only those)")
    parser.add_argument("--writers", type=cli.positive_int, default=DEFAULT_WRITERS,
                        help=f"parallel JDBC connections writing the staging table (default: {DEFAULT_WRITERS})")
    parser.add_argument("--no-sketch", action="store_true",
                        help="leave the user_sketch column out (default: published as bytea, VARBYTE on Redshift)")
    parser.add_argument("--run-id", help="id of this run (default: UTC time plus random suffix)")
    return parser


def parse_args(argv: list[str]) -> ExportConfig:
    args = parser().parse_args(argv)
    date_from, date_to = cli.date_range(args.date_from, args.date_to)
    if args.table.startswith(("_", ".")) or "/" in args.table or not args.table:
        raise UsageError(f"bad --table {args.table!r}: use a table name such as hourly_stats or sessions")
    if args.source is not None and not SOURCE_NAME.match(args.source):
        raise UsageError(f"bad --source {args.source!r}")
    jdbc.dialect(args.jdbc_url)  # refuses a URL that carries a password
    jdbc.parse_target(args.target)
    return ExportConfig(warehouse=args.warehouse, table=args.table, jdbc_url=args.jdbc_url, target=args.target,
                        user=args.user, date_from=date_from, date_to=date_to, source=args.source,
                        writers=args.writers, run_id=cli.run_id(args.run_id), sketch=not args.no_sketch)


def password() -> str | None:
    for name in PASSWORD_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return None


# --- what is published -------------------------------------------------------------

def date_column(columns: list[str], table: str) -> str:
    for name in DATE_COLUMNS:
        if name in columns:
            return name
    raise UsageError(f"table {table} has no {' or '.join(DATE_COLUMNS)} column: export publishes "
                     "hourly_stats, daily_stats, weekly_stats, monthly_stats (_<dims>), sessions and events")


def unique_key(table: str, columns: list[str]) -> list[str]:
    """The target's unique key: a stats table's grain (a rollup's with its period_start),
    a session's id, an event's (source, event_id)."""
    if table == "sessions":
        return ["session_id"]
    if table == "events":
        return ["source", "event_id"]
    if table.startswith("hourly_stats"):
        dims = [c for c in columns if c not in stats_rules.grain() and c not in
                (*stats_rules.MEASURES, "event_date")]
        return stats_rules.grain(dims)
    if table.startswith(tuple(rollup_rules.TABLES.values())):
        return [c for c in columns if c not in rollup_rules.MEASURES]
    return []


def for_staging(rows: DataFrame) -> DataFrame:
    """Nested columns (maps, arrays, structs) as JSON text; the rest as they are."""
    nested = (T.MapType, T.ArrayType, T.StructType)
    return rows.select(*[F.to_json(f.name).alias(f.name) if isinstance(f.dataType, nested) else F.col(f.name)
                         for f in rows.schema.fields])


def partition_key(spark: SparkSession, path: str, column: str) -> str | None:
    """The key under which the commits' `partitionValues` hold `column`, from the
    table's own metadata: the column itself, or with column mapping (name or id mode)
    its physical name; None when the table is not partitioned by it or the physical
    name cannot be told."""
    table = DeltaTable.forPath(spark, path)
    detail = table.detail().first()
    if column not in (detail["partitionColumns"] or []):
        return None
    if (detail["properties"] or {}).get("delta.columnMapping.mode", "none") == "none":
        return column
    # The DataFrame's schema leaves the column mapping out; the snapshot's metadata
    # (just brought up to date by detail()) holds it in its schema string.
    try:
        delta_log = spark._jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path)
        fields = json.loads(delta_log.unsafeVolatileSnapshot().metadata().schemaString())["fields"]
    except (Py4JError, ValueError, KeyError) as err:  # an internal API that may change: then publish everything
        log.warning("cannot read the column mapping of %s (%s)", path, fs.first_line(err))
        return None
    return next((f.get("metadata", {}).get("delta.columnMapping.physicalName") for f in fields
                 if f.get("name") == column), None)


def changed_dates(spark: SparkSession, path: str, column: str, first: int, last: int) -> list[str] | None:
    """The `column` partitions that commits `first`..`last` of the Delta table at `path`
    added or removed data in (OPTIMIZE's dataChange=false rewrites aside), read from
    the commit files; None, which means 'publish everything', when a commit file is
    gone (log retention) or the table's metadata does not say which partition key
    holds `column` (not partitioned by it)."""
    if first > last:
        return []
    key = partition_key(spark, path, column)
    if key is None:
        log.warning("%s is not partitioned by %s as far as its metadata tells: publishing every date", path,
                    column)
        return None
    files = [fs.join(path, "_delta_log", f"{v:020d}.json") for v in range(first, last + 1)]
    try:
        log_rows = spark.read.schema(_LOG_SCHEMA).json([fs.literal_path(f) for f in files])
        dates = (log_rows.select(F.explode(F.array(
            F.when(F.col("add.dataChange"), F.col("add.partitionValues").getItem(key)),
            F.when(F.col("remove.dataChange"), F.col("remove.partitionValues").getItem(key)))).alias("d"))
            .where("d IS NOT NULL").distinct().collect())  # one row per date
    except AnalysisException as err:
        log.warning("the commits %d..%d of %s cannot be read (%s): publishing every date", first, last, path,
                    str(err).splitlines()[0])
        return None
    return sorted(row["d"] for row in dates)


# --- the target ----------------------------------------------------------------------

def target_columns(conn: jdbc.Connection, schema: str, table: str) -> dict[str, str]:
    rows = conn.query("SELECT column_name, data_type FROM information_schema.columns "
                      f"WHERE table_schema = {jdbc.literal(schema)} AND table_name = {jdbc.literal(table)} "
                      "ORDER BY ordinal_position")
    return {name: data_type for name, data_type in rows}


def check_columns(columns: list[str], table: str) -> None:
    """Every column name is a plain identifier the database keeps as it is: letters,
    digits and '_', at most 63 (PostgreSQL cuts longer names, so two could collide)."""
    for name in columns:
        jdbc.identifier(name, f"column of {table} (it cannot be published)")
        if name != name.lower():
            raise UsageError(f"bad column of {table} {name!r}: the database folds it to {name.lower()!r}; "
                             "rename it in lower case")


def column_types(schema: T.StructType, dialect: str) -> dict[str, jdbc.ColumnType]:
    return {f.name: jdbc.column_type(f.dataType, dialect) for f in schema.fields}


def incompatibility(existing: dict[str, str], wanted: dict[str, jdbc.ColumnType]) -> str | None:
    """One line naming the first column that does not fit, or None."""
    for name, col in wanted.items():
        if name not in existing:
            hint = ": add it (ALTER TABLE ... ADD COLUMN), or export with --no-sketch" \
                if name in SKETCH_COLUMNS else ""
            return f"has no column {name} ({col.target}){hint}"
        if existing[name] not in col.accepts:
            return f"column {name} is {existing[name]}, the export needs {col.target}"
    return None


def create_table_sql(schema: str, table: str, fields: T.StructType, types: dict[str, jdbc.ColumnType],
                     key: list[str], dialect: str, server_version: int, staging: bool = False) -> str:
    cols = [f'{jdbc.quote(f.name)} {types[f.name].staging if staging else types[f.name].target}'
            + ("" if f.nullable or staging else " NOT NULL") for f in fields.fields]
    if key and not staging:
        # NULL is a value of the grain (url_level1 can be NULL): PostgreSQL 15+ can say so.
        nulls = " NULLS NOT DISTINCT" if dialect == "postgresql" and server_version >= 15 else ""
        cols.append(f'CONSTRAINT {jdbc.quote(table[:50] + "_key")} UNIQUE{nulls} '
                    f'({", ".join(jdbc.quote(k) for k in key)})')
    return f"CREATE TABLE {jdbc.quote(schema, table)} ({', '.join(cols)})"


def lock_key(schema: str, table: str) -> int:
    """The PostgreSQL advisory lock (a bigint) that one export of a target holds while it
    runs; the server releases it when the connection ends, even if the process is killed."""
    return int.from_bytes(hashlib.sha256(f"clickstream-export {schema}.{table}".encode()).digest()[:8], "big",
                          signed=True)


def staging_prefix(schema: str, table: str) -> str:
    """The names of this target's staging tables start with this: the table's name, cut
    to fit, and a hash of the whole target, so that two targets whose names share their
    first 30 characters never drop each other's staging tables."""
    target = hashlib.sha256(f"{schema}.{table}".encode()).hexdigest()[:8]
    return f"{table[:30]}{STAGE_MARK}{target}_"  # + 12 hex of the run id: 63 characters at most


def leftover_staging(conn: jdbc.Connection, schema: str, table: str) -> list[str]:
    prefix = staging_prefix(schema, table)
    rows = conn.query("SELECT table_name FROM information_schema.tables "
                      f"WHERE table_schema = {jdbc.literal(schema)} "
                      f"AND left(table_name, {len(prefix)}) = {jdbc.literal(prefix)}")
    return sorted(r[0] for r in rows)


def scope_of(column: str, mode: str, dates: list[str], cfg: ExportConfig) -> Scope:
    """The rows a run publishes: a forced range, the changed dates, or everything; one
    source's, or every source's."""
    sources = (cfg.source,) if cfg.source else ()
    if mode == "range":
        return Scope(column, first=cfg.date_from, last=cfg.date_to, sources=sources)
    if mode == "changed":
        return Scope(column, days=tuple(dates), sources=sources)
    return Scope(column, sources=sources)


# --- the record of what was published -------------------------------------------------

def record_path(warehouse: str, cfg: ExportConfig) -> str:
    schema, table = jdbc.parse_target(cfg.target)
    where = re.sub(r"[^A-Za-z0-9._-]+", "_", jdbc.location(cfg.jdbc_url)).strip("_")
    digest = hashlib.sha256(f"{jdbc.location(cfg.jdbc_url)}|{schema}.{table}|{cfg.source}".encode()).hexdigest()[:8]
    name = f"{where}.{schema}.{table}" + (f".{cfg.source}" if cfg.source else "") + f".{digest}.json"
    return fs.join(warehouse, "_exports", cfg.table, name)


def published_version(spark: SparkSession, path: str, table_id: str) -> int | None:
    """The table version the record at `path` says was published, when it is of this very
    table (`table_id`, the Delta table's id): a table deleted and made again, or
    replaced by a copy, can reach the same version with other rows. None: publish
    every date (no record, an unreadable one, one of another table, or one written
    before records kept the table's id)."""
    text = fs.read_text(spark, path)
    try:
        record = json.loads(text) if text else None
        version = int(record["version"]) if record else None
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable export record %s: publishing every date", path)
        return None
    if version is not None and record.get("table_id") != table_id:
        log.warning("the export record %s is of table id %s, and the table's id is now %s (made again since): "
                    "publishing every date", path, record.get("table_id") or "(not recorded)", table_id)
        return None
    return version


# --- the run -------------------------------------------------------------------------------

def run(spark: SparkSession, cfg: ExportConfig) -> dict:
    started = time.time()
    warehouse = fs.qualify(spark, cfg.warehouse)
    path = tables.table_path(warehouse, cfg.table)
    if not DeltaTable.isDeltaTable(spark, path):
        raise UsageError(f"no Delta table {cfg.table} in {warehouse}")
    version = tables.current_version(spark, path)
    table_id = DeltaTable.forPath(spark, path).detail().first()["id"]
    rows = tables.read_version(spark, path, version)
    if not cfg.sketch:
        rows = rows.drop(*SKETCH_COLUMNS)
    check_columns(rows.columns, cfg.table)
    column = date_column(rows.columns, cfg.table)
    if cfg.source and "source" not in rows.columns:
        raise UsageError(f"table {cfg.table} has no source column: drop --source")
    dialect = jdbc.dialect(cfg.jdbc_url)
    schema, table = jdbc.parse_target(cfg.target)
    types = column_types(rows.schema, dialect)
    key = unique_key(cfg.table, rows.columns)
    record = record_path(warehouse, cfg)

    if cfg.date_from:
        mode, dates, since = "range", [], None
    else:
        since = published_version(spark, record, table_id)
        dates = None if since is None or since > version else changed_dates(spark, path, column, since + 1, version)
        mode = "full" if dates is None else "changed"
    rep = {"run_id": cfg.run_id, "job": "export", "table": cfg.table, "warehouse": warehouse, "version": version,
           "target": f"{schema}.{table}", "jdbc_url": jdbc.redact(cfg.jdbc_url), "source": cfg.source,
           "mode": mode, "published_before": since, "dates": dates if mode == "changed" else None,
           "from": cfg.date_from.isoformat() if cfg.date_from else None,
           "to": cfg.date_to.isoformat() if cfg.date_to else None,
           "rows_staged": 0, "rows_deleted": 0, "rows_inserted": 0, "created_target": False,
           "dropped_leftovers": [], "status": "succeeded"}

    conn = jdbc.connect(spark, cfg.jdbc_url, cfg.user, password())
    try:
        existing, created = prepare_target(conn, dialect, schema, table, rows.schema, types, key, cfg.table, rep)
        if created and mode == "changed":  # the record is of a target that is gone: publish everything again
            mode, dates = "full", None
            rep.update(mode=mode, dates=None)
        if mode == "changed" and not dates:
            rep["status"] = "up_to_date"
        else:
            publish(spark, conn, cfg, rows, scope_of(column, mode, dates or [], cfg), schema, table, types,
                    existing, rep)
    finally:
        conn.close()
    if mode != "range":
        fs.write_json(spark, record, {"table": cfg.table, "target": f"{schema}.{table}", "source": cfg.source,
                                      "jdbc_url": jdbc.redact(cfg.jdbc_url), "version": version,
                                      "table_id": table_id, "run_id": cfg.run_id})
    rep["duration_s"] = round(time.time() - started, 3)
    run_reports.write(spark, warehouse, rep)
    dates_text = "all" if mode == "full" else f"{cfg.date_from}..{cfg.date_to}" if mode == "range" else len(dates)
    print(f"export run_id={cfg.run_id} table={cfg.table} version={version} target={schema}.{table} mode={mode} "
          f"dates={dates_text} staged={rep['rows_staged']} deleted={rep['rows_deleted']} "
          f"inserted={rep['rows_inserted']} duration_s={rep['duration_s']}", flush=True)
    return rep


def prepare_target(conn: jdbc.Connection, dialect: str, schema: str, table: str, fields: T.StructType,
                   types: dict[str, jdbc.ColumnType], key: list[str], source_table: str,
                   rep: dict) -> tuple[dict[str, str], bool]:
    """Check an existing target's columns (UsageError naming the first that does not
    fit), take the target's advisory lock (PostgreSQL), drop staging tables that killed
    exports left, create the target when missing. Returns (its columns, created)."""
    existing = target_columns(conn, schema, table)
    problem = incompatibility(existing, types) if existing else None
    if problem:
        raise UsageError(f"target {schema}.{table} does not fit table {source_table}: it {problem}")
    if dialect == "postgresql" and \
            conn.query(f"SELECT pg_try_advisory_lock({lock_key(schema, table)})")[0][0] not in ("t", "true"):
        raise JobFailed(f"another export to {schema}.{table} is running (it holds the target's advisory lock); "
                        "nothing was done")
    rep["dropped_leftovers"] = leftover_staging(conn, schema, table)
    for name in rep["dropped_leftovers"]:
        log.warning("dropping staging table %s.%s left by an export that did not finish", schema, name)
        conn.execute(f"DROP TABLE IF EXISTS {jdbc.quote(schema, name)}")
    if existing:
        return existing, False
    conn.execute(create_table_sql(schema, table, fields, types, key, dialect, conn.server_version()))
    rep["created_target"] = True
    return target_columns(conn, schema, table), True


def publish(spark: SparkSession, conn: jdbc.Connection, cfg: ExportConfig, rows: DataFrame,
            scope: Scope, schema: str, table: str, types: dict[str, jdbc.ColumnType],
            existing: dict[str, str], rep: dict) -> None:
    """Stage the rows of the scope, then replace the target's scope with them in one
    transaction."""
    selected = scope.apply(rows)
    in_database = jdbc.where(scope)
    stage = staging_prefix(schema, table) + hashlib.sha256(cfg.run_id.encode()).hexdigest()[:12]
    dialect = jdbc.dialect(cfg.jdbc_url)
    conn.execute(create_table_sql(schema, stage, rows.schema, types, [], dialect, 0, staging=True))
    faults.point("staging_created")
    expected = selected.count()
    writer = (for_staging(selected).write.format("jdbc").mode("append")
              .option("url", cfg.jdbc_url).option("driver", jdbc.DRIVERS[dialect])
              .option("dbtable", jdbc.quote(schema, stage)).option("numPartitions", str(cfg.writers))
              .option("batchsize", str(BATCH_ROWS)).option("isolationLevel", "READ_COMMITTED"))
    for name, value in jdbc.connection_properties(cfg.user, password()).items():
        writer = writer.option(name, value)
    if dialect == "postgresql":
        writer = writer.option("reWriteBatchedInserts", "true")
    writer.save()
    staged = int(conn.query(f"SELECT count(*) FROM {jdbc.quote(schema, stage)}")[0][0])
    rep["rows_staged"] = staged
    if staged != expected:
        conn.execute(f"DROP TABLE IF EXISTS {jdbc.quote(schema, stage)}")
        raise JobFailed(f"the staging table got {staged} rows, the table has {expected} in the range; "
                        "nothing was published")
    faults.point("staging_written")
    names = rows.columns
    values = ", ".join(f'{jdbc.quote(n)}::{existing[n]}' if types[n].is_json and existing[n] in ("jsonb", "json")
                       else jdbc.quote(n) for n in names)
    with conn.transaction():
        rep["rows_deleted"] = conn.execute(f"DELETE FROM {jdbc.quote(schema, table)}"
                                           + (f" WHERE {in_database}" if in_database else ""))
        rep["rows_inserted"] = conn.execute(
            f"INSERT INTO {jdbc.quote(schema, table)} ({', '.join(jdbc.quote(n) for n in names)}) "
            f"SELECT {values} FROM {jdbc.quote(schema, stage)}")
        conn.execute(f"DROP TABLE {jdbc.quote(schema, stage)}")

