"""./spark-submit.sh itself, as a subprocess, where no JVM needs to start: unknown
jobs and environments, missing Java, the argument check that runs before the JVM,
emr-steps (plain Python), and the zip that ships the library to a cluster."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import zipfile
from datetime import date

import pytest

from clickstream.deploy import emr
from clickstream.deploy.packages import jvm_packages

import helpers
from helpers import IVY_REPORT, QUIET_REPORT, ROOT


def without_java(tmp_path) -> dict:
    """An environment whose PATH has the tools spark-submit.sh uses, but no java."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "find", "ls", "sed", "grep", "tr", "nproc", "env"):
        for where in ("/usr/bin", "/bin"):
            if os.path.exists(f"{where}/{tool}"):
                os.symlink(f"{where}/{tool}", bin_dir / tool)
                break
    return {"PATH": str(bin_dir), "CLICKSTREAM_PYTHON": sys.executable, "HOME": str(tmp_path)}


def wrapper(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "./spark-submit.sh", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_missing_java_is_one_line_that_says_how_to_install_it(tmp_path):
    proc = wrapper("events", "--input", "x", "--warehouse", "y", env=without_java(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "spark-submit.sh: error: Java not found: install Java 17+ (Debian/Ubuntu: sudo apt-get install "
        "openjdk-17-jre-headless; macOS: brew install openjdk@17) or set JAVA_HOME"
    ]


@pytest.mark.parametrize("args, line", [
    (["events", "--input", "x", "--warehouse", "y", "--max-reject-rate", "2"],
     "events: error: argument --max-reject-rate: '2' is not a fraction between 0 and 1 (see events --help)"),
    (["sessions", "--warehouse", "y", "--source", "nope"], "sessions: error: unknown source profile 'nope': no "),
])
def test_bad_arguments_are_refused_before_the_jvm_starts(tmp_path, args, line):
    """No java on the PATH: the job's own check answers first, in plain Python."""
    proc = wrapper(*args, env=without_java(tmp_path))
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(line), proc.stderr


def test_help_is_printed_without_a_jvm(tmp_path):
    proc = wrapper("hourly_stats", "--help", env=without_java(tmp_path))
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith("usage: hourly_stats [-h] --warehouse WAREHOUSE")


def test_an_unknown_job_or_env_is_one_line(tmp_path):
    jobs = "events export generate hourly_stats maintain pipeline report rollup sessions show emr-steps"
    # A path that resolves to a file under jobs/ is no job: '../tools/bench' used to run tools/bench.py.
    for name in ("nojob", "../tools/bench", "../jobs/events", "events/", "Events"):
        nojob = helpers.submit(name, "--help")
        assert (nojob.returncode, nojob.stdout) == (2, ""), name
        assert nojob.stderr.splitlines() == [f"spark-submit.sh: error: unknown job '{name}'; jobs: {jobs} "
                                             "(or a path to a .py file)"]
    noscript = helpers.submit("tools/nope.py")
    assert (noscript.returncode, noscript.stderr) == (2, "spark-submit.sh: error: no such script: tools/nope.py\n")
    bad = helpers.submit("--env", "prod", "events", "--input", "x", "--warehouse", "y")
    assert bad.returncode == 2
    assert bad.stderr.startswith("spark-submit.sh: error: unknown --env 'prod'"), bad.stderr
    assert bad.stderr.count("\n") == 1 and bad.stdout == ""


def test_emr_steps_prints_json_and_fails_in_one_line():
    def run(*args):
        return helpers.submit("emr-steps", *args, timeout=60)

    ok = run("--code", "s3://code/cs", "--input", "s3://raw", "--warehouse", "s3://wh", "--date", "2026-11-23",
             "--format", "cli")
    assert ok.returncode == 0, ok.stderr
    printed = json.loads(ok.stdout)
    assert printed == emr.to_cli(emr.render_steps("s3://code/cs", "s3://raw", "s3://wh", date(2026, 11, 23)))
    for args, message in [
        (["--code", "s3://c", "--input", "s3://i", "--warehouse", "s3://w"],
         "emr-steps: error: one of the arguments --date --new-files-only is required (see emr-steps --help)"),
        (["--code", "s3://c", "--input", "s3://i", "--warehouse", "s3://w", "--date", "2026-13-01"],
         "emr-steps: error: bad --date '2026-13-01': use YYYY-MM-DD"),
        (["--code", "s3://c", "--input", "s3://i", "--warehouse", "s3://w", "--new-files-only", "--source", "x"],
         "emr-steps: error: unknown source profile 'x'"),
    ]:
        bad = run(*args)
        assert (bad.returncode, bad.stdout) == (2, "")
        assert bad.stderr.startswith(message) and bad.stderr.count("\n") == 1, bad.stderr


def test_the_zip_alone_carries_the_library_and_its_conf(tmp_path):
    """A Python with no clickstream installed and only the zip on its path, as a
    cluster-mode driver or an executor has it, finds the profiles and Spark settings."""
    built = subprocess.run([sys.executable, "libs/build_zip.py", str(ROOT), str(tmp_path / "cs.zip")], cwd=ROOT,
                           capture_output=True, text=True, check=True)
    assert built.stdout == f"built {tmp_path / 'cs.zip'}\n"
    names = zipfile.ZipFile(tmp_path / "cs.zip").namelist()
    assert "clickstream/conf/sources/hipages.json" in names and "clickstream/conf/spark/emr.properties" in names
    assert "clickstream/runs/events.py" in names and not any("__pycache__" in n for n in names)
    probe = ("import clickstream, json; from clickstream.config.profiles import load_profile, available; "
             "from clickstream.deploy.emr import emr_properties; p = load_profile(None, 'hipages'); "
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


def test_the_command_line_it_hands_to_spark_submit(tmp_path):
    """A SPARK_HOME whose spark-submit prints its arguments: both JVMs in UTC whatever
    the machine's zone, our settings before the user's, the zip, the job, its options."""
    home = tmp_path / "spark"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "spark-submit").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (home / "bin" / "spark-submit").chmod(0o755)
    proc = helpers.submit("--conf", "spark.sql.shuffle.partitions=3", "events", "--input", "in", "--warehouse", "wh",
                          env={"SPARK_HOME": str(home), "TZ": "Australia/Sydney"})
    assert proc.returncode == 0, proc.stderr
    args = proc.stdout.splitlines()
    confs = [args[i + 1] for i, a in enumerate(args) if a == "--conf"]
    assert "spark.executor.extraJavaOptions=-Duser.timezone=UTC" in confs
    assert "spark.sql.session.timeZone=UTC" in confs
    assert confs.index("spark.sql.shuffle.partitions=8") < confs.index("spark.sql.shuffle.partitions=3")
    driver = args[args.index("--driver-java-options") + 1]
    assert driver.startswith(f"-Dlog4j2.configurationFile=file:{ROOT}/conf/log4j2.properties -Duser.timezone=UTC")
    assert args[args.index("--packages") + 1] == ",".join(jvm_packages())
    assert f"spark.jars.ivySettings={ROOT}/conf/ivysettings.xml" in confs
    assert args[args.index("--py-files") + 1] == f"{ROOT}/dist/clickstream.zip"
    assert args[-5:] == [f"{ROOT}/jobs/events.py", "--input", "in", "--warehouse", "wh"]
    # A script in place of a job: the same settings, the script's own path and arguments, no check of ours.
    script = helpers.submit("--conf", "spark.sql.shuffle.partitions=3", "tools/floor.py", "--anything",
                            env={"SPARK_HOME": str(home), "TZ": "Australia/Sydney"})
    assert script.returncode == 0, script.stderr
    assert script.stdout.splitlines()[:-2] == args[:-5] and script.stdout.splitlines()[-2:] == [
        f"{ROOT}/tools/floor.py", "--anything"]


def test_the_console_leaves_out_ivys_report_unless_verbose(tmp_path):
    home = tmp_path / "spark"
    (home / "bin").mkdir(parents=True)
    (tmp_path / "report.txt").write_text(IVY_REPORT.decode())
    (home / "bin" / "spark-submit").write_text(
        f'#!/bin/sh\necho ":: loading settings :: file = /repo/conf/ivysettings.xml"\n'
        f'cat {tmp_path / "report.txt"} >&2\necho "events run_id=r status=succeeded"\n'
        'for a in "$@"; do case "$a" in *log4j2*) echo "log4j: $a" >&2;; esac; done\nexit 3\n')
    (home / "bin" / "spark-submit").chmod(0o755)
    args = ("events", "--input", "in", "--warehouse", "wh")
    quiet = helpers.submit(*args, env={"SPARK_HOME": str(home), "CLICKSTREAM_VERBOSE": "0"})
    assert (quiet.returncode, quiet.stdout) == (3, "events run_id=r status=succeeded\n")
    assert [line.rstrip() for line in quiet.stderr.splitlines()] == [
        line.decode().rstrip() for line in QUIET_REPORT.splitlines()] + [
        f"log4j: -Dlog4j2.configurationFile=file:{ROOT}/conf/log4j2.properties -Duser.timezone=UTC"]

    verbose = helpers.submit(*args, env={"SPARK_HOME": str(home), "CLICKSTREAM_VERBOSE": "1"})
    assert (verbose.returncode, verbose.stdout) == (
        3, ":: loading settings :: file = /repo/conf/ivysettings.xml\nevents run_id=r status=succeeded\n")
    assert verbose.stderr == IVY_REPORT.decode()  # and Spark's own logging configuration: no log4j2 option

def test_the_console_relays_each_line_as_it_comes(tmp_path):
    """A job's line reaches the reader while the job still runs (a crash test waits for
    its pause line before it kills): the filters pass on each line at once."""
    home = tmp_path / "spark"
    (home / "bin").mkdir(parents=True)
    go = tmp_path / "go"
    (home / "bin" / "spark-submit").write_text(
        f'#!/bin/sh\necho "clickstream: paused at reading"\necho "a warning" >&2\n'
        f'while [ ! -e {go} ]; do sleep 0.05; done\necho done\n')
    (home / "bin" / "spark-submit").chmod(0o755)
    env = {**os.environ, "CLICKSTREAM_PYTHON": sys.executable, "SPARK_HOME": str(home), "CLICKSTREAM_VERBOSE": "0"}
    proc = subprocess.Popen(["./spark-submit.sh", "events", "--input", "in", "--warehouse", "wh"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watchdog = threading.Timer(60, proc.kill)  # a filter that holds lines back fails, not hangs
    watchdog.start()
    try:
        assert proc.stdout.readline() == b"clickstream: paused at reading\n"  # before the job goes on
        assert proc.stderr.readline() == b"a warning\n"
        go.touch()
        assert proc.stdout.read() == b"done\n" and proc.wait(timeout=60) == 0
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait()
