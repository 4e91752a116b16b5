"""EMR steps for the daily pipeline, as JSON: one `pipeline` step (events then
hourly_stats in one YARN application; `--per-job`: one step per job, as before), with
--report-output the report page as its last step, and with --export-jdbc-url an
`export` of hourly_stats into PostgreSQL or Redshift.

    ./spark-submit.sh emr-steps --code s3://b/clickstream --input s3://raw --warehouse s3://wh
                                (--date YYYY-MM-DD | --new-files-only) [--format api|cli] ...

Prints the steps in the form of the EMR API's `AddJobFlowSteps` (`HadoopJarStep`,
what boto3, Airflow's `EmrAddStepsOperator` and Step Functions take), or with
`--format cli` the `aws emr add-steps --steps file://steps.json` form, made from
the API form. Each step runs `spark-submit --deploy-mode cluster` through
command-runner.jar with the artifact that `make package` builds and you upload to
`--code`: `clickstream.zip` on `--py-files` and `jobs/<job>.py`.

Delta Lake comes from the cluster, the EMR way: EMR 7 ships its jars in
/usr/share/aws/delta/lib; the steps add them with `--jars` and set the extension
and catalog (from conf/spark/emr.properties), so a step downloads nothing.

Plain Python: no Spark, no AWS call. Exit 2 with one line on a bad argument.
"""
from __future__ import annotations

import json
import sys
from datetime import date

from clickstream.config import cli
from clickstream.config.errors import UsageError
from clickstream.config.profiles import default_conf_dir, load_profile
from clickstream.deploy.submit import UTC_JVM, read_properties

# Delta Lake as installed on EMR 7.x (Delta 3.x: delta-core.jar became delta-spark.jar).
EMR_DELTA_JARS = ("/usr/share/aws/delta/lib/delta-spark.jar", "/usr/share/aws/delta/lib/delta-storage.jar")
ACTIONS = ("CANCEL_AND_WAIT", "CONTINUE", "TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW")
FORMATS = ("api", "cli")


def emr_properties(env: str = "emr") -> dict[str, str]:
    """conf/spark/<env>.properties, as shipped with the package (or in the checkout)."""
    conf = default_conf_dir().joinpath("spark", f"{env}.properties")
    if not conf.is_file():
        raise UsageError(f"no Spark properties for --env {env!r}: {conf} does not exist")
    return read_properties(conf)


def _uri(value: str, what: str) -> str:
    if "://" not in value:
        raise UsageError(f"bad {what} {value!r}: give a URI the cluster can read, such as s3://bucket/prefix")
    return value.rstrip("/")


def spark_submit(code: str, job: str, job_args: list[str], properties: dict[str, str],
                 jars: tuple[str, ...] = EMR_DELTA_JARS, packages: tuple[str, ...] = ()) -> list[str]:
    """The command-runner.jar arguments: spark-submit in cluster mode with the artifact.

    Delta's Python API (`delta.tables`) ships inside delta-spark.jar (the first of
    `jars`); `--jars` puts it on the JVM's classpath only, so it goes on `--py-files`
    too, as `--packages` would do it."""
    args = ["spark-submit", "--deploy-mode", "cluster", "--jars", ",".join(jars)]
    if packages:
        args += ["--packages", ",".join(packages)]
    for key, value in properties.items():
        args += ["--conf", f"{key}={value}"]
    py_files = ",".join([f"{code}/clickstream.zip", *jars[:1]])
    return args + ["--py-files", py_files, f"{code}/jobs/{job}.py", *job_args]


def step(name: str, args: list[str], action_on_failure: str) -> dict:
    return {"Name": name, "ActionOnFailure": action_on_failure,
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": args}}


def render_steps(code: str, input_uri: str, warehouse: str, day: date | None = None, *,
                 source: str = "hipages", action_on_failure: str = "CANCEL_AND_WAIT",
                 max_reject_rate: float | None = None, properties: dict[str, str] | None = None,
                 jars: tuple[str, ...] = EMR_DELTA_JARS, export: dict[str, str] | None = None,
                 per_job: bool = False, report: str | None = None) -> list[dict]:
    """The steps in the API form: one `pipeline --steps events,hourly_stats` step (one
    application: one JVM start and one warm-up a day), or with `per_job` an `events`
    step and an `hourly_stats` step. `day` None: `--new-files-only` (the same steps
    every day, for a fixed schedule); else `--date day` (a backfill). `export`
    ({jdbc_url, target, user?}): one more step publishes hourly_stats there (the dates
    changed since its last export; the password comes from the cluster's
    configuration, never from the step). `report`: a URI the report page is written to,
    by the pipeline's last step (or its own step with `per_job`); its driver needs
    matplotlib on the nodes (docs/report.md)."""
    code, input_uri, warehouse = _uri(code, "--code"), _uri(input_uri, "--input"), _uri(warehouse, "--warehouse")
    if report is not None:
        report = _uri(report, "--report-output")
    if action_on_failure not in ACTIONS:
        raise UsageError(f"bad --action-on-failure {action_on_failure!r}: use one of {', '.join(ACTIONS)}")
    props = emr_properties() if properties is None else properties
    events_args = ["--input", input_uri, "--warehouse", warehouse, "--source", source]
    events_args += ["--new-files-only"] if day is None else ["--date", day.isoformat()]
    if max_reject_rate is not None:
        events_args += ["--max-reject-rate", str(max_reject_rate)]
    label = "new files" if day is None else day.isoformat()
    # A failed events step cancels hourly_stats (no stats from a failed day); the
    # cluster keeps waiting for the next schedule, or terminates if you say so.
    if per_job:
        steps = [
            step(f"clickstream events {source} {label}",
                 spark_submit(code, "events", events_args, props, jars), action_on_failure),
            step(f"clickstream hourly_stats {label}",
                 spark_submit(code, "hourly_stats", ["--warehouse", warehouse], props, jars), action_on_failure),
        ]
        if report:
            steps.append(step(f"clickstream report {label}", spark_submit(
                code, "report", ["--warehouse", warehouse, "--output", report], props, jars), action_on_failure))
    else:
        pipeline = ["--steps", "events,hourly_stats,report", "--report-output", report] if report else \
            ["--steps", "events,hourly_stats"]
        steps = [step(f"clickstream pipeline {source} {label}",
                      spark_submit(code, "pipeline", [*events_args, *pipeline], props, jars), action_on_failure)]
    if export:
        from clickstream.warehouse import jdbc
        from clickstream.deploy.packages import jdbc_packages

        jdbc.dialect(export["jdbc_url"])
        schema, table = jdbc.parse_target(export["target"])
        export_args = ["--warehouse", warehouse, "--table", "hourly_stats", "--jdbc-url", export["jdbc_url"],
                       "--target", f"{schema}.{table}"]
        export_args += ["--user", export["user"]] if export.get("user") else []
        utc = {key: UTC_JVM for key in ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions")}
        steps.append(step(f"clickstream export hourly_stats {label}",
                          spark_submit(code, "export", export_args, {**props, **utc}, jars,
                                       tuple(jdbc_packages(export_args))), action_on_failure))
    return steps


def to_cli(steps: list[dict]) -> list[dict]:
    """The API form -> `aws emr add-steps --steps` JSON (Type Spark: the CLI puts
    command-runner.jar and `spark-submit` back in front of Args)."""
    out = []
    for s in steps:
        args = s["HadoopJarStep"]["Args"]
        if s["HadoopJarStep"]["Jar"] != "command-runner.jar" or args[:1] != ["spark-submit"]:
            raise ValueError(f"step {s['Name']!r} is not a command-runner spark-submit step")
        out.append({"Type": "Spark", "Name": s["Name"], "ActionOnFailure": s["ActionOnFailure"], "Args": args[1:]})
    return out


def parser() -> cli.ArgumentParser:
    """The command line; the README's "Command line" synopsis and docs/reference.md show the same options."""
    parser = cli.ArgumentParser(prog="emr-steps", description="Print the EMR steps of one pipeline run as JSON.")
    parser.add_argument("--code", required=True,
                        help="where `make package`'s dist/ was uploaded, e.g. s3://bucket/clickstream/0.1.0")
    parser.add_argument("--input", required=True, help="input root URI (dated prefixes below it)")
    parser.add_argument("--warehouse", required=True, help="warehouse URI")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--date", help="ingest this day's prefix, YYYY-MM-DD (backfills, reruns)")
    mode.add_argument("--new-files-only", action="store_true",
                      help="ingest every file not ingested yet (the same steps every day)")
    parser.add_argument("--source", default="hipages", help="source profile (default: hipages)")
    parser.add_argument("--format", choices=FORMATS, default="api",
                        help="api: AddJobFlowSteps (boto3, Airflow, Step Functions); cli: aws emr add-steps")
    parser.add_argument("--action-on-failure", default="CANCEL_AND_WAIT",
                        help="CANCEL_AND_WAIT (default, long-running cluster) or TERMINATE_CLUSTER (transient)")
    parser.add_argument("--max-reject-rate", type=cli.fraction, help="passed to events")
    parser.add_argument("--per-job", action="store_true",
                        help="one step per job (events, hourly_stats) instead of one pipeline step")
    parser.add_argument("--report-output", help="also write the report page to this URI, as the pipeline's last "
                        "step (the nodes need matplotlib: docs/report.md)")
    parser.add_argument("--export-jdbc-url", help="add a step that exports hourly_stats to this database "
                        "(jdbc:postgresql://... or jdbc:redshift://...)")
    parser.add_argument("--export-target", default="public.hourly_stats",
                        help="SCHEMA.TABLE of that export (default: public.hourly_stats)")
    parser.add_argument("--export-user", help="database user of that export")
    parser.add_argument("--delta-jars", default=",".join(EMR_DELTA_JARS),
                        help="Delta Lake jars on the cluster (default: EMR 7's /usr/share/aws/delta/lib)")
    return parser


def parse_args(argv: list[str]):
    """The checked command line; an unknown profile fails here, not on the cluster."""
    args = parser().parse_args(argv)
    args.day = cli.parse_date(args.date, "--date") if args.date else None
    load_profile(None, args.source)
    return args


def main(args) -> int:
    steps = render_steps(args.code, args.input, args.warehouse, args.day, source=args.source,
                         action_on_failure=args.action_on_failure, max_reject_rate=args.max_reject_rate,
                         jars=tuple(j for j in args.delta_jars.split(",") if j), per_job=args.per_job,
                         report=args.report_output,
                         export={"jdbc_url": args.export_jdbc_url, "target": args.export_target,
                                 "user": args.export_user} if args.export_jdbc_url else None)
    print(json.dumps(to_cli(steps) if args.format == "cli" else steps, indent=2))
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(parse_args, main, sys.argv[1:], "emr-steps"))
