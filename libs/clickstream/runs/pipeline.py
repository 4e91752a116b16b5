"""The `pipeline` job: events, then hourly_stats (and, when asked, rollup), then sessions
(and, when asked, the report), in one application.

One JVM start, one package resolution and one warm-up instead of one per job. Each
step commits and reports exactly as its own job does (`_runs/<run_id>-<step>.<step>.json`);
`_runs/<run_id>.pipeline.json` lists the steps. A step that fails stops the later ones, and the
run exits with that step's own exit code.

The options are those of `events`, which the events step reads (the input, the days or
--new-files-only, --source, ...), plus:

    --steps events,hourly_stats,sessions   which steps, always run in that order; `rollup`
                                           (not run by default) rolls hourly_stats up after it,
                                           `report` (not by default) writes the HTML page last
    --stats-dimensions D                   hourly_stats --dimensions (and the rollups')
    --rollup-grains day,week,month         the rollup step's grains (default: all three)
    --sessions-gap-minutes N               sessions --gap-minutes
    --sessions-conversion REGEX            sessions --conversion
    --report-output PATH, --report-days N  the report step's --output and --days (every source)
    --csv DIR                              DIR/user_web_hits.csv and DIR/aggregated_web_stats.csv
    --run-id R                             the steps' reports are R-events, R-hourly_stats,
                                           R-rollup-<grain>, R-sessions, R-report

hourly_stats, rollup and sessions run in their incremental catch-up mode, for --source's feed;
the report step shows every source of the warehouse.
Each step's options are checked by that step's own parser before Spark starts.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from pyspark.sql import SparkSession

from clickstream.config import cli
from clickstream.config.errors import UsageError
from clickstream.rules import rollup as rollup_rules
from clickstream.runs import events, hourly_stats, report, rollup, sessions
from clickstream.warehouse import catalog, fs, run_reports

STEPS = ("events", "hourly_stats", "rollup", "sessions", "report")
DEFAULT_STEPS = "events,hourly_stats,sessions"


@dataclass(frozen=True)
class PipelineConfig:
    run_id: str
    warehouse: str
    steps: tuple[str, ...]
    events: events.EventsConfig | None = None
    hourly_stats: hourly_stats.StatsConfig | None = None
    rollups: tuple[rollup.RollupConfig, ...] = ()
    sessions: sessions.SessionsConfig | None = None
    report: report.ReportConfig | None = None


def parser() -> cli.ArgumentParser:
    """The pipeline's own options; every other option goes to the events step (see
    `events --help`). The README's "Command line" synopsis shows both."""
    parser = cli.ArgumentParser(
        prog="pipeline", description="Run events, hourly_stats, rollup, sessions and report in one application.",
        epilog="Every other option is the events step's: ./spark-submit.sh events --help")
    parser.add_argument("--warehouse", required=True, help="root directory or URI of the tables")
    parser.add_argument("--source", default="hipages", help="source profile in conf/sources/ (default: hipages)")
    parser.add_argument("--steps", default=DEFAULT_STEPS,
                        help=f"comma-separated, run in this order: {', '.join(STEPS)} "
                             f"(default: {DEFAULT_STEPS})")
    parser.add_argument("--stats-dimensions", help="the hourly_stats (and rollup) step's --dimensions")
    parser.add_argument("--rollup-grains", default=",".join(rollup_rules.GRAINS),
                        help="the rollup step's grains, comma-separated (default: day,week,month)")
    parser.add_argument("--sessions-gap-minutes", help="the sessions step's --gap-minutes")
    parser.add_argument("--sessions-conversion", help="the sessions step's --conversion")
    parser.add_argument("--report-output", help="the report step's --output (default: <warehouse>/report.html)")
    parser.add_argument("--report-days", help="the report step's --days (default: 30)")
    parser.add_argument("--csv", help="write user_web_hits.csv and aggregated_web_stats.csv into this directory")
    parser.add_argument("--run-id", help="id of this run; the steps' reports are <id>-<step> "
                                         "(default: UTC time plus random suffix)")
    parser.add_argument("--conf-dir", help="read source profiles from DIR/sources/ (default: those shipped)")
    return parser


def parse_names(option: str, value: str, known: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of `known` names, in `known`'s order (--steps, --rollup-grains)."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names or set(names) - set(known):
        raise UsageError(f"bad {option} {value!r}: use a comma-separated list of {', '.join(known)}")
    return tuple(name for name in known if name in names)


def parse_steps(value: str) -> tuple[str, ...]:
    return parse_names("--steps", value, STEPS)


def _option(name: str, value: str | None) -> list[str]:
    return [name, value] if value is not None else []


def _step(parse, argv: list[str], renames: dict[str, str], *extra):
    """`parse(argv, *extra)`, a step's own parse_args, with its errors in the pipeline's words."""
    try:
        return parse(argv, *extra)
    except UsageError as err:
        message = str(err)
        for step_word, pipeline_word in renames.items():
            message = message.replace(step_word, pipeline_word)
        raise UsageError(message) from None


def parse_args(argv: list[str], conf_dir: str | None = None) -> PipelineConfig:
    """The pipeline's options, then each step's own parse_args on the options it gets."""
    args, rest = parser().parse_known_args(argv)
    steps = parse_steps(args.steps)
    run_id = cli.run_id(args.run_id)
    conf = _option("--conf-dir", args.conf_dir or conf_dir)
    common = ["--warehouse", args.warehouse]
    csv = {name: fs.join(args.csv, f"{name}.csv") for name in ("user_web_hits", "aggregated_web_stats")} \
        if args.csv else {}
    if rest and "events" not in steps:
        raise UsageError(f"{' '.join(rest)}: options of the events step, which --steps leaves out")
    cfg_events = _step(events.parse_args, [
        *rest, *common, "--source", args.source, "--run-id", f"{run_id}-events", *conf,
        *_option("--csv", csv.get("user_web_hits"))], {"(see events --help)": "(see pipeline --help and events --help)"},
        conf_dir) if "events" in steps else None
    cfg_stats = _step(hourly_stats.parse_args, [
        *common, "--source", args.source, "--run-id", f"{run_id}-hourly_stats",
        *_option("--dimensions", args.stats_dimensions), *_option("--csv", csv.get("aggregated_web_stats"))],
        {"--dimensions": "--stats-dimensions", "(see hourly_stats --help)": "(see pipeline --help)"}) \
        if "hourly_stats" in steps else None
    grains = parse_names("--rollup-grains", args.rollup_grains, rollup_rules.GRAINS)
    cfg_rollups = tuple(_step(rollup.parse_args, [
        *common, "--grain", grain, "--source", args.source, "--run-id", f"{run_id}-rollup-{grain}",
        *_option("--dimensions", args.stats_dimensions)], {"--dimensions": "--stats-dimensions"})
        for grain in grains) if "rollup" in steps else ()
    cfg_sessions = _step(sessions.parse_args, [
        *common, "--source", args.source, "--run-id", f"{run_id}-sessions", *conf,
        *_option("--gap-minutes", args.sessions_gap_minutes), *_option("--conversion", args.sessions_conversion)],
        {"--gap-minutes": "--sessions-gap-minutes", "--conversion": "--sessions-conversion",
         "(see sessions --help)": "(see pipeline --help)"}) if "sessions" in steps else None
    cfg_report = _step(report.parse_args, [
        *common, "--run-id", f"{run_id}-report", *_option("--output", args.report_output),
        *_option("--days", args.report_days)], {"--output": "--report-output", "--days": "--report-days",
                                                 "(see report --help)": "(see pipeline --help)"}) \
        if "report" in steps else None
    return PipelineConfig(run_id=run_id, warehouse=args.warehouse, steps=steps, events=cfg_events,
                          hourly_stats=cfg_stats, rollups=cfg_rollups, sessions=cfg_sessions, report=cfg_report)


def preflight(spark: SparkSession, cfg: PipelineConfig) -> None:
    """The checks each step's own job makes once Spark is up, made for every step before
    the first one starts, in the pipeline's words: the catalog's database name, and
    every conversion regex the sessions step will use compiled by Java's engine
    (--sessions-conversion, or --source's profile's). A UsageError commits nothing.
    (Argument parsing, the profiles and the report's plotting library are checked by
    `parse_args`, before Spark starts. Checks of tables an earlier step creates stay in
    their step.)"""
    catalog.database(spark)
    if cfg.sessions is not None:
        if cfg.sessions.conversion is not None:
            sessions.check_java_regex(spark, cfg.sessions.conversion, "--sessions-conversion")
        elif cfg.sessions.source:
            sessions.check_rules(spark, cfg.sessions, sessions.rules_by_source(cfg.sessions, [cfg.sessions.source]))


def _run_step(spark: SparkSession, cfg: PipelineConfig, step: str, grain) -> tuple[int, str, str]:
    """One step: (its exit code, its status, its run id)."""
    if step == "events":
        result = events.run(spark, cfg.events)
        return result.exit_code, result.status, result.run_id
    result = (hourly_stats.run(spark, cfg.hourly_stats) if step == "hourly_stats"
              else rollup.run(spark, grain) if step == "rollup"
              else report.run(spark, cfg.report) if step == "report" else sessions.run(spark, cfg.sessions))
    return cli.EXIT_OK, result["status"], result["run_id"]


def run(spark: SparkSession, cfg: PipelineConfig) -> int:
    """Run the steps in order on one session, after `preflight`; the exit code of the
    first step that does not succeed (0 when all do). A step's error propagates as its
    own job's would, after the pipeline's report records it: that step `failed`, with
    the error's first line, and the run `failed_at_<step>`."""
    started = time.time()
    preflight(spark, cfg)
    rep = {"run_id": cfg.run_id, "job": "pipeline", "steps": [], "status": "succeeded",
           "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    code = cli.EXIT_OK
    # The rollup step is one run per grain, each listed on its own.
    runs = [(step, grain) for step in cfg.steps for grain in (cfg.rollups if step == "rollup" else [None])]
    try:
        for step, grain in runs:
            step_started = time.time()
            entry = {"step": step, "run_id": grain.run_id if grain else getattr(cfg, step).run_id}
            rep["steps"].append(entry)
            try:
                code, entry["status"], entry["run_id"] = _run_step(spark, cfg, step, grain)
            except BaseException as err:
                entry.update(status="failed", error=fs.first_line(err))
                rep["status"] = f"failed_at_{step}"
                raise
            finally:
                entry["duration_s"] = round(time.time() - step_started, 3)
            if code != cli.EXIT_OK:
                rep["status"] = f"stopped_after_{step}"
                break
    finally:
        rep["duration_s"] = round(time.time() - started, 3)
        run_reports.write(spark, fs.qualify(spark, cfg.warehouse), rep)
        print(f"pipeline run_id={cfg.run_id} status={rep['status']} "
              f"steps={','.join(s['step'] for s in rep['steps'])} duration_s={rep['duration_s']}", flush=True)
    return code
