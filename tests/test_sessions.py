"""The sessions transform and job: cuts, conversion, and incremental runs that equal a full one."""
import datetime as dt
import json
from collections import defaultdict
from hashlib import sha256

import pytest
from chispa import assert_df_equality

from clickstream import generate, sessionize, sessions, tables
from clickstream.errors import UsageError
from clickstream.profile import SessionRules, load_profile, parse_profile
from conftest import CONF_DIR
from helpers import ROOT, error_lines, hipages_line, run_events, submit, write_lines

MOBILE = SessionRules(gap_minutes=15, conversion="Ride Started|Ride Done|Rating Screen", device_property="device_id")
T0 = dt.datetime(2020, 3, 2, 8, 0)


def events_df(spark, rows, source="m"):
    """Events from (event_id, user_id, time_stamp, activity[, device]) tuples."""
    full = [(source, r[0], r[1], None, r[2], "app.local", "home", None, r[3], None, None,
             {"device_id": r[4]} if len(r) > 4 else {}, "f", "r", r[2].date()) for r in rows]
    return spark.createDataFrame(full, tables.EVENTS_SCHEMA)


def cut(spark, rows, rule=MOBILE, *columns):
    got = sessionize.sessions(events_df(spark, rows), {"m": rule})
    got = got.select(*columns) if columns else got
    return sorted(tuple(r) for r in got.collect())


def sid(*parts):
    return sha256("\u001f".join(parts).encode()).hexdigest()


def test_one_session_every_column(spark):
    rows = [("e1", "u1", T0, "App Opened", "d1"),
            ("e2", "u1", T0 + dt.timedelta(minutes=5, milliseconds=250), "Ride Started - Successful", "d1"),
            ("e3", "u1", T0 + dt.timedelta(minutes=9, seconds=59, milliseconds=999), "Rating Screen", "d1")]
    got = sessionize.sessions(events_df(spark, rows), {"m": MOBILE})
    expected = spark.createDataFrame([(
        sid("m", "u1", "d1", "e1"), "m", "u1", "d1", T0, T0 + dt.timedelta(minutes=9, seconds=59, milliseconds=999),
        599, 3, "App Opened", "Rating Screen", "app.local", "home", True, T0 + dt.timedelta(minutes=5, milliseconds=250),
        "Ride Started - Successful", T0.date())], sessionize.SESSIONS_SCHEMA)
    assert_df_equality(got, expected, ignore_nullable=True)


@pytest.mark.parametrize("second_after, sessions_expected", [
    (dt.timedelta(minutes=14, seconds=59), 1),                    # one second below the gap
    (dt.timedelta(minutes=14, seconds=59, milliseconds=999), 1),  # one millisecond below
    (dt.timedelta(minutes=15), 2),                                # exactly at the gap
])
def test_gap_boundaries_are_exact(spark, second_after, sessions_expected):
    rows = [("a", "u1", T0, "x", "d"), ("b", "u1", T0 + second_after, "y", "d")]
    got = cut(spark, rows, MOBILE, "session_start", "event_count")
    assert got == ([(T0, 2)] if sessions_expected == 1 else [(T0, 1), (T0 + second_after, 1)])


def test_a_session_is_not_cut_at_midnight_and_belongs_to_its_first_day(spark):
    rows = [("a", "u1", dt.datetime(2020, 3, 2, 23, 50), "x"), ("b", "u1", dt.datetime(2020, 3, 3, 0, 5), "y")]
    assert cut(spark, rows, SessionRules(30), "session_date", "event_count", "duration_seconds") == [
        (dt.date(2020, 3, 2), 2, 900)]


def test_two_devices_of_one_user_are_two_sessions_and_no_device_property_means_one(spark):
    rows = [("a", "u1", T0, "x", "phone"), ("b", "u1", T0 + dt.timedelta(minutes=1), "y", "tablet"),
            ("c", "u1", T0 + dt.timedelta(minutes=2), "z", "phone")]
    assert cut(spark, rows, MOBILE, "device", "event_count", "first_activity", "last_activity") == [
        ("phone", 2, "x", "z"), ("tablet", 1, "y", "y")]
    assert cut(spark, rows, SessionRules(15), "device", "event_count", "session_id") == [
        (None, 3, sid("m", "u1", "", "a"))]


def test_conversion_is_the_first_matching_event_searched_anywhere_and_case_sensitive(spark):
    rule = SessionRules(15, "Ride Started|Ride Done")
    rows = [("a", "u1", T0, "ride started"),  # lower case: no match
            ("b", "u1", T0 + dt.timedelta(minutes=1), "Ride Done"),
            ("c", "u1", T0 + dt.timedelta(minutes=2), "Ride Started - Successful"),
            ("d", "u2", T0, "App Opened")]
    assert cut(spark, rows, rule, "user_id", "converted", "converted_at", "conversion_activity") == [
        ("u1", True, T0 + dt.timedelta(minutes=1), "Ride Done"), ("u2", False, None, None)]
    assert cut(spark, rows, SessionRules(15), "user_id", "converted", "converted_at") == [
        ("u1", None, None), ("u2", None, None)]


def test_ties_in_time_are_ordered_by_event_id(spark):
    rows = [("e2", "u1", T0, "second"), ("e1", "u1", T0, "first"), ("e3", "u1", T0, "Ride Done")]
    assert cut(spark, rows, MOBILE, "session_id", "first_activity", "last_activity", "converted_at") == [
        (sid("m", "u1", "", "e1"), "first", "Ride Done", T0)]


def test_each_source_has_its_own_rules_in_one_pass(spark):
    rows = [("a", "u1", T0, "x"), ("b", "u1", T0 + dt.timedelta(minutes=20), "buy")]
    events = events_df(spark, rows, "s15").unionByName(events_df(spark, rows, "s30"))
    got = sessionize.sessions(events, {"s15": SessionRules(15, "buy"), "s30": SessionRules(30)})
    assert sorted(tuple(r) for r in got.select("source", "event_count", "converted").collect()) == [
        ("s15", 1, False), ("s15", 1, True), ("s30", 2, None)]


def test_daily_summary(spark):
    rows = [("a", "u1", T0, "x"), ("b", "u1", T0 + dt.timedelta(seconds=90), "Ride Done"),
            ("c", "u2", T0, "x"), ("d", "u3", T0, "x"), ("e", "u3", T0 + dt.timedelta(seconds=30), "x")]
    got = sessionize.daily_summary(sessionize.sessions(events_df(spark, rows), {"m": MOBILE}))
    assert [tuple(r) for r in got.collect()] == [(T0.date(), "m", 3, 1, 0.3333, 30.0)]


# --- Profiles and the command line ---------------------------------------------------

def test_profiles_carry_the_session_rules():
    assert {n: load_profile(CONF_DIR, n).sessions.as_dict() for n in
            ("hipages", "app_events", "impressions", "mobile_events")} == {
        "hipages": {"gap_minutes": 30, "conversion": None, "device": None},
        "app_events": {"gap_minutes": 30, "conversion": "meeting_scheduled", "device": None},
        "impressions": {"gap_minutes": 30, "conversion": None, "device": None},
        "mobile_events": {"gap_minutes": 15, "conversion": "Ride Started|Ride Done|Rating Screen",
                          "device": "device_id"},
    }


@pytest.mark.parametrize("sessions_spec, message", [
    ({"gap_minutes": 0}, "'sessions.gap_minutes' 0 must be a whole number of minutes, 1 or more"),
    ({"conversion": "(a"}, "'sessions.conversion' '(a' is not a valid regular expression"),
    ({"device_property": "phone"}, "'sessions.device_property' 'phone' is not one of the profile's 'properties'"),
    ({"gap": 5}, "'sessions' must be an object with 'gap_minutes', 'conversion' and 'device_property'"),
])
def test_bad_session_rules_name_the_problem(sessions_spec, message):
    raw = json.loads((CONF_DIR / "sources" / "mobile_events.json").read_text())
    with pytest.raises(UsageError) as err:
        parse_profile({**raw, "sessions": sessions_spec}, "p.json")
    assert str(err.value).startswith(f"p.json: {message}")


def test_flags_win_over_the_profile():
    cfg = sessions.parse_args(["--warehouse", "w", "--source", "mobile_events", "--gap-minutes", "5",
                               "--conversion", "Done"])
    assert sessions.session_rules(cfg, ["mobile_events", "hipages"]) == {
        "mobile_events": SessionRules(5, "Done", "device_id"), "hipages": SessionRules(5, "Done", None)}


@pytest.mark.parametrize("argv, message", [
    (["--source", "nope"], "unknown source profile 'nope'"),
    (["--gap-minutes", "0"], "argument --gap-minutes: '0' is not a positive whole number"),
    (["--conversion", "(a"], "--conversion '(a' is not a valid regular expression"),
    (["--from", "2020-01-02"], "--from and --to go together"),
    (["--from", "2020-01-02", "--to", "2020-01-01"], "--from 2020-01-02 is after --to 2020-01-01"),
])
def test_bad_arguments(argv, message):
    with pytest.raises(UsageError) as err:
        sessions.parse_args(["--warehouse", "w", *argv])
    assert str(err.value).startswith(message)


@pytest.mark.entry_point
def test_the_entry_point_fails_in_one_line_on_a_warehouse_without_events(tmp_path):
    proc = submit("sessions", "--warehouse", str(tmp_path / "empty"))
    assert proc.returncode == 2
    assert error_lines(proc) == [f"sessions: error: no events table at file:{tmp_path / 'empty' / 'events'}: "
                                 "run the events job first"]
    assert "Traceback" not in proc.stdout + proc.stderr


# --- The job: incremental runs against a full recompute -------------------------------

def run_sessions(spark, wh, run_id, **kw):
    return sessions.run(spark, sessions.SessionsConfig(warehouse=str(wh), run_id=run_id, **kw))


def session_rows(spark, wh, *columns):
    cols = columns or ("session_id", "user_id", "session_start", "session_end", "event_count", "first_activity",
                       "last_activity", "session_date")
    return sorted(tuple(r) for r in spark.read.format("delta").load(str(wh / "sessions")).select(*cols).collect())


def ingest(spark, profile, tmp_path, wh, name, lines):
    write_lines(tmp_path / "in" / name, lines)
    return run_events(spark, profile, tmp_path / "in" / name, wh, f"e-{name}")


def test_midnight_across_two_runs_and_a_late_event_that_joins_two_sessions(spark, tmp_path, hipages_profile):
    wh = tmp_path / "wh"
    ingest(spark, hipages_profile, tmp_path, wh, "d1.json", [
        hipages_line("a", "u1", timestamp="02/02/2017 23:50:00"),
        hipages_line("x", "u2", timestamp="02/02/2017 10:00:00"),
        hipages_line("z", "u2", timestamp="02/02/2017 10:40:00")])
    rep = run_sessions(spark, wh, "s1")
    assert (rep["modes"], rep["dates_rewritten"], rep["sessions_written"]) == ({"hipages": "full"}, ["2017-02-02"], 3)
    assert rep["summary"] == [{"session_date": "2017-02-02", "source": "hipages", "sessions": 3, "converted": 0,
                               "conversion_rate": None, "median_duration_s": 0.0}]
    # The next day's file: 00:05 continues u1's session of 23:50; 10:20 joins u2's two sessions.
    ingest(spark, hipages_profile, tmp_path, wh, "d2.json", [
        hipages_line("b", "u1", timestamp="03/02/2017 00:05:00"),
        hipages_line("y", "u2", timestamp="02/02/2017 10:20:00")])
    rep = run_sessions(spark, wh, "s2")
    assert (rep["modes"], rep["dates_rewritten"], rep["sessions_written"]) == (
        {"hipages": "catch_up"}, ["2017-02-02"], 2)
    d = dt.datetime
    assert session_rows(spark, wh) == sorted([
        (sid("hipages", "u1", "", "a"), "u1", d(2017, 2, 2, 23, 50), d(2017, 2, 3, 0, 5), 2, "page_view", "page_view",
         dt.date(2017, 2, 2)),
        (sid("hipages", "u2", "", "x"), "u2", d(2017, 2, 2, 10), d(2017, 2, 2, 10, 40), 3, "page_view", "page_view",
         dt.date(2017, 2, 2)),
    ])
    rep = run_sessions(spark, wh, "s3")
    assert (rep["modes"], rep["commit"]) == ({"hipages": "up_to_date"}, None)
    # Other rules (a flag) recompute the source whole, and the commit records them.
    rep = run_sessions(spark, wh, "s4", gap_minutes=10)
    assert (rep["modes"], rep["sessions_written"]) == ({"hipages": "full"}, 5)
    # A range run rewrites its dates with the profile's rules; it consumes no changes, and
    # the next run, seeing the table last made with other rules, recomputes it whole.
    rep = run_sessions(spark, wh, "s5", date_from=dt.date(2017, 2, 2), date_to=dt.date(2017, 2, 2))
    assert (rep["modes"], rep["dates_rewritten"], rep["sessions_written"]) == ({"hipages": "range"}, ["2017-02-02"], 2)
    rep = run_sessions(spark, wh, "s6")
    assert (rep["modes"], rep["sessions_written"]) == ({"hipages": "full"}, 2)


def python_sessions(rows, gap_minutes):
    """An independent sessionization, in plain Python, of (user_id, event_id, time_stamp, activity) rows."""
    by_user = defaultdict(list)
    for user, event_id, ts, activity in rows:
        by_user[user].append((ts, event_id, activity))
    out = []
    for user, evs in by_user.items():
        evs.sort()
        current = [evs[0]]
        for prev, ev in zip(evs, evs[1:]):
            if ev[0] - prev[0] >= dt.timedelta(minutes=gap_minutes):
                out.append((user, current))
                current = []
            current.append(ev)
        out.append((user, current))
    return sorted((sid("hipages", user, "", s[0][1]), user, s[0][0], s[-1][0], len(s), s[0][2], s[-1][2],
                   s[0][0].date()) for user, s in out)


def test_incremental_runs_equal_an_independent_full_computation(spark, tmp_path, hipages_profile):
    """Generated files (not in the repo) over three days arrive one by one; each file has
    events of every day, so each run lands late events that extend and join sessions."""
    cfg = generate.GenerateConfig(events=1500, files=3, output=str(tmp_path / "gen"), days=3, users=12,
                                  bad_rate=0.0, seed=7, start=dt.date(2017, 2, 1))
    files = sorted(generate.write(spark, cfg))
    wh = tmp_path / "wh"
    counts = []
    for i, f in enumerate(files):
        run_events(spark, hipages_profile, f, wh, f"e{i}")
        rep = run_sessions(spark, wh, f"s{i}")
        counts.append((rep["modes"]["hipages"], len(rep["dates_rewritten"])))
        events = spark.read.format("delta").load(str(wh / "events"))
        expected = python_sessions([tuple(r) for r in events.select("user_id", "event_id", "time_stamp", "activity")
                                    .collect()], 30)
        assert session_rows(spark, wh) == expected
    assert counts == [("full", 3), ("catch_up", 3), ("catch_up", 3)]
    assert len(expected) > 12 * 3
