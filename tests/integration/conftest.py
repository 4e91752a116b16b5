"""The throwaway servers of tests/integration, each started once per test session on
127.0.0.1 and free ports, and stopped (process group killed) at its end, even after
a failure (tests/servers.py)."""
from __future__ import annotations

import os

import pytest

import servers


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """(host, port) of a PostgreSQL server (Debian's package: initdb + pg_ctl). Skipped
    on a laptop without PostgreSQL; on CI (CI set; .ci/run installs it) missing fails."""
    if servers.postgres_bin() is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run does)")
    with servers.postgres(tmp_path_factory.mktemp("pg"), servers.PG_PASSWORD) as address:
        yield address


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """The URL of moto's S3-compatible server."""
    with servers.moto_s3(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def spark_master(tmp_path_factory):
    """(spark://127.0.0.1:<port>, its work folder) of a standalone master and one worker."""
    work = tmp_path_factory.mktemp("cluster")
    with servers.standalone_cluster(work) as master:
        yield master, work
