"""Tables by name: each table a job writes, registered in the session's catalog (a Hive
metastore, or the AWS Glue Data Catalog on EMR) as an external Delta table at its path.

    register(spark, warehouse, names)  CREATE TABLE IF NOT EXISTS <db>.<name> USING DELTA
                                       LOCATION '<warehouse>/<name>', for each name the
                                       catalog lacks; a name it holds at another location
                                       is refused. Returns what the run report records.

The database comes from the Spark setting `spark.clickstream.catalog.database` (set it
per environment in conf/spark/<env>.properties, or with `--conf`); without it nothing
is registered and the catalog is never touched. The table is the same files: a catalog
entry is a name for the path, never a second copy.
"""
from __future__ import annotations

import re

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from clickstream.config.errors import JobFailed, UsageError
from clickstream.warehouse import fs
from clickstream.warehouse.scope import sql_string

DATABASE_SETTING = "spark.clickstream.catalog.database"
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")


def checked(name: str, what: str) -> str:
    """`name` if it is a database name this module writes into SQL (UsageError naming `what` if not)."""
    if not NAME.match(name):
        raise UsageError(f"bad {what} {name!r}: use lower-case letters, digits and '_'")
    return name


def database(spark: SparkSession) -> str | None:
    """The database named by DATABASE_SETTING, checked; None when it is not set."""
    name = spark.conf.get(DATABASE_SETTING, None) or None
    return None if name is None else checked(name, DATABASE_SETTING)


def _same(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def register(spark: SparkSession, warehouse: str, names, db: str | None = None) -> dict | None:
    """Register the warehouse's tables `names` in database `db` (default: the setting).
    {"database", "registered": new names, "present": names already there} or None."""
    db = db or database(spark)
    if db is None:
        return None
    spark.sql(f"CREATE DATABASE IF NOT EXISTS `{db}`")
    registered, present = [], []
    for name in names:
        path = fs.join(warehouse, name)
        if not DeltaTable.isDeltaTable(spark, path):
            continue  # nothing written (yet): nothing to name
        qualified = f"`{db}`.`{name}`"
        if spark.catalog.tableExists(f"{db}.{name}"):
            location = spark.sql(f"DESCRIBE DETAIL {qualified}").first()["location"]
            if not _same(fs.qualify(spark, location), path):
                raise JobFailed(f"catalog table {db}.{name} is at {location}, not at {path}: it names another "
                                "warehouse's table; drop it or use another database")
            present.append(name)
            continue
        spark.sql(f"CREATE TABLE IF NOT EXISTS {qualified} USING DELTA LOCATION {sql_string(path)}")
        registered.append(name)
    if registered:
        print(f"catalog: registered {', '.join(f'{db}.{n}' for n in registered)}", flush=True)
    return {"database": db, "registered": registered, "present": present}
