"""Which input files a run reads: a path or glob, the days of a dated layout, or the
files a file-source stream has not taken yet (`clickstream.warehouse.incremental`)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from clickstream.warehouse import fs
from clickstream.config.errors import UsageError
from clickstream.config.profiles import layout_prefix


@dataclass(frozen=True)
class DatedInput:
    files: dict[str, tuple[int, int]]  # path -> (size, modified), as listed, sorted by path
    days_requested: list[str]
    days_missing: list[str] = field(default_factory=list)


def days_between(first: dt.date, last: dt.date) -> tuple[dt.date, ...]:
    if first > last:
        raise UsageError(f"--from {first} is after --to {last}")
    return tuple(first + dt.timedelta(days=i) for i in range((last - first).days + 1))


def dated_files(spark: SparkSession, root: str, layout: str, days: tuple[dt.date, ...]) -> DatedInput:
    """The files under each day's prefix (`root/<layout of day>/...`), and the days that
    have none. UsageError when no day has any."""
    files, missing = {}, []
    for day in days:
        # The root is a name, not a glob ('in[1]' is that directory).
        found = fs.file_stats(spark, fs.join(fs.literal_path(root), layout_prefix(layout, day)))
        if not found:
            missing.append(day.isoformat())
        files.update(found)
    requested = [d.isoformat() for d in days]
    if not files:
        span = requested[0] if len(requested) == 1 else f"{requested[0]}..{requested[-1]}"
        raise UsageError(f"no input files for any requested day ({span}) under {root} with layout {layout}")
    return DatedInput(files=dict(sorted(files.items())), days_requested=requested, days_missing=missing)
