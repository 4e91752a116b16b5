"""A Scope's Column (what filters DataFrames) and its SQL (what Delta's replaceWhere
gets) select the same rows."""
from __future__ import annotations

import datetime as dt

import pytest

from clickstream.warehouse.scope import Scope

ROWS = [("a", "f1", dt.date(2017, 2, 1)), ("b", "f2", dt.date(2017, 2, 2)), ("it's", "f'3", dt.date(2017, 2, 3)),
        ("a", "f1", dt.date(2017, 2, 4))]


@pytest.mark.parametrize("scope, expected", [
    (Scope(), [0, 1, 2, 3]),
    (Scope(days=()), []),
    (Scope(days=("2017-02-02", "2017-02-04")), [1, 3]),
    (Scope(first=dt.date(2017, 2, 2)), [1, 2, 3]),
    (Scope(first=dt.date(2017, 2, 2), last=dt.date(2017, 2, 3), sources=("it's", "a")), [2]),
    (Scope(files=("f'3", "f1")), [0, 2, 3]),
])
def test_the_column_and_the_sql_select_the_same_rows(spark, scope, expected):
    df = spark.createDataFrame([(i, *r) for i, r in enumerate(ROWS)], "i int, source string, source_file string, "
                                                                     "event_date date")
    by_column = sorted(r.i for r in scope.apply(df).collect())
    by_sql = sorted(r.i for r in (df.where(scope.sql()) if scope.sql() else df).collect())
    assert (by_column, by_sql) == (expected, expected)
