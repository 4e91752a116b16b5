"""A load generator: hipages-format JSON lines from `spark.range`, deterministic per seed.

    ./spark-submit.sh generate --events N --files K --output DIR [--days D] [--users U]
                               [--bad-rate R] [--seed S] [--start YYYY-MM-DD] [--first-id I]

Row i of `spark.range(I, I + N)` becomes one record (plus a second line for the duplicate
kinds). Every value is a function of (seed, i) through `xxhash64`, so the output is the
same for a given seed on any cluster size; the K files are K range partitions, so no
shuffle and no driver work but renaming K files. A set generated with `--first-id` past
another's rows shares no event_id with it: a second day's input for the same table.

Values: users drawn with a skew (a few heavy users, a long tail), actions and pages in
the sample's proportions, timestamps over D days with a daytime peak. With probability
R a record is an anomaly, of one of `KINDS` chosen uniformly: each is a thing the
events job rejects (with that reason), counts (duplicate, blank line) or normalises
(and keeps). `kinds()` gives each record's kind, so a test can predict a run's counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream.config import cli
from clickstream.config.errors import UsageError

# kind -> what the events job does with it
REJECTED = ("malformed_json", "missing_event_id", "missing_user_id", "missing_activity", "missing_url",
            "missing_timestamp", "bad_timestamp", "bad_url")
COUNTED = ("duplicate", "conflicting_duplicate", "blank_line")
NORMALISED = ("numeric_ids", "padded_values", "url_without_scheme", "odd_host", "empty_session_and_ip")
KINDS = REJECTED + COUNTED + NORMALISED

ACTIONS = (("page_view", 47), ("button_click", 29), ("list_directory", 12), ("claim", 12))
PAGES = (("find/electricians", 23), ("get_quotes_simple", 23), ("articles", 17), ("connect/sfelectrics", 12),
         ("find/plumbers", 12), ("advertise", 6), ("photos/bathrooms", 6), ("", 1))
HOSTS = (("www.hipages.com.au", 97), ("hipages.com.au", 1), ("www.petpages.com.au", 1), ("www.somepages.com.au", 1))


@dataclass(frozen=True)
class GenerateConfig:
    events: int
    files: int
    output: str
    days: int = 7
    users: int = 100_000
    bad_rate: float = 0.01
    seed: int = 42
    start: date = date(2017, 2, 1)
    first_id: int = 0
    random_ids: bool = False


def _uniform(seed: int, salt: int) -> Column:
    """A deterministic number in [0, 1) for each row id and salt."""
    return F.pmod(F.xxhash64(F.lit(seed), F.col("id"), F.lit(salt)), F.lit(1 << 30)) / float(1 << 30)


def _pick(u: Column, weighted) -> Column:
    """The value whose cumulative weight band holds u."""
    total = float(sum(w for _, w in weighted))
    expr, edge = None, 0.0
    for value, weight in weighted:
        edge += weight / total
        expr = F.when(u < edge, F.lit(value)) if expr is None else expr.when(u < edge, F.lit(value))
    return expr.otherwise(F.lit(weighted[-1][0]))


def kinds(spark: SparkSession, cfg: GenerateConfig) -> DataFrame:
    """One row per record: `id` and its `kind` (NULL: a plain good event)."""
    bad = _uniform(cfg.seed, 1) < F.lit(cfg.bad_rate)
    which = F.floor(_uniform(cfg.seed, 2) * len(KINDS)).cast("int")
    kind = F.element_at(F.array(*[F.lit(k) for k in KINDS]), which + 1)
    return (spark.range(cfg.first_id, cfg.first_id + cfg.events, 1, cfg.files)
            .select("id", F.when(bad, kind).alias("kind")))


def _event_id(cfg: GenerateConfig) -> Column:
    """Record i's event_id: by default i in hex, then a hash (ids that grow with the
    row, so a batch's ids span a narrow range); with `random_ids`, 15 random digits, as
    hipages sends them (no order at all: a batch's ids span the whole range, and two
    sets share an id only by chance, about n*m / 10^15 ids)."""
    if cfg.random_ids:
        digits = F.pmod(F.xxhash64(F.lit(cfg.seed), F.col("id"), F.lit(30)), F.lit(10**15))
        return F.lpad(digits.cast("string"), 15, "0")
    return F.format_string("%012x%08x", F.col("id"), F.pmod(F.xxhash64(F.lit(cfg.seed), F.col("id")), F.lit(1 << 32)))


def _values(cfg: GenerateConfig) -> list[Column]:
    """The good values of each record, as text columns named by their JSON field."""
    s = cfg.seed
    user = F.floor(F.pow(_uniform(s, 10), F.lit(2.0)) * cfg.users).cast("long") + 10_000
    day = F.floor(_uniform(s, 11) * cfg.days).cast("long")
    # Daytime peak: the mean of two uniform draws puts most events in the middle of the day.
    second = F.floor((_uniform(s, 12) + _uniform(s, 13)) / 2 * 86_400).cast("long")
    start = F.unix_timestamp(F.lit(cfg.start.isoformat()), "yyyy-MM-dd")
    page = _pick(_uniform(s, 14), PAGES)
    search = F.concat(F.lit("get_quotes_simple?search_str="), F.lower(F.hex(F.pmod(F.xxhash64(user), F.lit(97)))))
    octets = [F.pmod(F.xxhash64(F.lit(s), user, F.lit(salt)), F.lit(254)) + 1 for salt in (20, 21, 22, 23)]
    return [
        _event_id(cfg).alias("event_id"),
        user.cast("string").alias("user_id"),
        F.format_string("%d-%d-%d", user, day, F.floor(second / 1800)).alias("session_id"),
        F.concat_ws(".", *[o.cast("string") for o in octets]).alias("ip"),
        _pick(_uniform(s, 15), ACTIONS).alias("action"),
        F.concat(F.lit("https://"), _pick(_uniform(s, 16), HOSTS), F.lit("/"),
                 F.when(page == "get_quotes_simple", search).otherwise(page)).alias("url"),
        F.date_format(F.timestamp_seconds(start + day * 86_400 + second), "dd/MM/yyyy HH:mm:ss").alias("timestamp"),
    ]


def _json(c: dict[str, Column]) -> Column:
    """The hipages record as one JSON line; NULL fields are left out."""
    user = F.struct(c["session_id"].alias("session_id"), c["user_id"].alias("id"), c["ip"].alias("ip"))
    return F.to_json(F.struct(c["event_id"].alias("event_id"), user.alias("user"), c["action"].alias("action"),
                              c["url"].alias("url"), c["timestamp"].alias("timestamp")))


FIELDS = ("event_id", "user_id", "session_id", "ip", "action", "url", "timestamp")


def lines(spark: SparkSession, cfg: GenerateConfig) -> DataFrame:
    """Every line to write, in order, in the K range partitions of `kinds`."""
    kind = F.col("kind")
    null = F.lit(None).cast("string")
    c = {name: F.col(name) for name in FIELDS}

    def unless(k: str, name: str) -> Column:
        return F.when(kind == k, null).otherwise(c[name])

    varied = {
        **c,
        "event_id": unless("missing_event_id", "event_id"),
        "user_id": unless("missing_user_id", "user_id"),
        "action": unless("missing_activity", "action"),
        "url": (F.when(kind == "missing_url", null)
                .when(kind == "bad_url", F.lit("https://www.hi pages.com.au/find"))
                .when(kind == "url_without_scheme", F.regexp_replace(c["url"], "^https://", ""))
                .when(kind == "odd_host", F.regexp_replace(c["url"], "^https://[^/]+", "HTTPS://WWW.HiPages.com.au.:443"))
                .otherwise(c["url"])),
        "timestamp": (F.when(kind == "missing_timestamp", null)
                      .when(kind == "bad_timestamp", F.concat(F.lit("31/02/2017 "), F.substring(c["timestamp"], 12, 8)))
                      .otherwise(c["timestamp"])),
        "session_id": F.when(kind == "empty_session_and_ip", F.lit("")).otherwise(c["session_id"]),
        "ip": F.when(kind == "empty_session_and_ip", F.lit("")).otherwise(c["ip"]),
    }
    good, text = F.col("good"), F.col("text")
    after_event_id = F.expr("substring(good, instr(good, ',') + 1)")  # good starts {"event_id":"...",
    # Numbers where the feed sometimes sends them: "event_id": 1000000000123, "id": 10456.
    numeric = F.regexp_replace(
        F.concat(F.lit('{"event_id":'), (F.col("id") + 10**12).cast("string"), F.lit(","), after_event_id),
        '"id":"([0-9]+)"', '"id":$1')
    padded = F.regexp_replace(good, '"action":"([^"]*)"', '"action":"  $1\\\\t"')  # JSON "  x\t"
    conflicting = F.regexp_replace(good, '"action":"[^"]*"', '"action":"conflicting_copy"')
    glued = F.concat(F.substring(good, 1, 40), F.lit(', {"event_id": '))  # two records glued together
    line = (F.when(kind.isNull(), F.array(good))
            .when(kind == "malformed_json", F.array(glued))
            .when(kind == "duplicate", F.array(good, good))
            .when(kind == "conflicting_duplicate", F.array(good, conflicting))
            .when(kind == "blank_line", F.array(F.lit("   ")))
            .when(kind == "numeric_ids", F.array(numeric))
            .when(kind == "padded_values", F.array(padded))
            .otherwise(F.array(text)))
    return (kinds(spark, cfg)
            .select("id", "kind", *_values(cfg))
            .select("id", "kind", _json(c).alias("good"), _json(varied).alias("text"))
            .select(F.explode(line).alias("value")))


def expected_counts(spark: SparkSession, cfg: GenerateConfig) -> dict:
    """What an events run over the whole output must report (counted by Spark, no collect
    of rows: one small aggregate)."""
    counts = {r["kind"]: r["n"] for r in kinds(spark, cfg).groupBy("kind").agg(F.count("*").alias("n")).collect()}
    rejected = {k: counts.get(k, 0) for k in REJECTED + ("conflicting_duplicate",) if counts.get(k, 0)}
    rejected_records = sum(counts.get(k, 0) for k in REJECTED)
    blank = counts.get("blank_line", 0)
    duplicates = counts.get("duplicate", 0)
    return {
        "records": cfg.events - blank + duplicates + counts.get("conflicting_duplicate", 0),
        "events_written": cfg.events - rejected_records - blank,
        "rejected": rejected,
        "duplicates": duplicates,
        "blank_lines": blank,
    }


def write(spark: SparkSession, cfg: GenerateConfig) -> list[str]:
    """Write the K files as <output>/events-00000.jsonl ...; returns their URIs."""
    from clickstream.warehouse import fs

    if fs.list_files(spark, fs.literal_path(cfg.output)):
        raise UsageError(f"--output {cfg.output} already holds files; give an empty or new directory")
    tmp = fs.join(cfg.output, "_generating")
    lines(spark, cfg).write.mode("overwrite").option("compression", "none").text(tmp)
    return fs.move_parts(spark, tmp, ".txt", lambda i: fs.join(cfg.output, f"events-{i:05d}.jsonl"))


def parser() -> cli.ArgumentParser:
    """The job's command line; the README's "Command line" synopsis and docs/reference.md show the same options."""
    parser = cli.ArgumentParser(prog="generate", description="Write generated hipages-format JSON lines.")
    parser.add_argument("--events", type=cli.positive_int, required=True, help="records to generate")
    parser.add_argument("--files", type=cli.positive_int, required=True, help="files to spread them over")
    parser.add_argument("--output", required=True, help="an empty or new directory or URI")
    parser.add_argument("--days", type=cli.positive_int, default=7, help="days the timestamps spread over (default 7)")
    parser.add_argument("--users", type=cli.positive_int, default=100_000, help="distinct users (default 100000)")
    parser.add_argument("--bad-rate", type=cli.fraction, default=0.01,
                        help="share of records that are anomalies (default 0.01)")
    parser.add_argument("--seed", type=int, default=42, help="the same seed gives the same files (default 42)")
    parser.add_argument("--start", default="2017-02-01", help="first day, YYYY-MM-DD (default 2017-02-01)")
    parser.add_argument("--first-id", type=cli.non_negative_int, default=0,
                        help="row number of the first record: sets that do not overlap share no event_id (default 0)")
    parser.add_argument("--random-ids", action="store_true",
                        help="event_id as 15 random digits, as hipages sends them (default: the row number in hex, "
                             "then a hash)")
    return parser


def parse_args(argv: list[str]) -> GenerateConfig:
    args = parser().parse_args(argv)
    if args.files > args.events:
        raise UsageError(f"--files {args.files} is more than --events {args.events}")
    return GenerateConfig(events=args.events, files=args.files, output=args.output, days=args.days,
                          users=args.users, bad_rate=args.bad_rate, seed=args.seed,
                          start=cli.parse_date(args.start, "--start"), first_id=args.first_id,
                          random_ids=args.random_ids)


def run(spark: SparkSession, cfg: GenerateConfig) -> dict:
    names = write(spark, cfg)
    summary = {"job": "generate", "events": cfg.events, "files": len(names), "output": cfg.output,
               "days": cfg.days, "users": cfg.users, "bad_rate": cfg.bad_rate, "seed": cfg.seed,
               "first_id": cfg.first_id, "random_ids": cfg.random_ids}
    print("generate " + " ".join(f"{k}={v}" for k, v in summary.items() if k != "job"))
    return summary
