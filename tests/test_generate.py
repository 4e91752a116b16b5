"""The load generator: deterministic per seed, every anomaly kind, and an events run
over its files reports exactly the counts the generator predicts."""
from __future__ import annotations

import re

import pytest

from clickstream import generate
from clickstream.errors import UsageError
from helpers import read_report, run_events

CFG = dict(events=3000, files=3, days=3, users=200, bad_rate=0.3, seed=7)


def test_same_seed_same_lines_other_seed_other_lines(spark, tmp_path):
    a = generate.GenerateConfig(output="unused", **CFG)
    first = [r.value for r in generate.lines(spark, a).collect()]
    assert first == [r.value for r in generate.lines(spark, a).collect()]
    other = generate.GenerateConfig(output="unused", **{**CFG, "seed": 8})
    assert first != [r.value for r in generate.lines(spark, other).collect()]
    assert first[0].startswith('{"event_id":"000000000000')


def test_every_kind_appears_at_the_bad_rate(spark):
    cfg = generate.GenerateConfig(output="unused", **CFG)
    counts = {r["kind"]: r["count"] for r in generate.kinds(spark, cfg).groupBy("kind").count().collect()}
    assert set(counts) == set(generate.KINDS) | {None}
    assert sum(counts.values()) == 3000
    assert 800 <= sum(n for k, n in counts.items() if k) <= 1000  # 30% of 3000, give or take


def test_lines_of_each_kind(spark):
    cfg = generate.GenerateConfig(output="unused", events=20, files=1, days=1, users=5, bad_rate=0.0, seed=1)
    first = generate.lines(spark, cfg).first().value
    assert re.fullmatch(r'\{"event_id":"000000000000[0-9a-f]{8}","user":\{"session_id":"1\d{4}-0-\d+",'
                        r'"id":"1\d{4}","ip":"\d+\.\d+\.\d+\.\d+"\},"action":"[a-z_]+",'
                        r'"url":"https://[a-z.]+/[^"]*","timestamp":"\d\d/02/2017 \d\d:\d\d:\d\d"\}', first), first


def test_events_run_reports_what_the_generator_predicts(spark, hipages_profile, tmp_path):
    cfg = generate.GenerateConfig(output=str(tmp_path / "in"), **CFG)
    names = generate.write(spark, cfg)
    assert [n.rsplit("/", 1)[1] for n in names] == ["events-00000.jsonl", "events-00001.jsonl", "events-00002.jsonl"]
    assert sorted(p.name for p in (tmp_path / "in").iterdir() if not p.name.startswith(".")) == \
        [n.rsplit("/", 1)[1] for n in names]
    run_events(spark, hipages_profile, tmp_path / "in", tmp_path / "wh", "gen")
    report = read_report(tmp_path / "wh", "gen")
    expected = generate.expected_counts(spark, cfg)
    assert {k: report[k] for k in expected} == expected
    assert len(report["partitions_written"]) == 3  # --days 3
    with pytest.raises(UsageError, match="already holds files"):
        generate.write(spark, cfg)
