"""What spark-submit.sh adds to the command line (environments, Python, packages),
and the artifact it ships: the zip alone must carry the library and its conf."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from clickstream import submit
from clickstream.errors import UsageError
from clickstream.packages import jvm_packages

import helpers
from conftest import ROOT


def test_read_properties(tmp_path):
    path = tmp_path / "x.properties"
    path.write_text("# comment\n! also a comment\n\nspark.a=1\nspark.b  two words \nspark.c = x=y\n")
    assert submit.read_properties(path) == {"spark.a": "1", "spark.b": "two words", "spark.c": "x=y"}
    path.write_text("spark.a=1\nspark.b=\\\n  continued\n")
    with pytest.raises(UsageError, match=r"x.properties:2: expected 'key=value'"):
        submit.read_properties(path)


def test_environments_merge_left_to_right():
    conf = ROOT / "conf"
    assert submit.environments(conf) == ["cluster", "emr", "local", "s3a-aws", "s3a-compatible"]
    local = submit.env_properties(conf, "local")
    assert (local["spark.master"], local["spark.sql.shuffle.partitions"]) == ("local[*]", "8")
    merged = submit.env_properties(conf, "local,s3a-compatible")
    assert merged["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert merged["spark.sql.shuffle.partitions"] == "8"
    for name in ("local", "cluster", "emr"):
        props = submit.env_properties(conf, name)
        assert props["spark.sql.session.timeZone"] == "UTC"
        assert props["spark.sql.sources.partitionOverwriteMode"] == "dynamic"
        assert props["spark.sql.adaptive.enabled"] == "true"
        assert int(props["spark.sql.shuffle.partitions"]) > 0
    with pytest.raises(UsageError, match=r"unknown --env 'prod': no .*prod.properties \(available: cluster, emr, "):
        submit.env_properties(conf, "local,prod")
    with pytest.raises(UsageError, match=r"unknown --env '../x'"):
        submit.env_properties(conf, "../x")


def test_s3a_uris():
    assert submit.s3a_uris(["--input", "s3a://raw/2026", "--warehouse=S3A://wh", "--csv", "s3://x/y.csv",
                            "--source", "hipages"]) == ["s3a://raw/2026", "S3A://wh"]
    assert submit.s3a_uris(["--input", "/data/s3a://", "--warehouse", "wh"]) == []


def test_hadoop_version(tmp_path):
    (tmp_path / "jars").mkdir()
    with pytest.raises(UsageError, match="cannot tell Spark's Hadoop version"):
        submit.hadoop_version(tmp_path)
    for name in ("hadoop-client-runtime-3.4.1.jar", "hadoop-client-api-3.4.1.jar", "parquet-hadoop-1.15.jar"):
        (tmp_path / "jars" / name).touch()
    assert submit.hadoop_version(tmp_path) == "3.4.1"


def test_submit_args(tmp_path):
    (tmp_path / "jars").mkdir()
    (tmp_path / "jars" / "hadoop-client-api-3.3.4.jar").touch()
    conf = ROOT / "conf"
    local = submit.submit_args(conf, "local", "/venv/bin/python", tmp_path, None, ["--input", "in"])
    assert local[-2:] == ["--packages", ",".join(jvm_packages())]
    assert local[local.index("spark.pyspark.driver.python=/venv/bin/python") - 1] == "--conf"
    assert "spark.pyspark.python=/venv/bin/python" in local
    # A cluster's workers keep their own Python; only the driver's is ours.
    cluster = submit.submit_args(conf, "cluster", "/venv/bin/python", tmp_path, "spark://h:7077",
                                 ["--input", "s3a://raw", "--warehouse", "/wh"], "com.acme:x:1," + jvm_packages()[0])
    assert "spark.pyspark.driver.python=/venv/bin/python" in cluster
    assert not any(a.startswith("spark.pyspark.python=") for a in cluster)
    assert cluster[-1] == ",".join([*jvm_packages(), "org.apache.hadoop:hadoop-aws:3.3.4", "com.acme:x:1"])
    confs = [cluster[i + 1] for i, a in enumerate(cluster) if a == "--conf"]
    assert len(confs) * 2 + 2 == len(cluster)
    assert "spark.sql.shuffle.partitions=200" in confs
    assert "spark.executor.extraJavaOptions=-Duser.timezone=UTC" in confs


def test_an_export_to_postgresql_gets_the_jdbc_driver(tmp_path):
    conf = ROOT / "conf"
    args = submit.submit_args(conf, "local", "/venv/bin/python", tmp_path, None,
                              ["--table", "sessions", "--jdbc-url=jdbc:postgresql://db:5432/a", "--target", "t"])
    assert args[-1] == ",".join([*jvm_packages(), "org.postgresql:postgresql:42.7.14"])
    redshift = submit.submit_args(conf, "local", "/venv/bin/python", tmp_path, None,
                                  ["--jdbc-url", "jdbc:redshift://c:5439/dev"], "com.amazon.redshift:redshift-jdbc42:2")
    assert redshift[-1] == ",".join([*jvm_packages(), "com.amazon.redshift:redshift-jdbc42:2"])


def test_wrapper_refuses_a_bad_env_without_starting_spark():
    bad = helpers.submit("--env", "prod", "events", "--input", "x", "--warehouse", "y")
    assert bad.returncode == 2
    assert bad.stderr.startswith("spark-submit.sh: error: unknown --env 'prod'"), bad.stderr
    assert bad.stderr.count("\n") == 1 and bad.stdout == ""


def test_the_zip_alone_carries_the_library_and_its_conf(tmp_path):
    """A Python with no clickstream installed and only the zip on its path, as a
    cluster-mode driver or an executor has it, finds the profiles and Spark settings."""
    built = subprocess.run([sys.executable, "libs/build_zip.py", str(ROOT), str(tmp_path / "cs.zip")], cwd=ROOT,
                           capture_output=True, text=True, check=True)
    assert built.stdout == f"built {tmp_path / 'cs.zip'}\n"
    names = zipfile.ZipFile(tmp_path / "cs.zip").namelist()
    assert "clickstream/conf/sources/hipages.json" in names and "clickstream/conf/spark/emr.properties" in names
    assert "clickstream/events.py" in names and not any("__pycache__" in n for n in names)
    probe = ("import clickstream, json; from clickstream.profile import load_profile, available; "
             "from clickstream.emr import emr_properties; p = load_profile(None, 'hipages'); "
             "print(json.dumps([clickstream.__file__, available(), p.timezone, p.input_layout, "
             "emr_properties()['spark.sql.session.timeZone']]))")
    # -S: no site-packages, so no editable install of clickstream; -I: no PYTHONPATH, cwd.
    only_the_zip = f"import sys; sys.path.insert(0, {str(tmp_path / 'cs.zip')!r}); {probe}"
    out = subprocess.run([sys.executable, "-S", "-I", "-c", only_the_zip],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [str(tmp_path / "cs.zip" / "clickstream" / "__init__.py"),
                                      ["app_events", "hipages", "impressions", "mobile_events"],
                                      "UTC", "{yyyy}/{MM}/{dd}", "UTC"]
