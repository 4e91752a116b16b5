"""Fixtures and rules of the whole suite: the layers (tests/layers.py), one tuned
SparkSession shared by every in-process test, and the paths tests read."""
from __future__ import annotations

import pytest

import layers
from helpers import CONF_DIR

pytest_plugins = ["pytester"]  # tests/unit/test_layers.py runs a test file of its own


def pytest_collection_modifyitems(config, items):
    """Every test lives in one layer folder and carries its name as a marker."""
    for item in items:
        layer = layers.layer_of_node(item)
        if layer is None:
            raise pytest.UsageError(f"{item.nodeid}: a test module belongs in one of tests/{{{','.join(layers.LAYERS)}}}/")
        item.add_marker(layer)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    with layers.wrap_protocol(item):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    # The last test's teardown also ends the session's fixtures, whichever layer set
    # them up (a PostgreSQL server stopped after a runs/ test, under pytest-xdist).
    with layers.confined(layers.layer_of_node(item) if nextitem is not None else None):
        yield


@pytest.fixture(autouse=True)
def _unit_takes_no_spark(request):
    if layers.layer_of_node(request.node) == "unit" and "spark" in request.fixturenames:
        pytest.fail("tests/unit/ takes no SparkSession; a test that needs one belongs in tests/transforms/ "
                    "or tests/runs/", pytrace=False)


@pytest.fixture(scope="module", autouse=True)
def _delta_log_cache_cleared():
    """After each module, Delta's cache of table logs is emptied, which also drops the
    snapshot states they keep persisted. Each table a test made stays in it otherwise
    (for an hour), and the shared session's heap fills with hundreds of them
    (docs/development.md: measured)."""
    yield
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()  # None when no test of this worker needed Spark
    if session is not None:
        session._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()


@pytest.fixture(scope="session")
def spark(request):
    """One SparkSession for the suite (helpers.shared_session), with the s3a connector
    when a collected test uses the S3 server (its JVM packages are fixed at start)."""
    from helpers import shared_session

    session = shared_session(s3a=any("s3_endpoint" in item.fixturenames for item in request.session.items))
    yield session
    session.stop()


def _profile(name: str):
    """A session fixture: the bundled source profile `name`."""
    @pytest.fixture(scope="session")
    def profile():
        from clickstream.config.profiles import load_profile

        return load_profile(CONF_DIR, name)

    return profile


hipages_profile = _profile("hipages")
app = _profile("app_events")
imp = _profile("impressions")
mobile = _profile("mobile_events")
