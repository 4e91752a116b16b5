"""The events job against S3 through s3a:// (raw events in one bucket, the warehouse
in another) on a local S3-compatible server (moto) on 127.0.0.1: the tables must equal
a local-disk run's, and a second --new-files-only run must take only the new object.
(hourly_stats reads and writes Delta tables through the same Hadoop FileSystem; the
cluster test runs it on a second JVM.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import ROOT, SUBMIT_OPTS, hipages_line, read_report, run_events, state, submit_ok, write_lines


SAMPLE = ROOT / "data" / "sample" / "events.jsonl"

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}

LATE = [hipages_line("s3-new-1", "u9", timestamp="03/02/2017 10:00:00"),
        hipages_line("s3-new-2", "u9", timestamp="03/02/2017 10:05:00"),
        hipages_line("s3-new-3", "u8", action="button_click", timestamp="04/02/2017 11:00:00"),
        "not json"]


def _download(s3, bucket: str, prefix: str, target: Path) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/"):  # a directory marker
                continue
            path = target / obj["Key"][len(prefix):].lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(path))


@pytest.fixture(scope="module")
def s3_runs(tmp_path_factory, s3_endpoint):
    import boto3

    work = tmp_path_factory.mktemp("s3")
    late = write_lines(work / "late.jsonl", LATE)
    endpoint = s3_endpoint  # one server for the session (tests/integration/conftest.py)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    for bucket in ("raw", "lake"):
        s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(SAMPLE), "raw", "feed/2017/02/02/sample.jsonl")

    def submit(*args):
        return submit_ok("--env", "local,s3a-compatible", *SUBMIT_OPTS,
                         "--conf", f"spark.hadoop.fs.s3a.endpoint={endpoint}", *args, env=CREDENTIALS)

    common = ["--input", "s3a://raw/feed", "--warehouse", "s3a://lake/wh", "--new-files-only",
              "--max-reject-rate", "1"]
    first = submit("events", *common, "--run-id", "s3-1")
    s3.upload_file(str(late), "raw", "feed/2017/02/01/late.jsonl")  # a new object in an older prefix
    submit("events", *common, "--run-id", "s3-2")
    _download(s3, "lake", "wh/", work / "wh")
    yield {"wh": work / "wh", "late": late, "first": first}


def test_hadoop_aws_of_sparks_own_hadoop_is_added_for_s3a(s3_runs):
    import pyspark

    from clickstream.submit import hadoop_version

    version = hadoop_version(Path(pyspark.__file__).parent)
    assert version == {"3.5": "3.3.4", "4.2": "3.5.0"}[".".join(pyspark.__version__.split(".")[:2])]
    out = s3_runs["first"].stdout + s3_runs["first"].stderr
    assert f"org.apache.hadoop#hadoop-aws;{version} from" in out


def test_second_new_files_run_takes_only_the_new_object(s3_runs):
    first, second = read_report(s3_runs["wh"], "s3-1"), read_report(s3_runs["wh"], "s3-2")
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
    got = state(spark, s3_runs["wh"], file_names=True)
    assert got == state(spark, local, file_names=True)
    assert (len(got["events"]), sorted(got)) == (16, ["events", "rejects"])
