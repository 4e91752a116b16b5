"""What the shipped artifact holds: the zip that spark-submit puts on --py-files (and
the wheel, built from the same package) carries the library and its conf, and no
development tooling (the benchmark lives in tools/)."""

from __future__ import annotations

import build_zip  # libs/build_zip.py, what `make package` and spark-submit.sh run

from helpers import ROOT

MODULES = [
    "__init__",
    "config/__init__", "config/cli", "config/errors", "config/faults", "config/profiles", "config/schemas",
    "config/spark_session",
    "deploy/__init__", "deploy/console", "deploy/emr", "deploy/packages", "deploy/submit",
    "report/__init__", "report/anomalies", "report/charts", "report/model", "report/page",
    "rules/__init__", "rules/columns", "rules/events", "rules/hourly_stats", "rules/report", "rules/rollup",
    "rules/sessions",
    "runs/__init__", "runs/events", "runs/export", "runs/generate", "runs/hourly_stats", "runs/maintain",
    "runs/pipeline", "runs/report", "runs/rollup", "runs/sessions", "runs/show",
    "warehouse/__init__", "warehouse/catalog", "warehouse/extracts", "warehouse/fs", "warehouse/incremental", "warehouse/ingested",
    "warehouse/inputs", "warehouse/jdbc", "warehouse/run_reports", "warehouse/scope", "warehouse/tables",
]


def test_the_zip_holds_the_library_modules_and_no_tooling():
    names = [name for _, name in build_zip.members(str(ROOT))]
    modules = sorted(n[len("clickstream/"):-len(".py")] for n in names if n.endswith(".py"))
    assert modules == MODULES  # a new module is added here on purpose, and tooling never
    assert not any(n.startswith("clickstream/bench") for n in names)
    conf = sorted(n for n in names if not n.endswith(".py"))
    assert conf == [f"clickstream/conf/sources/{s}.json" for s in ("app_events", "hipages", "impressions",
                                                                    "mobile_events")] + [
        f"clickstream/conf/spark/{e}.properties" for e in ("cluster", "emr", "local", "s3a-aws", "s3a-compatible")]
