"""The `events` job: raw event lines -> the warehouse's `events` and `rejects` Delta tables.

    run(spark, cfg)  picks the input files (a path or glob; the days of a dated layout
                     with --date/--from/--to; or, with --new-files-only, the files a
                     file-source stream has not taken yet), classifies every line with
                     the transforms in `clickstream.rules.events`, then commits, per batch:
                     1. rejects: one replaceWhere on the batch's source files in `rejects`;
                     2. new events: one append to `events` (none if nothing is new) that
                        lands only if the table is still at the version they were classified at;
                     and at the end the run report `_runs/<run_id>.events.json` (and the --csv extract).

When the reject rate is above `max_reject_rate`, step 2 is skipped and the run exits 3.
A run killed anywhere is repaired by running it again: the rejects are replaced, the
classification finds the events already stored (duplicates), and a stream replays the
batch it had not finished.
When another writer commits to the events table during a batch, the batch is classified
again and retried, at most `max_attempts` times.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import pyspark.sql.functions as F
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from clickstream.config import cli, faults, schemas
from clickstream.rules import events as event_rules
from clickstream.warehouse import catalog, extracts, fs, incremental, ingested, inputs, run_reports, tables
from clickstream.warehouse.scope import Scope
from clickstream.config.errors import JobFailed, UsageError
from clickstream.config.profiles import Profile, load_profile, validate_layout

log = logging.getLogger("clickstream.events")


# How the parsed lines are kept between the counts, the rejects and the events commit.
PARSED_STORAGE = StorageLevel.DISK_ONLY
# Keys to compare copy by copy (see `event_rules.keys_to_compare`) up to this many are
# broadcast to the lines; more (e.g. the same files ingested again) take a shuffle join.
BROADCAST_KEYS = 200_000
# A batch of up to this many lines finds its stored keys by a broadcast of its keys'
# hashes (8 bytes a key: 16 MB at most, about 3x that in the broadcast's hash map), so the
# stored keys are never shuffled (`keys_to_compare(probe=True)`); a bigger batch (a first
# load, a backfill in one batch) takes the shuffle join, which bounds driver memory.
PROBE_LINES = 2_000_000


# Salt of the profiles' `pii: sha256` fields, read from the driver's environment.
PII_SALT_ENV = "CLICKSTREAM_PII_SALT"
# The events table's property that holds a source's salt fingerprint.
SALT_PROPERTY = "clickstream.piiSaltFingerprint.{source}"


def salt_fingerprint(salt: str) -> str:
    """What the events table keeps of the salt, to refuse a run with another one: a slow
    key derivation of it (a dictionary attack on it costs 200,000 hashes a guess), or
    'unsalted'."""
    if not salt:
        return "unsalted"
    derived = hashlib.pbkdf2_hmac("sha256", salt.encode("utf-8"), b"clickstream-pii-salt-fingerprint", 200_000)
    return "pbkdf2-sha256:" + derived.hex()[:32]


def check_salt(profile: Profile, salt: str, allow_unsalted: bool) -> None:
    """A profile that hashes PII needs a salt, or the explicit choice to go without."""
    pii = profile.pii_fields()
    if pii and not salt and not allow_unsalted:
        raise UsageError(f"profile {profile.name or 'events'} hashes PII ({', '.join(pii)}) and {PII_SALT_ENV} is not "
                         "set: set it (a secret, the same for every run into this warehouse), or pass "
                         "--allow-unsalted to hash without one, which a dictionary attack reverses")


@dataclass(frozen=True)
class EventsConfig:
    input: str
    warehouse: str
    profile: Profile
    source: str = "hipages"
    max_reject_rate: float = 0.05
    run_id: str = ""
    csv: str | None = None
    days: tuple[dt.date, ...] = ()
    layout: str | None = None
    new_files_only: bool = False
    max_files_per_batch: int | None = None
    max_attempts: int = 5
    pii_salt: str = ""
    allow_unsalted: bool = False
    max_line_bytes: int = event_rules.MAX_LINE_BYTES
    skip_missing_files: bool = False
    dedup_horizon_days: int | None = None  # None: every stored event of the source (exact)

    @property
    def input_layout(self) -> str:
        return self.layout or self.profile.input_layout


def parser(conf_dir: str | None = None) -> cli.ArgumentParser:
    """The job's command line; the README's "Command line" synopsis and docs/reference.md show the same options."""
    parser = cli.ArgumentParser(prog="events", description="Ingest raw event lines into the warehouse.")
    parser.add_argument("--input", required=True,
                        help="file, directory, glob or URI of JSON-lines files; with --date/--from or "
                             "--new-files-only, the input root directory")
    parser.add_argument("--warehouse", required=True, help="root directory or URI of the tables")
    parser.add_argument("--source", default="hipages", help="source profile in conf/sources/ (default: hipages)")
    parser.add_argument("--date", help="read only this day's prefix under --input, YYYY-MM-DD")
    parser.add_argument("--from", dest="date_from", help="read the days' prefixes from this day, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", help="... through this day (default: today, UTC)")
    parser.add_argument("--layout", help="dated prefix layout (default: the profile's, else {yyyy}/{MM}/{dd})")
    parser.add_argument("--new-files-only", action="store_true",
                        help="read only the files under --input this warehouse has not ingested yet")
    parser.add_argument("--max-files-per-batch", type=cli.positive_int,
                        help="with --new-files-only: commit every N files (default: all in one batch)")
    parser.add_argument("--skip-missing-files", action="store_true",
                        help="with --new-files-only: a file a batch planned that is gone since is reported as "
                             "missing and the batch goes on without it (default: exit 2 naming it)")
    parser.add_argument("--max-reject-rate", type=cli.fraction, default=0.05,
                        help="fail with exit 3, committing no events, above this rejected/records (default: 0.05)")
    parser.add_argument("--dedup-horizon-days", type=cli.non_negative_int, metavar="N",
                        help="compare with stored events dated at most N days from the batch's dates only: a "
                             "run's cost stops growing with the table, but a copy of an older event comes back "
                             "as new (default: every stored event, exact)")
    parser.add_argument("--max-attempts", type=cli.positive_int, default=5,
                        help="tries per batch when other writers' commits conflict (default: 5)")
    parser.add_argument("--max-line-bytes", type=cli.positive_int, default=event_rules.MAX_LINE_BYTES,
                        help="reject a longer line as line_too_long, unparsed (default: 1048576, 1 MiB)")
    parser.add_argument("--allow-unsalted", action="store_true",
                        help=f"hash the profile's PII fields without {PII_SALT_ENV} (reversible by a dictionary)")
    parser.add_argument("--run-id", help="id of this run (default: UTC time plus random suffix)")
    parser.add_argument("--csv", help="also write the events of this run's input files as one CSV file (user_web_hits)")
    parser.add_argument("--conf-dir", default=conf_dir,
                        help="read source profiles from DIR/sources/ (default: those shipped with the package)")
    return parser


def parse_args(argv: list[str], conf_dir: str | None = None) -> EventsConfig:
    """Validate the command line and the source profile, before Spark starts."""
    args = parser(conf_dir).parse_args(argv)

    if args.date and (args.date_from or args.date_to):
        raise UsageError("--date cannot be combined with --from/--to")
    if args.date_to and not args.date_from:
        raise UsageError("--to needs --from")
    if args.date:
        days = (cli.parse_date(args.date, "--date"),)
    elif args.date_from:
        first = cli.parse_date(args.date_from, "--from")
        last = cli.parse_date(args.date_to, "--to") if args.date_to else datetime.now(timezone.utc).date()
        days = inputs.days_between(first, last)
    else:
        days = ()
    if args.new_files_only and days:
        raise UsageError("--new-files-only reads the whole input root; it cannot be combined with --date/--from")
    if args.max_files_per_batch and not args.new_files_only:
        raise UsageError("--max-files-per-batch needs --new-files-only")
    if args.skip_missing_files and not args.new_files_only:
        raise UsageError("--skip-missing-files needs --new-files-only")
    if args.layout is not None and not days:
        raise UsageError("--layout needs --date or --from")
    profile = load_profile(args.conf_dir, args.source)
    check_salt(profile, os.environ.get(PII_SALT_ENV, ""), args.allow_unsalted)
    return EventsConfig(
        input=args.input,
        warehouse=args.warehouse,
        profile=profile,
        source=args.source,
        max_reject_rate=args.max_reject_rate,
        run_id=cli.run_id(args.run_id),
        csv=args.csv,
        days=days,
        layout=validate_layout(args.layout) if args.layout is not None else None,
        new_files_only=args.new_files_only,
        max_files_per_batch=args.max_files_per_batch,
        max_attempts=args.max_attempts,
        pii_salt=os.environ.get(PII_SALT_ENV, ""),
        allow_unsalted=args.allow_unsalted,
        max_line_bytes=args.max_line_bytes,
        skip_missing_files=args.skip_missing_files,
        dedup_horizon_days=args.dedup_horizon_days,
    )


def read_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """Every line of the files, with its file, an order that follows the lines of a
    file, and where the file's split starts (0 for a file's first split).

    The files are read exactly as named: Spark globs every path it is given, so each
    glob character is escaped (`a[1].json` is that file, never `a1.json`)."""
    return spark.read.text([fs.literal_path(f) for f in files]).select(
        F.col("value"),
        F.col("_metadata.file_path").alias("source_file"),
        F.monotonically_increasing_id().alias("line_order"),
        F.col("_metadata.file_block_start").alias("block_start"),
        *ingested.file_columns(),
    )


def csv_headers(spark: SparkSession, profile: Profile, files: list[str]) -> dict[str, list[str]]:
    """Each CSV file's header columns, read from its first line ({} for JSON or a CSV
    profile without a header). UsageError naming the first file whose header lacks a
    column the profile requires; an empty file has no header and no records."""
    if not profile.has_csv_header:
        return {}
    needed = profile.columns_required()
    headers = {}
    for file in files:
        columns = event_rules.csv_header(fs.read_first_line(spark, file), profile.csv_delimiter)
        if columns is None:
            continue
        missing = [c for c in needed if c not in columns]
        if missing:
            raise UsageError(f"{file}: the CSV header lacks required column(s) {', '.join(missing)} "
                             f"(profile {profile.name or 'csv'}; header: {', '.join(columns) or 'empty'})")
        headers[fs.file_uri(spark, file)] = columns  # keyed as the lines' source_file
    return headers


def parse_lines(lines: DataFrame, profile: Profile, salt: str = "",
                headers: dict[str, list[str]] | None = None,
                max_line_bytes: int = event_rules.MAX_LINE_BYTES) -> DataFrame:
    """Every line with its event's columns where it has them and its reject `reason`
    (NULL when none so far): what the dedup needs, and no more; and the size and
    modification time its file was read at, when `lines` has them (`read_lines`)."""
    malformed = "malformed_csv" if profile.format == "csv" else "malformed_json"
    read_at = [c for c in schemas.READ_AT if c in lines.columns]
    return (
        lines.transform(event_rules.with_line_checks, max_line_bytes)
        .transform(event_rules.with_source_fields, profile, salt, headers)
        .transform(event_rules.with_event_columns, profile.timestamp_formats, profile.timezone)
        .transform(event_rules.with_reject_reason, profile.required, profile.required_properties, malformed)
        .select(*event_rules.PARSED_COLUMNS, *read_at)
    )


def classify(lines: DataFrame, profile: Profile, existing_events: DataFrame, salt: str = "",
             headers: dict[str, list[str]] | None = None) -> DataFrame:
    """Every line with its `status` and `reason`, and the event's columns where it has
    them; `existing_events`: the stored events of this source."""
    return parse_lines(lines, profile, salt, headers).transform(event_rules.with_dedup_status, existing_events)


def input_events(spark: SparkSession, events_path: str, rep: run_reports.RunReport,
                 earlier: list[str] = ()) -> DataFrame:
    """The user_web_hits columns of the stored events whose lines are in this run's
    input files, whichever run inserted them: a rerun of a run stopped after its events commit
    finds them stored already (duplicates) and writes the extract that run would have.
    `earlier`: the files of stopped runs' committed batches, which the rerun does not
    take again (`ingested.files_of_unfinished_runs`; their dates are not known here, so
    then every date is read)."""
    scope = Scope(days=None if earlier else tuple(rep.event_dates), sources=(rep.source,),
                  files=tuple(fs.file_uri(spark, f) for f in sorted({*rep.input_files, *earlier})))
    return scope.apply(spark.read.format("delta").load(events_path)).select(*extracts.USER_WEB_HITS)


def _commit_batch(spark: SparkSession, cfg: EventsConfig, warehouse: str, lines: DataFrame,
                  files: list[str], txn: tuple[str, int] | None) -> run_reports.Batch:
    """Classify one batch against the events table as it is now, and commit it."""
    events_path = tables.table_path(warehouse, "events")
    version = tables.current_version(spark, events_path)
    # Lines are parsed once and kept; the counts, the rejects and the events commit read
    # them. Everything that reads them runs before that commit: a write to the events table
    # invalidates cached plans that read it.
    headers = csv_headers(spark, cfg.profile, files)
    metadata = {"job": "events", "run_id": cfg.run_id, "source": cfg.source}
    kept: list[DataFrame] = []  # what this attempt persisted: unpersisted however it ends

    def keep(df: DataFrame, level: StorageLevel = StorageLevel.MEMORY_AND_DISK) -> DataFrame:
        kept.append(df.persist(level))
        return kept[-1]

    try:
        parsed = keep(parse_lines(lines, cfg.profile, cfg.pii_salt, headers, cfg.max_line_bytes), PARSED_STORAGE)
        # One aggregate over the kept lines, before any classification: the lines read per
        # file (a line that the dedup loses fails the batch; a file whose lines fall short
        # of its size too), and the batch's key range. Dedup is per (source, event_id): only
        # this source's stored events count, and of those only the ones within the key
        # range (and horizon, if set), so that Delta reads only the files whose statistics
        # say they can hold one.
        summary = parsed.transform(event_rules.file_summary).collect()  # one row per file
        reads = ingested.reads_of(spark, summary)
        lines_read = sum(read.lines for read in reads.values())
        bounds = event_rules.KeyBounds.over(summary)
        existing = tables.read_version(spark, events_path, version).where(
            (F.col("source") == cfg.source) & bounds.stored(cfg.dedup_horizon_days))
        keys = keep(event_rules.keys_to_compare(parsed, existing, probe=lines_read <= PROBE_LINES))
        # The compared lines (`keep`) are persisted once for the counts, the rejects and the commit.
        compare = F.broadcast(keys) if keys.count() <= BROADCAST_KEYS else keys
        classified = parsed.transform(event_rules.with_dedup_status, existing, compare=compare, keep=keep)
        file_uris = [fs.file_uri(spark, f) for f in files]  # as source_file spells them
        gone = missing_files(spark, cfg, files, file_uris, reads)
        batch = run_reports.Batch(files=[f for f in files if f not in gone], files_missing=gone,
                                  txn_version=txn[1] if txn else None,
                                  lines_read=lines_read, reads=reads,
                                  **run_reports.count_statuses(classified))
        batch.check_arithmetic()
        rejects = classified.transform(event_rules.to_rejects, cfg.run_id)
        rejects_path = tables.table_path(warehouse, "rejects")
        with tables.commit_metadata(spark, **metadata):
            rejects_commit = tables.replace_rejects(spark, rejects_path, rejects, file_uris)
        # What the commit holds for these files, read back (no commit: Delta skips one that
        # would write no row and remove no file, so the table holds none of theirs).
        batch.check_rejects_written(
            Scope(files=tuple(file_uris)).apply(tables.read_version(spark, rejects_path, rejects_commit["version"]))
            .count() if rejects_commit else 0)
        faults.point("rejects_committed")
        if batch.reject_rate > cfg.max_reject_rate:
            batch.status = "failed_reject_rate"
            return batch
        if not batch.events_written:
            return batch
        new_events = classified.filter(F.col("status") == "new").select(
            *[F.lit({"run_id": cfg.run_id, "source": cfg.source}[c]).alias(c) if c in ("run_id", "source")
              else F.col(c) for c in schemas.EVENTS_COLUMNS]
        )
        # Classified exactly against `version`: the commit lands only if no other writer's
        # did since (else a conflict, and this batch is classified again).
        batch.events_commit = tables.append_classified(spark, events_path, new_events, version, metadata, txn=txn)
        written = int(batch.events_commit["metrics"].get("numOutputRows", -1)) if batch.events_commit else 0
        if written != batch.events_written:
            raise JobFailed(f"the events commit wrote {written} events where {batch.events_written} were new"
                            + ("" if batch.events_commit else " (Delta skipped it: it holds this batch's transaction)"))
        faults.point("events_committed")
        return batch
    finally:
        for df in kept:
            df.unpersist()


def missing_files(spark: SparkSession, cfg: EventsConfig, files: list[str], file_uris: list[str],
                  reads: dict[str, ingested.FileRead]) -> list[str]:
    """The batch's files that are gone (none of their lines was read, and they do not
    exist now): a UsageError naming the first, or with --skip-missing-files a warning."""
    gone = [f for f, uri in zip(files, file_uris) if uri not in reads and not fs.exists(spark, f)]
    if gone and not cfg.skip_missing_files:
        raise UsageError(f"{gone[0]} is gone{f' (and {len(gone) - 1} more file(s))' if len(gone) > 1 else ''}: "
                         "a batch planned it and it was deleted before it was read; restore it, or run again "
                         "with --skip-missing-files to record it as missing and go on (docs/scheduling.md)")
    if gone:
        log.warning("%d planned file(s) are gone, skipped and reported as files_missing: %s", len(gone),
                    ", ".join(gone))
    return gone


def commit_batch(spark: SparkSession, cfg: EventsConfig, warehouse: str, lines: DataFrame,
                 planned: dict[str, int], txn: tuple[str, int] | None = None) -> run_reports.Batch:
    """`_commit_batch` over the `planned` files (path -> the modification time they were
    listed at), classified again and retried when another writer's commit conflicts, at
    most `cfg.max_attempts` times; a committed batch's files go into the record of files
    read (clickstream.warehouse.ingested)."""
    files = list(planned)
    batch, attempts = tables.retrying(
        lambda: _commit_batch(spark, cfg, warehouse, lines, files, txn), cfg.max_attempts, log, "classifying",
        "nothing of the last attempt's events is committed", also=(tables.TableMoved,))
    batch.attempts = attempts
    if batch.status == "succeeded":
        ingested.record(spark, warehouse, cfg.source, cfg.run_id, txn[1] if txn else None,
                        what_was_read(spark, batch, planned))
    return batch


def what_was_read(spark: SparkSession, batch: run_reports.Batch, planned: dict[str, int]) -> dict[str, ingested.FileRead]:
    """The record of a committed batch's files, keyed by path: what the read saw. A file
    with no line read was empty when it was read (any byte makes a line): size 0, at the
    modification time it was planned at, whatever it holds now. A writer that appended
    to it since (log rotation: created empty, then written) makes it differ from its
    record, so the next `--new-files-only` run reports it as changed after ingest."""
    uris = {fs.file_uri(spark, f): f for f in batch.files}
    read = {uris[uri]: r for uri, r in batch.reads.items() if uri in uris}
    for f in batch.files:
        if f not in read:
            read[f] = ingested.FileRead(0, 0, planned[f])
            now = fs.file_stats(spark, fs.literal_path(f)).get(f)
            if now is not None and now != (0, planned[f]):
                log.warning("%s was empty when this batch read it and has %d byte(s) now: its lines are not "
                            "read; run events --input FILE to take it (docs/scheduling.md)", f, now[0])
    return read


def _new_files(spark: SparkSession, cfg: EventsConfig, warehouse: str, rep: run_reports.RunReport) -> None:
    root = fs.qualify(spark, cfg.input)
    if not fs.is_directory(spark, root):
        raise UsageError(f"--new-files-only needs the input root directory; {cfg.input} is not a directory")
    stats = fs.file_stats(spark, fs.literal_path(root))  # the root is a name, not a glob
    listed = sorted(stats)
    rep.files_changed_after_ingest = ingested.changed_after_ingest(spark, warehouse, cfg.source, stats)
    if rep.files_changed_after_ingest:
        log.warning("%d file(s) changed after they were ingested (another size or modification time): %s. "
                    "--new-files-only does not take a file twice: run events --input FILE to take each again "
                    "(its old lines come back as duplicates, its late lines as events; docs/scheduling.md)",
                    len(rep.files_changed_after_ingest), ", ".join(rep.files_changed_after_ingest))
    if cfg.max_files_per_batch and cfg.profile.has_csv_header:  # no record to read for any other feed
        # A bad CSV header fails the run before any batch commits (one batch checks its
        # own). Only the files not ingested yet: an old file is never read again.
        csv_headers(spark, cfg.profile, ingested.not_recorded(spark, warehouse, cfg.source, listed))
    checkpoint = incremental.checkpoint_path(warehouse, cfg.source, root)
    rep.checkpoint = checkpoint
    log.info("run %s: new files under %s (%d file(s) there), checkpoint %s", cfg.run_id, root, len(listed),
             checkpoint)

    def handle(batch_lines: DataFrame, batch_id: int, app_id: str) -> None:
        session = batch_lines.sparkSession
        planned = incremental.batch_files(session, checkpoint, batch_id)
        faults.point("reading")
        lines = batch_lines.select("value", "source_file", F.monotonically_increasing_id().alias("line_order"),
                                   "block_start", *schemas.READ_AT)
        batch = commit_batch(session, cfg, warehouse, lines, planned, txn=(app_id, batch_id))
        batch.batch_id = batch_id
        rep.add(batch)
        log.info("batch %d: %d file(s), %d new event(s)", batch_id, len(planned), batch.events_written)
        if batch.status != "succeeded":
            # Not returning normally keeps the batch out of the checkpoint's commit log:
            # its files stay unprocessed.
            raise JobFailed("reject rate above --max-reject-rate")

    stream = incremental.new_file_stream(spark, root, cfg.max_files_per_batch)
    try:
        incremental.run_available_now(stream, checkpoint, handle)
    except JobFailed:
        if rep.status != "failed_reject_rate":
            raise
    taken = set(rep.input_files)
    rep.files_skipped = [f for f in listed if fs.normalize(spark, f) not in taken]


def run(spark: SparkSession, cfg: EventsConfig) -> run_reports.RunReport:
    started = time.time()
    warehouse = fs.qualify(spark, cfg.warehouse)
    catalog.database(spark)  # a bad name is refused before anything is read
    rep = run_reports.RunReport(
        run_id=cfg.run_id, job="events", source=cfg.source, input=cfg.input, warehouse=warehouse,
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), max_reject_rate=cfg.max_reject_rate,
        dedup_horizon_days=cfg.dedup_horizon_days,
        mode="new_files" if cfg.new_files_only else "days" if cfg.days else "path",
    )
    if cfg.days:
        dated = inputs.dated_files(spark, fs.qualify(spark, cfg.input), cfg.input_layout, cfg.days)
        rep.days_requested, rep.days_missing = dated.days_requested, dated.days_missing
        if dated.days_missing:
            log.warning("no input files for %d of %d requested day(s): %s (layout %s under %s)",
                        len(dated.days_missing), len(cfg.days), ", ".join(dated.days_missing), cfg.input_layout,
                        cfg.input)
        listed = dated.files
    elif not cfg.new_files_only:
        listed = fs.list_input_files(spark, cfg.input)
    if not cfg.new_files_only:
        files = list(listed)
        csv_headers(spark, cfg.profile, files)  # before any table is created or changed
    events_path = tables.table_path(warehouse, "events")
    # Two first runs may both create the tables: each step waits for the other run's (tables.settled).
    # The migration first: the statistics' columns name `source`, which a table from before feeds lacks.
    tables.migrate_events(spark, events_path, warehouse, cfg.max_attempts)
    tables.ensure_table(spark, events_path, schemas.EVENTS_SCHEMA, ["event_date"], tables.CHANGE_FEED,
                        attempts=cfg.max_attempts, defaults=tables.EVENTS_STATS)
    tables.ensure_rejects(spark, tables.table_path(warehouse, "rejects"), cfg.max_attempts)

    check_salt(cfg.profile, cfg.pii_salt, cfg.allow_unsalted)
    if cfg.profile.pii_fields():  # every run of a source hashes with the same salt, or none
        held = tables.pin_property(spark, events_path, SALT_PROPERTY.format(source=cfg.source),
                                   salt_fingerprint(cfg.pii_salt))
        if held:
            raise UsageError(f"{PII_SALT_ENV} is not the salt this warehouse's {cfg.source} events were hashed "
                             f"with ({'none' if held == 'unsalted' else 'fingerprint ' + held}); run with that "
                             "one, or the same events would hash differently and come back as conflicting_duplicate")
    if cfg.new_files_only:
        _new_files(spark, cfg, warehouse, rep)
    elif files:
        log.info("run %s: %d input file(s) from %s", cfg.run_id, len(files), cfg.input)
        faults.point("reading")
        rep.add(commit_batch(spark, cfg, warehouse, read_lines(spark, files),
                             {f: modified for f, (_, modified) in listed.items()}))
    else:
        log.warning("no input files in %s (an empty directory): nothing to read", cfg.input)
    if rep.status == "failed_reject_rate":
        log.error("reject rate %.4f is above --max-reject-rate %s: no events committed",
                  rep.reject_rate, cfg.max_reject_rate)
    if cfg.csv and rep.status == "succeeded":
        # A stream's batches committed by a run that stopped before its report: this run
        # does not take their files again, and its extract holds them, as one run would.
        earlier = ingested.files_of_unfinished_runs(spark, warehouse, cfg.source, cfg.run_id) \
            if cfg.new_files_only else []
        if earlier:
            log.info("the extract also holds %d file(s) of runs stopped before their report: %s", len(earlier),
                     ", ".join(earlier))
        rep.csv = extracts.write_csv(spark, input_events(spark, events_path, rep, earlier), cfg.csv)
    rep.duration_s = round(time.time() - started, 3)
    run_reports.publish(spark, warehouse, rep, ["events", "rejects"])
    print(rep.summary_line(), flush=True)
    return rep
