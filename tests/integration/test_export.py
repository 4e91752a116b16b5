"""`export`: warehouse tables published into a real PostgreSQL server (initdb + pg_ctl
on 127.0.0.1), compared row for row with the Delta tables."""

from __future__ import annotations

import itertools
import json
import shutil
import signal
import time

import pyspark.sql.functions as F
import pyspark.sql.types as T
import pytest

from clickstream.runs import export, rollup, sessions
from clickstream.config.errors import JobFailed, UsageError

import helpers
import servers


psycopg = pytest.importorskip("psycopg")

PASSWORD = servers.PG_PASSWORD

_databases = itertools.count()

DAYS = ("02/02/2017", "03/02/2017", "04/02/2017")  # 2017-02-02 .. 2017-02-04


@pytest.fixture
def db(pg_server, monkeypatch):
    """A fresh database of the module's server: (jdbc_url, connect())."""
    host, port = pg_server
    name = f"t{next(_databases)}"
    with psycopg.connect(host=host, port=port, user="clickstream", password=PASSWORD, dbname="postgres",
                         autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    monkeypatch.setenv("CLICKSTREAM_JDBC_PASSWORD", PASSWORD)

    def connect():
        return psycopg.connect(host=host, port=port, user="clickstream", password=PASSWORD, dbname=name,
                               autocommit=True)

    return f"jdbc:postgresql://{host}:{port}/{name}", connect


def day_lines(day_index, prefix, users=("u1", "u2", "u3")):
    """Events of one day: each user views two pages in one hour and one a third later."""
    day = DAYS[day_index]
    lines = []
    for n, user in enumerate(users):
        lines += [helpers.hipages_line(f"{prefix}{n}a", user, "page_view", timestamp=f"{day} 0{n}:10:00"),
                  helpers.hipages_line(f"{prefix}{n}b", user, "button_click", timestamp=f"{day} 0{n}:12:30",
                                       url="https://www.hipages.com.au/get_quotes_simple?search_str=sfdg"),
                  helpers.hipages_line(f"{prefix}{n}c", user, "page_view", timestamp=f"{day} 1{n}:00:00",
                                       url="https://www.hipages.com.au/find/electricians")]
    return lines


@pytest.fixture(scope="module")
def base_warehouse(spark, hipages_profile, tmp_path_factory):
    """Three days of events, their hourly stats (also by url_level2), their weekly rollup and sessions."""
    root = tmp_path_factory.mktemp("export-wh")
    src = helpers.write_lines(root / "in" / "day1-3.json", [line for d in range(3) for line in day_lines(d, f"d{d}")])
    wh = root / "wh"
    helpers.run_events(spark, hipages_profile, src, wh, "ev1")
    helpers.run_stats(spark, wh, "st1")
    helpers.run_stats(spark, wh, "st2", dimensions=("url_level2",))
    sessions.run(spark, sessions.SessionsConfig(warehouse=str(wh), run_id="se1"))
    rollup.run(spark, rollup.RollupConfig(warehouse=str(wh), grain="week", run_id="ro1"))
    return wh


@pytest.fixture
def warehouse(base_warehouse, tmp_path):
    shutil.copytree(base_warehouse, tmp_path / "wh")
    return tmp_path / "wh"


def run_export(spark, wh, url, table, target, **kw):
    kw.setdefault("run_id", f"ex-{time.monotonic_ns()}")
    return export.run(spark, export.ExportConfig(warehouse=str(wh), table=table, jdbc_url=url, target=target,
                                                 user="clickstream", **kw))


def delta_rows(spark, wh, table, where=None):
    """The Delta table's rows, every value as text (bytes as PostgreSQL writes bytea: \\x and hex), sorted."""
    df = spark.read.format("delta").load(str(wh / table))
    df = df.where(where) if where else df
    text = [F.concat(F.lit("\\x"), F.lower(F.hex(df[f.name]))) if isinstance(f.dataType, T.BinaryType)
            else df[f.name].cast("string") for f in df.schema.fields]
    return sorted(tuple(None if v is None else str(v) for v in r) for r in df.select(*text).collect())


def pg_rows(connect, target, columns, where=None):
    with connect() as conn:
        rows = conn.execute(f"SELECT {', '.join(f'{c}::text' for c in columns)} FROM {target}"
                            + (f" WHERE {where}" if where else "")).fetchall()
    return sorted(tuple(r) for r in rows)


def columns_of(spark, wh, table):
    return spark.read.format("delta").load(str(wh / table)).columns


def test_round_trip_of_hourly_stats_and_sessions(spark, warehouse, db):
    url, connect = db
    stats_rep = run_export(spark, warehouse, url, "hourly_stats", "analytics_stats", run_id="x1")
    sessions_rep = run_export(spark, warehouse, url, "sessions", "public.sessions", run_id="x2")
    run_export(spark, warehouse, url, "hourly_stats_url_level2", "stats_by_level2", run_id="x3")
    assert pg_rows(connect, "stats_by_level2", columns_of(spark, warehouse, "hourly_stats_url_level2")) == \
        delta_rows(spark, warehouse, "hourly_stats_url_level2")
    stats_cols, sessions_cols = columns_of(spark, warehouse, "hourly_stats"), columns_of(spark, warehouse, "sessions")
    assert pg_rows(connect, "analytics_stats", stats_cols) == delta_rows(spark, warehouse, "hourly_stats")
    assert pg_rows(connect, "sessions", sessions_cols) == delta_rows(spark, warehouse, "sessions")
    # Per day and user: two hours with events (3 stats rows), 10 hours apart (2 sessions).
    assert len(delta_rows(spark, warehouse, "hourly_stats")) == 27 and len(delta_rows(spark, warehouse, "sessions")) == 18
    assert (stats_rep["mode"], stats_rep["rows_staged"], stats_rep["rows_deleted"], stats_rep["rows_inserted"],
            stats_rep["created_target"]) == ("full", 27, 0, 27, True)
    assert (sessions_rep["mode"], sessions_rep["rows_inserted"]) == ("full", 18)
    with connect() as conn:
        types = conn.execute("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                             "WHERE table_name = 'sessions' ORDER BY ordinal_position").fetchall()
        keys = conn.execute("SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
                            "WHERE contype = 'u' AND connamespace = 'public'::regnamespace ORDER BY 1").fetchall()
        staging = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE "
                               "'%\\_\\_stage\\_%'").fetchone()[0]
    assert keys == [("analytics_stats", "UNIQUE NULLS NOT DISTINCT (time_bucket, source, url_level1, activity)"),
                    ("sessions", "UNIQUE NULLS NOT DISTINCT (session_id)"),
                    ("stats_by_level2", "UNIQUE NULLS NOT DISTINCT (time_bucket, source, url_level1, url_level2, "
                                        "activity)")]
    assert {name: data_type for name, data_type, _ in types} == {
        "session_id": "text", "source": "text", "user_id": "text", "device": "text",
        "session_start": "timestamp without time zone", "session_end": "timestamp without time zone",
        "duration_seconds": "bigint", "event_count": "bigint", "first_activity": "text", "last_activity": "text",
        "landing_url_level1": "text", "landing_url_level2": "text", "converted": "boolean",
        "converted_at": "timestamp without time zone", "conversion_activity": "text", "session_date": "date"}
    assert staging == 0
    # Timestamps land as the lake has them (UTC).
    assert pg_rows(connect, "sessions", ["session_start", "session_end"], "user_id = 'u1' AND session_date = "
                   "'2017-02-02' ORDER BY 1 LIMIT 1") == [("2017-02-02 00:10:00", "2017-02-02 00:12:30")]
    record = json.loads(next((warehouse / "_exports" / "sessions").glob("*.json")).read_text())
    assert (record["version"], record["target"], record["jdbc_url"]) == (
        sessions_rep["version"], "public.sessions", url)


def test_export_twice_is_a_no_op_and_late_data_replaces_exactly_its_days(spark, hipages_profile, warehouse, db,
                                                                          tmp_path):
    url, connect = db
    cols = columns_of(spark, warehouse, "hourly_stats")
    run_export(spark, warehouse, url, "hourly_stats", "stats")
    before = pg_rows(connect, "stats", cols)
    again = run_export(spark, warehouse, url, "hourly_stats", "stats", run_id="again")
    assert (again["mode"], again["dates"], again["status"], again["rows_inserted"]) == ("changed", [], "up_to_date", 0)
    assert pg_rows(connect, "stats", cols) == before
    with connect() as conn:
        xmins = dict(conn.execute("SELECT time_bucket || activity, xmin::text FROM stats").fetchall())

    # Late events of the second day (a new user, and one more click of u1), then the stats catch up.
    late = helpers.write_lines(tmp_path / "late" / "late.json",
                               [helpers.hipages_line("late1", "u9", timestamp="03/02/2017 00:40:00"),
                                helpers.hipages_line("late2", "u1", "button_click", timestamp="03/02/2017 05:00:00")])
    helpers.run_events(spark, hipages_profile, late, warehouse, "ev-late")
    helpers.run_stats(spark, warehouse, "st-late")
    rep = run_export(spark, warehouse, url, "hourly_stats", "stats", run_id="late")
    assert (rep["mode"], rep["dates"], rep["rows_deleted"], rep["rows_inserted"]) == ("changed", ["2017-02-03"], 9, 10)
    assert pg_rows(connect, "stats", cols) == delta_rows(spark, warehouse, "hourly_stats")
    assert ("2017020300", "hipages", "hipages.com.au", "page_view", "2", "2", "2017-02-03") in \
        pg_rows(connect, "stats", [c for c in cols if c != "user_sketch"])
    with connect() as conn:
        after = dict(conn.execute("SELECT time_bucket || activity, xmin::text FROM stats").fetchall())
    # The other days' rows are the very same row versions: not rewritten.
    assert {k: v for k, v in after.items() if not k.startswith("20170203")} == \
        {k: v for k, v in xmins.items() if not k.startswith("20170203")}
    assert all(after[k] != xmins.get(k) for k in after if k.startswith("20170203"))


def test_a_table_made_again_to_the_same_version_is_published_whole(spark, warehouse, db, caplog):
    """The record keeps the table's Delta id: a table deleted and written again up to the
    version the last export published (other rows) is published whole, not reported
    up_to_date as it used to be."""
    from delta.tables import DeltaTable

    url, connect = db
    cols = columns_of(spark, warehouse, "hourly_stats")
    first = run_export(spark, warehouse, url, "hourly_stats", "stats")
    path = str(warehouse / "hourly_stats")
    rows = spark.read.format("delta").load(path).withColumn("activity_count", F.col("activity_count") + 100)
    rows = spark.createDataFrame(rows.collect(), rows.schema)  # off the table about to be deleted
    old_id = DeltaTable.forPath(spark, path).detail().first()["id"]
    shutil.rmtree(path)
    for _ in range(first["version"] + 1):
        rows.write.format("delta").mode("overwrite").partitionBy("event_date").save(path)
    assert DeltaTable.forPath(spark, path).history(1).first()["version"] == first["version"]
    again = run_export(spark, warehouse, url, "hourly_stats", "stats", run_id="made-again")
    assert (again["mode"], again["status"], again["published_before"]) == ("full", "succeeded", None)
    assert pg_rows(connect, "stats", cols) == delta_rows(spark, warehouse, "hourly_stats")
    new_id = DeltaTable.forPath(spark, path).detail().first()["id"]
    assert f"is of table id {old_id}, and the table's id is now {new_id}" in caplog.text
    assert run_export(spark, warehouse, url, "hourly_stats", "stats", run_id="then")["status"] == "up_to_date"


def test_a_range_export_replaces_that_range_of_one_source_only(spark, warehouse, db):
    url, connect = db
    cols = columns_of(spark, warehouse, "hourly_stats")
    run_export(spark, warehouse, url, "hourly_stats", "stats", run_id="first")
    with connect() as conn:
        conn.execute("INSERT INTO stats (time_bucket, source, url_level1, activity, activity_count, user_count, "
                     "event_date) VALUES ('2017020323', 'hipages', 'x', 'stale', 1, 1, '2017-02-03'), "
                     "('2017020323', 'other', 'x', 'kept', 1, 1, '2017-02-03'), "
                     "('2017020423', 'hipages', 'x', 'kept', 1, 1, '2017-02-04')")
    import datetime as dt

    rep = run_export(spark, warehouse, url, "hourly_stats", "stats", date_from=dt.date(2017, 2, 2),
                     date_to=dt.date(2017, 2, 3), source="hipages")
    assert (rep["mode"], rep["rows_deleted"], rep["rows_inserted"]) == ("range", 19, 18)
    assert pg_rows(connect, "stats", cols) == sorted(delta_rows(spark, warehouse, "hourly_stats") + [
        ("2017020323", "other", "x", "kept", "1", "1", None, "2017-02-03"),
        ("2017020423", "hipages", "x", "kept", "1", "1", None, "2017-02-04")])
    # A range export moves no record: the next default export publishes what changed since "first".
    [record] = (warehouse / "_exports" / "hourly_stats").glob("*.json")
    assert json.loads(record.read_text())["run_id"] == "first"


def test_events_with_their_properties_as_jsonb(spark, warehouse, db):
    url, connect = db
    with pytest.raises(UsageError, match=r'schema "raw" does not exist'):
        run_export(spark, warehouse, url, "events", "raw.events")
    with connect() as conn:
        conn.execute("CREATE SCHEMA raw")
    rep = run_export(spark, warehouse, url, "events", "raw.events")
    cols = [c for c in columns_of(spark, warehouse, "events") if c != "properties"]
    assert rep["rows_inserted"] == 27
    expected = sorted(tuple(r) for r in spark.read.format("delta").load(str(warehouse / "events"))
                      .selectExpr(*[f"CAST({c} AS STRING)" for c in cols]).collect())
    assert pg_rows(connect, "raw.events", cols) == expected
    with connect() as conn:
        assert conn.execute("SELECT DISTINCT jsonb_typeof(properties), properties::text FROM raw.events").fetchall() \
            == [("object", "{}")]
        key = conn.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                           "WHERE contype = 'u' AND connamespace = 'raw'::regnamespace").fetchone()[0]
    assert key == "UNIQUE NULLS NOT DISTINCT (source, event_id)"


def test_changed_dates_come_from_the_commits_and_a_missing_commit_means_everything(spark, warehouse):
    path = str(warehouse / "hourly_stats")
    assert export.changed_dates(spark, path, "event_date", 0, 0) == []  # created empty
    assert export.changed_dates(spark, path, "event_date", 1, 1) == ["2017-02-02", "2017-02-03", "2017-02-04"]
    assert export.changed_dates(spark, path, "event_date", 2, 1) == []
    assert export.changed_dates(spark, path, "event_date", 0, 5) is None


def test_an_existing_target_that_does_not_fit_is_refused_before_anything_is_written(spark, warehouse, db):
    url, connect = db
    with connect() as conn:
        conn.execute("CREATE TABLE stats (time_bucket text, source text, url_level1 text, activity text, "
                     "activity_count text, user_count bigint, event_date date)")
        conn.execute("CREATE TABLE stats2 (time_bucket text, source text, activity text)")
    with pytest.raises(UsageError) as err:
        run_export(spark, warehouse, url, "hourly_stats", "stats")
    assert str(err.value) == ("target public.stats does not fit table hourly_stats: it column activity_count is "
                              "text, the export needs bigint")
    with pytest.raises(UsageError) as err:
        run_export(spark, warehouse, url, "hourly_stats", "stats2")
    assert str(err.value) == "target public.stats2 does not fit table hourly_stats: it has no column url_level1 (text)"
    assert pg_rows(connect, "stats", ["count(*)"]) == [("0",)]
    assert not (warehouse / "_exports").exists()


def test_a_second_export_to_the_same_target_waits_for_nobody_and_fails_in_one_line(spark, warehouse, db):
    url, connect = db
    with connect() as holder:
        holder.execute(f"SELECT pg_advisory_lock({export.lock_key('public', 'stats')})")
        with pytest.raises(JobFailed) as err:
            run_export(spark, warehouse, url, "hourly_stats", "stats")
    assert str(err.value) == ("another export to public.stats is running (it holds the target's advisory lock); "
                              "nothing was done")
    # The lock ends with the session that held it; the export then runs.
    assert run_export(spark, warehouse, url, "hourly_stats", "stats")["rows_inserted"] == 27
    # A target dropped by hand is published whole again, although the record says "up to date".
    with connect() as conn:
        conn.execute("DROP TABLE stats")
    rep = run_export(spark, warehouse, url, "hourly_stats", "stats")
    assert (rep["mode"], rep["created_target"], rep["rows_inserted"]) == ("full", True, 27)


def export_args(wh, url, table, target, *extra):
    return ["export", "--warehouse", str(wh), "--table", table, "--jdbc-url", url, "--target", target,
            "--user", "clickstream", *extra]


def test_a_database_that_refuses_is_one_line_and_exit_2(spark, warehouse, db, monkeypatch, capsys):
    """The export job's own main (tests/runs' way): each refusal is one line, exit 2."""
    url, connect = db
    with connect() as conn:
        conn.execute("CREATE TABLE stats (time_bucket text, activity_count integer)")
    closed = f"jdbc:postgresql://127.0.0.1:{servers.free_port()}/x"
    monkeypatch.setenv("CLICKSTREAM_JDBC_PASSWORD", "wrong")
    monkeypatch.setenv("PGPASSWORD", "")
    codes = [helpers.run_job(spark, *export_args(warehouse, url, "hourly_stats", "t"))]
    monkeypatch.setenv("CLICKSTREAM_JDBC_PASSWORD", PASSWORD)
    codes.append(helpers.run_job(spark, *export_args(warehouse, closed, "hourly_stats", "t")))
    codes.append(helpers.run_job(spark, *export_args(warehouse, url, "hourly_stats", "stats")))
    assert codes == [2, 2, 2]
    assert capsys.readouterr().err.splitlines() == [
        f"export: error: cannot connect to {url} as clickstream: FATAL: password authentication failed for "
        'user "clickstream"',
        f"export: error: cannot connect to {closed} as clickstream: Connection to {closed.split('//')[1][:-2]} "
        "refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP "
        "connections.",
        "export: error: target public.stats does not fit table hourly_stats: it has no column source (text)"]


# --- through the entry point: a killed export ----------------------------------------------

def _staging_tables(connect):
    with connect() as conn:
        return [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_name LIKE 'sessions\\_\\_stage\\_%'").fetchall()]


def test_a_killed_export_leaves_the_target_as_it_was_and_the_next_one_completes(spark, hipages_profile, warehouse,
                                                                               db, tmp_path):
    url, connect = db
    cols = columns_of(spark, warehouse, "sessions")
    run_export(spark, warehouse, url, "sessions", "sessions")
    published = pg_rows(connect, "sessions", cols)
    late = helpers.write_lines(tmp_path / "late" / "late.json",
                               [helpers.hipages_line("late1", "u9", timestamp="03/02/2017 00:40:00")])
    helpers.run_events(spark, hipages_profile, late, warehouse, "ev-late")
    sessions.run(spark, sessions.SessionsConfig(warehouse=str(warehouse), run_id="se-late"))

    # 1. During the staging write: the server makes each staged row take 50 ms (a row
    #    trigger added to every staging table as it is created); killed while Spark's
    #    INSERT is running.
    with connect() as conn:
        conn.execute("CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN PERFORM pg_sleep(0.05); RETURN NEW; END $$")
        conn.execute("""CREATE FUNCTION slow_staging() RETURNS event_trigger LANGUAGE plpgsql AS $$
            DECLARE obj record;
            BEGIN FOR obj IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' LOOP
              IF obj.object_identity LIKE '%\\_\\_stage\\_%' THEN
                EXECUTE format('CREATE TRIGGER slow BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION slow_row()',
                               obj.object_identity);
              END IF; END LOOP; END $$""")
        conn.execute("CREATE EVENT TRIGGER slow_staging ON ddl_command_end EXECUTE FUNCTION slow_staging()")

    def inserting():
        with connect() as conn:
            return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                "AND query LIKE 'INSERT INTO \"public\".\"sessions\\_\\_stage\\_%'").fetchone()[0] > 0

    job = helpers.Job(export_args(warehouse, url, "sessions", "sessions"), watch=inserting)
    assert job.wait() == -signal.SIGKILL and job.killed, job.output[-3000:]
    _wait_for_backends_to_end(connect)
    assert pg_rows(connect, "sessions", cols) == published
    [first_leftover] = _staging_tables(connect)
    with connect() as conn:
        conn.execute("DROP EVENT TRIGGER slow_staging")

    # 2. After the staging write, before the transaction. It dropped the first leftover.
    job = helpers.Job(export_args(warehouse, url, "sessions", "sessions"), pause="staging_written")
    assert job.wait() == -signal.SIGKILL and job.killed, job.output[-3000:]
    _wait_for_backends_to_end(connect)
    assert pg_rows(connect, "sessions", cols) == published
    [second_leftover] = _staging_tables(connect)
    assert second_leftover != first_leftover

    # 3. The next export (in process) drops the leftover and publishes what changed
    #    since the last completed export.
    rep = run_export(spark, warehouse, url, "sessions", "sessions", run_id="completes")
    assert (rep["mode"], rep["dates"], rep["dropped_leftovers"]) == ("changed", ["2017-02-03"], [second_leftover])
    assert _staging_tables(connect) == []
    assert pg_rows(connect, "sessions", cols) == delta_rows(spark, warehouse, "sessions")
    assert len(pg_rows(connect, "sessions", cols)) == len(published) + 1


def _wait_for_backends_to_end(connect, timeout=60):
    """Wait until the killed export's connections are gone (the server rolls back what they had open)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connect() as conn:
            if not conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                "'clickstream-export'").fetchone()[0]:
                return
        time.sleep(0.1)
    raise AssertionError("the killed export's database sessions did not end")


def test_a_rollup_is_keyed_by_period_and_its_sketch_reads_back_from_bytea(spark, warehouse, db):
    from datasketches import hll_sketch

    url, connect = db
    rep = run_export(spark, warehouse, url, "weekly_stats", "weekly", run_id="w1")
    run_export(spark, warehouse, url, "weekly_stats", "weekly_plain", run_id="w2", sketch=False)
    columns = columns_of(spark, warehouse, "weekly_stats")
    assert pg_rows(connect, "weekly", columns) == delta_rows(spark, warehouse, "weekly_stats")
    assert (rep["mode"], rep["rows_inserted"]) == ("full", 2)  # one week (from Monday 30 January), two activities
    with connect() as conn:
        keys = conn.execute("SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
                            "WHERE contype = 'u' AND connamespace = 'public'::regnamespace ORDER BY 1").fetchall()
        plain = [c for c, in conn.execute("SELECT column_name FROM information_schema.columns "
                                           "WHERE table_name = 'weekly_plain' ORDER BY ordinal_position")]
        sketches = conn.execute("SELECT url_level1, activity, user_count_estimate, user_sketch FROM weekly").fetchall()
    assert keys == [(t, "UNIQUE NULLS NOT DISTINCT (period_start, source, url_level1, activity)")
                    for t in ("weekly", "weekly_plain")]
    assert plain == [c for c in columns if c != "user_sketch"]
    # The bytes in PostgreSQL are Spark's sketch: DataSketches reads the three users of every row.
    assert sorted((level1, activity, estimate, round(hll_sketch.deserialize(bytes(sketch)).get_estimate()))
                  for level1, activity, estimate, sketch in sketches) == [
        ("hipages.com.au", "button_click", 3, 3), ("hipages.com.au", "page_view", 3, 3)]
