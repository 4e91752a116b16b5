"""Tables by name: with `spark.clickstream.catalog.database` set, each job registers the
tables it writes as external Delta tables at their paths, once; the names read as the
paths do; `maintain --register` names an existing warehouse; a name held by another
warehouse's table is refused. (Here Spark's in-memory catalog; a Hive metastore that
outlives the process: tests/entry/test_cli.py.)"""
from __future__ import annotations

import shutil
import uuid

import pytest
from chispa import assert_df_equality

from clickstream.config.errors import JobFailed, UsageError
from clickstream.runs import maintain, rollup
from clickstream.warehouse import catalog

from helpers import hipages_line as L
from helpers import read_report, run_events, run_stats, write_lines


@pytest.fixture
def database(spark):
    name = f"cat_{uuid.uuid4().hex[:8]}"
    spark.conf.set(catalog.DATABASE_SETTING, name)
    try:
        yield name
    finally:
        spark.conf.unset(catalog.DATABASE_SETTING)
        for db in (name, f"{name}_2"):
            spark.sql(f"DROP DATABASE IF EXISTS {db} CASCADE")  # external tables: the files stay


def test_each_job_registers_its_tables_once_and_the_names_read_as_the_paths(spark, hipages_profile, tmp_path,
                                                                             database):
    wh = tmp_path / "wh"
    src = write_lines(tmp_path / "a.json", [L("e1", "u1"), L("e2", "u2"), "{bad"])
    reports = [run_events(spark, hipages_profile, src, wh, "r1").catalog, run_stats(spark, wh, "s1")["catalog"],
               rollup.run(spark, rollup.RollupConfig(warehouse=str(wh), grain="month", run_id="m1"))["catalog"]]
    assert reports == [{"database": database, "registered": names, "present": []}
                       for names in (["events", "rejects"], ["hourly_stats"], ["monthly_stats"])]
    for name in ("events", "rejects", "hourly_stats", "monthly_stats"):
        assert_df_equality(spark.table(f"{database}.{name}").drop("properties"),
                           spark.read.format("delta").load(str(wh / name)).drop("properties"), ignore_row_order=True)
    # A second run names nothing new.
    assert run_stats(spark, wh, "s2")["catalog"] == {"database": database, "registered": [],
                                                      "present": ["hourly_stats"]}
    assert sorted(r["tableName"] for r in spark.sql(f"SHOW TABLES IN {database}").collect()) == \
        ["events", "hourly_stats", "monthly_stats", "rejects"]

    # An existing warehouse, named in another database by maintain --register.
    rep = maintain.run(spark, maintain.MaintainConfig(warehouse=str(wh), optimize=False, vacuum=False,
                                                      register=f"{database}_2", run_id="reg"))
    assert rep["catalog"] == {"database": f"{database}_2", "present": [],
                              "registered": ["events", "hourly_stats", "monthly_stats", "rejects"]}
    # The same names for a copy of the warehouse elsewhere: refused, not re-pointed.
    shutil.copytree(wh, tmp_path / "copy")
    with pytest.raises(JobFailed, match=rf"^catalog table {database}_2.events is at .*/wh/events, not at "
                                        r".*/copy/events: it names another warehouse's table"):
        maintain.run(spark, maintain.MaintainConfig(warehouse=str(tmp_path / "copy"), optimize=False, vacuum=False,
                                                    register=f"{database}_2", run_id="reg2"))
    # The run report is written before the names are registered, and keeps the error (it
    # used to be lost with it: in stream mode, an events run's accounting for good).
    rep = read_report(tmp_path / "copy", "reg2", "maintain")
    assert (rep["status"], sorted(rep["tables"])) == ("succeeded", ["events", "hourly_stats", "monthly_stats",
                                                                    "rejects"])
    assert rep["catalog"]["error"].startswith(f"catalog table {database}_2.events is at ")


def test_a_bad_database_name_is_refused_before_anything_is_read(spark, tmp_path):
    spark.conf.set(catalog.DATABASE_SETTING, "Bad-Name")
    try:
        with pytest.raises(UsageError, match=r"^bad spark.clickstream.catalog.database 'Bad-Name': use lower-case"):
            run_stats(spark, tmp_path / "nowhere", "s")
    finally:
        spark.conf.unset(catalog.DATABASE_SETTING)
    with pytest.raises(UsageError, match=r"^bad --register 'x;y'"):
        maintain.parse_args(["--warehouse", "w", "--register", "x;y"])

