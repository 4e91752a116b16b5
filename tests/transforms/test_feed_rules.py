"""The feeds of conf/sources/: app_events (JSON), impressions (CSV), mobile_events (CSV),
and a fourth profile (helpers.CHECKOUT). One test per mapping rule and reject reason."""

import datetime as dt
import hashlib
import json

from chispa import assert_df_equality

from clickstream.config import schemas
from clickstream.rules import events as event_rules
from clickstream.runs import events
from clickstream.config.profiles import parse_profile

from helpers import CHECKOUT, IMP_HEADER


FILE = "file:/in/a.csv"


def sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def lines_df(spark, raw_lines, source_file=FILE):
    rows = [(value, source_file, i) for i, value in enumerate(raw_lines)]
    return spark.createDataFrame(rows, "value string, source_file string, line_order long")


def classify(spark, profile, raw_lines, salt="", source_file=FILE):
    headers = {}
    if profile.format == "csv" and profile.csv_header:
        headers = {source_file: event_rules.csv_header(raw_lines[0], profile.csv_delimiter)}
    return events.classify(lines_df(spark, raw_lines, source_file), profile,
                           spark.createDataFrame([], schemas.EVENTS_SCHEMA), salt, headers)


def outcomes(df):
    return [(r["status"], r["reason"]) for r in df.orderBy("line_order").select("status", "reason").collect()]


def props(df):
    return [dict(r["properties"]) if r["properties"] is not None else None
            for r in df.orderBy("line_order").select("properties").collect()]


def app_line(**over):
    record = {"id": "9ba671d6-5154-41c1-93b1-41dd647b2d55", "created_at": "2020-01-13 05:10:12",
              "user_email": "swalker@krause.com", "ip": "204.116.116.31", "event_name": "page_visit",
              "metadata": {"path": "main/categories/category"}}
    record.update(over)
    return json.dumps({k: v for k, v in record.items() if v is not ...})


def test_app_events_mapping(spark, app):
    got = classify(spark, app, [app_line()]).select(
        "status", "reason", "event_id", "user_id", "session_id", "time_stamp", "url_level1", "url_level2",
        "url_level3", "activity", "url", "ip", "event_date")
    expected = spark.createDataFrame([(
        "new", None, "9ba671d6-5154-41c1-93b1-41dd647b2d55", sha("swalker@krause.com"), None,
        dt.datetime(2020, 1, 13, 5, 10, 12), "app.local", "main", "categories", "page_visit",
        "https://app.local/main/categories/category", "204.116.116.31", dt.date(2020, 1, 13))], got.schema)
    assert_df_equality(got, expected, ignore_nullable=True)


def test_app_events_user_id_is_the_hash_of_the_trimmed_lower_case_email_and_the_salt_changes_it(spark, app):
    lines = [app_line(id="a", user_email=" SWalker@Krause.COM\t"), app_line(id="b", user_email="swalker@krause.com")]
    plain = [r["user_id"] for r in classify(spark, app, lines).orderBy("line_order").collect()]
    salted = [r["user_id"] for r in classify(spark, app, lines, salt="pepper").orderBy("line_order").collect()]
    assert plain == [sha("swalker@krause.com")] * 2
    assert salted == [sha("pepperswalker@krause.com")] * 2


def test_app_events_metadata_keys_become_properties(spark, app):
    got = classify(spark, app, [
        app_line(id="a", metadata={"message_id": 99979, "flag": True, "off": False, "gone": None,
                                   "nested": {"x": [1, 2], "y": "z"}, "list": ["a", 1], "text": " hi "}),
        app_line(id="b", metadata={}),
        app_line(id="c", metadata=...),
    ])
    assert props(got) == [
        {"message_id": "99979", "flag": "true", "off": "false", "nested": '{"x":[1,2],"y":"z"}',
         "list": '["a",1]', "text": "hi"},
        {}, {},
    ]


def test_app_events_path_only_urls_are_joined_to_the_url_base_and_url_is_optional(spark, app):
    got = classify(spark, app, [
        app_line(id="a", metadata={"path": "/main/jobs/new"}),
        app_line(id="b", metadata={"message_id": 1}),
        app_line(id="c", metadata={"path": "https://www.example.com/x/y"}),
        app_line(id="d", metadata={"path": "http://localhost/admin"}),
        app_line(id="e", metadata={"path": "  "}),
    ]).orderBy("line_order")
    rows = [(r["status"], r["reason"], r["url"], r["url_level1"], r["url_level2"], r["url_level3"])
            for r in got.collect()]
    assert rows == [
        ("new", None, "https://app.local/main/jobs/new", "app.local", "main", "jobs"),
        ("new", None, None, None, None, None),
        ("new", None, "https://www.example.com/x/y", "example.com", "x", "y"),
        ("rejected", "bad_url", "http://localhost/admin", None, None, None),
        ("new", None, "  ", None, None, None),
    ]


def test_app_events_reject_reasons(spark, app):
    got = classify(spark, app, [
        app_line(id=...), app_line(id="b", user_email="  "), app_line(id="c", event_name=None),
        app_line(id="d", created_at=...), app_line(id="e", created_at="13/01/2020 05:10:12"),
        app_line(id="f", created_at="2020-02-30 05:10:12"), app_line(id="g", created_at="1999-12-31 23:59:59"),
        '{"id": "242279cc-1", "created_at": "2020-01-13 02:31:30", {"id": "242279cc-2", "created_at": '
        '"2020-01-13 02:31:31", "user_email": "a@b.c", "event_name": "x"}',
    ])
    assert [r for _, r in outcomes(got)] == [
        "missing_event_id", "missing_user_id", "missing_activity", "missing_timestamp", "bad_timestamp",
        "bad_timestamp", "bad_timestamp", "malformed_json",
    ]


def test_impressions_mapping(spark, imp):
    got = classify(spark, imp, [
        IMP_HEADER,
        "a1f3,cmp-042,u-981,2021-03-04 10:15:30,https://news.example.com/sport/article-1",
        "a1f4, cmp-007 ,u-982,2021-03-04T10:45:09Z,",
    ]).where("status != 'header'").select(
        "status", "reason", "event_id", "user_id", "time_stamp", "url_level1", "url_level2", "url_level3",
        "activity", "url", "event_date", "properties", "line_order")
    assert props(got) == [{"campaign_id": "cmp-042"}, {"campaign_id": "cmp-007"}]
    got = got.drop("properties", "line_order")
    expected = spark.createDataFrame([
        ("new", None, "a1f3", "u-981", dt.datetime(2021, 3, 4, 10, 15, 30), "news.example.com", "sport",
         "article-1", "impression", "https://news.example.com/sport/article-1", dt.date(2021, 3, 4)),
        ("new", None, "a1f4", "u-982", dt.datetime(2021, 3, 4, 10, 45, 9), None, None, None, "impression", None,
         dt.date(2021, 3, 4)),
    ], got.schema)
    assert_df_equality(got, expected, ignore_nullable=True)


def test_impressions_columns_are_found_by_header_name_in_any_order_and_extra_columns_are_ignored(spark, imp):
    got = classify(spark, imp, [
        "\ufeffurl,extra,timestamp,user_id,campaign_id,impression_id",
        "https://a.example.com/x,whatever,2021-03-04 10:15:30,u-1,cmp-1,i-1",
    ])
    rows = [(r["status"], r["event_id"], r["user_id"], r["url_level1"], r["properties"])
            for r in got.orderBy("line_order").collect()]
    assert rows == [("header", None, None, None, {}),
                    ("new", "i-1", "u-1", "a.example.com", {"campaign_id": "cmp-1"})]


def test_impressions_reject_reasons_in_order(spark, imp):
    got = classify(spark, imp, [
        IMP_HEADER,
        ",cmp-1,u-1,2021-03-04 10:15:30,",          # missing_event_id
        "i-2,,,2021-03-04 10:15:30,",               # missing_user_id before missing_campaign_id
        "i-3,,u-1,,",                               # missing_campaign_id before missing_timestamp
        "i-4,cmp-1,u-1, ,",                         # missing_timestamp
        "i-5,cmp-1,u-1,2021-03-04 10:15,",          # bad_timestamp
        "i-6,cmp-1,u-1,2021-03-04 10:15:30,nohost",  # bad_url, though url is optional
        "i-7,cmp-1,u-1,2021-03-04 10:15:30",        # a field short
        "i-8,cmp-1,u-1,2021-03-04 10:15:30,,",      # a field too many
        'i-9,cmp-1,u-1,2021-03-04 10:15:30,"https://a.example.com/x',  # an unclosed quote
        "",
    ])
    assert outcomes(got) == [
        ("header", None), ("rejected", "missing_event_id"), ("rejected", "missing_user_id"),
        ("rejected", "missing_campaign_id"), ("rejected", "missing_timestamp"), ("rejected", "bad_timestamp"),
        ("rejected", "bad_url"), ("rejected", "malformed_csv"), ("rejected", "malformed_csv"),
        ("rejected", "malformed_csv"), ("blank", None),
    ]


def test_impressions_quoted_fields_may_hold_the_delimiter_and_quotes(spark, imp):
    got = classify(spark, imp, [
        IMP_HEADER,
        '"i,1","cmp ""x""",u-1,2021-03-04 10:15:30,"https://shop.example.com/search?q=shoes,red"',
    ]).where("status != 'header'")
    row = got.first()
    assert (row["status"], row["event_id"], row["properties"], row["url"], row["url_level2"]) == (
        "new", "i,1", {"campaign_id": 'cmp "x"'}, "https://shop.example.com/search?q=shoes,red", "search")


def test_a_header_only_file_holds_no_records(spark, imp):
    assert outcomes(classify(spark, imp, [IMP_HEADER])) == [("header", None)]

MOBILE_HEADER = ("anonymous_id;business_zoned;context_app_version;context_device_id;context_os_name;event_name;"
                 "received_at;created_at")


def test_mobile_events_mapping(spark, mobile):
    raw = "6C1A;Berlin;4.12.0;A0F3;iOS;Ride Started - Successful;2020-03-02 08:15:02;2020-03-02 08:14:58"
    got = classify(spark, mobile, [MOBILE_HEADER, raw, raw.replace("08:14:58", "08:14:58.250")]) \
        .where("status != 'header'").orderBy("line_order")
    rows = [(r["status"], r["event_id"], r["user_id"], r["activity"], r["time_stamp"], r["url"], r["url_level1"],
             r["properties"]) for r in got.collect()]
    properties = {"device_id": "a0f3", "os": "iOS", "app_version": "4.12.0", "business_zone": "Berlin",
                  "received_at": "2020-03-02 08:15:02"}
    assert rows == [
        ("new", sha("6C1A\u001fA0F3\u001fRide Started - Successful\u001f2020-03-02 08:14:58"), "6c1a",
         "Ride Started - Successful", dt.datetime(2020, 3, 2, 8, 14, 58), None, None, properties),
        ("new", sha("6C1A\u001fA0F3\u001fRide Started - Successful\u001f2020-03-02 08:14:58.250"), "6c1a",
         "Ride Started - Successful", dt.datetime(2020, 3, 2, 8, 14, 58, 250000), None, None, properties),
    ]


def test_mobile_events_event_id_hashes_the_fields_as_written(spark, mobile):
    got = classify(spark, mobile, [
        MOBILE_HEADER,
        " 6C1A ;Berlin;4.12.0;;iOS;App Opened;;2020-03-02 08:10:01",
        " 6C1A ;Berlin;4.12.0;;iOS;App Opened;;2020-03-02 08:10:01",   # an exact repeat: a duplicate
        "6C1A;Berlin;4.12.0;;iOS;App Opened;;2020-03-02 08:10:01",     # not trimmed: another event
    ]).orderBy("line_order")
    rows = [(r["status"], r["event_id"], r["user_id"]) for r in got.collect()][1:]
    assert rows == [
        ("new", sha(" 6C1A \u001f\u001fApp Opened\u001f2020-03-02 08:10:01"), "6c1a"),
        ("duplicate", sha(" 6C1A \u001f\u001fApp Opened\u001f2020-03-02 08:10:01"), "6c1a"),
        ("new", sha("6C1A\u001f\u001fApp Opened\u001f2020-03-02 08:10:01"), "6c1a"),
    ]


def test_mobile_events_reject_reasons(spark, mobile):
    got = classify(spark, mobile, [
        MOBILE_HEADER,
        ";Berlin;4.12.0;A0F3;iOS;App Opened;;2020-03-02 08:10:01",
        "6C1A;Berlin;4.12.0;A0F3;iOS; ;;2020-03-02 08:10:01",
        "6C1A;Berlin;4.12.0;A0F3;iOS;App Opened;;",
        "6C1A;Berlin;4.12.0;A0F3;iOS;App Opened;;2020-03-02T08:10:01",
        "6C1A;Berlin;4.12.0;A0F3;iOS;App Opened;2020-03-02 08:10:01",
    ])
    assert [r for _, r in outcomes(got)][1:] == [
        "missing_user_id", "missing_activity", "missing_timestamp", "bad_timestamp", "malformed_csv"]


def test_a_fourth_feed_needs_only_a_profile(spark):
    profile = parse_profile(CHECKOUT)
    got = classify(spark, profile, [
        "o-1|Ann@Example.com|PAY|02.03.2020 10:30|checkout/pay|Store-7",
        "o-2|ann@example.com|PAY|02.03.2020 10:31|checkout/pay|",
    ]).orderBy("line_order")
    rows = [(r["status"], r["reason"], r["event_id"], r["user_id"], r["activity"], r["time_stamp"],
             r["url_level1"], r["url_level2"], r["properties"]) for r in got.collect()]
    assert rows == [
        ("new", None, "o-1", sha("ann@example.com"), "pay", dt.datetime(2020, 3, 2, 9, 30), "shop.example.com",
         "checkout", {"store": "store-7"}),
        ("rejected", "missing_store", "o-2", sha("ann@example.com"), "pay", dt.datetime(2020, 3, 2, 9, 31),
         "shop.example.com", "checkout", {}),
    ]
