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


_PROPERTY_SPACE = " \t\f"
_PROPERTY_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _logical_lines(text: str):
    """(first line number, logical line) of a properties text, as java.util.Properties
    reads it: comment and blank lines skipped, a line ending in an odd number of
    backslashes continued on the next (whose leading white space is dropped)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    number = 0
    while number < len(lines):
        first, line = number + 1, lines[number].lstrip(_PROPERTY_SPACE)
        number += 1
        if not line or line[0] in "#!":
            continue
        while (len(line) - len(line.rstrip("\\"))) % 2 == 1:
            line = line[:-1] + (lines[number].lstrip(_PROPERTY_SPACE) if number < len(lines) else "")
            number += 1
        yield first, line


def _unescape(text: str, where: str) -> str:
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        code = text[i + 1:i + 2]
        if code == "u":
            digits = text[i + 2:i + 6]
            if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise UsageError(f"{where}: malformed \\uxxxx escape in {text!r}")
            out.append(chr(int(digits, 16)))
            i += 6
        else:
            out.append(_PROPERTY_ESCAPES.get(code, code))
            i += 2
    return "".join(out)


def read_properties(path: Path) -> dict[str, str]:
    """A Spark properties file in Java's properties format, as spark-submit's
    --properties-file reads it: `key=value`, `key: value` or `key value`; `#`/`!`
    comments; a line ending in `\\` continued on the next; escapes (`\\t`, `\\uXXXX`,
    `\\=`, ...); the value trimmed. A line it cannot read (no key, a bad escape, a key
    that is not a `spark.` setting) is a UsageError naming the file and the line."""
    props: dict[str, str] = {}
    for number, line in _logical_lines(path.read_text(encoding="utf-8")):
        where = f"{path}:{number}"
        end = 0
        while end < len(line) and line[end] not in "=:" + _PROPERTY_SPACE:
            end += 2 if line[end] == "\\" else 1
        key, rest = line[:end], line[end:].lstrip(_PROPERTY_SPACE)
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(_PROPERTY_SPACE)
        key = _unescape(key, where)
        if not key.startswith("spark.") or len(key) == len("spark."):
            raise UsageError(f"{where}: expected a 'spark.' setting as 'key=value', got {line!r}")
        props[key] = _unescape(rest, where).strip()
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
