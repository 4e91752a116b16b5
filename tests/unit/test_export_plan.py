"""`export` without a database: column types, keys and DDL per dialect, the date
predicates, argument checks, JDBC URLs that never carry a password."""

from __future__ import annotations

import hashlib
import os

import pyspark.sql.types as T
import pytest

from clickstream.warehouse import jdbc
from clickstream.runs import export
from clickstream.config.errors import UsageError

import servers


# Skipped on a laptop without PostgreSQL; on CI (which installs it) a missing server fails.
pytestmark = pytest.mark.skipif(servers.postgres_bin() is None and not os.environ.get("CI"),
                                reason="PostgreSQL is not installed (apt-get install postgresql; .ci/run does)")


def test_types_keys_and_ddl_per_dialect():
    fields = T.StructType([T.StructField("d", T.DateType(), False), T.StructField("m", T.MapType(
        T.StringType(), T.StringType())), T.StructField("n", T.LongType()), T.StructField("t", T.TimestampType())])
    pg_types = export.column_types(fields, "postgresql")
    rs_types = export.column_types(fields, "redshift")
    assert export.create_table_sql("s", "t", fields, pg_types, ["d", "n"], "postgresql", 15) == (
        'CREATE TABLE "s"."t" ("d" date NOT NULL, "m" jsonb, "n" bigint, "t" timestamp, '
        'CONSTRAINT "t_key" UNIQUE NULLS NOT DISTINCT ("d", "n"))')
    assert export.create_table_sql("s", "t", fields, pg_types, ["d"], "postgresql", 14).endswith('UNIQUE ("d"))')
    assert export.create_table_sql("s", "t__stage_1", fields, pg_types, [], "postgresql", 15, staging=True) == (
        'CREATE TABLE "s"."t__stage_1" ("d" date, "m" text, "n" bigint, "t" timestamp)')
    assert export.create_table_sql("s", "t", fields, rs_types, ["n"], "redshift", 8) == (
        'CREATE TABLE "s"."t" ("d" date NOT NULL, "m" varchar(65535), "n" bigint, "t" timestamp, '
        'CONSTRAINT "t_key" UNIQUE ("n"))')
    assert export.unique_key("hourly_stats_url_level2", ["time_bucket", "source", "url_level1", "url_level2",
                                                         "activity", "activity_count", "user_count", "user_sketch",
                                                         "event_date"]) \
        == ["time_bucket", "source", "url_level1", "url_level2", "activity"]
    assert export.unique_key("monthly_stats_campaign_id", [
        "period_start", "source", "url_level1", "campaign_id", "activity", "activity_count", "user_count_estimate",
        "user_sketch"]) == ["period_start", "source", "url_level1", "campaign_id", "activity"]
    assert export.date_column(["period_start", "source"], "daily_stats") == "period_start"
    argv = ["--warehouse", "w", "--table", "daily_stats", "--jdbc-url", "jdbc:postgresql://h/d", "--target", "t"]
    assert (export.parse_args(argv).sketch, export.parse_args([*argv, "--no-sketch"]).sketch) == (True, False)
    cfg = export.parse_args(["--warehouse", "w", "--table", "hourly_stats", "--jdbc-url", "jdbc:postgresql://h/d",
                             "--target", "t", "--source", "a.b"])
    assert jdbc.where(export.scope_of("event_date", "changed", ["2017-02-03"], cfg)) == \
        """"source" IN ('a.b') AND "event_date" IN (DATE '2017-02-03')"""


@pytest.mark.parametrize("argv, message", [
    (["--table", "hourly_stats", "--target", "s.t", "--from", "2017-02-02"], "--from and --to go together"),
    (["--table", "hourly_stats", "--target", "a.b.c"], "bad --target 'a.b.c': use SCHEMA.TABLE or TABLE"),
    (["--table", "hourly_stats", "--target", "1t"], "bad --target table '1t'"),
    (["--table", "_runs", "--target", "t"], "bad --table '_runs'"),
])
def test_bad_arguments(argv, message):
    with pytest.raises(UsageError) as err:
        export.parse_args(["--warehouse", "wh", "--jdbc-url", "jdbc:postgresql://h:5432/db", *argv])
    assert str(err.value).startswith(message)


def test_urls_are_checked_and_never_carry_a_password():
    base = ["--warehouse", "wh", "--table", "sessions", "--target", "t"]
    with pytest.raises(UsageError, match=r"^bad --jdbc-url 'jdbc:mysql://h/db': use jdbc:postgresql://"):
        export.parse_args([*base, "--jdbc-url", "jdbc:mysql://h/db"])
    with pytest.raises(UsageError, match=r"^--jdbc-url 'jdbc:postgresql://h/db' carries 'password': set "
                                         r"CLICKSTREAM_JDBC_PASSWORD \(or PGPASSWORD\) instead"):
        export.parse_args([*base, "--jdbc-url", "jdbc:postgresql://h/db?user=a&password=b"])
    assert jdbc.location("jdbc:redshift://c.x.redshift.amazonaws.com:5439/dev?ssl=true") == \
        "c.x.redshift.amazonaws.com:5439/dev"


@pytest.mark.parametrize("url, key", [
    ("jdbc:redshift://h:5439/dev;UID=etl;PWD=x", "PWD"),  # AWS's documented form
    ("jdbc:redshift://h:5439/dev;Password=x", "Password"),
    ("jdbc:postgresql://h/db?PWD=x", "PWD"),
    ("jdbc:postgresql://h/db?ssl=true&sslpassword=x", "sslpassword"),
    ("jdbc:postgresql://h/db?user=a&PASSWORD=x", "PASSWORD"),
    ("jdbc:redshift://h:5439/dev?AccessKeyID=A&SecretAccessKey=x", "AccessKeyID"),  # the first one named
    ("jdbc:redshift://h:5439/dev;SessionToken=x", "SessionToken"),
])
def test_a_secret_in_either_option_form_is_refused_without_showing_it(url, key):
    with pytest.raises(UsageError) as err:
        jdbc.dialect(url)
    assert str(err.value) == (f"--jdbc-url {jdbc.redact(url)!r} carries {key!r}: set CLICKSTREAM_JDBC_PASSWORD "
                              "(or PGPASSWORD) instead, and keep secrets out of URLs")
    assert "=x" not in str(err.value) and ";" not in jdbc.redact(url) and "?" not in jdbc.redact(url)


def test_options_without_secrets_pass_and_are_never_shown_or_stored():
    url = "jdbc:redshift://c.x:5439/dev;UID=etl;ssl=true"
    assert (jdbc.dialect(url), jdbc.option_keys(url)) == ("redshift", ["UID", "ssl"])
    assert (jdbc.redact(url), jdbc.location(url)) == ("jdbc:redshift://c.x:5439/dev", "c.x:5439/dev")
    assert jdbc.redact("jdbc:postgresql://h/db?user=a;b=c") == "jdbc:postgresql://h/db"


def test_password_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("CLICKSTREAM_JDBC_PASSWORD", raising=False)
    monkeypatch.setenv("PGPASSWORD", "pg")
    assert export.password() == "pg"
    monkeypatch.setenv("CLICKSTREAM_JDBC_PASSWORD", "ours")
    assert export.password() == "ours"
    assert os.environ["PGPASSWORD"] == "pg"


def test_staging_names_fit_and_are_keyed_on_the_whole_target():
    long_a, long_b = "a" * 30 + "_daily_one", "a" * 30 + "_daily_two"  # the first 30 characters shared
    a, b = export.staging_prefix("analytics", long_a), export.staging_prefix("analytics", long_b)
    assert a != b and not a.startswith(b) and not b.startswith(a)
    assert a.startswith("a" * 30 + "__stage_") and len(a + "0" * 12) <= 63
    assert export.staging_prefix("s", "t") == "t__stage_" + hashlib.sha256(b"s.t").hexdigest()[:8] + "_"
    assert export.staging_prefix("s", "t") != export.staging_prefix("other", "t")


@pytest.mark.parametrize("name, message", [
    ('bad"name', "bad column of events (it cannot be published) 'bad\"name': use letters, digits and '_'"),
    ("x" * 64, "bad column of events (it cannot be published) 'xxxx"),
    ("Campaign", "bad column of events 'Campaign': the database folds it to 'campaign'; rename it in lower case"),
    ("a b", "bad column of events (it cannot be published) 'a b'"),
])
def test_a_column_name_that_is_not_a_plain_identifier_is_refused(name, message):
    with pytest.raises(UsageError) as err:
        export.check_columns(["event_id", name], "events")
    assert str(err.value).startswith(message)


def test_every_identifier_that_reaches_sql_is_quoted_and_escaped():
    export.check_columns(["time_bucket", "url_level2", "_x9"], "hourly_stats")
    assert jdbc.quote("s", 'a"b') == '"s"."a""b"'
    fields = T.StructType([T.StructField('we"ird', T.StringType())])
    types = export.column_types(fields, "postgresql")
    assert export.create_table_sql("s", 't"1', fields, types, ['we"ird'], "postgresql", 15) == (
        'CREATE TABLE "s"."t""1" ("we""ird" text, CONSTRAINT "t""1_key" UNIQUE NULLS NOT DISTINCT ("we""ird"))')


@pytest.mark.parametrize("url", ["jdbc:postgresql://etl:s3cr3t@db:5432/analytics",
                                 "jdbc:redshift://etl:s3cr3t@c.x:5439/dev?ssl=true", "jdbc:postgresql://etl@db/a"])
def test_a_user_and_password_before_the_host_are_refused_and_never_shown(url, capsys):
    """A password in the URL's authority used to pass the password check and survive
    redact(): it showed in the connection error and in the EMR step JSON."""
    base = ["--warehouse", "wh", "--table", "sessions", "--target", "t"]
    with pytest.raises(UsageError) as err:
        export.parse_args([*base, "--jdbc-url", url])
    host = url.split("@", 1)[1].split("?")[0]
    assert str(err.value) == (f"--jdbc-url '{url.split('//')[0]}//{host}' carries a user (and maybe a password) "
                              "before its host: pass the user with --user (or --export-user) and set "
                              "CLICKSTREAM_JDBC_PASSWORD (or PGPASSWORD), and keep secrets out of URLs")
    assert "etl" not in jdbc.redact(url) and "s3cr3t" not in jdbc.redact(url)
    from clickstream.config import cli
    from clickstream.deploy import emr

    code = cli.guarded(emr.parse_args, emr.main, ["--code", "s3://c/", "--input", "s3://i", "--warehouse", "s3://w",
                                                  "--date", "2026-11-23", "--export-jdbc-url", url, "--export-target", "t"], "emr-steps")
    out = capsys.readouterr()
    assert code == 2 and "s3cr3t" not in out.out + out.err and out.out == ""
    assert out.err.startswith("emr-steps: error: --jdbc-url ") and "carries a user" in out.err
