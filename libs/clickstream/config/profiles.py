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
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clickstream.config.errors import UsageError

# Canonical input fields. Those that can be required are listed in the order
# their `missing_*` reasons apply (required properties' reasons come after `url`).
REQUIRABLE = ("event_id", "user_id", "activity", "url", "timestamp")
OPTIONAL = ("session_id", "ip")
# The events table needs these on every event: identity, the partition, the grain.
ALWAYS_REQUIRED = ("event_id", "user_id", "activity", "timestamp")
CANONICAL_FIELDS = REQUIRABLE + OPTIONAL
JSON_TYPES = ("string", "number")
FORMATS = ("json", "csv")
PII_RULES = ("sha256",)
SOURCE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_KEY = re.compile(r"^[^.\s]+$")
PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
DEFAULT_LAYOUT = "{yyyy}/{MM}/{dd}"
_SPEC_KEYS = {"path", "column", "types", "lower", "pii", "value", "hash_of"}


@dataclass(frozen=True)
class Field:
    """How one canonical field or property is made from a record.

    One of: `path` (a JSON path such as ('user', 'id'), or a CSV column as (name,)),
    `value` (a constant), or `hash_of` (the SHA-256 of raw fields). `types`: the JSON
    types a path accepts. `lower`: lower-case the value. `pii`: 'sha256' replaces the
    value by the hash of its trimmed lower-case text (salted: `rules.events.field_value`).
    """

    path: tuple[str, ...] = ()
    types: tuple[str, ...] = ("string",)
    lower: bool = False
    pii: str | None = None
    value: str | None = None
    hash_of: tuple[tuple[str, ...], ...] = ()

    @property
    def is_derived(self) -> bool:
        """Always present: a constant or a hash of fields."""
        return self.value is not None or bool(self.hash_of)


@dataclass(frozen=True)
class SessionRules:
    """How the `sessions` job cuts this feed's events: a new session after a gap of
    `gap_minutes` or more; `conversion` a regex on `activity` (None: no conversion);
    `device_property` a property that splits a user's sessions per device."""

    gap_minutes: int = 30
    conversion: str | None = None
    device_property: str | None = None

    def as_dict(self) -> dict:
        return {"gap_minutes": self.gap_minutes, "conversion": self.conversion, "device": self.device_property}


@dataclass(frozen=True)
class Profile:
    name: str
    format: str
    fields: dict[str, Field]
    required: tuple[str, ...]
    timestamp_formats: tuple[str, ...]
    timezone: str
    input_layout: str = DEFAULT_LAYOUT
    properties: dict[str, Field] = field(default_factory=dict)
    properties_from: tuple[str, ...] = ()
    required_properties: tuple[str, ...] = ()
    url_base: str | None = None
    csv_delimiter: str = ","
    csv_header: bool = True
    csv_columns: tuple[str, ...] = ()
    sessions: SessionRules = field(default_factory=SessionRules)

    @property
    def has_csv_header(self) -> bool:
        """A CSV feed whose files start with a header line."""
        return self.format == "csv" and self.csv_header

    def pii_fields(self) -> list[str]:
        """The fields and properties the profile hashes as PII, by name."""
        return [n for n, f in [*self.fields.items(), *self.properties.items()] if f.pii]

    def columns_used(self) -> list[str]:
        """CSV: the header columns the profile reads, in first-use order."""
        return _columns_of([*self.fields.values(), *self.properties.values()])

    def columns_required(self) -> list[str]:
        """CSV: the header columns a file must have: those of required fields,
        required properties and hashed fields."""
        specs = [self.fields[c] for c in self.required] + [self.properties[p] for p in self.required_properties]
        return _columns_of(specs + [f for f in self.fields.values() if f.hash_of])


def _columns_of(specs) -> list[str]:
    """The CSV columns the specs read (`column` and `hash_of`), each once, in order."""
    columns: list[str] = []
    for spec in specs:
        for path in ([spec.path] if spec.path else []) + list(spec.hash_of):
            if path[0] not in columns:
                columns.append(path[0])
    return columns


def default_conf_dir():
    """The `conf/` shipped inside the package, else the source checkout's `conf/`.

    Returns a Traversable: a `zipfile.Path` inside `clickstream.zip`, or a `Path`.
    """
    bundled = resources.files("clickstream").joinpath("conf")
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parents[3] / "conf"  # libs/clickstream/config/ -> the checkout


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
    if not SOURCE_NAME.match(name):
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


def _parse_ref(ref, fmt: str, what: str, fail) -> tuple[str, ...]:
    if fmt == "csv":
        if not isinstance(ref, str) or not ref:
            raise fail(f"{what} needs a 'column': a header name")
        return (ref,)
    if not isinstance(ref, str) or not all(_KEY.match(k) for k in ref.split(".")):
        raise fail(f"{what} needs a 'path' such as \"user.id\"")
    return tuple(ref.split("."))


def _parse_field(spec, fmt: str, what: str, fail) -> Field:
    """A field spec: "path" (JSON) or "column" (CSV), or {"value": ...}, or {"hash_of": [...]},
    with the options "types", "lower", "pii"."""
    ref_key = "column" if fmt == "csv" else "path"
    if isinstance(spec, str):
        spec = {ref_key: spec}
    if not isinstance(spec, dict):
        raise fail(f"{what} must be a string or an object")
    unknown = sorted(set(spec) - _SPEC_KEYS)
    if unknown:
        raise fail(f"{what}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_SPEC_KEYS))})")
    wrong_ref = "path" if fmt == "csv" else "column"
    if wrong_ref in spec:
        raise fail(f"{what}: a {fmt} profile names its fields with {ref_key!r}, not {wrong_ref!r}")
    kinds = [k for k in (ref_key, "value", "hash_of") if k in spec]
    if len(kinds) != 1:
        raise fail(f"{what} needs exactly one of {ref_key!r}, 'value' or 'hash_of'")
    types = tuple(spec.get("types", ["string"]))
    if not types or any(t not in JSON_TYPES for t in types):
        raise fail(f"{what}: 'types' must be a list of {', '.join(JSON_TYPES)}")
    lower = spec.get("lower", False)
    if not isinstance(lower, bool):
        raise fail(f"{what}: 'lower' must be true or false")
    pii = spec.get("pii")
    if pii is not None and pii not in PII_RULES:
        raise fail(f"{what}: 'pii' must be one of {', '.join(PII_RULES)}")
    if kinds[0] == "value":
        if not isinstance(spec["value"], str) or not spec["value"].strip():
            raise fail(f"{what}: 'value' must be a non-empty string")
        return Field(value=spec["value"])
    if kinds[0] == "hash_of":
        refs = spec["hash_of"]
        if not isinstance(refs, list) or not refs:
            raise fail(f"{what}: 'hash_of' must be a non-empty list of fields")
        return Field(hash_of=tuple(_parse_ref(r, fmt, what, fail) for r in refs))
    return Field(path=_parse_ref(spec[ref_key], fmt, what, fail), types=types, lower=lower, pii=pii)


def parse_profile(raw: dict, where: str = "profile") -> Profile:
    """A profile from its JSON: each section is checked by its own helper below, and the
    first problem is a UsageError naming the profile (`where`) and the section."""
    def fail(msg: str) -> UsageError:
        return UsageError(f"{where}: {msg}")

    if not isinstance(raw, dict):
        raise fail("must be a JSON object")
    fmt = raw.get("format", "json")
    if fmt not in FORMATS:
        raise fail(f"format {fmt!r} is not supported (supported: {', '.join(FORMATS)})")
    fields = _parse_fields(raw.get("fields"), fmt, fail)
    properties, properties_from = _parse_properties(raw, fmt, fail)
    if fmt == "json":
        _check_paths_apart(fields, properties, fail)
    required = _parse_required(raw.get("required", list(REQUIRABLE)), fields, properties, fail)
    formats, tz = _parse_time(raw, fail)
    delimiter, header, columns = _parse_csv(raw.get("csv", {}), fmt, fail)
    profile = Profile(
        name=str(raw.get("name", "")),
        format=fmt,
        fields=fields,
        required=tuple(c for c in REQUIRABLE if c in required),
        timestamp_formats=formats,
        timezone=tz,
        input_layout=_parse_layout(raw.get("input_layout", DEFAULT_LAYOUT), fail),
        properties=properties,
        properties_from=properties_from,
        required_properties=tuple(p for p in properties if p in required),
        url_base=_parse_url_base(raw.get("url_base"), fail),
        csv_delimiter=delimiter,
        csv_header=header,
        csv_columns=columns,
        sessions=_parse_sessions(raw.get("sessions", {}), properties, bool(properties_from), fail),
    )
    if fmt == "csv" and not header:
        absent = [c for c in profile.columns_used() if c not in columns]
        if absent:
            raise fail(f"'csv.columns' lacks the columns the profile reads: {', '.join(absent)}")
    return profile


def _parse_fields(fields_raw, fmt: str, fail) -> dict[str, Field]:
    """'fields': canonical field -> its spec."""
    if not isinstance(fields_raw, dict) or not fields_raw:
        raise fail("'fields' must map canonical fields to {\"path\": ...}")
    fields = {}
    for canon, spec in fields_raw.items():
        if canon not in CANONICAL_FIELDS:
            raise fail(f"unknown canonical field {canon!r} (known: {', '.join(CANONICAL_FIELDS)})")
        fields[canon] = _parse_field(spec, fmt, f"field {canon!r}", fail)
    return fields


def _parse_properties(raw: dict, fmt: str, fail) -> tuple[dict[str, Field], tuple[str, ...]]:
    """'properties' (name -> spec) and 'properties_from' (a JSON object whose every key is one)."""
    props_raw = raw.get("properties", {})
    if not isinstance(props_raw, dict):
        raise fail("'properties' must map property names to fields")
    properties = {}
    for name, spec in props_raw.items():
        if not isinstance(name, str) or not PROPERTY_NAME.match(name) or name in CANONICAL_FIELDS:
            raise fail(f"bad property name {name!r}: use [a-z][a-z0-9_]*, not a canonical field's name")
        properties[name] = _parse_field(spec, fmt, f"property {name!r}", fail)
    properties_from = raw.get("properties_from")
    if properties_from is None:
        return properties, ()
    if fmt != "json":
        raise fail("'properties_from' needs format json (a CSV profile lists its 'properties')")
    return properties, _parse_ref(properties_from, fmt, "'properties_from'", fail)


def _check_paths_apart(fields: dict[str, Field], properties: dict[str, Field], fail) -> None:
    """No JSON path inside another: `user` and `user.id` cannot both be fields."""
    paths = {f.path for f in fields.values() if f.path} | {f.path for f in properties.values() if f.path}
    for p in paths:
        if any(p[:i] in paths for i in range(1, len(p))):
            raise fail(f"path {'.'.join(p)!r} sits inside another mapped field")


def _parse_required(required, fields: dict[str, Field], properties: dict[str, Field], fail) -> list[str]:
    """'required': requirable fields the profile maps, and properties; every event needs
    ALWAYS_REQUIRED, unless the profile derives it ('value' or 'hash_of')."""
    if not isinstance(required, list):
        raise fail("'required' must be a list of canonical fields and properties")
    for name in required:
        if name in REQUIRABLE:
            if name not in fields:
                raise fail(f"required field {name!r} has no mapping in 'fields'")
        elif name not in properties:
            raise fail(f"{name!r} cannot be required: it is neither a requirable field "
                       f"({', '.join(REQUIRABLE)}) nor a property in 'properties'")
    for canon in ALWAYS_REQUIRED:
        if canon not in required and not (canon in fields and fields[canon].is_derived):
            raise fail(f"{canon!r} must be required (or a 'value' or 'hash_of'): every event needs it")
    return required


def _parse_time(raw: dict, fail) -> tuple[tuple[str, ...], str]:
    """'timestamp_formats' (tried in order) and the source's 'timezone' (IANA, default UTC)."""
    formats = raw.get("timestamp_formats")
    if not isinstance(formats, list) or not formats or not all(isinstance(f, str) and f for f in formats):
        raise fail("'timestamp_formats' must be a non-empty list of Spark datetime patterns")
    tz = raw.get("timezone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise fail(f"unknown timezone {tz!r}: use an IANA name such as 'Australia/Sydney'") from None
    return tuple(formats), tz


def _parse_layout(layout, fail) -> str:
    try:
        return validate_layout(layout)
    except UsageError as err:
        raise fail(f"'input_layout': {err}") from None


def _parse_url_base(url_base, fail) -> str | None:
    """'url_base': what a path-only URL is joined to."""
    if url_base is not None and (not isinstance(url_base, str)
                                 or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]+/$", url_base)):
        raise fail(f"'url_base' {url_base!r} must be an absolute URL ending in '/', such as \"https://app.local/\"")
    return url_base


def _parse_csv(csv_opts, fmt: str, fail) -> tuple[str, bool, tuple[str, ...]]:
    """'csv': the delimiter, whether line 1 is a header, and the columns when it is not."""
    if not isinstance(csv_opts, dict) or set(csv_opts) - {"delimiter", "header", "columns"}:
        raise fail("'csv' must be an object with 'delimiter', 'header' and (without a header) 'columns'")
    delimiter = csv_opts.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        raise fail(f"'csv.delimiter' {delimiter!r} must be one character, not a quote or a line break")
    header = csv_opts.get("header", True)
    columns = csv_opts.get("columns", [])
    if not isinstance(header, bool):
        raise fail("'csv.header' must be true or false")
    if not isinstance(columns, list) or not all(isinstance(c, str) and c for c in columns):
        raise fail("'csv.columns' must be a list of column names")
    if fmt == "csv" and not header and not columns:
        raise fail("a CSV profile without a header ('csv.header': false) must list its 'csv.columns'")
    return delimiter, header, tuple(columns)


def check_regex(pattern, what: str) -> str:
    """A conversion regex: a non-empty string here. Its syntax is Java's (Spark's `rlike`),
    which Python's `re` does not share (`\\p{Lu}`, `(?<name>...)`), so the sessions job
    checks it with Java's engine in the driver, before it reads any data."""
    if not isinstance(pattern, str) or not pattern:
        raise UsageError(f"{what} must be a non-empty regular expression")
    return pattern


def _parse_sessions(raw, properties: dict, any_property: bool, fail) -> SessionRules:
    if not isinstance(raw, dict) or set(raw) - {"gap_minutes", "conversion", "device_property"}:
        raise fail("'sessions' must be an object with 'gap_minutes', 'conversion' and 'device_property'")
    gap = raw.get("gap_minutes", SessionRules.gap_minutes)
    if isinstance(gap, bool) or not isinstance(gap, int) or gap < 1:
        raise fail(f"'sessions.gap_minutes' {gap!r} must be a whole number of minutes, 1 or more")
    conversion = raw.get("conversion")
    if conversion is not None:
        try:
            check_regex(conversion, "'sessions.conversion'")
        except UsageError as err:
            raise fail(str(err)) from None
    device = raw.get("device_property")
    if device is not None and not (device in properties or (any_property and isinstance(device, str)
                                                             and PROPERTY_NAME.match(device))):
        raise fail(f"'sessions.device_property' {device!r} is not one of the profile's 'properties'")
    return SessionRules(gap_minutes=gap, conversion=conversion, device_property=device)


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
