"""Every job's command line, checked in plain Python: what spark-submit.sh runs before
it starts a JVM (`python -m clickstream.config.cli check`), so each refusal here costs the
user under a second and prints one line."""

from __future__ import annotations

import datetime as dt
import sys

import pytest

from clickstream.config import cli
from clickstream.deploy import emr
from clickstream.rules import hourly_stats as stats_rules
from clickstream.runs import events, export, generate, hourly_stats, maintain, pipeline, report, rollup, sessions, show
from clickstream.config.errors import UsageError

from helpers import CONF_DIR, ROOT


D = dt.date
JOBS = {"events": events, "hourly_stats": hourly_stats, "sessions": sessions, "export": export,
        "maintain": maintain, "generate": generate, "show": show, "emr-steps": emr, "pipeline": pipeline,
        "rollup": rollup, "report": report}


def checked(capsys, job: str, *argv) -> tuple[int, list[str]]:
    """The exit code and stderr lines of `./spark-submit.sh <job> ARGV`'s argument check."""
    module = JOBS[job]
    code = cli.guarded(module.parse_args, lambda cfg: pytest.fail("ran past the check"), list(argv), job)
    return code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize("args, message", [
    (["events", "--warehouse", "/tmp/x"], "events: error: the following arguments are required: --input"),
    (["events", "--input", "a", "--warehouse", "w", "--max-reject-rate", "2"],
     "events: error: argument --max-reject-rate: '2' is not a fraction between 0 and 1 (see events --help)"),
    (["events", "--input", "a", "--warehouse", "w", "--source", "nope"],
     "events: error: unknown source profile 'nope': no "),
    (["events", "--input", "a", "--warehouse", "w", "--run-id", "a/b"], "events: error: bad --run-id 'a/b'"),
    (["hourly_stats", "--warehouse", "w", "--dimensions", "ip"],
     "hourly_stats: error: bad dimension 'ip' in --dimensions: use url_level2, url_level3 or a property key"),
    (["events", "--input", "a", "--warehouse", "w", "--new-files-only", "--date", "2020-01-01"],
     "events: error: --new-files-only reads the whole input root"),
    (["maintain", "--warehouse", "w", "--retain-hours", "1"], "maintain: error: --retain-hours 1 is below 24"),
    (["generate", "--events", "10", "--files", "20", "--output", "x"],
     "generate: error: --files 20 is more than --events 10"),
    (["sessions", "--warehouse", "w", "--conversion", ""],
     "sessions: error: --conversion must be a non-empty regular expression"),
    (["export", "--warehouse", "w", "--table", "t", "--jdbc-url", "jdbc:mysql://h/d", "--target", "t"],
     "export: error: bad --jdbc-url 'jdbc:mysql://h/d'"),
    (["rollup", "--warehouse", "w"], "rollup: error: the following arguments are required: --grain"),
    (["rollup", "--warehouse", "w", "--grain", "year"], "rollup: error: argument --grain: invalid choice: 'year'"),
    (["rollup", "--warehouse", "w", "--grain", "week", "--from", "2017-02-02", "--to", "2017-02-01"],
     "rollup: error: --from 2017-02-02 is after --to 2017-02-01"),
    (["rollup", "--warehouse", "w", "--grain", "day", "--dimensions", "period_start"],
     "rollup: error: bad dimension 'period_start' in --dimensions"),
    (["rollup", "--warehouse", "w", "--grain", "day", "--source", "a b"], "rollup: error: bad --source 'a b'"),
    (["report", "--warehouse", "w", "--days", "0"],
     "report: error: argument --days: '0' is not a positive whole number (see report --help)"),
    (["report", "--warehouse", "w", "--days", "400"], "report: error: bad --days 400: at most 366"),
    (["report", "--warehouse", "w", "--until", "2017-02-30"], "report: error: bad --until '2017-02-30': use YYYY-MM-DD"),
    (["report", "--warehouse", "w", "--output", "s3://bucket/reports/"],
     "report: error: bad --output 's3://bucket/reports/': give a file name, such as report.html"),
    (["pipeline", "--warehouse", "w", "--input", "i", "--steps", "events,report", "--report-days", "x"],
     "pipeline: error: argument --report-days: 'x' is not a positive whole number (see pipeline --help)"),
    (["show", "--warehouse", "w", "--table", "nope"], "show: error: argument --table: invalid choice: 'nope'"),
    (["emr-steps", "--code", "s3://c", "--input", "s3://i", "--warehouse", "s3://w", "--date", "2026-13-01"],
     "emr-steps: error: bad --date '2026-13-01': use YYYY-MM-DD"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, args, message):
    code, err = checked(capsys, *args)
    assert code == cli.EXIT_USAGE
    assert len(err) == 1 and err[0].startswith(message), err


def test_the_report_without_matplotlib_is_one_line(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, err = checked(capsys, "report", "--warehouse", "w")
    assert (code, err) == (cli.EXIT_USAGE, ["report: error: the report job needs matplotlib on the driver: pip install "
                                            "'matplotlib>=3.7,<4' (docs/report.md)"])


def test_the_pipelines_report_step_gets_its_options_and_every_source():
    cfg = pipeline.parse_args(["--warehouse", "wh", "--input", "in", "--source", "hipages", "--run-id", "p",
                               "--steps", "events,report", "--report-output", "out/r.html", "--report-days", "7"])
    assert cfg.steps == ("events", "report")
    assert (cfg.report.warehouse, cfg.report.output, cfg.report.days, cfg.report.source, cfg.report.run_id) == \
        ("wh", "out/r.html", 7, None, "p-report")
    assert pipeline.parse_args(["--warehouse", "wh", "--steps", "report"]).report.target == "wh/report.html"


def test_good_arguments_pass_the_check_and_stop_there(capsys, monkeypatch):
    monkeypatch.setenv(cli.CHECK_ONLY_ENV, "1")
    assert cli.guarded(events.parse_args, lambda cfg: pytest.fail("ran past the check"),
                       ["--input", "in", "--warehouse", "wh", "--date", "2020-01-01"], "events") == cli.EXIT_OK
    assert capsys.readouterr().err == ""


def test_the_check_runs_the_job_file_itself(capsys, monkeypatch):
    """`python -m clickstream.config.cli check jobs/<job>.py ARGS`, as spark-submit.sh runs it:
    the job file's own parse, its exit code, and nothing started."""
    monkeypatch.setattr(sys, "argv", sys.argv[:])
    monkeypatch.setenv(cli.CHECK_ONLY_ENV, "")
    assert cli.check_args(str(ROOT / "jobs" / "events.py"), ["--input", "in", "--warehouse", "wh"]) == 0
    assert cli.check_args(str(ROOT / "jobs" / "sessions.py"), ["--warehouse", "w", "--gap-minutes", "x"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "sessions: error: argument --gap-minutes: 'x' is not a positive whole number (see sessions --help)"]
    with pytest.raises(SystemExit):  # argparse's own exit after --help, which the wrapper passes on
        cli.guarded(maintain.parse_args, None, ["--help"], "maintain")
    assert capsys.readouterr().out.startswith("usage: maintain [-h] --warehouse WAREHOUSE")


def test_a_python_without_spark_leaves_the_check_to_the_driver(tmp_path, monkeypatch):
    """With SPARK_HOME, spark-submit provides pyspark and delta to the driver; a Python
    lacking them cannot import the job, so the check passes the arguments on."""
    monkeypatch.setattr(sys, "argv", sys.argv[:])
    monkeypatch.setenv(cli.CHECK_ONLY_ENV, "")
    job = tmp_path / "job.py"
    job.write_text("raise ModuleNotFoundError(\"No module named 'delta'\", name='delta')\n")
    assert cli.check_args(str(job), ["--x"]) == cli.EXIT_OK
    job.write_text("raise ModuleNotFoundError(\"No module named 'clickstream_x'\", name='clickstream_x')\n")
    with pytest.raises(ModuleNotFoundError):  # a module of ours that is missing is a bug, not a skip
        cli.check_args(str(job), [])


# --- events --------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--date", "2020-01-01", "--from", "2020-01-01"], "--date cannot be combined with --from/--to"),
    (["--to", "2020-01-01"], "--to needs --from"),
    (["--from", "2020-01-03", "--to", "2020-01-01"], "--from 2020-01-03 is after --to 2020-01-01"),
    (["--date", "2020-13-01"], "bad --date '2020-13-01': use YYYY-MM-DD"),
    (["--new-files-only", "--date", "2020-01-01"], "--new-files-only reads the whole input root"),
    (["--layout", "{yyyy}/{MM}/{dd}"], "--layout needs --date or --from"),
    (["--date", "2020-01-01", "--layout", "{yyyy}/{MM}"], "layout '{yyyy}/{MM}' must hold {yyyy}, {MM} and {dd}"),
    (["--date", "2020-01-01", "--layout", "{yyyy}/{MM}/{dd}/*"],
     "layout '{yyyy}/{MM}/{dd}/*' must be a relative path without globs"),
    (["--date", "2020-01-01", "--layout", "{yyyy}/{HH}/{MM}/{dd}"], "unknown token {HH} in layout"),
    (["--max-files-per-batch", "2"], "--max-files-per-batch needs --new-files-only"),
    (["--new-files-only", "--max-files-per-batch", "0"], "argument --max-files-per-batch: '0' is not a positive"),
    (["--dedup-horizon-days", "-1"], "argument --dedup-horizon-days: '-1' is not a whole number of 0 or more"),
])
def test_bad_incremental_arguments(argv, message):
    with pytest.raises(UsageError) as err:
        events.parse_args(["--input", "in", "--warehouse", "wh", *argv], str(CONF_DIR))
    assert str(err.value).startswith(message)


def test_the_dedup_horizon_is_off_unless_given_and_reaches_the_events_step_of_a_pipeline():
    base = ["--input", "in", "--warehouse", "wh"]
    assert events.parse_args(base, str(CONF_DIR)).dedup_horizon_days is None
    assert events.parse_args([*base, "--dedup-horizon-days", "0"], str(CONF_DIR)).dedup_horizon_days == 0
    cfg = pipeline.parse_args([*base, "--dedup-horizon-days", "3", "--conf-dir", str(CONF_DIR)])
    assert cfg.events.dedup_horizon_days == 3


def test_generate_starts_its_rows_at_first_id():
    base = ["--events", "5", "--files", "1", "--output", "x"]
    assert generate.parse_args(base).first_id == 0
    assert generate.parse_args([*base, "--first-id", "1000"]).first_id == 1000
    assert (generate.parse_args(base).random_ids, generate.parse_args([*base, "--random-ids"]).random_ids) == (
        False, True)
    with pytest.raises(UsageError, match="^argument --first-id: '-1' is not a whole number of 0 or more"):
        generate.parse_args([*base, "--first-id", "-1"])


def test_from_alone_runs_through_today():
    cfg = events.parse_args(["--input", "in", "--warehouse", "wh", "--from", "2020-01-01"], str(CONF_DIR))
    assert cfg.days[0] == D(2020, 1, 1) and cfg.days[-1] == dt.datetime.now(dt.timezone.utc).date()
    assert cfg.input_layout == "{yyyy}/{MM}/{dd}"


# --- hourly_stats ----------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (None, ()), ("url_level2", ("url_level2",)), ("url_level3,url_level2", ("url_level3", "url_level2")),
    ("campaign_id", ("campaign_id",)), ("url_level2, device_id", ("url_level2", "device_id")),
])
def test_dimensions_keep_their_order(value, expected):
    assert hourly_stats.parse_dimensions(value) == expected
    assert stats_rules.table_name(expected) == "_".join(("hourly_stats",) + expected)


@pytest.mark.parametrize("argv, message", [
    (["--dimensions", "ip"], "bad dimension 'ip' in --dimensions"),
    (["--dimensions", "source"], "bad dimension 'source' in --dimensions"),
    (["--dimensions", "time_bucket"], "bad dimension 'time_bucket' in --dimensions"),  # the table's own columns
    (["--dimensions", "url_level2,activity_count"], "bad dimension 'activity_count' in --dimensions"),
    (["--dimensions", "user_count"], "bad dimension 'user_count' in --dimensions"),
    (["--dimensions", "user_sketch"], "bad dimension 'user_sketch' in --dimensions"),
    (["--dimensions", "Campaign-ID"], "bad dimension 'Campaign-ID' in --dimensions"),
    (["--source", "a/b"], "bad --source 'a/b'"),
    (["--dimensions", "url_level2,url_level2"], "names a column twice"),
    (["--from", "2017-02-30"], "bad date '2017-02-30'"),
    (["--from", "2017-02-03", "--to", "2017-02-02"], "is after --to"),
])
def test_bad_hourly_stats_arguments(argv, message):
    with pytest.raises(UsageError, match=message):
        hourly_stats.parse_args(["--warehouse", "w", *argv])


# --- sessions ------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--source", "nope"], "unknown source profile 'nope'"),
    (["--gap-minutes", "0"], "argument --gap-minutes: '0' is not a positive whole number"),
    (["--conversion", ""], "--conversion must be a non-empty regular expression"),
    (["--from", "2020-01-02"], "--from and --to go together"),
    (["--from", "2020-01-02", "--to", "2020-01-01"], "--from 2020-01-02 is after --to 2020-01-01"),
])
def test_bad_sessions_arguments(argv, message):
    with pytest.raises(UsageError) as err:
        sessions.parse_args(["--warehouse", "w", *argv])
    assert str(err.value).startswith(message)


# --- maintain ------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--retain-hours", "12"], "--retain-hours 12 is below 24"),
    (["--no-optimize", "--no-vacuum"], "--no-optimize and --no-vacuum together leave nothing to do"),
    (["--tables", "events,_runs"], "bad --tables 'events,_runs'"),
])
def test_bad_maintain_arguments(argv, message):
    with pytest.raises(UsageError) as err:
        maintain.parse_args(["--warehouse", "wh", *argv])
    assert str(err.value).startswith(message)


def test_java_regex_syntax_is_not_refused_by_python_rules():
    """Spark matches with Java's engine: Unicode classes and Java's named groups are fine
    (Python's `re` refuses both); the driver checks the syntax with Java itself."""
    for pattern in (r"\p{Lu}+ Started", "(?<step>Ride) Done"):
        assert sessions.parse_args(["--warehouse", "w", "--conversion", pattern]).conversion == pattern


@pytest.mark.parametrize("error, line", [
    ("An error occurred while calling o123.save.\n: org.apache.spark.SparkException: Job aborted due to stage "
     "failure: Task 0 in stage 63.0 failed 1 times, most recent failure: Lost task 0.0 (TID 110): "
     "java.io.FileNotFoundException: /wh/rejects/part-0.parquet (Permission denied)\n\tat java.base/x",
     "java.io.FileNotFoundException: /wh/rejects/part-0.parquet (Permission denied)"),
    ("py4j error\nCaused by: java.io.IOException: No space left on device\n\tat java.base/x",
     "java.io.IOException: No space left on device"),
    ("[Errno 30] Read-only file system: '/wh/_runs/r.json'", "[Errno 30] Read-only file system: '/wh/_runs/r.json'"),
    ("[DELTA_CONCURRENT_APPEND] Files were added", None),
])
def test_a_storage_refusal_is_found_in_the_error_and_cut_to_its_exception(error, line):
    assert cli.storage_refusal(RuntimeError(error)) == line


def test_a_storage_refusal_is_one_line_and_exit_1(capsys):
    def refused(cfg):
        raise RuntimeError("x\nCaused by: java.io.IOException: No space left on device\n\tat java.base/x")

    assert cli.guarded(lambda argv: None, refused, [], "events") == cli.EXIT_UNEXPECTED
    assert capsys.readouterr().err.splitlines() == [(
        "events: error: the storage refused: java.io.IOException: No space left on device (a Delta commit is all "
        "or nothing: no table holds half of one; run again once the storage takes writes)")]


def test_the_pipeline_gives_each_step_what_its_own_job_would_get():
    """The same options, parsed by each step's own parse_args: a step of the pipeline
    is configured exactly as that job run alone with the matching options."""
    cfg = pipeline.parse_args(["--input", "in", "--warehouse", "wh", "--new-files-only", "--max-reject-rate", "0.5",
                               "--source", "app_events", "--allow-unsalted", "--stats-dimensions", "url_level2",
                               "--sessions-gap-minutes", "45", "--csv", "out", "--run-id", "day1"])
    assert cfg.steps == ("events", "hourly_stats", "sessions") and cfg.run_id == "day1"
    assert cfg.events == events.parse_args(["--input", "in", "--warehouse", "wh", "--new-files-only",
                                            "--max-reject-rate", "0.5", "--source", "app_events", "--allow-unsalted",
                                            "--csv", "out/user_web_hits.csv", "--run-id", "day1-events"])
    assert cfg.hourly_stats == hourly_stats.parse_args(["--warehouse", "wh", "--source", "app_events", "--dimensions",
                                                        "url_level2", "--csv", "out/aggregated_web_stats.csv",
                                                        "--run-id", "day1-hourly_stats"])
    assert cfg.sessions == sessions.parse_args(["--warehouse", "wh", "--source", "app_events", "--gap-minutes", "45",
                                                "--run-id", "day1-sessions"])
    only = pipeline.parse_args(["--warehouse", "wh", "--steps", "sessions,hourly_stats"])
    assert (only.steps, only.events, only.rollups) == (("hourly_stats", "sessions"), None, ())  # the pipeline's order
    rolled = pipeline.parse_args(["--warehouse", "wh", "--steps", "rollup,hourly_stats", "--stats-dimensions",
                                  "url_level2", "--rollup-grains", "month,week", "--run-id", "day1"])
    assert rolled.steps == ("hourly_stats", "rollup")
    assert rolled.rollups == tuple(rollup.parse_args(["--warehouse", "wh", "--grain", grain, "--source", "hipages",
                                                      "--dimensions", "url_level2", "--run-id", f"day1-rollup-{grain}"])
                                   for grain in ("week", "month"))


@pytest.mark.parametrize("argv, message", [
    (["--warehouse", "wh"], "pipeline: error: the following arguments are required: --input (see pipeline --help "
                            "and events --help)"),
    (["--warehouse", "wh", "--input", "in", "--steps", "events,stats"],
     "pipeline: error: bad --steps 'events,stats': use a comma-separated list of events, hourly_stats, rollup, "
     "sessions"),
    (["--warehouse", "wh", "--input", "in", "--steps", "events,rollup", "--rollup-grains", "day,year"],
     "pipeline: error: bad --rollup-grains 'day,year': use a comma-separated list of day, week, month"),
    (["--warehouse", "wh", "--input", "in", "--steps", "hourly_stats"],
     "pipeline: error: --input in: options of the events step, which --steps leaves out"),
    (["--warehouse", "wh", "--input", "in", "--bogus", "1"],
     "pipeline: error: unrecognized arguments: --bogus 1 (see pipeline --help and events --help)"),
    (["--warehouse", "wh", "--input", "in", "--stats-dimensions", "user_count"],
     "pipeline: error: bad dimension 'user_count' in --stats-dimensions: use url_level2"),
])
def test_a_bad_pipeline_command_is_one_line_and_exit_2(capsys, argv, message):
    code, lines = checked(capsys, "pipeline", *argv)
    assert code == 2 and len(lines) == 1 and lines[0].startswith(message), lines
