"""The load generator's lines: deterministic per seed, every anomaly kind at its rate."""

from __future__ import annotations

import re

from clickstream.runs import generate


CFG = dict(events=3000, files=3, days=3, users=200, bad_rate=0.3, seed=7)


def test_same_seed_same_lines_other_seed_other_lines(spark, tmp_path):
    a = generate.GenerateConfig(output="unused", **CFG)
    first = [r.value for r in generate.lines(spark, a).collect()]
    assert first == [r.value for r in generate.lines(spark, a).collect()]
    other = generate.GenerateConfig(output="unused", **{**CFG, "seed": 8})
    assert first != [r.value for r in generate.lines(spark, other).collect()]
    assert first[0].startswith('{"event_id":"000000000000')


def test_a_set_from_first_id_on_shares_no_event_id_with_the_set_before(spark):
    cfg = generate.GenerateConfig(output="unused", events=4, files=1, bad_rate=0.0, seed=7)
    later = generate.GenerateConfig(output="unused", events=4, files=1, bad_rate=0.0, seed=7, first_id=4)
    ids = [r["id"] for r in generate.kinds(spark, later).collect()]
    assert ids == [4, 5, 6, 7]
    both = generate.lines(spark, cfg).union(generate.lines(spark, later))
    assert both.selectExpr("get_json_object(value, '$.event_id') AS id").distinct().count() == 8


def test_random_ids_are_15_digits_without_order_and_the_same_for_a_seed(spark):
    cfg = generate.GenerateConfig(output="unused", events=6, files=1, bad_rate=0.0, seed=7, random_ids=True)
    ids = [r["id"] for r in generate.lines(spark, cfg).selectExpr("get_json_object(value, '$.event_id') AS id")
           .collect()]
    assert ids == ["715713335414610", "386969041997469", "462409130153056", "020790186711550",  # zero-padded
                   "853385039935776", "640024592199298"]


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
