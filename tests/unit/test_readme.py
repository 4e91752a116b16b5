"""The README's "Command line" synopses are the jobs' argument parsers, option for option."""

from __future__ import annotations

import re

import pytest

from clickstream import emr, events, export, generate, hourly_stats, maintain, sessions, show

from helpers import ROOT


PARSERS = {"events": events.parser, "hourly_stats": hourly_stats.parser, "sessions": sessions.parser,
           "export": export.parser, "show": show.parser, "maintain": maintain.parser,
           "generate": generate.parser, "emr-steps": emr.parser}
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def synopses() -> dict[str, str]:
    """Job name -> the text of its synopsis in the README's "Command line" block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```\n", 2)[1]
    found: dict[str, str] = {}
    job = None
    for line in block.splitlines():
        start = re.match(r"^\./spark-submit\.sh ([a-z_-]+)\b", line)
        if start:
            job = start.group(1)
            found[job] = line[start.end():]
        elif line.startswith("./spark-submit.sh"):
            job = None  # the wrapper's own synopsis
        elif job and line.startswith(" "):
            found[job] += " " + line.strip()
    return found


def test_every_job_has_a_synopsis():
    jobs = sorted(p.stem for p in (ROOT / "jobs").glob("*.py") if not p.stem.startswith("_"))
    assert sorted(synopses()) == sorted([*jobs, "emr-steps"]) == sorted(PARSERS)


@pytest.mark.parametrize("job", sorted(PARSERS))
def test_a_synopsis_shows_every_option_and_no_other(job):
    parser = PARSERS[job]()
    options = {s for action in parser._actions for s in action.option_strings if s.startswith("--")} - {"--help"}
    shown = set(OPTION.findall(synopses()[job]))
    assert (sorted(options - shown), sorted(shown - options)) == ([], []), \
        "(missing from the README, unknown to the parser)"
