"""Source profiles: what differs between feeds, read from `conf/sources/<name>.json`.

The profiles travel with the code: `libs/build_zip.py` (and the wheel) put
`conf/sources/*.json` inside the package as `clickstream/conf/sources/`, so a
driver that has only `clickstream.zip` (EMR cluster mode, a standalone cluster)
finds them. In a source checkout (an editable install) they are read from the
repository's `conf/`. `--conf-dir DIR` reads `DIR/sources/` instead of either.

A profile maps a feed's fields onto the canonical input fields and states the
feed's rules (required fields, timestamp formats, source time zone). Nothing in
the transformation code names a feed's own fields. Plain Python: validated
before Spark does any work.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clickstream.errors import UsageError

# Canonical input fields. Those that can be required are listed in the order
# their `missing_*` reasons apply.
REQUIRABLE = ("event_id", "user_id", "activity", "url", "timestamp")
OPTIONAL = ("session_id", "ip")
# An event without these has no identity or no event_date partition.
ALWAYS_REQUIRED = ("event_id", "timestamp")
CANONICAL_FIELDS = REQUIRABLE + OPTIONAL
JSON_TYPES = ("string", "number")
FORMATS = ("json",)
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_KEY = re.compile(r"^[^.\s]+$")
DEFAULT_LAYOUT = "{yyyy}/{MM}/{dd}"


@dataclass(frozen=True)
class Field:
    """Where a canonical field sits in a record, and which JSON types it accepts."""

    path: tuple[str, ...]
    types: tuple[str, ...] = ("string",)


@dataclass(frozen=True)
class Profile:
    name: str
    format: str
    fields: dict[str, Field]
    required: tuple[str, ...]
    timestamp_formats: tuple[str, ...]
    timezone: str
    input_layout: str = DEFAULT_LAYOUT


def default_conf_dir():
    """The `conf/` shipped inside the package, else the source checkout's `conf/`.

    Returns a Traversable: a `zipfile.Path` inside `clickstream.zip`, or a `Path`.
    """
    bundled = resources.files("clickstream").joinpath("conf")
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parent.parent.parent / "conf"


def _sources(conf_dir):
    return (default_conf_dir() if conf_dir is None else Path(conf_dir)).joinpath("sources")


def available(conf_dir=None) -> list[str]:
    sources = _sources(conf_dir)
    if not sources.is_dir():
        return []
    return sorted(p.name[:-5] for p in sources.iterdir() if p.name.endswith(".json"))


def load_profile(conf_dir, name: str) -> Profile:
    """Read and validate `<conf>/sources/<name>.json`; UsageError names what is wrong.

    `conf_dir` None means the profiles shipped with the package (see the module doc).
    """
    if not _NAME.match(name):
        raise UsageError(f"bad --source {name!r}: use letters, digits, '_', '.' or '-'")
    path = _sources(conf_dir).joinpath(f"{name}.json")
    if not path.is_file():
        known = ", ".join(available(conf_dir)) or "none"
        raise UsageError(f"unknown source profile {name!r}: no {path} (available: {known})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UsageError(f"source profile {path} is not valid JSON: {err}") from None
    return parse_profile(raw, str(path))


def parse_profile(raw: dict, where: str = "profile") -> Profile:
    def fail(msg: str) -> UsageError:
        return UsageError(f"{where}: {msg}")

    if not isinstance(raw, dict):
        raise fail("must be a JSON object")
    fmt = raw.get("format", "json")
    if fmt not in FORMATS:
        raise fail(f"format {fmt!r} is not supported (supported: {', '.join(FORMATS)})")
    fields_raw = raw.get("fields")
    if not isinstance(fields_raw, dict) or not fields_raw:
        raise fail("'fields' must map canonical fields to {\"path\": ...}")
    fields = {}
    for canon, spec in fields_raw.items():
        if canon not in CANONICAL_FIELDS:
            raise fail(f"unknown canonical field {canon!r} (known: {', '.join(CANONICAL_FIELDS)})")
        if isinstance(spec, str):
            spec = {"path": spec}
        path = spec.get("path") if isinstance(spec, dict) else None
        if not isinstance(path, str) or not all(_KEY.match(k) for k in path.split(".")):
            raise fail(f"field {canon!r} needs a 'path' such as \"user.id\"")
        types = tuple(spec.get("types", ["string"]))
        if not types or any(t not in JSON_TYPES for t in types):
            raise fail(f"field {canon!r}: 'types' must be a list of {', '.join(JSON_TYPES)}")
        fields[canon] = Field(tuple(path.split(".")), types)
    paths = {f.path for f in fields.values()}
    for p in paths:
        if any(p[:i] in paths for i in range(1, len(p))):
            raise fail(f"path {'.'.join(p)!r} sits inside another mapped field")
    required = tuple(raw.get("required", REQUIRABLE))
    for canon in required:
        if canon not in REQUIRABLE:
            raise fail(f"{canon!r} cannot be required (requirable: {', '.join(REQUIRABLE)})")
        if canon not in fields:
            raise fail(f"required field {canon!r} has no mapping in 'fields'")
    for canon in ALWAYS_REQUIRED:
        if canon not in required:
            raise fail(f"{canon!r} must be required: every event needs it")
    formats = raw.get("timestamp_formats")
    if not isinstance(formats, list) or not formats or not all(isinstance(f, str) and f for f in formats):
        raise fail("'timestamp_formats' must be a non-empty list of Spark datetime patterns")
    tz = raw.get("timezone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise fail(f"unknown timezone {tz!r}: use an IANA name such as 'Australia/Sydney'") from None
    layout = raw.get("input_layout", DEFAULT_LAYOUT)
    try:
        layout = validate_layout(layout)
    except UsageError as err:
        raise fail(f"'input_layout': {err}") from None
    return Profile(
        name=str(raw.get("name", "")),
        format=fmt,
        fields=fields,
        required=tuple(c for c in REQUIRABLE if c in required),
        timestamp_formats=tuple(formats),
        timezone=tz,
        input_layout=layout,
    )


_LAYOUT_TOKEN = re.compile(r"\{([^{}]*)\}")
LAYOUT_TOKENS = {"yyyy": "%Y", "MM": "%m", "dd": "%d"}


def validate_layout(layout) -> str:
    """A dated input layout: a relative path holding {yyyy}, {MM} and {dd} once each,
    e.g. '{yyyy}/{MM}/{dd}' or 'dt={yyyy}-{MM}-{dd}'."""
    if not isinstance(layout, str) or not layout.strip():
        raise UsageError("layout must be a path such as '{yyyy}/{MM}/{dd}'")
    tokens = _LAYOUT_TOKEN.findall(layout)
    unknown = sorted(set(tokens) - set(LAYOUT_TOKENS))
    if unknown:
        raise UsageError(f"unknown token {{{unknown[0]}}} in layout {layout!r} (known: {{yyyy}}, {{MM}}, {{dd}})")
    if sorted(tokens) != sorted(LAYOUT_TOKENS):
        raise UsageError(f"layout {layout!r} must hold {{yyyy}}, {{MM}} and {{dd}} once each")
    rest = _LAYOUT_TOKEN.sub("", layout)
    parts = layout.split("/")
    if "{" in rest or "}" in rest or any(c in rest for c in "*?[]\\") or layout.startswith("/") \
            or any(p in ("", ".", "..") for p in parts):
        raise UsageError(f"layout {layout!r} must be a relative path without globs, '.' or '..'")
    return layout


def layout_prefix(layout: str, day) -> str:
    """The relative prefix of one day: ('{yyyy}/{MM}/{dd}', 2020-01-13) -> '2020/01/13'."""
    return _LAYOUT_TOKEN.sub(lambda m: day.strftime(LAYOUT_TOKENS[m.group(1)]), layout)
