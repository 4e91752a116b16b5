"""The conftest's layer rules: a test in a fast layer that starts a process or a
server fails there, saying where it belongs; the layer folders are the markers."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest

import layers
from helpers import ROOT


def test_layer_of_a_path():
    assert layers.layer_of(ROOT / "tests" / "unit" / "test_x.py") == "unit"
    assert layers.layer_of(ROOT / "tests" / "integration" / "sub" / "test_x.py") == "integration"
    assert layers.layer_of(ROOT / "tests" / "test_x.py") is None
    assert layers.layer_of(ROOT / "tests" / "helpers" / "test_x.py") is None


@pytest.mark.parametrize("layer", ["unit", "transforms", "runs"])
def test_a_fast_layer_refuses_processes_and_servers(layer):
    with layers.confined(layer):
        with pytest.raises(layers.LayerViolation, match=f"^tests/{layer}/ runs in process; a test that needs "
                                                        "a subprocess belongs in tests/entry/"):
            subprocess.run(["true"])
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            with pytest.raises(layers.LayerViolation, match="needs a server belongs in"):
                server.listen()
        assert layers.current() == layer
    assert layers.current() == "unit"  # this test's own layer, restored


def test_a_test_that_starts_a_process_fails_in_a_fast_layer_and_passes_in_entry(pytester):
    """A suite laid out like ours, with this conftest: the same test fails in
    tests/unit and tests/runs and passes in tests/entry."""
    shutil.copy(ROOT / "tests" / "conftest.py", pytester.path / "conftest.py")
    shutil.copy(ROOT / "tests" / "layers.py", pytester.path / "layers.py")
    body = "import subprocess\n\ndef test_starts_a_process():\n    subprocess.run(['true'], check=True)\n"
    for layer in ("unit", "runs", "entry"):
        (pytester.path / "tests" / layer).mkdir(parents=True)
        (pytester.path / "tests" / layer / f"test_{layer}_process.py").write_text(body)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-o", "addopts=", "tests")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*LayerViolation: tests/runs/ runs in process*",
                                 "*LayerViolation: tests/unit/ runs in process; a test that needs a subprocess "
                                 "belongs in tests/entry/ or tests/integration/*",
                                 "FAILED tests/runs/test_runs_process.py::test_starts_a_process - *",
                                 "FAILED tests/unit/test_unit_process.py::test_starts_a_process - *"])


def test_a_unit_test_that_asks_for_spark_fails(pytester):
    shutil.copy(ROOT / "tests" / "conftest.py", pytester.path / "conftest.py")
    shutil.copy(ROOT / "tests" / "layers.py", pytester.path / "layers.py")
    (pytester.path / "tests" / "unit").mkdir(parents=True)
    (pytester.path / "tests" / "unit" / "test_wants_spark.py").write_text("def test_x(spark):\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-o", "addopts=", "tests")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*tests/unit/ takes no SparkSession*"])


def test_a_test_outside_the_layers_is_refused(pytester):
    shutil.copy(ROOT / "tests" / "conftest.py", pytester.path / "conftest.py")
    shutil.copy(ROOT / "tests" / "layers.py", pytester.path / "layers.py")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_stray.py").write_text("def test_x():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-o", "addopts=", "tests")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_stray.py::test_x: a test module belongs in one of tests/{unit,*"])


def test_a_server_set_up_by_integration_may_stop_after_a_runs_test(pytester):
    """Session fixtures end in the last test's teardown, whatever its layer (under
    pytest-xdist a worker may end on a runs/ test after an integration/ one)."""
    shutil.copy(ROOT / "tests" / "conftest.py", pytester.path / "conftest.py")
    shutil.copy(ROOT / "tests" / "layers.py", pytester.path / "layers.py")
    for layer in ("integration", "runs"):
        (pytester.path / "tests" / layer).mkdir(parents=True)
    (pytester.path / "tests" / "integration" / "test_server.py").write_text(
        "import subprocess\nimport pytest\n\n@pytest.fixture(scope='session')\ndef server():\n    yield\n"
        "    subprocess.run(['true'], check=True)  # pg_ctl stop\n\ndef test_uses_it(server):\n    pass\n")
    (pytester.path / "tests" / "runs" / "test_later.py").write_text(
        "import subprocess\nimport pytest\n\n@pytest.fixture\ndef starts_one():\n    yield\n"
        "    subprocess.run(['true'], check=True)\n\ndef test_a(starts_one):\n    pass\n\ndef test_b():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-o", "addopts=", "tests/integration",
                                          "tests/runs")
    # runs/'s own fixture still may not start a process at its teardown (not the last test).
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["ERROR tests/runs/test_later.py::test_a - layers.LayerViolation: tests/runs/*"])
