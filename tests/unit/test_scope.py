"""A Scope in SQL: Spark's for Delta's replaceWhere, the database's for the export.
(Its Column form is checked against the SQL on real rows in tests/transforms/test_scope_rows.py.)"""
from __future__ import annotations

import datetime as dt
import json

import pytest

from clickstream.warehouse import jdbc
from clickstream.warehouse.scope import Scope, sql_string


@pytest.mark.parametrize("scope, spark_sql, database_sql", [
    (Scope(), None, None),
    (Scope(days=("2017-02-02", "2017-02-03")), "event_date IN (DATE '2017-02-02', DATE '2017-02-03')",
     """"event_date" IN (DATE '2017-02-02', DATE '2017-02-03')"""),
    (Scope(days=()), "1 = 0", "1 = 0"),  # no day at all selects nothing, never everything
    (Scope("session_date", first=dt.date(2017, 2, 1), last=dt.date(2017, 2, 3), sources=("a", "b")),
     "source IN ('a', 'b') AND session_date >= DATE '2017-02-01' AND session_date <= DATE '2017-02-03'",
     """"source" IN ('a', 'b') AND "session_date" >= DATE '2017-02-01' AND "session_date" <= DATE '2017-02-03'"""),
    (Scope(last=dt.date(2017, 2, 3)), "event_date <= DATE '2017-02-03'", """"event_date" <= DATE '2017-02-03'"""),
    (Scope(sources=("it's",)), r"source IN ('it\'s')", """"source" IN ('it''s')"""),
    (Scope(files=("file:/a b/x.json", "s3a://b/c\\d.json")),
     r"source_file IN ('file:/a b/x.json', 's3a://b/c\\d.json')",
     """"source_file" IN ('file:/a b/x.json', 's3a://b/c\\d.json')"""),
])
def test_a_scope_in_each_dialect(scope, spark_sql, database_sql):
    assert (scope.sql(), jdbc.where(scope), scope.everything) == (spark_sql, database_sql, spark_sql is None)
    # ... and the same scope after a trip through a commit's JSON metadata
    assert Scope.from_json(json.loads(json.dumps(scope.to_json()))) == scope


def test_spark_string_literals_escape_backslashes_and_quotes():
    assert sql_string("a\\b'c") == r"'a\\b\'c'"
