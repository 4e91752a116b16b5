"""Command-line plumbing shared by the jobs: one-line errors and documented exit codes.

Exit codes: 0 success; 1 anything unexpected; 2 bad arguments, a bad profile, or an
input path that matches nothing; 3 the reject rate is above --max-reject-rate.

`python -m clickstream.config.cli check jobs/<job>.py ARGS` runs a job's argument checks in
plain Python and exits with the job's code for them (0: they pass), without starting
Spark: spark-submit.sh runs it before it starts a JVM, so a typo costs under a second.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import runpy
import sys
from datetime import date, datetime, timezone

from clickstream.config.errors import JobFailed, UsageError

EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, EXIT_REJECT_RATE = 0, 1, 2, 3
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad argument raises UsageError instead of printing usage and exiting."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def run_id(value: str | None = None) -> str:
    """Validate a --run-id, or make one: '20261123T145256Z-3f2a1c'."""
    if value is None:
        import secrets

        return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
    if not _RUN_ID.match(value):
        raise UsageError(f"bad --run-id {value!r}: use letters, digits, '.', '_' or '-' (at most 128)")
    return value


def fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a fraction between 0 and 1")
    return number


def parse_date(value: str, what: str = "date") -> date:
    """A YYYY-MM-DD day; UsageError naming `what` (an option such as '--from') if not."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"bad {what} {value!r}: use YYYY-MM-DD") from None


def date_range(value_from: str | None, value_to: str | None) -> tuple[date | None, date | None]:
    """--from and --to that go together: both YYYY-MM-DD days in order, or both absent."""
    date_from = parse_date(value_from, "--from") if value_from else None
    date_to = parse_date(value_to, "--to") if value_to else None
    if bool(date_from) != bool(date_to):
        raise UsageError("--from and --to go together")
    if date_from and date_from > date_to:
        raise UsageError(f"--from {date_from} is after --to {date_to}")
    return date_from, date_to


def _whole_number(value: str, least: int, what: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = least - 1
    if number < least:
        raise argparse.ArgumentTypeError(f"{value!r} is not {what}")
    return number


def positive_int(value: str) -> int:
    return _whole_number(value, 1, "a positive whole number")


def non_negative_int(value: str) -> int:
    return _whole_number(value, 0, "a whole number of 0 or more")


# CLICKSTREAM_VERBOSE=1 brings back everything the console leaves out by default:
# Ivy's resolution report (spark-submit.sh), Spark's INFO logs, py4j's.
VERBOSE_ENV = "CLICKSTREAM_VERBOSE"


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def setup_logging() -> None:
    """The jobs' own INFO lines (what a run is doing) on stderr; py4j's only when verbose."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not verbose():
        # py4j's chatter, and matplotlib's "generated new fontManager" on a fresh machine.
        for name in ("py4j", "matplotlib"):
            logging.getLogger(name).setLevel(logging.WARNING)


# Set by `check_args`: a job parses and validates its arguments, then stops before Spark.
CHECK_ONLY_ENV = "CLICKSTREAM_CHECK_ARGS_ONLY"
# What spark-submit itself puts on the driver's path (pyspark, py4j, and delta from the
# delta-spark jar that --packages fetches): a Python without them cannot check arguments.
SPARK_PROVIDED = ("pyspark", "py4j", "delta")


# What the storage says when it refuses a write: the JVM's (or Python's) words for a
# read-only or full file system, or a missing permission. Found anywhere in an error's
# text (a Spark job's failure carries its task's cause several lines down).
_STORAGE_REFUSALS = ("No space left on device", "Disk quota exceeded", "Read-only file system", "Permission denied",
                     "AccessDeniedException", "Access Denied", "AccessDenied")
_EXCEPTION_AT = re.compile(r"([\w.$]+(?:Exception|Error): )")


def storage_refusal(err: BaseException) -> str | None:
    """The line that says the storage refused a write or read, cut to its innermost
    `SomeException: message`; None for any other failure."""
    for line in str(err).splitlines():
        for sign in _STORAGE_REFUSALS:
            at = line.find(sign)
            if at >= 0:
                starts = [m.start() for m in _EXCEPTION_AT.finditer(line, 0, at)]
                return line[starts[-1] if starts else 0:].strip()
    return None


def guarded(parse_args, main, argv, prog: str) -> int:
    """`main(parse_args(argv))`, with known errors as one line on stderr and a documented
    exit code: UsageError 2, JobFailed 1, storage that refuses (read-only, full, no
    permission) 1; anything else logs its traceback, exit 1.
    With CLICKSTREAM_CHECK_ARGS_ONLY set, stop after the arguments are checked."""
    setup_logging()
    try:
        cfg = parse_args(argv)
        if os.environ.get(CHECK_ONLY_ENV):
            return EXIT_OK
        return main(cfg)
    except UsageError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except JobFailed as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_UNEXPECTED
    except Exception as err:  # noqa: BLE001 - the last line of defence: log and exit 1
        if "Java gateway process exited" in str(err) or "JAVA_GATEWAY_EXITED" in str(err):
            print(f"{prog}: error: Spark could not start a JVM; install Java 17+ "
                  "(Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless)", file=sys.stderr)
            return EXIT_UNEXPECTED
        refusal = storage_refusal(err)
        if refusal:
            print(f"{prog}: error: the storage refused: {refusal} (a Delta commit is all or nothing: no table "
                  "holds half of one; run again once the storage takes writes)", file=sys.stderr)
            return EXIT_UNEXPECTED
        logging.getLogger(prog).exception("%s failed", prog)
        return EXIT_UNEXPECTED


def check_args(job_file: str, argv: list[str]) -> int:
    """Run `job_file` (jobs/<job>.py) as __main__ with `argv`, stopping after its
    argument checks: its exit code, or 0 when this Python lacks what spark-submit
    provides the driver (the driver then checks the arguments itself)."""
    os.environ[CHECK_ONLY_ENV] = "1"
    sys.argv = [job_file, *argv]
    try:
        runpy.run_path(job_file, run_name="__main__")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] in SPARK_PROVIDED:
            return EXIT_OK
        raise
    return EXIT_OK


if __name__ == "__main__":
    if sys.argv[1:2] != ["check"] or len(sys.argv) < 3:
        sys.exit("usage: python -m clickstream.config.cli check jobs/<job>.py [job options]")
    sys.exit(check_args(sys.argv[2], sys.argv[3:]))
