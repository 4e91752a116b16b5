"""What the report shows, as plain Python values: the aggregates the report job brought
to the driver, per source, ready for the charts and the page."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from clickstream.report.anomalies import Flag

TOP_VALUES = 8  # the activities and url_level1 values the page ranks


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from `first` to `last`, both included."""
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]


@dataclass(frozen=True)
class Run:
    """One events run, from its run report."""
    run_id: str
    started: dt.datetime
    status: str
    records: int
    events_written: int
    rejected: int
    duplicates: int


@dataclass(frozen=True)
class SessionDay:
    day: dt.date
    sessions: int
    conversions: int | None
    conversion_rate: float | None  # None: no conversion rule marked these sessions
    duration_p50: int
    duration_p90: int
    duration_p99: int


@dataclass
class SourceReport:
    source: str
    hours: dict[dt.datetime, int] = field(default_factory=dict)  # UTC hours that have events
    daily_events: dict[dt.date, int] = field(default_factory=dict)  # every day from the first with events, 0 if none
    runs: list[Run] = field(default_factory=list)
    rejects_by_day: dict[dt.date, dict[str, int]] = field(default_factory=dict)  # by the day of the run that wrote them
    reject_rate: dict[dt.date, float] = field(default_factory=dict)  # days with events runs: rejected / records
    activities: list[tuple[str, int]] = field(default_factory=list)  # the TOP_VALUES biggest
    other_activities: tuple[int, int] | None = None  # (how many, their events): the activities after those
    top_pages: list[tuple[str | None, int]] = field(default_factory=list)
    sessions: list[SessionDay] = field(default_factory=list)
    newest_event: dt.datetime | None = None
    flags: list[Flag] = field(default_factory=list)


@dataclass
class ReportData:
    warehouse: str
    first: dt.date  # the events' days shown (event time)
    last: dt.date
    run_first: dt.date  # the runs' days shown (their start time)
    run_last: dt.date
    generated_at: dt.datetime
    versions: dict[str, int | None]  # table -> current Delta version, None when the table does not exist
    sources: list[SourceReport]
    notes: list[str] = field(default_factory=list)  # what the warehouse lacks, in a sentence each
    undated_rejects: int = 0  # rejects whose run left no report (a killed run's), not on any day

    @property
    def flags(self) -> list[Flag]:
        return [f for s in self.sources for f in s.flags]
