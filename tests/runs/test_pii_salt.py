"""The PII salt: never in a plan or the job's properties, pinned per source in the
events table by a fingerprint, and a run with another salt refused. (In an event log
written by a real spark-submit: tests/entry/test_cli.py.)"""
from __future__ import annotations

import hashlib

import pytest

from clickstream.config.errors import UsageError
from clickstream.runs import events

from helpers import ROOT, run_events, run_job, table_rows

FEEDS = ROOT / "data" / "feeds"

SALT = "s3cr3t-pepper-f00d"


def test_the_salt_is_in_no_plan_and_no_property(spark, app, tmp_path):
    lines = events.read_lines(spark, [f"file:{FEEDS}/app_events/2020/01/13/events-0001.jsonl"])
    parsed = events.parse_lines(lines, app, SALT)
    hashed = {r["user_id"] for r in parsed.where("reason IS NULL").collect()}
    assert hashlib.sha256(f"{SALT}alice.walker@example.com".encode()).hexdigest() in hashed  # salted, as documented
    plans = parsed._jdf.queryExecution().toString()  # parsed, analyzed, optimized and physical plans
    assert "Physical Plan" in plans and SALT not in plans
    assert SALT not in repr(spark.sparkContext.getConf().getAll())
    assert all(SALT not in (spark.sparkContext.getLocalProperty(k) or "")
               for k in ("spark.job.description", "callSite.short", "callSite.long", "spark.jobGroup.id"))


def test_a_run_with_another_salt_is_refused_before_reading(spark, app, tmp_path, capsys, monkeypatch):
    wh = tmp_path / "wh"
    first = run_events(spark, app, FEEDS / "app_events", wh, "r1", source="app_events", pii_salt=SALT)
    assert first.events_written == 6
    held = spark.sql(f"SHOW TBLPROPERTIES delta.`{wh}/events`").where(
        "key = 'clickstream.piiSaltFingerprint.app_events'").first()["value"]
    assert held == events.salt_fingerprint(SALT) and SALT not in held
    monkeypatch.setenv("CLICKSTREAM_PII_SALT", "another-pepper")
    assert run_job(spark, "events", "--source", "app_events", "--input", str(FEEDS / "app_events"),
                   "--warehouse", str(wh), "--run-id", "r2") == 2
    assert capsys.readouterr().err.splitlines() == [
        "events: error: CLICKSTREAM_PII_SALT is not the salt this warehouse's app_events events were hashed with "
        f"(fingerprint {held}); run with that one, or the same events would hash differently and come back as "
        "conflicting_duplicate"]
    with pytest.raises(UsageError, match="were hashed with \\(fingerprint "):  # unsalted is another salt too
        run_events(spark, app, FEEDS / "app_events", wh, "r3", source="app_events", allow_unsalted=True)
    assert len(table_rows(spark, wh, "events", "event_id")) == 6
