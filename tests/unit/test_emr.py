"""EMR steps: rendered exactly, valid for the EMR API's own input model (botocore),
accepted by moto's EMR, and the `aws emr add-steps` form turns back into the API form."""

from __future__ import annotations

from datetime import date

import pytest

from clickstream.deploy import emr
from clickstream.config.errors import UsageError


PROPS = {"spark.sql.session.timeZone": "UTC", "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension"}

JARS = "/usr/share/aws/delta/lib/delta-spark.jar,/usr/share/aws/delta/lib/delta-storage.jar"

# Delta's Python API is inside delta-spark.jar: it goes on the driver's Python path too.
PY_FILES = "s3://code/cs/0.1.0/clickstream.zip,/usr/share/aws/delta/lib/delta-spark.jar"


def steps(day=date(2026, 11, 23), **kw):
    return emr.render_steps("s3://code/cs/0.1.0/", "s3://raw/events", "s3://lake/wh", day, **kw)


def test_one_pipeline_step_for_a_day_exactly():
    assert steps(properties=PROPS) == [
        {"Name": "clickstream pipeline hipages 2026-11-23", "ActionOnFailure": "CANCEL_AND_WAIT",
         "HadoopJarStep": {"Jar": "command-runner.jar", "Args": [
             "spark-submit", "--deploy-mode", "cluster", "--jars", JARS,
             "--conf", "spark.sql.session.timeZone=UTC",
             "--conf", "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension",
             "--py-files", PY_FILES, "s3://code/cs/0.1.0/jobs/pipeline.py",
             "--input", "s3://raw/events", "--warehouse", "s3://lake/wh", "--source", "hipages",
             "--date", "2026-11-23", "--steps", "events,hourly_stats"]}},
    ]


def test_per_job_steps_for_a_day_exactly():
    assert steps(properties=PROPS, per_job=True) == [
        {"Name": "clickstream events hipages 2026-11-23", "ActionOnFailure": "CANCEL_AND_WAIT",
         "HadoopJarStep": {"Jar": "command-runner.jar", "Args": [
             "spark-submit", "--deploy-mode", "cluster", "--jars", JARS,
             "--conf", "spark.sql.session.timeZone=UTC",
             "--conf", "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension",
             "--py-files", PY_FILES, "s3://code/cs/0.1.0/jobs/events.py",
             "--input", "s3://raw/events", "--warehouse", "s3://lake/wh", "--source", "hipages",
             "--date", "2026-11-23"]}},
        {"Name": "clickstream hourly_stats 2026-11-23", "ActionOnFailure": "CANCEL_AND_WAIT",
         "HadoopJarStep": {"Jar": "command-runner.jar", "Args": [
             "spark-submit", "--deploy-mode", "cluster", "--jars", JARS,
             "--conf", "spark.sql.session.timeZone=UTC",
             "--conf", "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension",
             "--py-files", PY_FILES, "s3://code/cs/0.1.0/jobs/hourly_stats.py",
             "--warehouse", "s3://lake/wh"]}},
    ]


def test_new_files_steps_and_options():
    events, stats = steps(None, action_on_failure="TERMINATE_CLUSTER", max_reject_rate=0.1, properties={},
                          per_job=True)
    assert events["Name"] == "clickstream events hipages new files"
    assert events["HadoopJarStep"]["Args"][7:] == [
        "s3://code/cs/0.1.0/jobs/events.py", "--input", "s3://raw/events", "--warehouse", "s3://lake/wh",
        "--source", "hipages", "--new-files-only", "--max-reject-rate", "0.1"]
    assert (events["ActionOnFailure"], stats["ActionOnFailure"]) == ("TERMINATE_CLUSTER", "TERMINATE_CLUSTER")


def test_the_report_page_is_the_pipelines_last_step_or_a_step_of_its_own():
    [pipeline] = steps(None, properties={}, report="s3://lake/reports/daily.html")
    assert pipeline["HadoopJarStep"]["Args"][7:] == [
        "s3://code/cs/0.1.0/jobs/pipeline.py", "--input", "s3://raw/events", "--warehouse", "s3://lake/wh",
        "--source", "hipages", "--new-files-only", "--steps", "events,hourly_stats,report",
        "--report-output", "s3://lake/reports/daily.html"]
    *_, report = steps(None, properties={}, report="s3://lake/reports/daily.html", per_job=True)
    assert (report["Name"], report["HadoopJarStep"]["Args"][7:]) == ("clickstream report new files", [
        "s3://code/cs/0.1.0/jobs/report.py", "--warehouse", "s3://lake/wh", "--output", "s3://lake/reports/daily.html"])
    checked = _validate({"JobFlowId": "j-1", "Steps": steps(report="s3://r/x.html", per_job=True)})
    assert not checked.has_errors(), checked.generate_report()
    with pytest.raises(UsageError, match=r"^bad --report-output 'report.html'"):
        steps(report="report.html")


def test_the_export_step_publishes_hourly_stats_in_utc_with_the_jdbc_driver():
    export_step = steps(None, properties=PROPS, export={"jdbc_url": "jdbc:postgresql://db:5432/bi",
                                                       "target": "Analytics.Hourly", "user": "etl"})[1]
    assert export_step == {
        "Name": "clickstream export hourly_stats new files", "ActionOnFailure": "CANCEL_AND_WAIT",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": [
            "spark-submit", "--deploy-mode", "cluster", "--jars", JARS,
            "--packages", "org.postgresql:postgresql:42.7.14",
            "--conf", "spark.sql.session.timeZone=UTC",
            "--conf", "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension",
            "--conf", "spark.driver.extraJavaOptions=-Duser.timezone=UTC",
            "--conf", "spark.executor.extraJavaOptions=-Duser.timezone=UTC",
            "--py-files", PY_FILES, "s3://code/cs/0.1.0/jobs/export.py",
            "--warehouse", "s3://lake/wh", "--table", "hourly_stats", "--jdbc-url", "jdbc:postgresql://db:5432/bi",
            "--target", "analytics.hourly", "--user", "etl"]}}
    report = _validate({"JobFlowId": "j-1", "Steps": steps(None, export={"jdbc_url": "jdbc:redshift://c:5439/dev",
                                                                          "target": "hourly_stats"})})
    assert not report.has_errors(), report.generate_report()
    with pytest.raises(UsageError, match="^bad --jdbc-url 'jdbc:oracle://x'"):
        steps(None, export={"jdbc_url": "jdbc:oracle://x", "target": "t"})
    with pytest.raises(UsageError, match=r"^--jdbc-url 'jdbc:redshift://c:5439/dev' carries 'PWD'"):
        steps(None, export={"jdbc_url": "jdbc:redshift://c:5439/dev;UID=etl;PWD=x", "target": "t"})


def test_steps_use_the_emr_properties_and_download_nothing():
    args = steps()[0]["HadoopJarStep"]["Args"]
    confs = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--conf")
    assert confs["spark.sql.session.timeZone"] == "UTC"
    assert confs["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert confs["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert confs["spark.sql.sources.partitionOverwriteMode"] == "dynamic"
    assert args[args.index("--jars") + 1] == JARS
    assert not any(a in ("--packages", "--repositories", "--properties-file") for a in args)
    assert not any("spark.jars.packages" in a for a in args)


@pytest.mark.parametrize("kw, message", [
    ({"code": "code/cs"}, "bad --code 'code/cs'"),
    ({"warehouse": "/tmp/wh"}, "bad --warehouse '/tmp/wh'"),
    ({"action_on_failure": "RETRY"}, "bad --action-on-failure 'RETRY'"),
])
def test_bad_arguments(kw, message):
    args = {"code": "s3://c", "input_uri": "s3://i", "warehouse": "s3://w", **kw}
    with pytest.raises(UsageError, match=message):
        emr.render_steps(args.pop("code"), args.pop("input_uri"), args.pop("warehouse"), None, **args)


def _validate(params):
    from botocore.session import get_session
    from botocore.validate import ParamValidator

    shape = get_session().get_service_model("emr").operation_model("AddJobFlowSteps").input_shape
    return ParamValidator().validate(params, shape)


@pytest.mark.parametrize("day", [date(2026, 11, 23), None])
@pytest.mark.parametrize("per_job", [False, True])
def test_steps_validate_against_the_emr_api_model(day, per_job):
    report = _validate({"JobFlowId": "j-2AXXXXXXGAPLF", "Steps": steps(day, per_job=per_job)})
    assert not report.has_errors(), report.generate_report()


def test_the_validator_rejects_a_broken_step():
    broken = steps(per_job=True)
    del broken[0]["HadoopJarStep"]["Jar"]
    broken[1]["HadoopJarStep"]["Args"] = " ".join(broken[1]["HadoopJarStep"]["Args"])
    report = _validate({"JobFlowId": "j-1", "Steps": broken}).generate_report()
    assert "Missing required parameter in Steps[0].HadoopJarStep: \"Jar\"" in report
    assert "Invalid type for parameter Steps[1].HadoopJarStep.Args" in report


def test_moto_emr_accepts_the_steps():
    import boto3
    from moto import mock_aws

    rendered = steps() + steps(per_job=True)  # the pipeline step, then the per-job ones
    with mock_aws():
        client = boto3.client("emr", region_name="us-east-1")
        cluster = client.run_job_flow(
            Name="clickstream", ReleaseLabel="emr-7.5.0", Applications=[{"Name": "Spark"}],
            Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
            JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole")["JobFlowId"]
        ids = client.add_job_flow_steps(JobFlowId=cluster, Steps=rendered)["StepIds"]
        listed = {s["Id"]: s for s in client.list_steps(ClusterId=cluster)["Steps"]}
    assert len(ids) == 3
    for step_id, expected in zip(ids, rendered):
        got = listed[step_id]
        assert (got["Name"], got["ActionOnFailure"]) == (expected["Name"], expected["ActionOnFailure"])
        assert got["Config"]["Jar"] == "command-runner.jar"
        assert got["Config"]["Args"] == expected["HadoopJarStep"]["Args"]


def test_cli_form_is_the_api_form_for_the_aws_cli():
    from awscli.customizations.emr.steputils import build_step_config_list

    api = steps(per_job=True)
    cli_form = emr.to_cli(api)
    assert cli_form[1] == {"Type": "Spark", "Name": api[1]["Name"], "ActionOnFailure": "CANCEL_AND_WAIT",
                           "Args": api[1]["HadoopJarStep"]["Args"][1:]}
    # What `aws emr add-steps --steps file://...` sends for it, on an EMR 7 cluster:
    assert build_step_config_list(cli_form, region="us-east-1", release_label="emr-7.5.0") == api
