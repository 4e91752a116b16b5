"""The feeds of conf/sources/: app_events (JSON), impressions (CSV), mobile_events (CSV),
and a fourth profile written here. One test per mapping rule and reject reason."""
import datetime as dt
import hashlib
import json

import pytest
from chispa import assert_df_equality

from clickstream import events, ingest, tables
from clickstream.errors import UsageError
from clickstream.profile import load_profile, parse_profile
from conftest import CONF_DIR

FILE = "file:/in/a.csv"


@pytest.fixture(scope="module")
def app(spark):
    return load_profile(CONF_DIR, "app_events")


@pytest.fixture(scope="module")
def imp(spark):
    return load_profile(CONF_DIR, "impressions")


@pytest.fixture(scope="module")
def mobile(spark):
    return load_profile(CONF_DIR, "mobile_events")


def sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def lines_df(spark, raw_lines, source_file=FILE):
    rows = [(value, source_file, i) for i, value in enumerate(raw_lines)]
    return spark.createDataFrame(rows, "value string, source_file string, line_order long")


def classify(spark, profile, raw_lines, salt="", source_file=FILE):
    headers = {}
    if profile.format == "csv" and profile.csv_header:
        headers = {source_file: ingest.csv_header(raw_lines[0], profile.csv_delimiter)}
    return events.classify(lines_df(spark, raw_lines, source_file), profile,
                           spark.createDataFrame([], tables.EVENTS_SCHEMA), salt, headers)


def outcomes(df):
    return [(r["status"], r["reason"]) for r in df.orderBy("line_order").select("status", "reason").collect()]


def props(df):
    return [dict(r["properties"]) if r["properties"] is not None else None
            for r in df.orderBy("line_order").select("properties").collect()]


# --- app_events ------------------------------------------------------------------

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


# --- impressions -------------------------------------------------------------------

IMP_HEADER = "impression_id,campaign_id,user_id,timestamp,url"


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


# --- mobile_events ------------------------------------------------------------------

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


# --- a fourth feed: nothing but a profile -----------------------------------------

CHECKOUT = {
    "name": "checkout",
    "format": "csv",
    "csv": {"delimiter": "|", "header": False, "columns": ["order", "customer", "step", "at", "page", "store"]},
    "fields": {
        "event_id": {"column": "order"},
        "user_id": {"column": "customer", "pii": "sha256"},
        "activity": {"column": "step", "lower": True},
        "timestamp": {"column": "at"},
        "url": {"column": "page"},
    },
    "properties": {"store": {"column": "store", "lower": True}},
    "url_base": "https://shop.example.com/",
    "required": ["event_id", "user_id", "activity", "timestamp", "store"],
    "timestamp_formats": ["dd.MM.yyyy HH:mm"],
    "timezone": "Europe/Berlin",
}


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


@pytest.mark.parametrize("change, message", [
    ({"format": "xml"}, "format 'xml' is not supported (supported: json, csv)"),
    ({"fields": {**CHECKOUT["fields"], "event_id": {"path": "order"}}},
     "field 'event_id': a csv profile names its fields with 'column', not 'path'"),
    ({"required": ["event_id", "user_id", "activity", "timestamp", "coupon"]},
     "'coupon' cannot be required: it is neither a requirable field"),
    ({"required": ["event_id", "activity", "timestamp"]}, "'user_id' must be required"),
    ({"properties": {"url": {"column": "page"}}}, "bad property name 'url'"),
    ({"fields": {**CHECKOUT["fields"], "user_id": {"column": "customer", "pii": "md5"}}},
     "field 'user_id': 'pii' must be one of sha256"),
    ({"csv": {"delimiter": "|", "header": False}}, "must list its 'csv.columns'"),
    ({"url_base": "shop.example.com"}, "'url_base' 'shop.example.com' must be an absolute URL ending in '/'"),
])
def test_bad_profiles_name_the_problem(change, message):
    with pytest.raises(UsageError, match=None) as err:
        parse_profile({**CHECKOUT, **change}, "checkout.json")
    assert str(err.value).startswith("checkout.json: ") and message in str(err.value)


# --- end to end: three feeds in one warehouse ----------------------------------------

from pathlib import Path  # noqa: E402

import pyspark.sql.functions as F  # noqa: E402

from helpers import ROOT, error_lines, read_report, run_events, run_stats, submit, submit_ok, table_rows  # noqa: E402

FEEDS = ROOT / "data" / "feeds"
EMAILS = ["alice.walker@example.com", "bob@example.org", "carol@example.net", "dan@example.com",
          "erin@example.com"]


@pytest.fixture(scope="module")
def warehouse(spark, tmp_path_factory, app, imp, mobile):
    wh = tmp_path_factory.mktemp("feeds") / "wh"
    reports = {name: run_events(spark, profile, FEEDS / name, wh, f"e-{name}", source=name)
               for name, profile in (("app_events", app), ("impressions", imp), ("mobile_events", mobile))}
    return wh, reports


def test_three_feeds_land_in_one_events_table(spark, warehouse):
    wh, reports = warehouse
    counts = {name: (r.records, r.events_written, r.duplicates, r.rejected, r.header_lines, r.blank_lines)
              for name, r in reports.items()}
    assert counts == {
        "app_events": (11, 6, 1, {"malformed_json": 1, "missing_user_id": 1, "bad_timestamp": 1, "bad_url": 1}, 0, 0),
        "impressions": (9, 5, 1, {"missing_campaign_id": 1, "malformed_csv": 1, "bad_timestamp": 1}, 1, 0),
        "mobile_events": (10, 6, 1, {"missing_user_id": 1, "malformed_csv": 1, "bad_timestamp": 1}, 1, 0),
    }
    assert table_rows(spark, wh, "events", "source", "activity", "time_stamp")[:3] == [
        ("app_events", "meeting_scheduled", dt.datetime(2020, 1, 13, 6, 2, 55)),
        ("app_events", "message_saved", dt.datetime(2020, 1, 13, 5, 10, 12)),
        ("app_events", "message_sent", dt.datetime(2020, 1, 13, 6, 31, 30)),
    ]
    assert [r for r in table_rows(spark, wh, "events", "source", "event_id") if r[0] == "impressions"] == [
        ("impressions", f"imp-000{i}") for i in range(1, 6)]


def test_the_same_event_id_in_two_sources_is_two_events(spark, tmp_path, imp):
    line = "imp-0001,cmp-1,u-1,2021-03-04 10:15:30,"
    for name in ("impressions", "impressions_eu"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.csv").write_text(f"{IMP_HEADER}\n{line}\n")
        rep = run_events(spark, imp, tmp_path / name, tmp_path / "wh", f"r-{name}", source=name)
        assert (rep.events_written, rep.duplicates) == (1, 0)
    assert table_rows(spark, tmp_path / "wh", "events", "source", "event_id") == [
        ("impressions", "imp-0001"), ("impressions_eu", "imp-0001")]


def stats_rows(spark, wh, table, source):
    df = spark.read.format("delta").load(str(wh / table)).where(F.col("source") == source).drop("event_date")
    return sorted((tuple(r) for r in df.collect()), key=lambda r: tuple("" if v is None else str(v) for v in r))


def test_hourly_stats_per_source_and_per_campaign(spark, warehouse):
    wh, _ = warehouse
    run_stats(spark, wh, "s-all")
    assert stats_rows(spark, wh, "hourly_stats", "app_events") == [
        ("2020011305", "app_events", None, "message_saved", 1, 1),
        ("2020011305", "app_events", "app.local", "page_visit", 2, 2),
        ("2020011306", "app_events", None, "meeting_scheduled", 1, 1),
        ("2020011306", "app_events", None, "message_sent", 1, 1),
        ("2020011306", "app_events", "app.local", "page_visit", 1, 1),
    ]
    assert stats_rows(spark, wh, "hourly_stats", "mobile_events") == [
        ("2020030208", "mobile_events", None, "App Opened", 2, 2),
        ("2020030208", "mobile_events", None, "Ride Started - Successful", 1, 1),
        ("2020030208", "mobile_events", None, "Search Started", 1, 1),
        ("2020030209", "mobile_events", None, "Rating Screen", 1, 1),
        ("2020030209", "mobile_events", None, "Search Started", 1, 1),
    ]
    rep = run_stats(spark, wh, "s-imp", source="impressions", dimensions=("campaign_id",))
    assert (rep["table"], rep["source"], rep["rows_written"], rep["events_counted"]) == (
        "hourly_stats_campaign_id", "impressions", 3, 5)
    assert stats_rows(spark, wh, "hourly_stats_campaign_id", "impressions") == [
        ("2021030410", "impressions", "news.example.com", "cmp-042", "impression", 3, 2),
        ("2021030410", "impressions", "shop.example.com", "cmp-007", "impression", 1, 1),
        ("2021030411", "impressions", None, "cmp-007", "impression", 1, 1),
    ]
    assert spark.read.format("delta").load(str(wh / "hourly_stats_campaign_id")).columns == [
        "time_bucket", "source", "url_level1", "campaign_id", "activity", "activity_count", "user_count",
        "event_date"]


def test_a_run_of_one_source_rewrites_only_that_source(spark, warehouse):
    wh, _ = warehouse
    run_stats(spark, wh, "s-all-2")
    before = table_rows(spark, wh, "hourly_stats", "source", "time_bucket", "activity", "activity_count")
    rep = run_stats(spark, wh, "s-mobile", source="mobile_events", date_from=dt.date(2020, 1, 1),
                    date_to=dt.date(2021, 12, 31))
    assert (rep["mode"], rep["rows_written"], rep["events_counted"]) == ("range", 5, 6)
    assert table_rows(spark, wh, "hourly_stats", "source", "time_bucket", "activity", "activity_count") == before
    from delta.tables import DeltaTable
    last = DeltaTable.forPath(spark, str(wh / "hourly_stats")).history(1).first()
    predicate = last["operationParameters"]["predicate"]
    assert "mobile_events" in predicate and "2020-01-01" in predicate


def test_raw_emails_reach_neither_the_events_table_nor_the_report(spark, warehouse):
    wh, reports = warehouse
    rows = spark.read.format("delta").load(str(wh / "events")).where("source = 'app_events'") \
        .select(F.to_json(F.struct("*")).alias("j")).collect()
    assert len(rows) == 6
    text = "\n".join(r["j"] for r in rows).lower()
    assert [e for e in EMAILS if e in text] == [] and "@" not in text
    assert "@" not in json.dumps(read_report(wh, "e-app_events"))
    # Rejected lines keep their raw text, and so their PII (the README says so).
    rejects = [r for r in table_rows(spark, wh, "rejects", "reason", "raw") if "erin@example.com" in r[1]]
    assert [r[0] for r in rejects] == ["bad_timestamp", "bad_url"]


@pytest.mark.entry_point
def test_a_csv_header_without_a_required_column_fails_before_any_commit(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.csv").write_text(f"{IMP_HEADER}\ni-1,cmp-1,u-1,2021-03-04 10:15:30,\n")
    (src / "b.csv").write_text("impression_id,user_id,url\ni-2,u-2,\n")
    proc = submit("events", "--source", "impressions", "--input", str(src), "--warehouse", str(tmp_path / "wh"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert error_lines(proc) == [f"events: error: file:{src}/b.csv: the CSV header lacks required column(s) timestamp, "
                      "campaign_id (profile impressions; header: impression_id, user_id, url)"]
    assert "Traceback" not in proc.stdout + proc.stderr and not (tmp_path / "wh").exists()


@pytest.mark.entry_point
def test_a_fourth_feed_from_a_profile_file_end_to_end(tmp_path):
    conf = tmp_path / "conf" / "sources"
    conf.mkdir(parents=True)
    (conf / "checkout.json").write_text(json.dumps(CHECKOUT))
    day = tmp_path / "in" / "2020" / "03" / "02"
    day.mkdir(parents=True)
    (day / "part-1.psv").write_text("o-1|ann@example.com|PAY|02.03.2020 10:30|checkout/pay|Store-7\n"
                                    "o-2|bob@example.com|pay|02.03.2020 10:59|checkout/pay|store-7\n"
                                    "o-3|bob@example.com|pay|02.03.2020 11:00|checkout/pay\n")
    wh = tmp_path / "wh"
    out = submit_ok("events", "--conf-dir", str(tmp_path / "conf"), "--source", "checkout", "--date", "2020-03-02",
                    "--input", str(tmp_path / "in"), "--warehouse", str(wh), "--max-reject-rate", "0.5",
                    "--run-id", "e1").stdout
    assert "records=3 events_written=2 rejected=1 (malformed_csv=1)" in out
    submit_ok("hourly_stats", "--warehouse", str(wh), "--source", "checkout", "--dimensions", "store",
              "--csv", str(tmp_path / "stats.csv"))
    assert (tmp_path / "stats.csv").read_text().splitlines() == [
        "time_bucket,url_level1,store,activity,activity_count,user_count",
        "2020030209,shop.example.com,store-7,pay,2,2",
    ]
    # ... and sessions, with the profile's default gap and a conversion from the command line.
    out = submit_ok("sessions", "--conf-dir", str(tmp_path / "conf"), "--warehouse", str(wh),
                    "--conversion", "^pay$").stdout
    assert "modes=checkout:full dates=1 sessions=2" in out
    assert "  2020-03-02 checkout: sessions=2 converted=2 conversion_rate=1.0000 median_duration_s=0.0" in out


def test_a_warehouse_from_before_feeds_is_migrated(spark, tmp_path, hipages_profile):
    from helpers import hipages_line, write_lines

    wh = tmp_path / "wh"
    legacy = tables.EVENTS_SCHEMA.fieldNames()
    old_schema = ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in tables.EVENTS_SCHEMA.fields
                           if f.name not in ("source", "properties"))
    row = ("e1", "u1", "s1", dt.datetime(2017, 2, 2, 20, 22), "hipages.com.au", "articles", None, "page_view",
           "https://www.hipages.com.au/articles", "1.2.3.4", "file:/old.json", "old-run", dt.date(2017, 2, 2))
    spark.createDataFrame([row], old_schema).write.format("delta").partitionBy("event_date").save(str(wh / "events"))
    (wh / "_runs").mkdir()
    (wh / "_runs" / "old-run.json").write_text(json.dumps({"run_id": "old-run", "source": "hipages"}))
    spark.createDataFrame([("2017020220", "hipages.com.au", "page_view", 1, 1, dt.date(2017, 2, 2))],
                          "time_bucket string, url_level1 string, activity string, activity_count long, "
                          "user_count long, event_date date") \
        .write.format("delta").partitionBy("event_date").save(str(wh / "hourly_stats"))

    src = write_lines(tmp_path / "in" / "a.json", [hipages_line("e1"), hipages_line("e2")])
    rep = run_events(spark, hipages_profile, src, wh, "new-run")
    assert (rep.events_written, rep.duplicates) == (1, 1)
    assert table_rows(spark, wh, "events", "source", "event_id", "run_id", "properties") == [
        ("hipages", "e1", "old-run", {}), ("hipages", "e2", "new-run", {})]
    assert sorted(spark.read.format("delta").load(str(wh / "events")).columns) == sorted(legacy)
    stats = run_stats(spark, wh, "s1")
    assert stats["mode"] == "full"
    assert table_rows(spark, wh, "hourly_stats", "time_bucket", "source", "url_level1", "activity",
                      "activity_count", "user_count") == [
        ("2017020220", "hipages", "hipages.com.au", "page_view", 2, 1)]


def test_new_files_only_takes_csv_files_once_with_their_own_headers(spark, tmp_path, imp):
    src, wh = tmp_path / "in put", tmp_path / "wh"  # a space: Spark spells the file 'in%20put'

    day = src / "2021" / "03" / "04"
    day.mkdir(parents=True)
    (day / "a.csv").write_bytes(f"\ufeff{IMP_HEADER}\r\ni-1,cmp-1,u-1,2021-03-04 10:15:30,\r\n".encode())
    first = run_events(spark, imp, src, wh, "n1", source="impressions", new_files_only=True)
    (day / "b.csv").write_text("user_id,timestamp,campaign_id,impression_id\n"
                               "u-2,2021-03-04 10:20:00,cmp-2,i-2\nu-3,2021-03-04 10:21:00,cmp-2\n")
    second = run_events(spark, imp, src, wh, "n2", source="impressions", new_files_only=True)
    assert [(r.records, r.events_written, r.rejected, r.header_lines) for r in (first, second)] == [
        (1, 1, {}, 1), (2, 1, {"malformed_csv": 1}, 1)]
    assert table_rows(spark, wh, "events", "event_id", "user_id", "properties") == [
        ("i-1", "u-1", {"campaign_id": "cmp-1"}), ("i-2", "u-2", {"campaign_id": "cmp-2"})]


def test_files_whose_path_needs_escaping_keep_their_headers_and_rejects(spark, tmp_path, imp):
    src = tmp_path / "my feed" / "day 1.csv"
    src.parent.mkdir()
    src.write_text(f"{IMP_HEADER}\ni-1,cmp-1,u-1,2021-03-04 10:15:30,\ni-2,cmp-1\n")
    for run in ("r1", "r2"):  # the second run replaces the first one's rejects of that file
        rep = run_events(spark, imp, src.parent, tmp_path / "wh", run, source="impressions")
        assert (rep.events_written if run == "r1" else rep.duplicates, rep.rejected) == (1, {"malformed_csv": 1})
    assert table_rows(spark, tmp_path / "wh", "rejects", "reason", "raw", "run_id") == [
        ("malformed_csv", "i-2,cmp-1", "r2")]


def test_the_pii_salt_comes_from_the_environment(monkeypatch):
    args = ["--input", "in", "--warehouse", "wh", "--source", "app_events"]
    monkeypatch.delenv("CLICKSTREAM_PII_SALT", raising=False)
    assert events.parse_args(args, str(CONF_DIR)).pii_salt == ""
    monkeypatch.setenv("CLICKSTREAM_PII_SALT", "pepper")
    assert events.parse_args(args, str(CONF_DIR)).pii_salt == "pepper"


def test_sessions_of_every_feed_with_each_profiles_rules(spark, warehouse):
    from clickstream import sessions

    wh, _ = warehouse
    rep = sessions.run(spark, sessions.SessionsConfig(warehouse=str(wh), run_id="sess-all"))
    assert rep["modes"] == {"app_events": "full", "impressions": "full", "mobile_events": "full"}
    assert [tuple(s.values()) for s in rep["summary"]] == [
        ("2020-01-13", "app_events", 3, 1, 0.3333, 990.0),    # meeting_scheduled, 30-minute gaps
        ("2020-03-02", "mobile_events", 4, 2, 0.5, 0.0),      # the rides, 15-minute gaps, per device
        ("2021-03-04", "impressions", 3, 0, None, 32.0),      # no conversion rule: rate NULL
    ]
    got = spark.read.format("delta").load(str(wh / "sessions")).where("source = 'app_events' AND converted")
    assert [(r["event_count"], r["duration_seconds"], r["first_activity"], r["landing_url_level1"],
             r["landing_url_level2"], r["converted_at"], r["conversion_activity"]) for r in got.collect()] == [
        (2, 1312, "page_visit", "app.local", "main", dt.datetime(2020, 1, 13, 6, 2, 55), "meeting_scheduled")]
