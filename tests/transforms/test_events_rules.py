"""Transforms of the events job: one test per rule and per reject reason."""

import datetime as dt
import json

import pyspark.sql.functions as F
import pytest
from chispa import assert_df_equality

from clickstream.config import schemas
from clickstream.rules import events as event_rules
from clickstream.runs import events
from clickstream.config.profiles import parse_profile


def line(event_id="e1", user_id="u1", action="page_view", url="https://www.hipages.com.au/articles",
         timestamp="02/02/2017 20:22:00", session_id="s1", ip="1.2.3.4", **extra):
    record = {"event_id": event_id, "user": {"session_id": session_id, "id": user_id, "ip": ip},
              "action": action, "url": url, "timestamp": timestamp, **extra}
    return json.dumps(record)


def lines_df(spark, raw_lines, source_file="file:/in/a.json"):
    rows = [(value, source_file, i) for i, value in enumerate(raw_lines)]
    return spark.createDataFrame(rows, "value string, source_file string, line_order long")


def empty_events(spark):
    return spark.createDataFrame([], schemas.EVENTS_SCHEMA)


def classify(spark, profile, raw_lines, existing=None):
    return events.classify(lines_df(spark, raw_lines), profile, existing or empty_events(spark))


def outcomes(df):
    return [(r["status"], r["reason"]) for r in df.orderBy("line_order").select("status", "reason").collect()]


def test_valid_line_becomes_an_event_with_canonical_columns(spark, hipages_profile):
    raw = line(event_id="893479324983546", user_id=56456, url="https://www.hipages.com.au/connect/sfelectrics/x")
    got = classify(spark, hipages_profile, [raw]).select(
        "status", "reason", "event_id", "user_id", "session_id", "time_stamp",
        "url_level1", "url_level2", "url_level3", "activity", "url", "ip", "event_date",
    )
    expected = spark.createDataFrame(
        [("new", None, "893479324983546", "56456", "s1", dt.datetime(2017, 2, 2, 20, 22), "hipages.com.au",
          "connect", "sfelectrics", "page_view", "https://www.hipages.com.au/connect/sfelectrics/x", "1.2.3.4",
          dt.date(2017, 2, 2))],
        got.schema,
    )
    assert_df_equality(got, expected, ignore_nullable=True)


def test_blank_lines_are_not_records_and_not_rejected(spark, hipages_profile):
    got = classify(spark, hipages_profile, ["", " \t ", "\r", line()])
    assert outcomes(got) == [("blank", None), ("blank", None), ("blank", None), ("new", None)]

MALFORMED = [
    '{ "event_id" : "1", "user" : { "session_id" : "5", "id" : 56a56 , "ip" : "1" }, "action" : "a", '
    '"url" : "https://a.com/x", "timestamp" : "02/02/2017 20:22:00"}',
    '{"event_id": "1", "user": {"id": 1}',
    "not json at all",
    '["event_id", "1"]',
    '"a string"',
    "42",
    "{'event_id': '1'}",
    '{"event_id": "1",}',
    '{"event_id": NaN}',
    line() + " trailing",
    line() + line(),
    "{",
]


def test_malformed_json(spark, hipages_profile):
    got = classify(spark, hipages_profile, MALFORMED)
    assert outcomes(got) == [("rejected", "malformed_json")] * len(MALFORMED)


def test_a_line_separator_inside_a_json_string_is_text(spark, hipages_profile):
    """U+2028, U+2029 and U+0085 may stand raw in a JSON string (only U+0000-U+001F may
    not), and a line break never splits a line there: the text reader splits on CR and LF
    alone. (Java's regex '.' stops at them; a line with one was malformed_json before.)"""
    separators = ["\u2028", "\u2029", "\u0085"]
    got = classify(spark, hipages_profile, [line(event_id=f"e{i}", session_id="sXy").replace("sXy", f"s{c}y")
                                            for i, c in enumerate(separators)])
    assert outcomes(got) == [("new", None)] * 3
    assert [r["session_id"] for r in got.orderBy("line_order").collect()] == [f"s{c}y" for c in separators]


def test_fields_of_an_unexpected_json_type_count_as_absent(spark, hipages_profile):
    got = classify(spark, hipages_profile, [
        line(user_id=None).replace('"user": {"session_id": "s1", "id": null, "ip": "1.2.3.4"}', '"user": "x"'),
        line(url={}),
        line(url=["https://a.com/x"]),
        line(action=True),
        line(action=7),
        line(timestamp=20170202),
        line(event_id={"id": "e1"}),
        line(user_id=[1]),
        line(user_id=False),
    ])
    assert outcomes(got) == [
        ("rejected", "missing_user_id"),
        ("rejected", "missing_url"),
        ("rejected", "missing_url"),
        ("rejected", "missing_activity"),
        ("rejected", "missing_activity"),
        ("rejected", "missing_timestamp"),
        ("rejected", "missing_event_id"),
        ("rejected", "missing_user_id"),
        ("rejected", "missing_user_id"),
    ]


def test_strings_that_look_like_other_json_types_are_still_strings(spark, hipages_profile):
    got = classify(spark, hipages_profile, [
        line(event_id="e1", action="true"),
        line(event_id="e2", action="{}"),
        line(event_id="e3", action="12"),
        line(event_id="e4", action="[x]"),
    ]).orderBy("line_order").select("status", "activity")
    assert [tuple(r) for r in got.collect()] == [
        ("new", "true"), ("new", "{}"), ("new", "12"), ("new", "[x]"),
    ]


def test_ids_may_be_numbers_and_are_stored_as_text(spark, hipages_profile):
    got = classify(spark, hipages_profile, [line(event_id=123, user_id=56456, session_id=777)])
    assert [tuple(r) for r in got.select("event_id", "user_id", "session_id").collect()] == [("123", "56456", "777")]


def test_unknown_fields_are_ignored(spark, hipages_profile):
    got = classify(spark, hipages_profile, [line(referrer="x", extra={"a": [1, 2]})])
    assert outcomes(got) == [("new", None)]

MISSING = [
    ("event_id", [None, "", " \t\r\n"], "missing_event_id"),
    ("user_id", [None, "", "  "], "missing_user_id"),
    ("action", [None, "", "\t"], "missing_activity"),
    ("url", [None, "", "   "], "missing_url"),
    ("timestamp", [None, "", " "], "missing_timestamp"),
]


def test_missing_required_fields_null_empty_blank_or_absent(spark, hipages_profile):
    raws, expected = [], []
    for field, values, reason in MISSING:
        absent = json.loads(line())
        if field == "user_id":
            del absent["user"]["id"]
        else:
            del absent[field]
        raws += [line(**{field: v}) for v in values] + [json.dumps(absent)]
        expected += [("rejected", reason)] * (len(values) + 1)
    assert outcomes(classify(spark, hipages_profile, raws)) == expected


def test_text_fields_are_trimmed_and_empty_optional_fields_are_null(spark, hipages_profile):
    raw = line(event_id=" e1\t", user_id=" u1 ", action="\tpage_view\r\n", session_id=" ", ip="",
               url="  https://www.hipages.com.au/articles  ", timestamp=" 02/02/2017 20:22:00\t")
    got = classify(spark, hipages_profile, [raw]).select("event_id", "user_id", "activity", "session_id", "ip", "url")
    assert [tuple(r) for r in got.collect()] == [
        ("e1", "u1", "page_view", None, None, "  https://www.hipages.com.au/articles  ")
    ]


def test_bad_timestamp(spark, hipages_profile):
    got = classify(spark, hipages_profile, [
        line(timestamp="32/01/2017 10:00:00"),
        line(timestamp="29/02/2017 10:00:00"),
        line(timestamp="2017-02-02 10:00:00"),
        line(timestamp="31/12/1999 23:59:59"),
        line(timestamp="01/01/2100 00:00:00"),
    ])
    assert outcomes(got) == [("rejected", "bad_timestamp")] * 5


def test_bad_url(spark, hipages_profile):
    got = classify(spark, hipages_profile, [line(url="not a url"), line(url="https://localhost/x"),
                                            line(url="https://a b.com/")])
    assert outcomes(got) == [("rejected", "bad_url")] * 3


def test_one_reason_per_line_first_in_documented_order(spark, hipages_profile):
    got = classify(spark, hipages_profile, [
        line(event_id="", user_id="", action="", url="", timestamp=""),
        line(user_id="", action="", url="not a url", timestamp="bad"),
        line(action="", url="", timestamp="bad"),
        line(url="", timestamp="bad"),
        line(timestamp="", url="not a url"),
        line(timestamp="bad", url="not a url"),
    ])
    assert [r for _, r in outcomes(got)] == [
        "missing_event_id", "missing_user_id", "missing_activity", "missing_url",
        "missing_timestamp", "bad_timestamp",
    ]


def test_timestamp_is_read_in_the_profile_zone_and_stored_in_utc(spark, hipages_profile):
    profile = parse_profile({
        "fields": {"event_id": "event_id", "user_id": "user.id", "activity": "action", "url": "url",
                   "timestamp": "timestamp"},
        "timestamp_formats": ["dd/MM/yyyy HH:mm:ss"],
        "timezone": "Australia/Sydney",
    })
    got = classify(spark, profile, [line(timestamp="02/02/2017 08:30:00")]).select("time_stamp", "event_date")
    assert [tuple(r) for r in got.collect()] == [(dt.datetime(2017, 2, 1, 21, 30), dt.date(2017, 2, 1))]


def test_duplicates_in_one_run_first_copy_by_file_and_line_wins(spark, hipages_profile):
    a = line(event_id="e1", action="page_view")
    b = line(event_id="e1", action="button_click")
    rows = [(a, "file:/in/b.json", 0), (b, "file:/in/a.json", 5), (b, "file:/in/a.json", 9), (a, "file:/in/b.json", 1)]
    df = spark.createDataFrame(rows, "value string, source_file string, line_order long")
    got = events.classify(df, hipages_profile, empty_events(spark)).select(
        "source_file", "line_order", "status", "reason", "activity")
    expected = spark.createDataFrame([
        ("file:/in/a.json", 5, "new", None, "button_click"),
        ("file:/in/a.json", 9, "duplicate", None, "button_click"),
        ("file:/in/b.json", 0, "rejected", "conflicting_duplicate", "page_view"),
        ("file:/in/b.json", 1, "rejected", "conflicting_duplicate", "page_view"),
    ], got.schema)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_copy_already_in_the_table_wins(spark, hipages_profile):
    stored_line = line(event_id="e1", action="page_view")
    stored = (
        classify(spark, hipages_profile, [stored_line])
        .withColumn("run_id", F.lit("old"))
        .withColumn("source", F.lit("hipages"))
        .select(*schemas.EVENTS_COLUMNS)
    )
    got = classify(spark, hipages_profile, [
        line(event_id="e1", action="button_click"),  # differs from the stored copy
        stored_line,                                  # identical to it
        line(event_id="e1", action="button_click"),
        line(event_id="e2"),
    ], existing=stored)
    assert outcomes(got) == [
        ("rejected", "conflicting_duplicate"), ("duplicate", None), ("rejected", "conflicting_duplicate"), ("new", None),
    ]


def test_lineage_does_not_make_copies_different(spark, hipages_profile):
    raw = line(event_id="e1")
    rows = [(raw, "file:/in/a.json", 0), (raw, "file:/in/b.json", 0)]
    df = spark.createDataFrame(rows, "value string, source_file string, line_order long")
    got = events.classify(df, hipages_profile, empty_events(spark))
    assert outcomes(got) == [("new", None), ("duplicate", None)]


def test_nulls_compare_equal_when_checking_copies(spark, hipages_profile):
    raw = line(event_id="e1", session_id="", ip=None, url="https://www.hipages.com.au")
    assert outcomes(classify(spark, hipages_profile, [raw, raw])) == [("new", None), ("duplicate", None)]


def test_rejected_lines_are_not_deduplicated(spark, hipages_profile):
    bad = line(event_id="e1", timestamp="bad")
    assert outcomes(classify(spark, hipages_profile, [bad, bad, line(event_id="e1")])) == [
        ("rejected", "bad_timestamp"), ("rejected", "bad_timestamp"), ("new", None),
    ]


@pytest.mark.parametrize("probe", [False, True])
def test_keys_to_compare_are_repeated_candidate_keys_and_stored_keys(spark, hipages_profile, probe):
    stored = (
        classify(spark, hipages_profile, [line(event_id="s1"), line(event_id="s2")])
        .withColumn("run_id", F.lit("old"))
        .withColumn("source", F.lit("hipages"))
        .select(*schemas.EVENTS_COLUMNS)
    )
    parsed = events.parse_lines(lines_df(spark, [
        line(event_id="e1"), line(event_id="e1"),   # repeated in the batch
        line(event_id="e2"),                        # the only copy of a new key
        line(event_id="s1"),                        # already stored
        line(event_id="e3", timestamp="bad"),       # rejected lines do not count ...
        line(event_id="e3"),                        # ... so e3 has one candidate copy
        "", "",
    ]), hipages_profile)
    got = event_rules.keys_to_compare(parsed, stored, probe=probe)
    assert sorted(r["event_id"] for r in got.collect()) == ["e1", "s1"]
    # The probe broadcasts the batch's key hashes to the stored keys.
    assert ("BroadcastHashJoin [xxhash64(event_id" in got._jdf.queryExecution().executedPlan().toString()) == probe


def test_dedup_status_is_the_same_with_a_broadcast_comparison(spark, hipages_profile):
    stored = (
        classify(spark, hipages_profile, [line(event_id="s1")])
        .withColumn("run_id", F.lit("old"))
        .withColumn("source", F.lit("hipages"))
        .select(*schemas.EVENTS_COLUMNS)
    )
    parsed = events.parse_lines(lines_df(spark, [
        line(event_id="s1", action="other"), line(event_id="s1"), line(event_id="e1"),
        line(event_id="e1"), line(event_id="e1", action="other"), line(event_id="e2"), " ",
        line(event_id="e3", url="nope://"),
    ]), hipages_profile).cache()  # as the events job does: the comparison path reads it four times
    try:
        compare = F.broadcast(event_rules.keys_to_compare(parsed, stored))
        got = event_rules.with_dedup_status(parsed, stored, compare=compare)
        assert outcomes(got) == [
            ("rejected", "conflicting_duplicate"), ("duplicate", None), ("new", None), ("duplicate", None),
            ("rejected", "conflicting_duplicate"), ("new", None), ("blank", None), ("rejected", "bad_url"),
        ]
        # (a map cannot be sorted on: compare its entries)
        entries = F.array_sort(F.map_entries("properties"))
        assert_df_equality(got.withColumn("properties", entries),
                           event_rules.with_dedup_status(parsed, stored).withColumn("properties", entries),
                           ignore_row_order=True)
    finally:
        parsed.unpersist()


def byte_lines_df(spark, raw_lines: list[bytes]):
    """Lines as Spark's text reader gives them: the bytes as read, not decoded."""
    rows = [(bytearray(value), "file:/in/a.json", i) for i, value in enumerate(raw_lines)]
    return (spark.createDataFrame(rows, "b binary, source_file string, line_order long")
            .select(F.col("b").cast("string").alias("value"), "source_file", "line_order"))


def test_odd_bytes_are_rejected_with_their_own_reason_and_a_bom_is_dropped(spark, hipages_profile):
    good = line("e1").encode()
    raw = [
        b"\xef\xbb\xbf" + line("bom").encode(),             # a UTF-8 BOM before the object
        line("latin1", url="https://www.hipages.com.au/cafX").encode().replace(b"cafX", b"caf\xe9"),  # Latin-1
        b'{"event_id": "x", "bad": "\xc3\x28"}',             # an invalid 2-byte sequence
        line("long", url="https://www.hipages.com.au/" + "a" * 200).encode(),  # over the limit below
        line("cafe", url="https://www.hipages.com.au/cafX").encode().replace(b"cafX", b"caf\xc3\xa9"),  # UTF-8
        good,
    ]
    parsed = events.parse_lines(byte_lines_df(spark, raw), hipages_profile, max_line_bytes=len(good) + 20)
    got = parsed.transform(event_rules.with_dedup_status, empty_events(spark))
    assert outcomes(got) == [("new", None), ("rejected", "bad_encoding"), ("rejected", "bad_encoding"),
                             ("rejected", "line_too_long"), ("new", None), ("new", None)]
    assert [r["event_id"] for r in got.where("status = 'new'").orderBy("line_order").collect()] == ["bom", "cafe",
                                                                                                  "e1"]


def test_file_summary_counts_each_files_lines_and_bytes_and_bounds_the_candidate_keys(spark, hipages_profile):
    """One row per file, before any classification: every line (blank and rejected ones
    too), their bytes and the file as read; the key and date range of candidates only."""
    a = [line("k2", timestamp="02/02/2017 10:00:00"), "", line("k9", timestamp="bad"),
         line("k5", timestamp="04/02/2017 10:00:00")]
    b = ["not json"]
    rows = [(value, f"file:/in/{name}", i, size, 7) for name, lines, size in (("a.json", a, 999), ("b.json", b, 9))
            for i, value in enumerate(lines)]
    lines = spark.createDataFrame(rows, "value string, source_file string, line_order long, file_size long, "
                                        "file_modified long")
    parsed = events.parse_lines(lines, hipages_profile)
    summary = sorted(parsed.transform(event_rules.file_summary).collect(), key=lambda r: r["source_file"])
    assert [r.asDict() for r in summary] == [
        {"source_file": "file:/in/a.json", "lines": 4, "bytes": sum(len(v.encode()) for v in a), "size": 999,
         "modified": 7, "lo": "k2", "hi": "k5", "first_date": dt.date(2017, 2, 2), "last_date": dt.date(2017, 2, 4)},
        {"source_file": "file:/in/b.json", "lines": 1, "bytes": 8, "size": 9, "modified": 7, "lo": None, "hi": None,
         "first_date": None, "last_date": None},
    ]
    assert event_rules.KeyBounds.over(summary) == event_rules.KeyBounds("k2", "k5", dt.date(2017, 2, 2),
                                                                        dt.date(2017, 2, 4))
    assert event_rules.KeyBounds.over(summary[1:]) == event_rules.KeyBounds(None, None, None, None)
