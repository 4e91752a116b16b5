"""What spark-submit.sh adds to the command line, in plain Python: environments,
the driver's Python, the JVM packages."""

from __future__ import annotations

import pytest

from clickstream.deploy import submit
from clickstream.config.errors import UsageError
from clickstream.deploy.packages import jvm_packages

from helpers import ROOT


def test_read_properties(tmp_path):
    """Java's properties format, as spark-submit reads a properties file: a ':' or white
    space separates too ('spark.master: local' used to become the key 'spark.master:'),
    escapes, continued lines, and a line it cannot read refused."""
    path = tmp_path / "x.properties"
    path.write_text("# comment\n! also a comment\n\nspark.a=1\nspark.b  two words \nspark.c = x=y\n"
                    "  spark.master: local[2]\nspark.d\\:e=f\\tg\nspark.e = a\\\n    b\\\\\nspark.f=\\u00e9\\=\n"
                    "spark.g\n# a comment ends here \\\nspark.h:\tv\r\nspark.i=1 # not a comment\n")
    assert submit.read_properties(path) == {
        "spark.a": "1", "spark.b": "two words", "spark.c": "x=y", "spark.master": "local[2]", "spark.d:e": "f\tg",
        "spark.e": "ab\\", "spark.f": "\u00e9=", "spark.g": "", "spark.h": "v", "spark.i": "1 # not a comment"}
    for text, number, message in (("spark.a=1\n=orphan\n", 2, "expected a 'spark.' setting"),
                                  ("spark.a=1\nmaster local\n", 2, "expected a 'spark.' setting"),
                                  ("spark.a=\\u00zz\n", 1, "malformed \\\\uxxxx escape")):
        path.write_text(text)
        with pytest.raises(UsageError, match=rf"^{path}:{number}: {message}"):
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
