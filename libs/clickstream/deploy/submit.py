"""What `spark-submit.sh` adds to a spark-submit command line, in plain Python.

    python -m clickstream.deploy.submit --root ROOT --env local[,s3a-compatible] --python PY
                                 --spark-dir DIR [--master M] [--packages P] -- <job options>

prints one argument per line:
- `--conf key=value` for every property of `conf/spark/<env>.properties`, the
  environments merged left to right (so later ones win, and so does any --conf the
  user passes after them on the command line);
- `--conf spark.pyspark.driver.python=PY`, plus `spark.pyspark.python=PY` when the
  master is local (a cluster's workers have their own Python);
- `--conf spark.executor.extraJavaOptions=... -Duser.timezone=UTC` (the driver gets
  it from spark-submit.sh): JVM-side times, such as JDBC's, in UTC;
- `--packages` with Delta Lake for the installed Spark, plus
  `org.apache.hadoop:hadoop-aws:<Spark's Hadoop version>` when a job option is an
  `s3a://` URI, and the PostgreSQL JDBC driver when one is a `jdbc:postgresql:` URL.

Exit 2 with one line on a bad environment name or file. No Spark is started here.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from clickstream.config.errors import UsageError
from clickstream.deploy.packages import hadoop_aws, jdbc_packages, jvm_packages, option_values

UTC_JVM = "-Duser.timezone=UTC"
_ENV = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_HADOOP_JAR = re.compile(r"^hadoop-(?:client-api|common)-(\d+\.\d+\.\d+)\.jar$")


def read_properties(path: Path) -> dict[str, str]:
    """A Spark properties file: `key=value` or `key value` lines; `#`/`!` comments."""
    props: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        match = re.match(r"^([^=\s]+)\s*(?:=|\s)\s*(.*)$", line)
        if not match or line.endswith("\\"):
            raise UsageError(f"{path}:{number}: expected 'key=value', got {line!r}")
        props[match.group(1)] = match.group(2).strip()
    return props


def environments(conf_dir: Path) -> list[str]:
    return sorted(p.stem for p in (conf_dir / "spark").glob("*.properties"))


def env_properties(conf_dir: Path, envs: str) -> dict[str, str]:
    """The properties of `conf/spark/<name>.properties` for each comma-separated name."""
    merged: dict[str, str] = {}
    names = [n.strip() for n in envs.split(",")]
    for name in names:
        path = conf_dir / "spark" / f"{name}.properties"
        if not _ENV.match(name) or not path.is_file():
            known = ", ".join(environments(conf_dir)) or "none"
            raise UsageError(f"unknown --env {name!r}: no {path} (available: {known})")
        merged.update(read_properties(path))
    return merged


def s3a_uris(job_args: list[str]) -> list[str]:
    """Job options that are s3a:// URIs, as `--input s3a://b/k` or `--input=s3a://b/k`."""
    return [v for v in option_values(job_args) if v.lower().startswith("s3a://")]


def hadoop_version(spark_dir: Path) -> str:
    """The Hadoop version Spark was built with, from the jar names in `<spark>/jars`."""
    jars = spark_dir / "jars"
    for name in sorted(os.listdir(jars)) if jars.is_dir() else []:
        match = _HADOOP_JAR.match(name)
        if match:
            return match.group(1)
    raise UsageError(f"cannot tell Spark's Hadoop version: no hadoop-client-api or hadoop-common jar in {jars}")


def is_local(master: str | None) -> bool:
    return master is None or master.startswith("local")


def submit_args(conf_dir: Path, envs: str, python: str, spark_dir: Path,
                master: str | None, job_args: list[str], extra_packages: str = "") -> list[str]:
    props = env_properties(conf_dir, envs)
    effective_master = master or props.get("spark.master")
    props["spark.pyspark.driver.python"] = python
    if is_local(effective_master):
        props["spark.pyspark.python"] = python
    packages = jvm_packages()
    if s3a_uris(job_args):
        packages.append(hadoop_aws(hadoop_version(spark_dir)))
    packages += jdbc_packages(job_args)
    # JVM-side times (JDBC's timestamps) in UTC like Spark's session time zone.
    executor_opts = props.get("spark.executor.extraJavaOptions", "")
    if "-Duser.timezone=" not in executor_opts:
        props["spark.executor.extraJavaOptions"] = (executor_opts + " " + UTC_JVM).strip()
    packages += [p for p in extra_packages.split(",") if p and p not in packages]
    args: list[str] = []
    for key, value in props.items():
        args += ["--conf", f"{key}={value}"]
    return args + ["--packages", ",".join(packages)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="clickstream.deploy.submit")
    parser.add_argument("--root", required=True)
    parser.add_argument("--env", required=True)
    parser.add_argument("--python", required=True)
    parser.add_argument("--spark-dir", required=True)
    parser.add_argument("--master")
    parser.add_argument("--packages", default="", help="the user's own --packages, kept after ours")
    parser.add_argument("job_args", nargs="*")
    args = parser.parse_args(argv)
    try:
        out = submit_args(Path(args.root) / "conf", args.env, args.python, Path(args.spark_dir),
                          args.master, args.job_args, args.packages)
    except (UsageError, ValueError) as err:
        print(f"spark-submit.sh: error: {err}", file=sys.stderr)
        return 2
    for arg in out:
        if "\n" in arg:
            print(f"spark-submit.sh: error: a setting contains a line break: {arg!r}", file=sys.stderr)
            return 2
        print(arg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
