"""The suite's layers, one folder each under tests/, and what each may do.

    unit/         plain Python: no SparkSession, no subprocess, no server
    transforms/   DataFrame -> DataFrame on the shared SparkSession; no subprocess, no server
    runs/         each job's run() in process, against Delta tables under tmp_path; no subprocess, no server
    entry/        ./spark-submit.sh (or another real process) as a subprocess
    integration/  throwaway servers on 127.0.0.1: Spark standalone, moto's S3, PostgreSQL
    scenario/     the multi-day scenario (make scenario)

Each test gets its folder's name as a marker (`pytest -m runs`). In the first three
layers a test that starts a process or listens on a socket fails with a line that
says where it belongs. The one exception is PySpark's own machinery: its JVM for the
shared session (pyspark.java_gateway launches spark-submit through subprocess.Popen)
and py4j's callback server (a stream's foreachBatch), and that only outside unit/,
which takes no SparkSession at all.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

LAYERS = ("unit", "transforms", "runs", "entry", "integration", "scenario")
IN_PROCESS = ("unit", "transforms", "runs")
# PySpark's own machinery may start a process or listen: its JVM launch for the shared
# session, and py4j's callback server, which a stream's foreachBatch needs.
PYSPARK_MACHINERY = ("pyspark.", "py4j.")


class LayerViolation(AssertionError):
    """A test did what its layer forbids."""


def layer_of(path: Path) -> str | None:
    """The layer of a test file: the folder right under tests/ ('unit', ...), else None."""
    parts = path.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "tests" and i + 1 < len(parts) - 1 and parts[i + 1] in LAYERS:
            return parts[i + 1]
    return None


def _pyspark_machinery() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith(PYSPARK_MACHINERY):
            return True
        frame = frame.f_back
    return False


_state = {"layer": None, "installed": False}


def current() -> str | None:
    """The fast layer whose rules hold now, or None."""
    return _state["layer"]


def _refuse(what: str, allow_pyspark: bool = True) -> None:
    layer = _state["layer"]
    if layer is None or (allow_pyspark and layer != "unit" and _pyspark_machinery()):
        return
    raise LayerViolation(f"tests/{layer}/ runs in process; a test that needs a {what} belongs in tests/entry/ "
                         "or tests/integration/")


def _install() -> None:
    """Wrap what starts a process or a server, once; the wrappers check the layer
    in force when they are called."""
    if _state["installed"]:
        return
    _state["installed"] = True

    def wrap(owner, name, what):
        original = getattr(owner, name)

        def guard(*args, **kwargs):
            _refuse(what)
            return original(*args, **kwargs)

        setattr(owner, name, guard)

    wrap(subprocess.Popen, "_execute_child", "subprocess")
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
        if hasattr(os, name):
            wrap(os, name, "subprocess")
    wrap(socket.socket, "listen", "server")
    from pyspark.sql import SparkSession

    get_or_create = SparkSession.Builder.getOrCreate

    def session(*args, **kwargs):
        if _state["layer"] == "unit":
            raise LayerViolation("tests/unit/ takes no SparkSession; a test that needs one belongs in "
                                 "tests/transforms/ or tests/runs/")
        return get_or_create(*args, **kwargs)

    SparkSession.Builder.getOrCreate = session


@contextlib.contextmanager
def confined(layer: str | None):
    """Within the block, the rules of `layer`: in unit/, transforms/ and runs/,
    starting a process or listening on a socket raises LayerViolation (PySpark's JVM
    launch aside, outside unit/), and in unit/ so does getting a SparkSession. Other
    layers (and None) lift the rules, also inside a block that set them."""
    _install()
    previous = _state["layer"]
    _state["layer"] = layer if layer in IN_PROCESS else None
    try:
        yield
    finally:
        _state["layer"] = previous


def layer_of_node(node) -> str | None:
    """The layer of a pytest item (or a fixture request's node): its module's folder."""
    return layer_of(Path(str(node.fspath)))


def wrap_protocol(item):
    """Run one test's setup, call and teardown under its layer's rules (for the
    conftest's pytest_runtest_protocol hook wrapper)."""
    return confined(layer_of_node(item))
