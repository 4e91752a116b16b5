"""The `maintain` job: table upkeep for a warehouse written by many small runs.

    OPTIMIZE  compacts each table's small files (bin-packing, per partition). It
              commits with dataChange=false: readers, the change data feed and the
              hourly_stats catch-up see no change.
    VACUUM    deletes files that no table version within the retention still uses.
              The retention must be longer than the longest run or query that reads
              the tables (a run reads the version it pinned at its start), and longer
              than the gap between runs if `hourly_stats` is to catch up from the
              change data feed (without it, it recomputes every day, correctly).
    MANIFEST  (--manifest) writes the table's symlink manifest (Delta's GENERATE
              symlink_format_manifest): `_symlink_format_manifest/<partition>/manifest`
              lists the Parquet files of the current version, for readers that do not
              read the Delta log, such as Redshift Spectrum and Athena.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from clickstream.config import cli
from clickstream.warehouse import catalog, fs, run_reports, tables
from clickstream.config.errors import UsageError

DEFAULT_RETAIN_HOURS = 168  # Delta's default (delta.deletedFileRetentionDuration = 7 days)
MIN_RETAIN_HOURS = 24
_RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
# VACUUM lists the table's directories in this many tasks; Spark's default, 10000,
# makes it take minutes on a laptop even for a tiny table (delta-io/delta#220, #395).
_LISTING_PARALLELISM = "spark.sql.sources.parallelPartitionDiscovery.parallelism"


@dataclass(frozen=True)
class MaintainConfig:
    warehouse: str
    tables: tuple[str, ...] = ()
    optimize: bool = True
    vacuum: bool = True
    retain_hours: int = DEFAULT_RETAIN_HOURS
    run_id: str = ""
    manifest: bool = False
    register: str | None = None


def parser() -> cli.ArgumentParser:
    """The job's command line; the README's "Command line" synopsis and docs/reference.md show the same options."""
    parser = cli.ArgumentParser(prog="maintain", description="OPTIMIZE and VACUUM the warehouse's tables.")
    parser.add_argument("--warehouse", required=True, help="root directory or URI of the tables")
    parser.add_argument("--tables", help="comma-separated table names (default: every Delta table in the warehouse)")
    parser.add_argument("--retain-hours", type=cli.positive_int, default=DEFAULT_RETAIN_HOURS,
                        help=f"VACUUM keeps files newer than this (default: {DEFAULT_RETAIN_HOURS}; "
                             f"at least {MIN_RETAIN_HOURS}; longer than the longest run)")
    parser.add_argument("--no-optimize", action="store_true", help="skip OPTIMIZE")
    parser.add_argument("--no-vacuum", action="store_true", help="skip VACUUM")
    parser.add_argument("--manifest", action="store_true",
                        help="also write each table's symlink manifest (Redshift Spectrum, Athena), after VACUUM")
    parser.add_argument("--register", metavar="DATABASE",
                        help="also register each table by name in this catalog database (a Hive metastore, or "
                             "Glue on EMR): CREATE TABLE IF NOT EXISTS DATABASE.<table> USING DELTA LOCATION ...")
    parser.add_argument("--run-id", help="id of this run (default: UTC time plus random suffix)")
    return parser


def parse_args(argv: list[str]) -> MaintainConfig:
    args = parser().parse_args(argv)
    if args.retain_hours < MIN_RETAIN_HOURS:
        raise UsageError(f"--retain-hours {args.retain_hours} is below {MIN_RETAIN_HOURS}: a run or query "
                         "still reading older files would fail")
    if args.register is not None:
        catalog.checked(args.register, "--register")
    if args.no_optimize and args.no_vacuum and not args.manifest and not args.register:
        raise UsageError("--no-optimize and --no-vacuum together leave nothing to do")
    names = tuple(n.strip() for n in args.tables.split(",")) if args.tables else ()
    if any(not n or n.startswith(("_", ".")) or "/" in n for n in names):
        raise UsageError(f"bad --tables {args.tables!r}: use table names such as events,rejects")
    return MaintainConfig(warehouse=args.warehouse, tables=names, optimize=not args.no_optimize,
                          vacuum=not args.no_vacuum, retain_hours=args.retain_hours, run_id=cli.run_id(args.run_id),
                          manifest=args.manifest, register=args.register)


def warehouse_tables(spark: SparkSession, warehouse: str) -> list[str]:
    return [name for name in fs.subdirectories(spark, warehouse)
            if not name.startswith(("_", ".")) and DeltaTable.isDeltaTable(spark, fs.join(warehouse, name))]


def run(spark: SparkSession, cfg: MaintainConfig) -> dict:
    started = time.time()
    warehouse = fs.qualify(spark, cfg.warehouse)
    found = warehouse_tables(spark, warehouse)
    missing = [n for n in cfg.tables if n not in found]
    if missing:
        raise UsageError(f"no Delta table {', '.join(missing)} in {warehouse} (tables: {', '.join(found) or 'none'})")
    if not found:
        raise UsageError(f"no Delta tables in {warehouse}")
    rep = {"run_id": cfg.run_id, "job": "maintain", "warehouse": warehouse, "retain_hours": cfg.retain_hours,
           "tables": {}, "status": "succeeded"}
    # Our own minimum replaces Delta's 168-hour guard, so that a shorter retention can be chosen.
    spark.conf.set(_RETENTION_CHECK, "false")
    listing = spark.conf.get(_LISTING_PARALLELISM)
    spark.conf.set(_LISTING_PARALLELISM, str(max(1, spark.sparkContext.defaultParallelism * 2)))
    try:
        for name in cfg.tables or found:
            path = fs.join(warehouse, name)
            table = DeltaTable.forPath(spark, path)
            done: dict = {}
            with tables.commit_metadata(spark, job="maintain", run_id=cfg.run_id):
                if cfg.optimize:
                    metrics = table.optimize().executeCompaction().first()["metrics"]
                    done["optimize"] = {"files_removed": metrics["numFilesRemoved"],
                                        "files_added": metrics["numFilesAdded"]}
                if cfg.vacuum:
                    files_before = _data_file_count(spark, path)
                    table.vacuum(float(cfg.retain_hours))
                    done["vacuum"] = {"files_deleted": files_before - _data_file_count(spark, path)}
                if cfg.manifest:
                    table.generate("symlink_format_manifest")
                    manifest = fs.join(fs.literal_path(path), "_symlink_format_manifest")
                    done["manifest"] = {"files": len(fs.list_files(spark, manifest))}
            done["version"] = tables.current_version(spark, path)
            rep["tables"][name] = done
            print(f"maintain run_id={cfg.run_id} table={name} "
                  + " ".join(f"{k}.{m}={v}" for k, d in done.items() if isinstance(d, dict) for m, v in d.items()),
                  flush=True)
    finally:
        spark.conf.unset(_RETENTION_CHECK)
        spark.conf.set(_LISTING_PARALLELISM, listing)
    rep["duration_s"] = round(time.time() - started, 3)
    if cfg.register:
        run_reports.publish(spark, warehouse, rep, list(cfg.tables or found), cfg.register)
    else:
        run_reports.write(spark, warehouse, rep)
    return rep


def _data_file_count(spark: SparkSession, table_path: str) -> int:
    """Parquet files under a table directory (the log's own files aside)."""
    return sum(1 for f in fs.list_files(spark, fs.literal_path(table_path)) if f.endswith(".parquet"))
