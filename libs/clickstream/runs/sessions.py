"""The `sessions` job: the events table -> `sessions`, partitioned by session_date.

    run(spark, cfg)  pins the events table at its current version, works out which
                     session keys (source, user_id, device) changed, recomputes every
                     session of those keys with `clickstream.rules.sessions.sessions`, and
                     rewrites the session_dates they touch in one commit (`replaceWhere`).

Which keys: --from/--to recomputes the sessions dated in that range (from all the
events of the sources). Otherwise, per source, the keys that the events table's
commits changed since the version the sessions table consumed last (its change data
feed); the consumed version and the rules it was computed with are kept in the
sessions commit's userMetadata. A source never sessionized, sessionized with other
rules (gap, conversion, device), or without a usable change feed is recomputed whole.

Recomputing all of a changed key's sessions is what makes an incremental run equal a
full one: a late event may extend a session, or fill the gap between two sessions so
that they become one, on any day. The rewrite replaces the dates of the key's old and
new sessions with (the other keys' sessions on those dates) + (the key's new sessions).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, replace
from functools import reduce

import pyspark.sql.functions as F
from delta.tables import DeltaTable
from py4j.protocol import Py4JJavaError
from pyspark import StorageLevel
from pyspark.errors import IllegalArgumentException
from pyspark.sql import DataFrame, SparkSession

from clickstream.config import cli, schemas
from clickstream.rules import sessions as session_rules
from clickstream.warehouse import catalog, fs, run_reports, tables
from clickstream.warehouse.scope import Scope
from clickstream.config.errors import UsageError
from clickstream.config.profiles import SOURCE_NAME, SessionRules, check_regex, load_profile

log = logging.getLogger("clickstream.sessions")
TABLE = "sessions"
# Tries when another run's commit to the sessions table conflicts (as events' --max-attempts).
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class SessionsConfig:
    warehouse: str
    source: str | None = None
    gap_minutes: int | None = None
    conversion: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    run_id: str = ""
    conf_dir: str | None = None


def parser() -> cli.ArgumentParser:
    """The job's command line; the README's "Command line" synopsis and docs/reference.md show the same options."""
    parser = cli.ArgumentParser(prog="sessions", description="Cut the events into sessions and flag conversions.")
    parser.add_argument("--warehouse", required=True, help="root directory or URI of the tables")
    parser.add_argument("--source", help="sessionize only this feed (default: every source of the events table)")
    parser.add_argument("--gap-minutes", type=cli.positive_int,
                        help="a gap of this many minutes or more starts a new session (default: the profile's)")
    parser.add_argument("--conversion", help="regex on activity that marks a converted session, searched "
                                             "anywhere, case-sensitive (default: the profile's)")
    parser.add_argument("--from", dest="date_from", help="first session_date to recompute, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", help="last session_date to recompute, YYYY-MM-DD")
    parser.add_argument("--run-id", help="id of this run (default: UTC time plus random suffix)")
    parser.add_argument("--conf-dir", help="read source profiles from DIR/sources/ (default: those shipped)")
    return parser


def parse_args(argv: list[str]) -> SessionsConfig:
    args = parser().parse_args(argv)
    date_from, date_to = cli.date_range(args.date_from, args.date_to)
    if args.source is not None:
        load_profile(args.conf_dir, args.source)  # an unknown source fails here, before Spark starts
    return SessionsConfig(
        warehouse=args.warehouse, source=args.source, gap_minutes=args.gap_minutes,
        conversion=check_regex(args.conversion, "--conversion") if args.conversion is not None else None,
        date_from=date_from, date_to=date_to, run_id=cli.run_id(args.run_id), conf_dir=args.conf_dir)


def rules_by_source(cfg: SessionsConfig, sources: list[str]) -> dict[str, SessionRules]:
    """Each source's rules: its profile's, with the command line's flags winning."""
    rules = {}
    for name in sources:
        if not SOURCE_NAME.match(name):
            raise UsageError(f"the events table holds source {name!r}, which no profile can be named")
        rule = load_profile(cfg.conf_dir, name).sessions
        if cfg.gap_minutes is not None:
            rule = replace(rule, gap_minutes=cfg.gap_minutes)
        if cfg.conversion is not None:
            rule = replace(rule, conversion=cfg.conversion)
        rules[name] = rule
    return rules


def check_java_regex(spark: SparkSession, pattern: str, what: str) -> None:
    """UsageError unless Java's regex engine, which `rlike` uses, compiles `pattern`."""
    try:
        spark.sparkContext._jvm.java.util.regex.Pattern.compile(pattern)
    except (IllegalArgumentException, Py4JJavaError) as err:  # PatternSyntaxException, as PySpark raises it
        problem = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UsageError(f"bad {what} {pattern!r}: {problem} (Java's regex syntax)") from None


def check_rules(spark: SparkSession, cfg: SessionsConfig, rules: dict[str, SessionRules]) -> None:
    """Every conversion regex compiles in Java, before any data is read."""
    if cfg.conversion:
        check_java_regex(spark, cfg.conversion, "--conversion")
    for source, rule in sorted(rules.items()):
        if rule.conversion and not cfg.conversion:
            check_java_regex(spark, rule.conversion, f"'sessions.conversion' of profile {source}")


def consumed_version(spark: SparkSession, path: str, source: str, rule: SessionRules) -> int | None:
    """The events version this source's sessions were last brought up to, with these
    rules; None when never, or when the last run of this source used other rules."""
    for meta in tables.metadata_newest_first(spark, path):
        used = (meta.get("sources") or {}).get(source) if meta.get("job") == "sessions" else None
        if used is None:
            continue
        if used != rule.as_dict():
            return None
        if isinstance(meta.get("events_version"), int):
            return meta["events_version"]
    return None


def changed_keys(spark: SparkSession, events_path: str, first: int, last: int, source: str,
                 rules: dict[str, SessionRules]) -> DataFrame | None:
    """The session keys of one source that events commits first..last inserted, updated or
    deleted (change data feed), materialised; None when the feed does not cover those
    versions (Delta's errors for a feed that is gone: `tables.change_feed_gone`)."""
    def read(changes: DataFrame) -> DataFrame:
        keys = session_rules.session_keys(changes, {source: rules[source]}).persist(StorageLevel.MEMORY_AND_DISK)
        keys.count()  # read now: a feed whose files are gone fails here, not mid-write
        return keys

    return tables.from_changes(spark, events_path, first, last, source, read, log,
                               f"recomputing source {source} whole")


def plan(spark: SparkSession, events_path: str, path: str, version: int, rules: dict[str, SessionRules]) -> dict:
    """Per source: 'full', 'catch_up' (with its changed keys) or 'up_to_date'."""
    modes, keys = {}, []
    for source, rule in sorted(rules.items()):
        consumed = consumed_version(spark, path, source, rule)
        if consumed == version:
            modes[source] = "up_to_date"
            continue
        changed = None
        if consumed is not None and consumed < version:
            changed = changed_keys(spark, events_path, consumed + 1, version, source, rules)
        if changed is None:
            modes[source] = "full"
        else:
            modes[source] = "catch_up"
            keys.append(changed)
    return {"modes": modes, "keys": reduce(DataFrame.unionByName, keys) if keys else None}


def affected(df: DataFrame, rules: dict[str, SessionRules], full: list[str], keys: DataFrame | None) -> DataFrame:
    """The rows (events, or sessions) of the sources recomputed whole and of the changed keys."""
    parts = [df.where(F.col("source").isin(full))] if full else []
    if keys is not None:
        catch_up = {s: r for s, r in rules.items() if s not in full}
        keyed = df.transform(session_rules.with_session_rules, catch_up) if "device_key" not in df.columns else df
        parts.append(keyed.join(keys, list(session_rules.KEY), "left_semi").select(*df.columns))
    return reduce(DataFrame.unionByName, parts)


@dataclass
class Rewrite:
    """What a run writes: `data` replaces the `scope` of the sessions table in one
    commit (scope None: the whole table, which creates it); no data: nothing to write.
    `modes`: per source, 'range', 'full', 'catch_up' or 'up_to_date'."""
    modes: dict[str, str]
    data: DataFrame | None = None
    scope: Scope | None = None
    consumes: bool = True  # the commit records the events version (not a forced range)


def plan_range(spark: SparkSession, cfg: SessionsConfig, events: DataFrame, path: str,
               rules: dict[str, SessionRules]) -> Rewrite:
    """--from/--to: the sessions dated in the range, of the sources in `rules`."""
    scope = Scope("session_date", first=cfg.date_from, last=cfg.date_to, sources=tuple(sorted(rules)))
    data = scope.apply(session_rules.sessions(events, rules))
    return Rewrite({s: "range" for s in rules}, data, scope if DeltaTable.isDeltaTable(spark, path) else None,
                   consumes=False)


def plan_incremental(spark: SparkSession, events_path: str, events: DataFrame, version: int, path: str,
                     rules: dict[str, SessionRules]) -> Rewrite:
    """The sessions of every source recomputed whole, and of every key whose events
    changed since the version its sessions consumed; with the sessions they replace."""
    todo = plan(spark, events_path, path, version, rules)
    full = [s for s, m in todo["modes"].items() if m == "full"]
    if not full and todo["keys"] is None:
        return Rewrite(todo["modes"])
    recomputed = affected(events, rules, full, todo["keys"])
    new = session_rules.sessions(recomputed, rules)
    if not DeltaTable.isDeltaTable(spark, path):
        return Rewrite(todo["modes"], new)
    old = spark.read.format("delta").load(path).withColumn("device_key", F.coalesce(F.col("device"), F.lit("")))
    stale = affected(old, rules, full, todo["keys"])
    # session_date is the date of a session's first event: a date of the recomputed
    # events. Those dates, and the stale sessions', are rewritten.
    days = sorted({r["d"] for r in recomputed.select(F.col("event_date").alias("d"))
                   .unionByName(stale.select(F.col("session_date").alias("d"))).distinct().collect()})
    if not days:
        return Rewrite(todo["modes"])
    scope = Scope("session_date", days=tuple(d.isoformat() for d in days))
    kept = scope.apply(old).join(stale.select("session_id"), "session_id", "left_anti")
    return Rewrite(todo["modes"], kept.select(*schemas.SESSIONS_COLUMNS).unionByName(new), scope)


def write(spark: SparkSession, rewrite: Rewrite, path: str, metadata: dict) -> None:
    """One commit: replace the rewrite's scope (None: the whole table, or create it)."""
    writer = (rewrite.data.select(*schemas.SESSIONS_COLUMNS).write.format("delta").mode("overwrite")
              .partitionBy("session_date").option("partitionOverwriteMode", "static"))
    predicate = rewrite.scope.sql() if rewrite.scope else None
    if predicate:
        writer = writer.option("replaceWhere", predicate)
    with tables.commit_metadata(spark, **metadata):
        writer.save(path)


def summarise(spark: SparkSession, path: str, scope: Scope | None) -> list[dict]:
    """Per session_date and source of what the commit wrote: sessions, conversions, the
    median duration."""
    written = spark.read.format("delta").load(path)
    written = scope.apply(written) if scope else written
    return [
        {"session_date": r["session_date"].isoformat(), "source": r["source"], "sessions": r["sessions"],
         "converted": r["converted"], "conversion_rate": r["conversion_rate"],
         "median_duration_s": r["median_duration_s"]}
        for r in session_rules.daily_summary(written).orderBy("session_date", "source").collect()
    ]


def run(spark: SparkSession, cfg: SessionsConfig) -> dict:
    started = time.time()
    # The regexes are checked before the events table is looked at: the flag's, and --source's profile's.
    rules = rules_by_source(cfg, [cfg.source]) if cfg.source else {}
    check_rules(spark, cfg, rules)
    warehouse = fs.qualify(spark, cfg.warehouse)
    catalog.database(spark)  # a bad name is refused before anything is read
    events_path, path = tables.table_path(warehouse, "events"), tables.table_path(warehouse, TABLE)
    if not DeltaTable.isDeltaTable(spark, events_path):
        raise UsageError(f"no events table at {events_path}: run the events job first")
    version = tables.current_version(spark, events_path)
    events = tables.read_version(spark, events_path, version)
    if not cfg.source:  # every source the events table holds, each with its profile's rules
        rules = rules_by_source(cfg, sorted(r["source"] for r in events.select("source").distinct().collect()))
        check_rules(spark, cfg, rules)
    metadata = {"job": "sessions", "run_id": cfg.run_id, "sources": {s: r.as_dict() for s, r in rules.items()}}

    def attempt() -> Rewrite:
        rewrite = (plan_range(spark, cfg, events, path, rules) if cfg.date_from
                   else plan_incremental(spark, events_path, events, version, path, rules))
        if rewrite.data is not None:
            write(spark, rewrite, path, {**metadata, "events_version": version} if rewrite.consumes else metadata)
        return rewrite

    # Another run committing to the same dates first is a conflict: plan again, at most MAX_ATTEMPTS times.
    rewrite, attempts = tables.retrying(attempt, MAX_ATTEMPTS, log, "planning", "nothing of this run is committed")
    rep = {"run_id": cfg.run_id, "job": "sessions", "warehouse": warehouse, "events_version": version,
           "from": cfg.date_from.isoformat() if cfg.date_from else None,
           "to": cfg.date_to.isoformat() if cfg.date_to else None,
           "rules": {s: r.as_dict() for s, r in rules.items()}, "dates_rewritten": [], "sessions_written": 0,
           "summary": [], "commit": None, "status": "succeeded", "modes": rewrite.modes, "attempts": attempts}
    if rewrite.data is not None:
        summary = summarise(spark, path, rewrite.scope)
        rep.update(summary=summary, sessions_written=sum(s["sessions"] for s in summary),
                   dates_rewritten=sorted({s["session_date"] for s in summary}),
                   commit=tables.last_commit(DeltaTable.forPath(spark, path)))
    rep["duration_s"] = round(time.time() - started, 3)
    run_reports.publish(spark, warehouse, rep, [TABLE])
    print_summary(rep)
    return rep


def print_summary(rep: dict) -> None:
    modes = ",".join(f"{s}:{m}" for s, m in sorted(rep["modes"].items())) or "none"
    print(f"sessions run_id={rep['run_id']} events_version={rep['events_version']} modes={modes} "
          f"dates={len(rep['dates_rewritten'])} sessions={rep['sessions_written']} duration_s={rep['duration_s']}",
          flush=True)
    for s in rep["summary"]:
        rate = "n/a" if s["conversion_rate"] is None else f"{s['conversion_rate']:.4f}"
        print(f"  {s['session_date']} {s['source']}: sessions={s['sessions']} converted={s['converted']} "
              f"conversion_rate={rate} median_duration_s={s['median_duration_s']}", flush=True)
