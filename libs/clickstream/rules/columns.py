"""Column functions: one field's rule each, `Column -> Column`, no UDFs.

Every function here is a plain Spark expression, safe under ANSI mode (Spark 4):
bad values become NULL, which the transforms turn into reject reasons.
"""
from __future__ import annotations

import pyspark.sql.functions as F
from pyspark.sql import Column

# Whitespace for every rule: space, tab, CR and LF, as a regex class and as the
# characters `btrim` takes (per row, a string function costs several times less than a
# regex that says the same; see docs/performance.md).
WS = "[ \\t\\r\\n]"
WS_CHARS = " \t\r\n"
_SCHEME = "^[A-Za-z][A-Za-z0-9+.-]*://"
_HOST_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.-"
# The range an event's UTC time must fall in: [MIN_TIME, MAX_TIME).
MIN_TIME = "2000-01-01 00:00:00"
MAX_TIME = "2100-01-01 00:00:00"


def trim_ws(col: Column) -> Column:
    """Trim space, tab, CR and LF at both ends: ' \\tab\\r\\n' -> 'ab'.

    `F.trim` only trims spaces.
    """
    return F.call_function("btrim", col, F.lit(WS_CHARS))


def empty_to_null(col: Column) -> Column:
    """'' -> NULL; any other value unchanged."""
    return F.when(col != "", col)


def clean_text(col: Column) -> Column:
    """Trimmed text, NULL when empty or whitespace only: ' a ' -> 'a', ' \\t' -> NULL."""
    return empty_to_null(trim_ws(col))


def is_blank(col: Column) -> Column:
    """True for an empty or whitespace-only line: ' \\t' -> true, 'x' -> false."""
    return trim_ws(col) == ""


def with_scheme(url: Column) -> Column:
    """Trimmed URL with `http://` added when it has no `scheme://`:
    'www.a.com/x' -> 'http://www.a.com/x'."""
    trimmed = trim_ws(url)
    return F.when(trimmed.rlike(_SCHEME), trimmed).otherwise(F.concat(F.lit("http://"), trimmed))


def join_url_base(url: Column, base: str) -> Column:
    """A URL as sent, or, when it has no `scheme://`, the path joined to `base` (which
    ends in '/'): ('main/x', 'https://app.local/') -> 'https://app.local/main/x',
    ('/main/x', ...) -> the same; NULL or blank stays as it is."""
    trimmed = trim_ws(url)
    path = F.regexp_replace(trimmed, "^/+", "")
    return F.when(trimmed.rlike(_SCHEME) | (trimmed == ""), url).otherwise(F.concat(F.lit(base), path))


def url_host(url: Column) -> Column:
    """Host of a URL: after `://` up to the first '/', '?' or '#', minus `user:pass@`,
    minus `:port`, lower-cased, minus one trailing dot.

    'HTTPS://u:p@WWW.HiPages.com.au.:8443/x' -> 'www.hipages.com.au'
    """
    return host_of(with_scheme(url))


def host_of(schemed: Column) -> Column:
    """`url_host` of a URL that `with_scheme` has already given its scheme."""
    # Each step reads the one before once: a `when(contains(...), ...)` gate would copy its
    # input into three branches at every step, and the plans grow exponentially.
    authority = F.regexp_extract(schemed, f"{_SCHEME}([^/?#]*)", 1)
    no_user = F.regexp_replace(authority, "^.*@", "")
    no_port = F.regexp_replace(no_user, ":[0-9]*$", "")
    return F.regexp_replace(F.lower(no_port), "\\.$", "")


def is_valid_host(host: Column) -> Column:
    """A host of [a-z0-9.-] only, with at least one dot: 'a.com' -> true, 'localhost' -> false.
    (A line break inside the host is not allowed either: 'a.com\\n' -> false.)"""
    return (F.translate(host, _HOST_CHARS, "") == "") & host.contains(".")


def url_level1(host: Column) -> Column:
    """The host without one leading `www.`; other subdomains stay: 'www.a.com' -> 'a.com',
    'm.a.com' -> 'm.a.com'."""
    return F.regexp_replace(host, "^www\\.", "")


def url_path(url: Column) -> Column:
    """The path of a URL, without query and fragment: 'a.com/x/y?q#f' -> '/x/y'."""
    return path_of(with_scheme(url))


def path_of(schemed: Column) -> Column:
    """`url_path` of a URL that `with_scheme` has already given its scheme."""
    return F.regexp_extract(schemed, f"{_SCHEME}[^/?#]*([^?#]*)", 1)


def path_segments(path: Column) -> Column:
    """The path's '/'-separated segments, as written, empty ones left out (but for a
    trailing ''): '/Find//Plumbers/' -> ['Find', 'Plumbers', '']."""
    return F.split(F.regexp_replace(path, "^/+", ""), "/+")


def path_segment(path: Column, n: int) -> Column:
    """The n-th (1-based) non-empty '/'-separated segment, as written, or NULL:
    ('/Find//Plumbers/', 2) -> 'Plumbers', ('/a', 2) -> NULL."""
    return segment(path_segments(path), n)


def segment(segments: Column, n: int) -> Column:
    """The n-th (1-based) of `path_segments`, NULL when there is none or it is empty."""
    return empty_to_null(F.get(segments, n - 1))


def parse_timestamp(text: Column, formats: tuple[str, ...] | list[str], timezone: str) -> Column:
    """Wall-clock text in `timezone`, tried against each Spark pattern in order, to a UTC
    timestamp; NULL when no pattern matches exactly or the UTC value is outside
    [2000-01-01, 2100-01-01).

    ('02/02/2017 20:22:00', ['dd/MM/yyyy HH:mm:ss'], 'UTC') -> 2017-02-02 20:22:00
    Needs the session time zone UTC, which `build_session` sets.
    """
    local = F.coalesce(*[F.try_to_timestamp(text, F.lit(fmt)) for fmt in formats])
    utc = local if timezone == "UTC" else F.to_utc_timestamp(local, timezone)
    in_range = (utc >= _utc_literal(MIN_TIME)) & (utc < _utc_literal(MAX_TIME))
    return F.when(in_range, utc)


def _utc_literal(text: str) -> Column:
    # A string literal parsed in the session zone (UTC); a Python datetime literal
    # would be shifted by the driver machine's local zone.
    return F.to_timestamp(F.lit(text), "yyyy-MM-dd HH:mm:ss")
