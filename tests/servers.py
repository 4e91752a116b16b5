"""Throwaway local servers for integration tests: a Spark standalone cluster and an
S3-compatible store (moto). Each listens on 127.0.0.1 only, on free ports, and is
stopped (its whole process group killed) when the `with` block ends, even on failure."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(what: str, ready, procs, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        dead = [p for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{what} did not start ({'exited' if dead else 'timed out'}):\n{tail}")
        time.sleep(0.2)


def _stop(procs) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)


def _start(cmd, log: Path, env=None) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


@contextlib.contextmanager
def standalone_cluster(work: Path, cores: int = 1, memory: str = "2g"):
    """A Spark standalone master and one worker from the installed pyspark; yields the
    master URL, spark://127.0.0.1:<port>."""
    import pyspark

    spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_WORKER_DIR": str(work / "worker"),
           "SPARK_LOG_DIR": str(work), "SPARK_MASTER_HOST": "127.0.0.1"}
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    master_log, worker_log = work / "master.log", work / "worker.log"
    procs = []
    try:
        procs.append(_start([str(spark_class), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                             "--port", str(port), "--webui-port", str(free_port())], master_log, env))
        _wait_for("Spark master", lambda: "I have been elected leader" in _text(master_log), procs, master_log)
        procs.append(_start([str(spark_class), "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                             "--port", str(free_port()), "--webui-port", str(free_port()), "--cores", str(cores),
                             "--memory", memory, "--work-dir", str(work / "worker")], worker_log, env))
        _wait_for("Spark worker", lambda: "Successfully registered with master" in _text(worker_log), procs,
                  worker_log)
        yield url
    finally:
        _stop(reversed(procs))


@contextlib.contextmanager
def moto_s3(work: Path):
    """moto's server (S3 and the other mocked AWS APIs); yields its endpoint URL."""
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = work / "moto.log"
    proc = _start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], log)
    try:
        _wait_for("moto server", lambda: _listening(port), [proc], log, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop([proc])


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def isolated_python(where: Path) -> Path:
    """A python that has pyspark and the other installed packages but not the editable
    install of clickstream (no .pth processing: -S): it can import clickstream only
    from the zip that spark-submit ships with --py-files."""
    import sysconfig

    site = sysconfig.get_paths()["purelib"]
    script = where / "python-without-clickstream"
    script.write_text(f'#!/bin/sh\nPYTHONPATH="{site}${{PYTHONPATH:+:$PYTHONPATH}}" exec "{sys.executable}" -S "$@"\n')
    script.chmod(0o755)
    return script
