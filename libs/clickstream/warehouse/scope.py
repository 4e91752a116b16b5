"""Which rows of a table a run reads, rewrites or publishes, said once and rendered
where each is needed:

    scope.condition()  a Column, to filter a DataFrame (None: every row)
    scope.apply(df)    df filtered by it
    scope.sql()        Spark SQL, for Delta's `replaceWhere`, which takes only SQL (None: every row)
    jdbc.where(scope)  the database's SQL, for the export's DELETE (warehouse/jdbc.py)

A scope is a conjunction: the dates of a date column (a list, or an inclusive range
that may be open at either end), the sources, and the source files. Every run that
rewrites a slice of a table builds a Scope; nothing else writes a predicate.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import reduce

import pyspark.sql.functions as F
from pyspark.sql import Column, DataFrame


def sql_string(value: str) -> str:
    """A Spark SQL string literal: "it's" -> 'it\\'s'."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Scope:
    date_column: str = "event_date"
    days: tuple[str, ...] | None = None  # these YYYY-MM-DD dates; () none at all; None: no list
    first: dt.date | None = None  # the inclusive range, either end may be open
    last: dt.date | None = None
    sources: tuple[str, ...] = ()  # only these sources; () every source
    files: tuple[str, ...] = ()  # only these source_file values; () every file

    @property
    def everything(self) -> bool:
        return self.days is None and not (self.first or self.last or self.sources or self.files)

    def render(self, name, string) -> str | None:
        """The scope in SQL: `name` spells a column, `string` a string literal. None when
        the scope is every row."""
        column = name(self.date_column)
        parts = []
        if self.sources:
            parts.append(f"{name('source')} IN ({', '.join(string(s) for s in self.sources)})")
        if self.files:
            parts.append(f"{name('source_file')} IN ({', '.join(string(f) for f in self.files)})")
        if self.days is not None:
            days = ", ".join(f"DATE {string(d)}" for d in self.days)
            parts.append(f"{column} IN ({days})" if days else "1 = 0")
        if self.first:
            parts.append(f"{column} >= DATE {string(self.first.isoformat())}")
        if self.last:
            parts.append(f"{column} <= DATE {string(self.last.isoformat())}")
        return " AND ".join(parts) or None

    def sql(self) -> str | None:
        return self.render(lambda n: n, sql_string)

    def condition(self) -> Column | None:
        column = F.col(self.date_column)
        parts = []
        if self.sources:
            parts.append(F.col("source").isin(list(self.sources)))
        if self.files:
            parts.append(F.col("source_file").isin(list(self.files)))
        if self.days is not None:
            parts.append(column.isin([dt.date.fromisoformat(d) for d in self.days]) if self.days else F.lit(False))
        if self.first:
            parts.append(column >= F.lit(self.first))
        if self.last:
            parts.append(column <= F.lit(self.last))
        return reduce(Column.__and__, parts) if parts else None

    def apply(self, df: DataFrame) -> DataFrame:
        condition = self.condition()
        return df if condition is None else df.where(condition)

    def to_json(self) -> dict:
        """The scope as JSON values, for a commit's metadata (`from_json` reads it back)."""
        return {"date_column": self.date_column, "days": None if self.days is None else list(self.days),
                "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None,
                "sources": list(self.sources), "files": list(self.files)}

    @classmethod
    def from_json(cls, value: dict) -> "Scope":
        return cls(date_column=value["date_column"],
                   days=None if value["days"] is None else tuple(value["days"]),
                   first=dt.date.fromisoformat(value["first"]) if value["first"] else None,
                   last=dt.date.fromisoformat(value["last"]) if value["last"] else None,
                   sources=tuple(value["sources"]), files=tuple(value["files"]))
