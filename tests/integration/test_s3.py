"""The events job against S3 through s3a:// (raw events in one bucket, the warehouse
in another) on a local S3-compatible server (moto) on 127.0.0.1, in process: the
shared session carries the s3a connector spark-submit.sh adds for s3a:// paths
(conftest.py), and the settings of conf/spark/s3a-compatible.properties. The tables
must equal a local-disk run's, and a second --new-files-only run must take only the
new object. (That spark-submit.sh adds the connector for s3a:// options is
tests/unit/test_submit.py; hourly_stats reads and writes Delta tables through the same
Hadoop FileSystem, and the cluster test runs it on a second JVM.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import CONF_DIR, ROOT, hipages_line, run_events, state, write_lines


SAMPLE = ROOT / "data" / "sample" / "events.jsonl"

LATE = [hipages_line("s3-new-1", "u9", timestamp="03/02/2017 10:00:00"),
        hipages_line("s3-new-2", "u9", timestamp="03/02/2017 10:05:00"),
        hipages_line("s3-new-3", "u8", action="button_click", timestamp="04/02/2017 11:00:00"),
        "not json"]

HADOOP_PREFIX = "spark.hadoop."


@pytest.fixture(scope="module")
def s3(spark, s3_endpoint):
    """A boto3 client of the server, and the shared session's Hadoop configuration
    pointed at it as `--env local,s3a-compatible --conf spark.hadoop.fs.s3a.endpoint=...`
    would (the credentials as fixed keys: the JVM's environment was set at its start)."""
    import boto3

    from clickstream.deploy.submit import env_properties

    settings = {**env_properties(CONF_DIR, "s3a-compatible"),
                "spark.hadoop.fs.s3a.endpoint": s3_endpoint,
                "spark.hadoop.fs.s3a.aws.credentials.provider":
                    "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
                "spark.hadoop.fs.s3a.access.key": "testing", "spark.hadoop.fs.s3a.secret.key": "testing"}
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in settings.items():
        assert key.startswith(HADOOP_PREFIX), key
        hadoop.set(key[len(HADOOP_PREFIX):], value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    for bucket in ("raw", "lake"):
        client.create_bucket(Bucket=bucket)
    return client


@pytest.fixture(scope="module")
def s3_runs(spark, hipages_profile, s3, tmp_path_factory):
    work = tmp_path_factory.mktemp("s3")
    late = write_lines(work / "late.jsonl", LATE)
    s3.upload_file(str(SAMPLE), "raw", "feed/2017/02/02/sample.jsonl")
    common = dict(new_files_only=True, max_reject_rate=1.0)
    run_events(spark, hipages_profile, "s3a://raw/feed", "s3a://lake/wh", "s3-1", **common)
    s3.upload_file(str(late), "raw", "feed/2017/02/01/late.jsonl")  # a new object in an older prefix
    run_events(spark, hipages_profile, "s3a://raw/feed", "s3a://lake/wh", "s3-2", **common)
    reports = {run_id: json.loads(s3.get_object(Bucket="lake", Key=f"wh/_runs/{run_id}.events.json")["Body"].read())
               for run_id in ("s3-1", "s3-2")}
    return {"late": late, "reports": reports}


def test_the_s3a_connector_is_the_one_of_sparks_own_hadoop(spark, s3_runs):
    import pyspark

    from clickstream.deploy.packages import hadoop_aws
    from clickstream.deploy.submit import hadoop_version

    version = hadoop_version(Path(pyspark.__file__).parent)
    assert version == {"3.5": "3.3.4", "4.2": "3.5.0"}[".".join(pyspark.__version__.split(".")[:2])]
    assert hadoop_aws(version) == f"org.apache.hadoop:hadoop-aws:{version}"
    jvm = spark.sparkContext._jvm
    assert jvm.org.apache.hadoop.util.VersionInfo.getVersion() == version
    fs = jvm.org.apache.hadoop.fs.Path("s3a://lake/wh").getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    source = fs.getClass().getProtectionDomain().getCodeSource().getLocation().toString()
    assert fs.getClass().getName() == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert source.endswith(f"/org.apache.hadoop_hadoop-aws-{version}.jar"), source


def test_second_new_files_run_takes_only_the_new_object(s3_runs):
    first, second = s3_runs["reports"]["s3-1"], s3_runs["reports"]["s3-2"]
    assert first["input_files"] == ["s3a://raw/feed/2017/02/02/sample.jsonl"]
    assert (first["records"], first["events_written"]) == (28, 13)
    assert second["input_files"] == ["s3a://raw/feed/2017/02/01/late.jsonl"]
    assert (second["records"], second["events_written"], second["rejected"]) == (4, 3, {"malformed_json": 1})


def test_s3_tables_equal_a_local_disk_run(spark, hipages_profile, s3_runs, tmp_path):
    """Every column of every table, source_file compared by the file's name."""
    local = tmp_path / "wh"
    sample = tmp_path / "sample.jsonl"
    sample.write_bytes(SAMPLE.read_bytes())  # the object's name
    run_events(spark, hipages_profile, sample, local, "l-1")
    run_events(spark, hipages_profile, s3_runs["late"], local, "l-2")
    got = state(spark, "s3a://lake/wh", file_names=True)
    assert got == state(spark, local, file_names=True)
    assert (len(got["events"]), sorted(got)) == (16, ["events", "rejects"])


def test_a_bucket_that_does_not_exist_is_named_not_called_not_a_directory(spark, s3):
    from clickstream.warehouse import fs
    from clickstream.config.errors import UsageError

    s3.put_object(Bucket="raw", Key="listed/x.json", Body=b"{}\n")
    assert fs.is_directory(spark, "s3a://raw/listed") is True
    assert fs.is_directory(spark, "s3a://raw/listed/x.json") is False
    assert fs.is_directory(spark, "s3a://raw/no-such-prefix") is False
    with pytest.raises(UsageError, match=r"^cannot read s3a://no-such-bucket/feed: "
                       r"org\.apache\.hadoop\.fs\.s3a\.UnknownStoreException: "):
        fs.is_directory(spark, "s3a://no-such-bucket/feed")
