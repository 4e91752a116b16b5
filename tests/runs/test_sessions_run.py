"""The sessions job in process: incremental runs against a full recompute, and its one-line failure."""

import datetime as dt
import json
from collections import defaultdict
from hashlib import sha256

import pytest

from clickstream.runs import generate, sessions

from helpers import CONF_DIR, hipages_line, run_events, run_job, write_lines


def sid(*parts):
    return sha256("\u001f".join(parts).encode()).hexdigest()


def test_a_warehouse_without_events_is_one_line_and_exit_2(spark, tmp_path, capsys):
    assert run_job(spark, "sessions", "--warehouse", str(tmp_path / "empty")) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"sessions: error: no events table at file:{tmp_path / 'empty' / 'events'}: run the events job first"]


@pytest.mark.parametrize("argv, message", [
    (["--conversion", "(?P<step>Ride)"],  # Python's named group: Java refuses it
     "sessions: error: bad --conversion '(?P<step>Ride)': Unknown inline modifier near index 2 (Java's regex syntax)"),
    (["--source", "ride", "--conf-dir", "{conf}"],
     "sessions: error: bad 'sessions.conversion' of profile ride '(Ride': Unclosed group near index 5 "
     "(Java's regex syntax)"),
])
def test_a_regex_java_refuses_is_one_line_and_exit_2_before_any_data_is_read(spark, tmp_path, capsys, argv, message):
    raw = json.loads((CONF_DIR / "sources" / "mobile_events.json").read_text())
    (tmp_path / "conf" / "sources").mkdir(parents=True)
    (tmp_path / "conf" / "sources" / "ride.json").write_text(json.dumps({**raw, "sessions": {"conversion": "(Ride"}}))
    argv = [a.replace("{conf}", str(tmp_path / "conf")) for a in argv]
    assert run_job(spark, "sessions", "--warehouse", str(tmp_path / "no-warehouse"), *argv) == 2
    assert capsys.readouterr().err.splitlines() == [message]


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
    events of every day, so the second run lands late events that extend and join sessions."""
    cfg = generate.GenerateConfig(events=1000, files=2, output=str(tmp_path / "gen"), days=3, users=12,
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
    assert counts == [("full", 3), ("catch_up", 3)]
    assert len(expected) > 12 * 3
