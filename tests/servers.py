"""Throwaway local servers for integration tests: a Spark standalone cluster, an
S3-compatible store (moto) and a PostgreSQL server. Each listens on 127.0.0.1 only, on free ports, and is
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

# The superuser password of the tests' PostgreSQL server.
PG_PASSWORD = "export-s3cret"


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


def postgres_bin() -> Path | None:
    """The folder of Debian's PostgreSQL programs (initdb, pg_ctl), newest version first."""
    import glob
    import shutil

    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


@contextlib.contextmanager
def postgres(work: Path, password: str):
    """A PostgreSQL server made with `initdb` in `work` and started with `pg_ctl` on
    127.0.0.1 and a free port (no Unix socket in /var/run), superuser `clickstream`
    with `password` (scram-sha-256). As root, its programs run as the `postgres` user
    (initdb refuses root) in a folder of their own under the temp dir, removed at the end. Yields (host, port); `pg_ctl stop -m immediate` (and
    a SIGKILL of the postmaster if that fails) when the block ends."""
    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (.ci/run does)")
    import shutil
    import tempfile

    as_user: list[str] = []
    if os.geteuid() == 0:
        # The server's files must be reachable by `postgres`: not under root's 0700 temp folders.
        as_user = ["runuser", "-u", "postgres", "--"]
        work = Path(tempfile.mkdtemp(prefix="clickstream-pg-"))
        shutil.chown(work, "postgres")
    else:
        work.mkdir(parents=True, exist_ok=True)
    data, sockets, log, pwfile = work / "data", work / "sockets", work / "postgres.log", work / "pwfile"
    sockets.mkdir(exist_ok=True)
    pwfile.write_text(password + "\n")
    if as_user:
        for path in (sockets, pwfile):
            shutil.chown(path, "postgres")
    port = free_port()

    def pg(*args, check=True):
        return subprocess.run([*as_user, str(bindir / args[0]), *args[1:]], capture_output=True, text=True,
                              check=check, timeout=120)

    started = False
    try:
        pg("initdb", "-D", str(data), "-U", "clickstream", f"--pwfile={pwfile}", "--auth=scram-sha-256",
           "-E", "UTF8", "--locale=C.UTF-8")
        pg("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", "-o",
           f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off -c full_page_writes=off")
        started = True
        yield "127.0.0.1", port
    except subprocess.CalledProcessError as err:
        raise RuntimeError(f"PostgreSQL did not start: {err.stderr}\n{_text(log)[-3000:]}") from None
    finally:
        if started or (data / "postmaster.pid").exists():
            stopped = pg("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop", check=False)
            pid_file = data / "postmaster.pid"
            if stopped.returncode != 0 and pid_file.exists():
                with contextlib.suppress(ValueError, ProcessLookupError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        if as_user:
            shutil.rmtree(work, ignore_errors=True)


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
