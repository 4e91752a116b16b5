"""The sessions transform: cuts at the gap, midnight, devices, conversion, ties, per-source rules."""

import datetime as dt
from hashlib import sha256

import pytest
from chispa import assert_df_equality

from clickstream.config import schemas
from clickstream.rules import sessions as session_rules
from clickstream.config.profiles import SessionRules


MOBILE = SessionRules(gap_minutes=15, conversion="Ride Started|Ride Done|Rating Screen", device_property="device_id")

T0 = dt.datetime(2020, 3, 2, 8, 0)


def events_df(spark, rows, source="m"):
    """Events from (event_id, user_id, time_stamp, activity[, device]) tuples."""
    full = [(source, r[0], r[1], None, r[2], "app.local", "home", None, r[3], None, None,
             {"device_id": r[4]} if len(r) > 4 else {}, "f", "r", r[2].date()) for r in rows]
    return spark.createDataFrame(full, schemas.EVENTS_SCHEMA)


def cut(spark, rows, rule=MOBILE, *columns):
    got = session_rules.sessions(events_df(spark, rows), {"m": rule})
    got = got.select(*columns) if columns else got
    return sorted(tuple(r) for r in got.collect())


def sid(*parts):
    return sha256("\u001f".join(parts).encode()).hexdigest()


def test_one_session_every_column(spark):
    rows = [("e1", "u1", T0, "App Opened", "d1"),
            ("e2", "u1", T0 + dt.timedelta(minutes=5, milliseconds=250), "Ride Started - Successful", "d1"),
            ("e3", "u1", T0 + dt.timedelta(minutes=9, seconds=59, milliseconds=999), "Rating Screen", "d1")]
    got = session_rules.sessions(events_df(spark, rows), {"m": MOBILE})
    expected = spark.createDataFrame([(
        sid("m", "u1", "d1", "e1"), "m", "u1", "d1", T0, T0 + dt.timedelta(minutes=9, seconds=59, milliseconds=999),
        599, 3, "App Opened", "Rating Screen", "app.local", "home", True, T0 + dt.timedelta(minutes=5, milliseconds=250),
        "Ride Started - Successful", T0.date())], schemas.SESSIONS_SCHEMA)
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
    got = session_rules.sessions(events, {"s15": SessionRules(15, "buy"), "s30": SessionRules(30)})
    assert sorted(tuple(r) for r in got.select("source", "event_count", "converted").collect()) == [
        ("s15", 1, False), ("s15", 1, True), ("s30", 2, None)]


def test_daily_summary(spark):
    rows = [("a", "u1", T0, "x"), ("b", "u1", T0 + dt.timedelta(seconds=90), "Ride Done"),
            ("c", "u2", T0, "x"), ("d", "u3", T0, "x"), ("e", "u3", T0 + dt.timedelta(seconds=30), "x")]
    got = session_rules.daily_summary(session_rules.sessions(events_df(spark, rows), {"m": MOBILE}))
    assert [tuple(r) for r in got.collect()] == [(T0.date(), "m", 3, 1, 0.3333, 30.0)]
