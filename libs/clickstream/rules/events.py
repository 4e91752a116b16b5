"""Transforms of the events job: raw lines -> classified lines, `DataFrame -> DataFrame`.

Composed with `DataFrame.transform`:

    raw.transform(with_source_fields, profile, salt, headers)
       .transform(with_event_columns, profile.timestamp_formats, profile.timezone)
       .transform(with_reject_reason, profile.required, profile.required_properties, malformed)
       .transform(with_dedup_status, existing_events_of_the_source)

Each line ends with a `status` (`header`, `blank`, `rejected`, `new` or `duplicate`)
and, when rejected, one `reason`. Nothing is dropped: every line read is in the output.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from functools import reduce
from typing import Callable

import pyspark.sql.functions as F
import pyspark.sql.types as T
from pyspark.sql import Column, DataFrame, Window

from clickstream.config import schemas
from clickstream.rules import columns as C
from clickstream.config.profiles import OPTIONAL, REQUIRABLE, Field, Profile

# Spark's JSON reader is lenient by default; these make it accept only real JSON.
JSON_OPTIONS = {
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": "_corrupt",
    "allowSingleQuotes": "false",
    "allowNonNumericNumbers": "false",
    "allowUnquotedFieldNames": "false",
    "allowComments": "false",
    "allowNumericLeadingZeros": "false",
    "allowBackslashEscapingAnyCharacter": "false",
    "allowUnquotedControlChars": "false",
}
# (?s): '.' takes every character, the line terminators U+2028, U+2029 and U+0085 too
# (raw in a JSON string, they are text; the text reader splits lines on CR and LF only).
_OBJECT_TEXT = f"(?s)^{C.WS}*\\{{.*\\}}{C.WS}*$"
_AFTER_CLOSING_BRACE = f"\\}}{C.WS}*[^ \\t\\r\\n,}}\\]]"
_ARRAY_OF_OBJECTS = T.ArrayType(T.StructType([]))
_JSON_NUMBER = "^-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?$"

LINE_COLUMNS = ["value", "source_file", "line_order"]
PROPERTIES_TYPE = "map<string,string>"
HASH_SEPARATOR = "\u001f"
TEXT_FIELDS = REQUIRABLE + OPTIONAL
# The columns that make two copies of an event identical (lineage excluded).
CANONICAL_COLUMNS = [
    "event_id", "user_id", "session_id", "time_stamp",
    "url_level1", "url_level2", "url_level3", "activity", "url", "ip", "properties",
]
# What `events.parse_lines` keeps of a line: lineage, the event's columns, the reason.
PARSED_COLUMNS = [*LINE_COLUMNS, "raw_bytes", "is_header", "is_blank", "reason", *CANONICAL_COLUMNS, "event_date"]
REASONS = (
    "line_too_long",
    "bad_encoding",
    "malformed_json",
    "malformed_csv",
    *(f"missing_{c}" for c in REQUIRABLE),
    "bad_timestamp",
    "bad_url",
    "conflicting_duplicate",
)


def _nested_schema(paths: dict[tuple[str, ...], T.DataType]) -> T.StructType:
    """StructType holding each path, e.g. {('user','id'): string} -> user struct<id string>."""
    tree: dict = {}
    for path, leaf in paths.items():
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = leaf

    def build(node: dict) -> T.StructType:
        return T.StructType([
            T.StructField(k, build(v) if isinstance(v, dict) else v, True) for k, v in node.items()
        ])

    return build(tree)


def _at(col: Column, path: tuple[str, ...]) -> Column:
    return reduce(lambda c, key: c.getField(key), path, col)


# Types that accept exactly one JSON kind: an object, an array, a boolean, a number.
_KIND_PROBES = {
    "object": T.MapType(T.StringType(), T.StringType()),
    "array": T.ArrayType(T.StringType()),
    "boolean": T.BooleanType(),
    "number": T.DoubleType(),
}


def kind_probes(line: Column, paths) -> dict[str, Column]:
    """One parse per JSON kind that types every path as that kind: the value at a path
    is of that kind iff it is non-NULL there (a mismatch nulls only that field)."""
    return {
        kind: F.from_json(line, _nested_schema({p: leaf for p in paths}), JSON_OPTIONS)
        for kind, leaf in _KIND_PROBES.items()
    }


def json_typed_text(text: Column, path: tuple[str, ...], types: tuple[str, ...], probes: dict[str, Column]) -> Column:
    """The text of the JSON value at `path` when its JSON type is one of `types`, else NULL.

    `text` is Spark's StringType rendering of that value: a string's content, or the
    JSON text of a number, boolean, object or array. Only values that could be either
    a string or another kind ('{..}', '[..]', 'true', '12') look at the `probes`
    (see `kind_probes`), so clean rows cost one parse.
    '{}' from {"url": {}} with types ('string',) -> NULL; '5' from {"id": 5} with
    types ('string', 'number') -> '5'; '{}' from {"url": "{}"} -> '{}'.
    """
    def is_not(kind: str) -> Column:
        return _at(probes[kind], path).isNull()

    is_accepted = (
        F.when(text.startswith("{"), is_not("object"))
        .when(text.startswith("["), is_not("array"))
        .when(text.isin("true", "false"), is_not("boolean"))
    )
    if "number" not in types:
        could_be_number = text.substr(1, 1).isin(*"-0123456789") & text.rlike(_JSON_NUMBER)
        is_accepted = is_accepted.when(could_be_number, is_not("number"))
    return F.when(is_accepted.otherwise(F.lit(True)), text)


# A line longer than this (in bytes, as read) is rejected as line_too_long unparsed.
MAX_LINE_BYTES = 1024 * 1024
# What a line_too_long reject keeps of its line: its first characters (and raw_bytes its length).
RAW_PREFIX_CHARS = 1000


def is_valid_utf8(col: Column, spark_version: str) -> Column:
    """True when the line's bytes, as read, are valid UTF-8. Spark's text reader keeps the
    bytes as they are; is_valid_utf8 exists from Spark 4.0, and on 3.5 the same test is
    that the bytes equal the UTF-8 encoding of their decoding (invalid bytes decode to
    U+FFFD, whose encoding differs)."""
    if int(spark_version.split(".")[0]) >= 4:
        return F.call_function("is_valid_utf8", col)
    return col.cast("binary") == F.encode(col, "UTF-8")


def as_valid_utf8(text: Column) -> Column:
    """The text with each sequence of bytes that is not valid UTF-8 replaced by U+FFFD
    (one per maximal invalid sequence, as Java's decoder does): valid UTF-8, which every
    engine reads; valid text is unchanged. b'x\\xff\\xfey' -> 'x\ufffd\ufffdy'."""
    return F.encode(text, "UTF-8").cast("string")


def to_rejects(df: DataFrame, run_id: str) -> DataFrame:
    """The rejected lines as rows of the rejects table: `raw` the line as valid UTF-8
    text (a line_too_long's first characters only, see `with_line_checks`), and
    `raw_binary` its bytes exactly as read when those are not valid UTF-8 (NULL else),
    so no reject is lost and none makes the table unreadable for another engine."""
    is_valid = is_valid_utf8(F.col("value"), df.sparkSession.version)
    return df.filter(F.col("status") == "rejected").select(
        as_valid_utf8(F.col("value")).alias("raw"), "reason", "source_file", F.lit(run_id).alias("run_id"),
        "raw_bytes", F.when(~is_valid, F.col("value").cast("binary")).alias("raw_binary"),
    )


def with_line_checks(df: DataFrame, max_line_bytes: int = MAX_LINE_BYTES) -> DataFrame:
    """`raw_bytes` (the line's length as read), `is_too_long` (more than `max_line_bytes`),
    `is_bad_encoding` (not valid UTF-8), and `_line`, the text the format reader parses:
    NULL for a line that is too long (never parsed) or badly encoded, and without a
    leading UTF-8 BOM. A line that is too long keeps only its first RAW_PREFIX_CHARS
    characters in `value` from here on, so no later step carries (or copies) all of it."""
    raw_bytes = F.octet_length(F.col("value")).cast("long")
    too_long = F.col("raw_bytes") > F.lit(max_line_bytes)
    bad = F.when(~too_long, ~is_valid_utf8(F.col("value"), df.sparkSession.version)).otherwise(F.lit(False))
    return (
        df.withColumn("raw_bytes", raw_bytes)
        .withColumn("is_too_long", too_long)
        .withColumn("value", F.when(too_long, F.substring("value", 1, RAW_PREFIX_CHARS)).otherwise(F.col("value")))
        .withColumn("is_bad_encoding", bad)
        .withColumn("_line", F.when(~too_long & ~bad, without_bom(F.col("value"))))
    )


def without_bom(text: Column) -> Column:
    """The text without one leading UTF-8 BOM (U+FEFF): '\\ufeff{}' -> '{}'. A test of
    its first character gates the copy: most lines have none."""
    return F.when(text.startswith("\ufeff"), F.substr(text, F.lit(2))).otherwise(text)


def with_source_fields(df: DataFrame, profile: Profile, salt: str = "",
                       headers: dict[str, list[str]] | None = None) -> DataFrame:
    """Read each line as the profile's format says and make the canonical fields and
    the `properties` map from it.

    Adds `is_header`, `is_blank`, `is_malformed`, one text column per canonical field
    (`timestamp` as `timestamp_text`) and `properties`. Text is trimmed and an empty
    value is NULL; `url` keeps the URL as sent (joined to the profile's `url_base`
    when it is only a path). `salt` is prepended to a `pii: sha256` field's text before
    hashing. `headers`: for a CSV profile with a header, each source file's header
    columns (see `csv_header`); the first line of each file is then its header.
    """
    if "_line" not in df.columns:
        df = with_line_checks(df)
    salted = bool(salt) and bool(profile.pii_fields())
    if salted:
        # The salt reaches the rows as a one-row relation, broadcast and cross-joined:
        # never a literal in the plan, so never in explain(), the UI or an event log.
        df = df.crossJoin(F.broadcast(df.sparkSession.createDataFrame([(salt,)], "_pii_salt string")))
    salt_col = F.col("_pii_salt") if salted else F.lit("")
    if profile.format == "csv":
        parsed, raw = _csv_reader(df, profile, headers or {})
    else:
        parsed, raw = _json_reader(df, profile)
    out = []
    for canon in TEXT_FIELDS:
        name = "timestamp_text" if canon == "timestamp" else canon
        spec = profile.fields.get(canon)
        if spec is None:
            out.append(F.lit(None).cast("string").alias(name))
        elif canon == "url" and spec.path:
            url = raw(spec.path, spec.types)
            out.append((C.join_url_base(url, profile.url_base) if profile.url_base else url).alias(name))
        else:
            out.append(field_value(spec, raw, salt_col).alias(name))
    read_at = [c for c in schemas.READ_AT if c in df.columns]
    return parsed.select(*LINE_COLUMNS, *read_at, "raw_bytes", "is_header", "is_blank", "is_too_long",
                         "is_bad_encoding", "is_malformed", *out,
                         _properties(profile, raw, salt_col).alias("properties"))


def field_value(spec: Field, raw, salt: Column | None = None) -> Column:
    """A field's value by its spec: a constant; the lower-case hex SHA-256 of raw fields
    (as written, '' when absent) joined by U+001F; or the field's trimmed text, NULL
    when empty, lower-cased (`lower`) or hashed as PII (`pii`: sha256 of salt +
    lower(trim(text))). `raw(path, types)` gives a field's text as written."""
    if spec.value is not None:
        return F.lit(spec.value)
    if spec.hash_of:
        parts = [F.coalesce(raw(path, None), F.lit("")) for path in spec.hash_of]
        return F.sha2(F.concat_ws(HASH_SEPARATOR, *parts), 256)
    text = C.clean_text(raw(spec.path, spec.types))
    if spec.lower:
        text = F.lower(text)
    if spec.pii == "sha256":
        text = F.sha2(F.concat(F.lit("") if salt is None else salt, F.lower(text)), 256)
    return text


def _properties(profile: Profile, raw, salt: Column) -> Column:
    """map<string,string> of the profile's properties; absent values are left out.
    Explicit `properties` win over keys of `properties_from`."""
    maps = []
    if profile.properties_from:
        whole = raw(profile.properties_from, "map")
        if profile.properties:
            names = F.array(*[F.lit(n) for n in profile.properties])
            whole = F.map_filter(whole, lambda k, v: ~F.array_contains(names, k))
        maps.append(F.transform_values(whole, lambda k, v: C.clean_text(v)))
    if profile.properties:
        maps.append(F.map_from_arrays(
            F.array(*[F.lit(n) for n in profile.properties]),
            F.array(*[field_value(spec, raw, salt) for spec in profile.properties.values()]),
        ))
    if not maps:
        return F.create_map().cast(PROPERTIES_TYPE)
    merged = maps[0] if len(maps) == 1 else F.map_concat(*maps)
    return F.coalesce(F.map_filter(merged, lambda k, v: v.isNotNull()), F.create_map().cast(PROPERTIES_TYPE))


def _json_reader(df: DataFrame, profile: Profile):
    """Parse each JSON line once: the lines with `is_header`, `is_blank`, `is_malformed`,
    and `raw(path, types)`, the text at a path (NULL when of another JSON type; all
    kinds when `types` is None; the object as map<string,string> when 'map').
    A line is malformed unless it is exactly one valid JSON object."""
    specs = [*profile.fields.values(), *profile.properties.values()]
    paths = {s.path for s in specs if s.path} | {p for s in specs for p in s.hash_of}
    leaves = {p: T.StringType() for p in paths}
    schema = _nested_schema(leaves).add("_corrupt", T.StringType())
    line = F.col("_line")  # NULL when too long or badly encoded: those are never parsed
    parsed = F.from_json(line, schema, JSON_OPTIONS)
    # Spark's parser stops after the first object, so '{..}{..}' and '{..} x' parse.
    # Wrapped in '[..]' such a line is invalid, and '{..},{..}' is an array of two.
    # That strict parse runs only where it can matter: when the lenient parse failed
    # (which a field of the wrong container type, e.g. "user": "x", also causes) or a
    # '}' is followed by anything but ',', '}', ']' or the end.
    wrapped = F.from_json(F.concat(F.lit("["), line, F.lit("]")), _ARRAY_OF_OBJECTS, JSON_OPTIONS)
    is_one_object = F.coalesce(F.size(wrapped) == 1, F.lit(False))
    needs_strict_check = parsed.getField("_corrupt").isNotNull() | line.rlike(_AFTER_CLOSING_BRACE)
    # A line that starts with '{' and ends with '}' is neither blank nor other than an
    # object's text: the trim and the pattern run only on the other lines.
    braced = line.startswith("{") & line.endswith("}")
    is_object_text = F.when(braced, F.lit(True)).otherwise(line.rlike(_OBJECT_TEXT))
    is_malformed = ~is_object_text | F.when(needs_strict_check, ~is_one_object).otherwise(F.lit(False))
    probes = kind_probes(line, [s.path for s in specs if s.path])
    prop_map = None
    if profile.properties_from:
        map_schema = _nested_schema({profile.properties_from: T.MapType(T.StringType(), T.StringType())})
        prop_map = _at(F.from_json(line, map_schema, JSON_OPTIONS), profile.properties_from)

    def raw(path, types):
        if types == "map":
            return prop_map
        text = _at(parsed, path)
        return text if types is None else json_typed_text(text, path, types, probes)

    lines = (
        df.withColumn("is_blank", F.when(line.startswith("{"), F.lit(False))
                      .otherwise(F.coalesce(C.is_blank(line), F.lit(False))))
        .withColumn("is_header", F.lit(False))
        .withColumn("is_malformed", F.when(~F.col("is_blank"), is_malformed))
    )
    return lines, raw


def csv_header(text: str | None, delimiter: str) -> list[str] | None:
    """The column names of a CSV header line (a UTF-8 BOM before it ignored, names
    trimmed), or None for an empty file: 'a;"b;c"' -> ['a', 'b;c']."""
    if text is None:
        return None
    text = text.lstrip("\ufeff").rstrip("\r\n")
    return [c.strip() for c in next(csv.reader([text], delimiter=delimiter, quotechar='"', doublequote=True))]


def _csv_reader(df: DataFrame, profile: Profile, headers: dict[str, list[str]]):
    """Split each CSV line into fields by its file's own header: the lines with
    `is_header` (the first line of each file, when the profile has a header),
    `is_blank`, `is_malformed` (a count of fields other than the header's, or an
    unclosed quote) and `raw(column, types)`, the field of that header column.

    Lines are read as text: Spark's CSV reader would map columns by position, pad
    short rows and drop extra fields. A quoted field may hold the delimiter ("" is a
    quote inside it) but not a line break: each line is one record.
    """
    spark = df.sparkSession
    line = F.col("_line")  # without a BOM; NULL when too long or badly encoded
    if profile.csv_header:
        # The header is the first line of each file: the first line of the file's
        # first split (block 0); lines of a split are numbered in order.
        first_split = (F.col("block_start") == 0) if "block_start" in df.columns else F.lit(True)
        firsts = df.where(first_split).groupBy("source_file").agg(F.min("line_order").alias("_header_line"))
        known = spark.createDataFrame([(f, c) for f, c in headers.items()],
                                      "source_file string, _columns array<string>")
        lines = (
            df.join(F.broadcast(firsts), on="source_file", how="left")
            .join(F.broadcast(known), on="source_file", how="left")
            .withColumn("is_header", F.coalesce(F.col("line_order") == F.col("_header_line"), F.lit(False)))
        )
        width = max((len(c) for c in headers.values()), default=0)
    else:
        lines = df.withColumn("_columns", F.array(*[F.lit(c) for c in profile.csv_columns])) \
                  .withColumn("is_header", F.lit(False))
        width = len(profile.csv_columns)
    delimiter = profile.csv_delimiter
    schema = ", ".join(f"c{i} STRING" for i in range(width + 1))
    options = {"sep": delimiter, "quote": '"', "escape": '"', "mode": "PERMISSIVE",
               "ignoreLeadingWhiteSpace": "false", "ignoreTrailingWhiteSpace": "false"}
    parsed = F.from_csv(line, schema, options)
    cells = F.array(*[parsed.getField(f"c{i}") for i in range(width + 1)])
    # Fields: delimiters outside quoted sections, plus one; quotes must pair up.
    unquoted = F.regexp_replace(line, '"[^"]*"', "")
    n_fields = F.size(F.split(unquoted, f"\\Q{delimiter}\\E", -1))
    n_quotes = F.length(line) - F.length(F.regexp_replace(line, '"', ""))
    is_malformed = (n_quotes % 2 == 1) | (n_fields != F.size(F.col("_columns")))
    lines = (
        lines.withColumn("is_blank", ~F.col("is_header") & F.coalesce(C.is_blank(line), F.lit(False)))
        .withColumn("is_malformed", F.when(~F.col("is_blank") & ~F.col("is_header"), is_malformed))
        .withColumn("_cells", F.when(~F.col("is_header"), cells))
    )

    def raw(path, types):
        position = F.array_position(F.col("_columns"), path[0]).cast("int")
        return F.when(position > 0, F.get(F.col("_cells"), position - 1))

    return lines, raw


def with_event_columns(df: DataFrame, timestamp_formats, timezone: str) -> DataFrame:
    """Derive the event's columns: `time_stamp` (UTC), `event_date`, URL host and levels.

    Values that cannot be derived are NULL (`time_stamp` for a bad timestamp,
    `has_valid_host` false for a bad URL); `with_reject_reason` names them.
    """
    # One select per stage: a value that several rules read (the URL with its scheme,
    # the host, the path's segments) is a column, computed once per line. Written as
    # one nested expression, Spark evaluated the shared parts once per use (parse_lines
    # 11.1 s against 8.3 s per 1M lines on 2 cores; docs/performance.md).
    kept = df.columns
    schemed = df.select(
        *kept,
        C.parse_timestamp(F.col("timestamp_text"), tuple(timestamp_formats), timezone).alias("time_stamp"),
        C.with_scheme(F.col("url")).alias("_schemed"),
    )
    parts = schemed.select(
        *kept, "time_stamp",
        C.host_of(F.col("_schemed")).alias("_host"),
        C.path_segments(C.path_of(F.col("_schemed"))).alias("_segments"),
    )
    checked = parts.select(*kept, "time_stamp", "_host", "_segments",
                           C.is_valid_host(F.col("_host")).alias("has_valid_host"))
    is_valid_host = F.col("has_valid_host")
    return checked.select(
        *kept,
        "time_stamp",
        F.to_date("time_stamp").alias("event_date"),
        "has_valid_host",
        F.when(is_valid_host, C.url_level1(F.col("_host"))).alias("url_level1"),
        F.when(is_valid_host, C.segment(F.col("_segments"), 1)).alias("url_level2"),
        F.when(is_valid_host, C.segment(F.col("_segments"), 2)).alias("url_level3"),
    )


def with_reject_reason(df: DataFrame, required: tuple[str, ...], required_properties: tuple[str, ...] = (),
                       malformed: str = "malformed_json") -> DataFrame:
    """Name the first rule a non-blank line breaks, in the documented order; NULL if none.

    `malformed` (malformed_json or malformed_csv), missing_<field> (required fields, in
    REQUIRABLE order, with missing_<property> for required properties after
    missing_url), bad_timestamp, bad_url. A blank line or a CSV header gets no reason:
    neither is a record.
    """
    # Text columns are already trimmed and NULL when empty; `url` is kept as sent.
    has_url = C.clean_text(F.col("url")).isNotNull()
    present = {"url": has_url, "timestamp": F.col("timestamp_text").isNotNull()}
    reason = (
        F.when(F.col("is_blank") | F.col("is_header"), F.lit(None))
        .when(F.col("is_too_long"), F.lit("line_too_long"))
        .when(F.col("is_bad_encoding"), F.lit("bad_encoding"))
        .when(F.col("is_malformed"), F.lit(malformed))
    )
    for canon in REQUIRABLE:
        if canon == "timestamp":
            for name in required_properties:
                reason = reason.when(F.col("properties").getItem(name).isNull(), F.lit(f"missing_{name}"))
        if canon in required:
            reason = reason.when(~present.get(canon, F.col(canon).isNotNull()), F.lit(f"missing_{canon}"))
    reason = (
        reason.when(F.col("time_stamp").isNull(), F.lit("bad_timestamp"))
        .when(has_url & ~F.col("has_valid_host"), F.lit("bad_url"))
    )
    return df.select(*df.columns, reason.alias("reason"))


def _comparable(name: str, col: Column) -> Column:
    """A column two copies can be compared on: a map as its entries sorted by key."""
    return F.array_sort(F.map_entries(col)) if name == "properties" else col


def _same(left: list[Column], right: list[Column]) -> Column:
    pairs = zip(CANONICAL_COLUMNS, left, right)
    return reduce(lambda acc, p: acc & _comparable(p[0], p[1]).eqNullSafe(_comparable(p[0], p[2])), pairs, F.lit(True))


def _is_candidate() -> Column:
    """A line that is an event so far: not blank, not a header, no reason to reject it."""
    return F.col("reason").isNull() & ~F.col("is_blank") & ~F.col("is_header")


@dataclass(frozen=True)
class KeyBounds:
    """The smallest and largest key and event_date of a batch's candidate lines: what a
    stored event must lie within to share a key with one of them.

    `stored(horizon_days)` is a predicate on the stored events, literal so that Delta
    skips files by their statistics: the key range is exact (a stored event outside it
    shares no key with the batch), and prunes the files of a feed whose ids grow with
    time. A horizon of N days also bounds event_date to the batch's dates widened by N
    days either side (partition pruning); that is not exact: a stored copy dated further
    away is not compared, so a line carrying its key is new. Opt-in, documented.
    """
    lo: str | None
    hi: str | None
    first_date: date | None
    last_date: date | None

    @classmethod
    def over(cls, rows) -> "KeyBounds":
        """The bounds of the whole batch, from `file_summary`'s rows (one per file)."""
        def least(name):
            return min((r[name] for r in rows if r[name] is not None), default=None)

        def greatest(name):
            return max((r[name] for r in rows if r[name] is not None), default=None)

        return cls(least("lo"), greatest("hi"), least("first_date"), greatest("last_date"))

    def stored(self, horizon_days: int | None = None, key: str = "event_id") -> Column:
        if self.lo is None:  # no candidate line: nothing stored can share a key
            return F.lit(False)
        within = (F.col(key) >= F.lit(self.lo)) & (F.col(key) <= F.lit(self.hi))
        if horizon_days is not None:
            within &= F.col("event_date").between(F.lit(self.first_date - timedelta(days=horizon_days)),
                                                F.lit(self.last_date + timedelta(days=horizon_days)))
        return within


def file_summary(df: DataFrame, key: str = "event_id") -> DataFrame:
    """One row per `source_file` of the parsed lines, before any classification: `lines`
    (every line read), `bytes` (their `raw_bytes`), `size` and `modified` (the file as
    the read saw it), and the key and event_date range of its candidate lines (`lo`,
    `hi`, `first_date`, `last_date`; NULL without candidates). The accounting's line
    counts and the dedup's `KeyBounds.over(...)` in one small aggregate."""
    candidate = _is_candidate()
    size, modified = schemas.READ_AT
    return df.groupBy("source_file").agg(
        F.count(F.lit(1)).alias("lines"), F.sum("raw_bytes").alias("bytes"),
        F.max(size).alias("size"), F.max(modified).alias("modified"),
        F.min(F.when(candidate, F.col(key))).alias("lo"), F.max(F.when(candidate, F.col(key))).alias("hi"),
        F.min(F.when(candidate, F.col("event_date"))).alias("first_date"),
        F.max(F.when(candidate, F.col("event_date"))).alias("last_date"),
    )


def keys_to_compare(df: DataFrame, existing: DataFrame, key: str = "event_id", probe: bool = False) -> DataFrame:
    """The keys whose lines need comparing copy by copy: keys that more than one
    candidate line carries, and keys already in `existing`. One column, `key`.

    Usually a small share of the lines: every other candidate line is the only copy of
    a new key, hence `new` without a comparison. Finding these keys shuffles the keys
    alone, never whole lines.

    `probe`: find the stored keys by a broadcast of the batch keys' 64-bit hashes
    (`xxhash64`, 8 bytes a key) instead of a shuffle join, so the stored keys, however
    many, are read and never shuffled; the few stored keys whose hash matches are then
    joined to the batch's keys exactly (a hash collision only costs that join a row).
    For a batch whose hashes fit the driver's memory: the caller decides.
    """
    keys = df.where(_is_candidate()).select(key)
    repeated = keys.groupBy(key).count().where(F.col("count") > 1).select(key)
    if probe:
        hashes = F.broadcast(keys.select(F.xxhash64(key).alias("_hash")))
        stored = (existing.select(key).join(hashes, F.xxhash64(F.col(key)) == F.col("_hash"), "left_semi")
                  .join(keys, on=key, how="left_semi"))
    else:
        stored = existing.select(key).join(keys, on=key, how="left_semi")
    return repeated.unionByName(stored).distinct()


def with_dedup_status(df: DataFrame, existing: DataFrame, key: str = "event_id",
                      compare: DataFrame | None = None,
                      keep: Callable[[DataFrame], DataFrame] | None = None) -> DataFrame:
    """Give every line a `status`: blank, rejected, new or duplicate.

    Among lines with no reason, an event whose key is already in `existing` is a
    duplicate when all CANONICAL_COLUMNS equal the stored copy, else it is rejected as
    `conflicting_duplicate`: the stored copy wins. A key new to the table keeps its
    first copy by (source_file, line_order) as `new`; later copies are duplicates when
    identical to that first copy and conflicting otherwise.

    Without `compare`, every candidate line goes through the comparison: a join with
    `existing` and a window by key over all lines. With `compare` (the keys of
    `keys_to_compare`, possibly broadcast), only the lines of those keys do; every other
    candidate line is the only copy of a key new to the table, hence `new`. Same result;
    the second form is for big batches whose `df` the caller has persisted, since it
    reads `df` more than once. `keep` (with `compare`): applied to the compared lines,
    for a caller that reads the result several times to persist that small, costly
    branch (a join and a window) once.
    """
    columns = [c for c in df.columns if c != "reason"]
    keyed = df.withColumn("_key", F.when(_is_candidate(), F.col(key)))
    if compare is None:
        return _compared(keyed, existing, key, columns)
    marked = keyed.join(
        compare.select(F.col(key).alias("_compare")), on=F.col("_key") == F.col("_compare"), how="left"
    )
    # A candidate line without a key to compare is the only copy of a new key.
    single = _with_status(marked.where(F.col("_compare").isNull()), columns,
                          is_new=F.lit(True), is_duplicate=F.lit(False))
    compared = _compared(
        marked.where(F.col("_compare").isNotNull()), existing.join(compare, on=key, how="left_semi"), key, columns
    )
    return single.unionByName(keep(compared) if keep else compared)


def _with_status(keyed: DataFrame, columns: list[str], is_new: Column, is_duplicate: Column) -> DataFrame:
    """`columns` of `keyed` with `status` and `reason`, given for candidate lines (those
    with a `_key`) whether each is new and whether it is a duplicate."""
    is_candidate = F.col("_key").isNotNull()
    status = (
        F.when(F.col("is_blank"), F.lit("blank"))
        .when(F.col("is_header"), F.lit("header"))
        .when(~is_candidate, F.lit("rejected"))
        .when(is_new, F.lit("new"))
        .when(is_duplicate, F.lit("duplicate"))
        .otherwise(F.lit("rejected"))
    )
    reason = F.when(is_candidate & ~is_new & ~is_duplicate, F.lit("conflicting_duplicate")).otherwise(
        F.col("reason")
    )
    return keyed.select(*columns, status.alias("status"), reason.alias("reason"))


def _compared(keyed: DataFrame, existing: DataFrame, key: str, columns: list[str]) -> DataFrame:
    """`with_dedup_status` by comparison: `keyed` has `_key`, the key of candidate lines
    (NULL for blank and rejected lines); every keyed line is compared with the stored
    copy and with the first copy of its key."""
    prev = existing.select(*[F.col(c).alias(f"_prev_{c}") for c in CANONICAL_COLUMNS])
    joined = keyed.join(prev, on=F.col("_key") == F.col(f"_prev_{key}"), how="left")
    first_copy = (
        Window.partitionBy("_key")
        .orderBy("source_file", "line_order")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    first = F.first(F.struct(*CANONICAL_COLUMNS)).over(first_copy)
    current = [F.col(c) for c in CANONICAL_COLUMNS]
    is_stored = F.col(f"_prev_{key}").isNotNull()
    same_as_stored = _same(current, [F.col(f"_prev_{c}") for c in CANONICAL_COLUMNS])
    same_as_first = _same(current, [first.getField(c) for c in CANONICAL_COLUMNS])
    is_first = F.row_number().over(first_copy) == 1
    is_duplicate = F.when(is_stored, same_as_stored).when(is_first, F.lit(False)).otherwise(same_as_first)
    is_new = ~is_stored & is_first
    return _with_status(joined, columns, is_new, is_duplicate)
