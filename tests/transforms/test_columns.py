"""Column functions, one rule each: a DataFrame of `input, expected` rows (with a NULL row)."""

import datetime as dt

import pyspark.sql.functions as F
from chispa import assert_column_equality

from clickstream.rules import columns as C


URL_CASES = [
    # url, level1, level2, level3 (the table, then more edges)
    ("https://www.hipages.com.au/articles", "hipages.com.au", "articles", None),
    ("https://www.hipages.com.au/connect/sfelectrics/service/190625", "hipages.com.au", "connect", "sfelectrics"),
    ("www.hipages.com.au/get_quotes_simple?search_str=sfdg", "hipages.com.au", "get_quotes_simple", None),
    ("hipages.com.au/connect/sfelectrics/service/190625", "hipages.com.au", "connect", "sfelectrics"),
    ("w3.hipages.com.au/articles", "w3.hipages.com.au", "articles", None),
    ("HTTPS://WWW.HiPages.com.au:8443/Find//Plumbers/?x=1#top", "hipages.com.au", "Find", "Plumbers"),
    ("https://www.hipages.com.au", "hipages.com.au", None, None),
    ("not a url", None, None, None),
    (" \thttp://m.hipages.com.au/a%20b/C?q=/x/y#/z \r\n", "m.hipages.com.au", "a%20b", "C"),
    ("https://user:pa:ss@www.hipages.com.au.:80/x", "hipages.com.au", "x", None),
    ("https://www.hipages.com.au?next=/a/b", "hipages.com.au", None, None),
    ("https://www.hipages.com.au#/a/b", "hipages.com.au", None, None),
    ("ftp://files.example.org//a///b//", "files.example.org", "a", "b"),
    ("https://localhost/articles", None, None, None),
    ("https://exa_mple.com/x", None, None, None),
    ("https://www./x", None, None, None),
    ("https:///x", None, None, None),
    ("https://wwwx.com/x", "wwwx.com", "x", None),
    # A line terminator inside the host is not a host character (nor is it at the end).
    ("http://a.com\n/x", None, None, None),
    ("http://a.com\r", "a.com", None, None),
    (None, None, None, None),
]


def test_url_levels(spark):
    df = spark.createDataFrame(URL_CASES, "url string, l1 string, l2 string, l3 string")
    host = C.url_host(F.col("url"))
    path = C.url_path(F.col("url"))
    valid = C.is_valid_host(host)
    out = df.select(
        "*",
        F.when(valid, C.url_level1(host)).alias("got1"),
        F.when(valid, C.path_segment(path, 1)).alias("got2"),
        F.when(valid, C.path_segment(path, 2)).alias("got3"),
    )
    assert_column_equality(out, "got1", "l1")
    assert_column_equality(out, "got2", "l2")
    assert_column_equality(out, "got3", "l3")


def test_url_host_keeps_subdomains_and_strips_one_trailing_dot(spark):
    df = spark.createDataFrame(
        [("http://WWW.A.com../", "www.a.com."), ("m.a.com", "m.a.com"), ("https://a.com:8080", "a.com"), (None, None)],
        "url string, expected string",
    )
    assert_column_equality(df.withColumn("got", C.url_host(F.col("url"))), "got", "expected")


def test_clean_text_trims_space_tab_cr_lf_and_empties_to_null(spark):
    df = spark.createDataFrame(
        [(" \t a b \r\n", "a b"), ("", None), (" \t\r\n", None), ("x", "x"), ("\u00a0x", "\u00a0x"), (None, None)],
        "raw string, expected string",
    )
    assert_column_equality(df.withColumn("got", C.clean_text(F.col("raw"))), "got", "expected")


def test_is_blank(spark):
    df = spark.createDataFrame(
        [("", True), (" \t\r", True), (" x ", False), ("{}", False)], "raw string, expected boolean"
    )
    assert_column_equality(df.withColumn("got", C.is_blank(F.col("raw"))), "got", "expected")

TS = "dd/MM/yyyy HH:mm:ss"


def test_parse_timestamp_day_first_strict_and_in_range(spark):
    df = spark.createDataFrame(
        [
            ("02/02/2017 20:22:00", dt.datetime(2017, 2, 2, 20, 22)),
            ("01/03/2017 09:00:00", dt.datetime(2017, 3, 1, 9, 0)),  # 1 March: day first
            ("13/01/2017 00:00:00", dt.datetime(2017, 1, 13, 0, 0)),
            ("29/02/2016 12:00:00", dt.datetime(2016, 2, 29, 12, 0)),
            ("32/01/2017 10:00:00", None),
            ("29/02/2017 10:00:00", None),
            ("01/13/2017 10:00:00", None),
            ("2017-02-02 20:22:00", None),
            ("2017-02-02T20:22:00Z", None),
            ("2/2/2017 20:22:00", None),
            ("02/02/2017 20:22", None),
            ("02/02/2017 20:22:00 extra", None),
            ("02/02/2017 24:00:00", None),
            ("31/12/1999 23:59:59", None),
            ("01/01/2000 00:00:00", dt.datetime(2000, 1, 1)),
            ("31/12/2099 23:59:59", dt.datetime(2099, 12, 31, 23, 59, 59)),
            ("01/01/2100 00:00:00", None),
            ("garbage", None),
            (None, None),
        ],
        "text string, expected timestamp",
    )
    got = df.withColumn("got", C.parse_timestamp(F.col("text"), [TS], "UTC"))
    assert_column_equality(got, "got", "expected")


def test_parse_timestamp_converts_source_zone_to_utc_and_checks_range_on_utc(spark):
    df = spark.createDataFrame(
        [
            ("02/02/2017 20:22:00", dt.datetime(2017, 2, 2, 9, 22)),  # AEDT, UTC+11
            ("01/07/2017 10:00:00", dt.datetime(2017, 7, 1, 0, 0)),  # AEST, UTC+10
            ("01/01/2000 05:00:00", None),  # 1999-12-31 18:00 UTC: before the range
            ("01/01/2100 05:00:00", dt.datetime(2099, 12, 31, 18, 0)),
            (None, None),
        ],
        "text string, expected timestamp",
    )
    got = df.withColumn("got", C.parse_timestamp(F.col("text"), [TS], "Australia/Sydney"))
    assert_column_equality(got, "got", "expected")


def test_parse_timestamp_tries_formats_in_order(spark):
    df = spark.createDataFrame(
        [
            ("02/03/2017 10:00:00", dt.datetime(2017, 3, 2, 10, 0)),
            ("2017-03-02 10:00:00", dt.datetime(2017, 3, 2, 10, 0)),
            ("03/02/2017", None),
            (None, None),
        ],
        "text string, expected timestamp",
    )
    got = df.withColumn("got", C.parse_timestamp(F.col("text"), [TS, "yyyy-MM-dd HH:mm:ss"], "UTC"))
    assert_column_equality(got, "got", "expected")
