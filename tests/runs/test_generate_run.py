"""The load generator's files: an events run over them reports exactly the counts the
generator predicts, and the generate job writes the lines of the transform."""
from __future__ import annotations

import pytest

from clickstream.runs import generate
from clickstream.config.errors import UsageError

from helpers import read_report, run_events, run_job


CFG = dict(events=3000, files=3, days=3, users=200, bad_rate=0.3, seed=7)


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


def test_the_generate_job_writes_the_lines_of_the_transform(spark, tmp_path, capsys):
    out = tmp_path / "gen"
    assert run_job(spark, "generate", "--events", "500", "--files", "2", "--output", str(out), "--days", "2",
                   "--bad-rate", "0.2", "--seed", "3") == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == \
        ["events-00000.jsonl", "events-00001.jsonl"]
    written = (out / "events-00000.jsonl").read_text().splitlines() + \
        (out / "events-00001.jsonl").read_text().splitlines()
    cfg = generate.GenerateConfig(events=500, files=2, output="unused", days=2, bad_rate=0.2, seed=3)
    assert written == [r.value for r in generate.lines(spark, cfg).collect()]
    counts = generate.expected_counts(spark, cfg)
    assert len(written) == counts["records"] + counts["blank_lines"] > 500  # the duplicate kinds add a line each
    assert capsys.readouterr().out.splitlines()[-1].startswith("generate events=500 files=2 output=")
