"""The one place where the JVM packages are pinned, per Spark minor version.

`spark-submit.sh` passes these with `--packages`; the test session sets them as
`spark.jars.packages`. Each Delta artifact is built for one Spark minor version
(and Scala version), so the pin follows the installed pyspark.

delta-spark 4.4.1 is on PyPI but its JVM artifact is not on Maven Central, so
4.4.0 is the newest Delta that `--packages` can fetch for Spark 4.2.

`python -m clickstream.deploy.submit` (run by spark-submit.sh) prints them with the rest.
"""
from __future__ import annotations

DELTA = {
    "3.5": "io.delta:delta-spark_2.12:3.3.2",
    "4.0": "io.delta:delta-spark_4.0_2.13:4.4.0",
    "4.1": "io.delta:delta-spark_4.1_2.13:4.4.0",
    "4.2": "io.delta:delta-spark_4.2_2.13:4.4.0",
}


# The PostgreSQL JDBC driver (one jar, no dependencies), for `export` to PostgreSQL.
# Redshift's own driver is the user's choice (docs/publishing.md).
POSTGRESQL_JDBC = "org.postgresql:postgresql:42.7.14"


def option_values(job_args: list[str]) -> list[str]:
    """Job arguments with `--name=value` cut to its value: ['--input=s3a://b', 'x'] -> ['s3a://b', 'x']."""
    return [arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg for arg in job_args]


def jdbc_packages(job_args: list[str]) -> list[str]:
    """The JDBC driver for a job option that is a jdbc:postgresql: URL."""
    return [POSTGRESQL_JDBC] if any(v.lower().startswith("jdbc:postgresql:") for v in option_values(job_args)) \
        else []


def spark_minor(version: str) -> str:
    """'4.2.0' -> '4.2'."""
    return ".".join(version.split(".")[:2])


def hadoop_aws(hadoop_version: str) -> str:
    """The s3a connector built for Spark's own Hadoop; it pulls the matching AWS SDK
    bundle (Hadoop 3.4+: SDK v2 `bundle`, ~690 MB; Hadoop 3.3: SDK v1, ~280 MB)."""
    return f"org.apache.hadoop:hadoop-aws:{hadoop_version}"


def jvm_packages(spark_version: str | None = None) -> list[str]:
    """Maven coordinates to put on `--packages` for this Spark version."""
    if spark_version is None:
        import pyspark

        spark_version = pyspark.__version__
    minor = spark_minor(spark_version)
    if minor not in DELTA:
        raise ValueError(
            f"no Delta Lake package pinned for Spark {spark_version}; "
            f"supported: {', '.join(sorted(DELTA))}"
        )
    return [DELTA[minor]]

