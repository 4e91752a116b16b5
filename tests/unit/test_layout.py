"""The package's layout (README, "Repository layout"): one folder per layer, and
imports that only go down the layers.

    runs/                         each job's parse_args and run
    rules/  warehouse/  deploy/   column rules; tables and files; spark-submit and EMR;
    report/                       the report page: anomaly flags, charts, HTML
    config/                       profiles, CLI plumbing, errors, the SparkSession builder, table schemas

A module may import its own folder and any folder below it. The three middle folders
do not import each other, except for the edges in ACROSS, each with its reason.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers import ROOT

PACKAGE = ROOT / "libs" / "clickstream"
RANK = {"runs": 3, "rules": 2, "warehouse": 2, "deploy": 2, "report": 2, "config": 1}
ACROSS = {
    # `emr-steps` checks an export target's URL and table name with the export job's
    # own parsers, so a bad target fails when the steps are rendered, not at 2 a.m.
    ("deploy.emr", "warehouse.jdbc"),
}


def imported(source: str) -> list[tuple[int, str]]:
    """(line, 'layer.module' or 'layer') of each clickstream import in `source`;
    '' for the package root itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            found.append((node.lineno, "<relative>"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "clickstream":
            parts = node.module.split(".")[1:]
            if len(parts) == 1:  # from clickstream.rules import events, columns
                found += [(node.lineno, f"{parts[0]}.{a.name}") for a in node.names]
            elif parts:  # from clickstream.config.cli import x
                found.append((node.lineno, ".".join(parts[:2])))
            else:  # from clickstream import __version__ (the root), or a layer, or a module
                found += [(node.lineno, "" if a.name.startswith("__") else a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, ".".join(a.name.split(".")[1:3])) for a in node.names
                      if a.name.split(".")[0] == "clickstream"]
    return found


def violations(module: str, source: str) -> list[str]:
    """Each import of `module` ('rules.events') that goes up, sideways without a
    reason in ACROSS, or to no layer at all."""
    layer = module.split(".")[0]
    wrong = []
    for line, target in imported(source):
        to_layer = target.split(".")[0]
        if target == "" or to_layer == layer:
            continue
        if to_layer not in RANK:
            wrong.append(f"{module}:{line} imports clickstream.{target}, which is in no layer")
        elif RANK[to_layer] > RANK[layer]:
            wrong.append(f"{module}:{line} imports clickstream.{target}: up from {layer}/ to {to_layer}/")
        elif RANK[to_layer] == RANK[layer] and (module, target) not in ACROSS:
            wrong.append(f"{module}:{line} imports clickstream.{target}: across from {layer}/ to {to_layer}/")
    return wrong


def modules() -> dict[str, Path]:
    return {".".join(p.relative_to(PACKAGE).with_suffix("").parts): p
            for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def test_every_module_is_in_a_layer_folder():
    assert sorted({name.split(".")[0] for name in modules() if "." in name}) == sorted(RANK)
    assert [name for name in modules() if "." not in name] == ["__init__"]


def test_imports_go_down_the_layers_only():
    assert [v for name, path in modules().items() for v in violations(name, path.read_text())] == []


def test_every_allowed_sideways_import_is_still_made():
    """An ACROSS edge that nothing uses any more is removed, so the list stays true."""
    made = {(name, target) for name, path in modules().items() for _, target in imported(path.read_text())}
    assert ACROSS <= made


@pytest.mark.parametrize("module, source, message", [
    ("config.cli", "from clickstream.runs import events\n",
     "config.cli:1 imports clickstream.runs.events: up from config/ to runs/"),
    ("rules.events", "import pyspark\nfrom clickstream.warehouse.tables import EVENTS_SCHEMA\n",
     "rules.events:2 imports clickstream.warehouse.tables: across from rules/ to warehouse/"),
    ("warehouse.fs", "def f():\n    from clickstream.rules import columns as C\n",
     "warehouse.fs:2 imports clickstream.rules.columns: across from warehouse/ to rules/"),
    ("deploy.submit", "import clickstream.runs.show\n",
     "deploy.submit:1 imports clickstream.runs.show: up from deploy/ to runs/"),
    ("runs.show", "from clickstream import tables\n", "runs.show:1 imports clickstream.tables, which is in no layer"),
    ("rules.sessions", "from . import columns\n", "rules.sessions:1 imports clickstream.<relative>, which is in no layer"),
])
def test_an_import_up_or_across_is_reported(module, source, message):
    assert violations(module, source) == [message]


def test_imports_down_and_within_a_layer_pass():
    source = ("from clickstream import __version__\nfrom clickstream.config import cli\n"
              "from clickstream.rules import events as event_rules\nfrom clickstream.runs.events import run\n")
    assert violations("runs.pipeline", source) == []
    assert violations("deploy.emr", "from clickstream.warehouse import jdbc\n") == []  # in ACROSS


def test_no_two_modules_in_a_folder_differ_only_by_a_suffix():
    """session / sessions / sessionize side by side is what this layout replaced."""
    by_folder: dict[str, list[str]] = {}
    for name in modules():
        folder, _, leaf = name.rpartition(".")
        by_folder.setdefault(folder, []).append(leaf)
    clashes = [(folder, a, b) for folder, leaves in by_folder.items() for a in leaves for b in leaves
               if a != b and b.startswith(a) and a != "__init__"]
    assert clashes == []
