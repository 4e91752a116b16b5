"""The README's "Command line" synopses are the jobs' argument parsers, option for option."""

from __future__ import annotations

import re

import pytest

from clickstream.deploy import emr
from clickstream.runs import events, export, generate, hourly_stats, maintain, pipeline, report, rollup, sessions, show

from helpers import ROOT


PARSERS = {"events": events.parser, "hourly_stats": hourly_stats.parser, "sessions": sessions.parser,
           "export": export.parser, "show": show.parser, "maintain": maintain.parser,
           "generate": generate.parser, "emr-steps": emr.parser, "pipeline": pipeline.parser,
           "rollup": rollup.parser, "report": report.parser}
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


def pages() -> dict[str, str]:
    """README.md and docs/*.md by their path from the repository root."""
    found = {"README.md": (ROOT / "README.md").read_text(encoding="utf-8")}
    found.update({f"docs/{p.name}": p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md"))})
    return found


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to '-'."""
    heads = re.findall(r"(?m)^#+ (.+)$", re.sub(r"(?ms)^```.*?^```", "", markdown))
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


def test_the_readme_is_read_in_ten_minutes():
    assert len(pages()["README.md"].splitlines()) <= 350


def test_every_link_between_the_pages_resolves():
    broken = []
    for name, text in pages().items():
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            resolved = (ROOT / name).parent / path if path else ROOT / name
            if not resolved.exists():
                broken.append(f"{name}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text(encoding="utf-8")):
                broken.append(f"{name}: {target} (no such heading)")
    assert broken == []


def test_the_readme_links_every_docs_page():
    readme = pages()["README.md"]
    assert [p for p in pages() if p != "README.md" and f"]({p})" not in readme] == []


@pytest.mark.parametrize("job", sorted(PARSERS))
def test_the_reference_page_explains_every_option(job):
    """Each option of each job appears in docs/reference.md (a table row or its text)."""
    reference = pages()["docs/reference.md"]
    options = {s for action in PARSERS[job]()._actions for s in action.option_strings if s.startswith("--")}
    assert sorted(o for o in options - {"--help"} if f"`{o}" not in reference) == []
