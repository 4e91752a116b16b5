"""The run report: what a run read, wrote and rejected, written to `_runs/<run_id>.<job>.json`
(every job's report is written by `write`, and found by `find`).

It proves that no line disappeared. The lines read are counted from the text itself,
apart from the classification, and must equal records + blank lines + CSV header
lines; records = events_written + rejected + duplicates; and the commits must hold
what the counts say (the events commit's written rows, the rejects written).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import pyspark.sql.functions as F
from pyspark.sql import DataFrame, SparkSession

from clickstream.config import cli
from clickstream.config.errors import JobFailed
from clickstream.warehouse import catalog, fs


@dataclass
class Counts:
    """What became of a set of lines: lines_read = records + blank_lines + header_lines,
    and records = events_written + rejected + duplicates."""

    lines_read: int = 0
    records: int = 0
    events_written: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    blank_lines: int = 0
    header_lines: int = 0
    partitions_written: list[str] = field(default_factory=list)
    event_dates: list[str] = field(default_factory=list)  # of the new and duplicate events read

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def reject_rate(self) -> float:
        return self.rejected_total / self.records if self.records else 0.0

    def check_arithmetic(self) -> None:
        """JobFailed (exit 1, one line) unless every line read is accounted for."""
        seen = self.records + self.blank_lines + self.header_lines
        if seen != self.lines_read:
            raise JobFailed(f"the accounting does not add up: {self.lines_read} lines read, but records "
                            f"({self.records}) + blank lines ({self.blank_lines}) + header lines "
                            f"({self.header_lines}) = {seen}; nothing of this batch is committed")
        accounted = self.events_written + self.rejected_total + self.duplicates
        if accounted != self.records:
            raise JobFailed(f"the accounting does not add up: records ({self.records}) != events_written "
                            f"({self.events_written}) + rejected ({self.rejected_total}) + duplicates "
                            f"({self.duplicates}); nothing of this batch is committed")

    def check_rejects_written(self, written: int) -> None:
        """JobFailed unless the rejects table holds, for these files, as many rows as were rejected."""
        if written != self.rejected_total:
            raise JobFailed(f"the rejects commit holds {written} rows of this batch's files where "
                            f"{self.rejected_total} lines were rejected; no events are committed, run again to "
                            "repair it")


@dataclass
class Batch(Counts):
    """One commit unit: the files of a run, or of one micro-batch of a stream."""

    files: list[str] = field(default_factory=list)
    files_missing: list[str] = field(default_factory=list)
    reads: dict = field(default_factory=dict)  # source_file URI -> ingested.FileRead
    status: str = "succeeded"
    events_commit: dict | None = None
    batch_id: int | None = None
    txn_version: int | None = None
    attempts: int = 1


@dataclass
class RunReport(Counts):
    run_id: str = ""
    job: str = "events"
    source: str = ""
    input: str = ""
    warehouse: str = ""
    started_at: str = ""
    max_reject_rate: float = 0.0
    dedup_horizon_days: int | None = None  # None: compared with every stored event of the source
    mode: str = "path"
    input_files: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    files_missing: list[str] = field(default_factory=list)  # planned, gone before read (--skip-missing-files)
    files_changed_after_ingest: list[str] = field(default_factory=list)  # --new-files-only: taken before at another size
    days_requested: list[str] = field(default_factory=list)
    days_missing: list[str] = field(default_factory=list)
    checkpoint: str | None = None
    batches: list[dict] = field(default_factory=list)
    events_commits: list[dict] = field(default_factory=list)
    status: str = "succeeded"
    csv: str | None = None
    catalog: dict | None = None  # the tables registered by name (warehouse/catalog.py), when a database is set
    duration_s: float = 0.0

    @property
    def exit_code(self) -> int:
        return cli.EXIT_REJECT_RATE if self.status == "failed_reject_rate" else cli.EXIT_OK

    def add(self, batch: Batch) -> None:
        """Add one committed (or reject-rate-failed) batch to the run's totals."""
        self.lines_read += batch.lines_read
        self.records += batch.records
        self.events_written += batch.events_written
        for reason, n in batch.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + n
        self.duplicates += batch.duplicates
        self.blank_lines += batch.blank_lines
        self.header_lines += batch.header_lines
        self.partitions_written = sorted(set(self.partitions_written) | set(batch.partitions_written))
        self.event_dates = sorted(set(self.event_dates) | set(batch.event_dates))
        self.input_files = sorted(set(self.input_files) | set(batch.files))
        self.files_missing = sorted(set(self.files_missing) | set(batch.files_missing))
        if batch.events_commit:
            self.events_commits.append(batch.events_commit)
        if batch.status != "succeeded":
            self.status = batch.status
        self.batches.append({
            "batch_id": batch.batch_id, "files": len(batch.files), "lines_read": batch.lines_read,
            "records": batch.records,
            "events_written": batch.events_written, "rejected": batch.rejected_total,
            "duplicates": batch.duplicates, "status": batch.status, "attempts": batch.attempts,
            "events_version": batch.events_commit["version"] if batch.events_commit else None,
        })

    def to_dict(self) -> dict:
        out = asdict(self)
        out["rejected_total"] = self.rejected_total
        out["reject_rate"] = round(self.reject_rate, 6)
        return out

    def summary_line(self) -> str:
        reasons = ",".join(f"{k}={v}" for k, v in sorted(self.rejected.items())) or "none"
        return (
            f"{self.job} run_id={self.run_id} status={self.status} files={len(self.input_files)} "
            f"files_skipped={len(self.files_skipped)} records={self.records} events_written={self.events_written} "
            f"rejected={self.rejected_total} ({reasons}) duplicates={self.duplicates} "
            f"blank_lines={self.blank_lines} "
            + (f"header_lines={self.header_lines} " if self.header_lines else "")
            + (f"files_missing={len(self.files_missing)} " if self.files_missing else "")
            + (f"files_changed_after_ingest={len(self.files_changed_after_ingest)} "
               if self.files_changed_after_ingest else "")
            + f"partitions_written={len(self.partitions_written)} "
            f"duration_s={self.duration_s}"
        )


def count_statuses(classified: DataFrame) -> dict:
    """Counts by status and reason, and the event dates of new events and of new and
    duplicate ones (a small aggregate)."""
    valid_date = F.when(F.col("status").isin("new", "duplicate"), F.date_format("event_date", "yyyy-MM-dd"))
    rows = classified.groupBy("status", "reason", valid_date.alias("date")).count().collect()
    counts = {"records": 0, "events_written": 0, "rejected": {}, "duplicates": 0, "blank_lines": 0,
              "header_lines": 0}
    dates, event_dates = set(), set()
    for row in rows:
        n = row["count"]
        if row["status"] in ("new", "duplicate"):
            event_dates.add(row["date"])
        if row["status"] == "blank":
            counts["blank_lines"] += n
            continue
        if row["status"] == "header":
            counts["header_lines"] += n
            continue
        counts["records"] += n
        if row["status"] == "new":
            counts["events_written"] += n
            dates.add(row["date"])
        elif row["status"] == "duplicate":
            counts["duplicates"] += n
        elif row["status"] == "rejected":
            counts["rejected"][row["reason"]] = counts["rejected"].get(row["reason"], 0) + n
        else:
            raise RuntimeError(f"line with unknown status {row['status']!r}")
    counts["partitions_written"] = sorted(dates)
    counts["event_dates"] = sorted(event_dates)
    return counts


def path(warehouse: str, job: str, run_id: str) -> str:
    """Where a job's run report is: `_runs/<run_id>.<job>.json`. The job is in the name,
    so that one run id (an Airflow DAG run's, say) can serve several jobs, none of
    which overwrites another's report. (Before, the name was `_runs/<run_id>.json`:
    `find` reads those too.)"""
    return fs.join(warehouse, "_runs", f"{run_id}.{job}.json")


def write(spark: SparkSession, warehouse: str, rep: RunReport | dict) -> str:
    """Write a run report (atomically: a reader sees the whole old one or the whole new one)."""
    data = rep.to_dict() if isinstance(rep, RunReport) else rep
    target = path(warehouse, data["job"], data["run_id"])
    fs.write_json(spark, target, data)
    return target


def find(spark: SparkSession, warehouse: str, job: str, run_id: str) -> dict | None:
    """A job's run report, under its name or the one reports had before (`<run_id>.json`,
    when that report is of `job`); None when there is neither."""
    for name in (path(warehouse, job, run_id), fs.join(warehouse, "_runs", f"{run_id}.json")):
        text = fs.read_text(spark, name)
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("job", job) == job and data.get("run_id", run_id) == run_id:
            return data
    return None


def publish(spark: SparkSession, warehouse: str, rep: RunReport | dict, names: list[str],
            db: str | None = None) -> None:
    """The end of a job that committed: its run report, written first, then its tables
    `names` registered in the catalog (warehouse/catalog.py) when a database is set. A
    catalog error is recorded in the report (`catalog: {"error": ...}`), which is written
    again, and raised: the commits' accounting is never lost to it."""
    def put(key: str, value) -> None:
        if isinstance(rep, RunReport):
            setattr(rep, key, value)
        else:
            rep[key] = value

    write(spark, warehouse, rep)
    try:
        registered = catalog.register(spark, warehouse, names, db)
    except Exception as err:
        put("catalog", {"error": fs.first_line(err)})
        write(spark, warehouse, rep)
        raise
    if registered is not None:
        put("catalog", registered)
        write(spark, warehouse, rep)
