"""A quiet console: what spark-submit.sh relays of spark-submit's own output.

    spark-submit ... > >(python -m clickstream.deploy.console stdout) 2> >(python -m clickstream.deploy.console stderr >&2)

A job's console holds its own lines, warnings and errors. Left out (unless
CLICKSTREAM_VERBOSE=1, when spark-submit.sh runs no filter at all):

- Ivy's resolution report on stderr: the settings it loaded, each module found, the
  table of modules, the retrieve summary. A download, Ivy's problems summary and any
  line that says WARN, ERROR, UNRESOLVED, not found or FAILED still show, as does
  anything after the report (a failed resolution's exception, for one);
- Ivy's first line, which it prints on stdout before spark-submit points it at stderr;
- the JVM's note that Spark enables an incubator module;
- DataSketches' note that on Java 17 it runs without off-heap memory (it needs none here),
  on either stream.

Lines are relayed as bytes, one at a time as they come, so that a line a job prints
(a pause point's, say) reaches the reader at once. The filter ignores SIGINT: after a
Ctrl-C it relays the JVM's last lines and ends with its input.
"""
from __future__ import annotations

import re
import signal
import sys
from typing import Iterable, Iterator

IVY_FIRST_LINE = re.compile(rb"^:: loading settings :: ")
_IVY_START = re.compile(rb"^(:: loading settings :: |Ivy Default Cache set to: )")
_IVY_LINE = re.compile(rb"^(::|\t|\r?\n|Ivy Default Cache set to: |The jars for the packages stored in: "
                       rb"|[^ ]+#[^ ]+ added as a dependency\r?\n|downloading )")
_IVY_SHOWN = re.compile(rb"^downloading |WARN|ERROR|::::|UNRESOLVED|(?i:not found)|FAILED")
_JVM_NOTE = re.compile(rb"^WARNING: Using incubator modules: jdk\.incubator\.vector\r?\n")
_SKETCHES_NOTE = re.compile(rb"^Warning: Java versions > Java 11 can only operate in restricted mode where no "
                            rb"off-heap operations are allowed!\r?\n")


def quiet_stderr(lines: Iterable[bytes]) -> Iterator[bytes]:
    """spark-submit's stderr without Ivy's report and the JVM's incubator note."""
    ivy = problems = False
    for line in lines:
        if _IVY_START.match(line):
            ivy = True
        if ivy and _IVY_LINE.match(line):
            if line.startswith(b":: problems summary ::"):
                problems = True
            elif line.startswith(b":: retrieving :: "):
                problems = False
            if problems or _IVY_SHOWN.search(line):
                yield line
            if b"artifacts copied" in line:
                ivy = False
            continue
        ivy = problems = False
        if not (_JVM_NOTE.match(line) or _SKETCHES_NOTE.match(line)):
            yield line


def quiet_stdout(lines: Iterable[bytes]) -> Iterator[bytes]:
    """spark-submit's stdout (the job's own output) without Ivy's first line."""
    return (line for line in lines if not (IVY_FIRST_LINE.match(line) or _SKETCHES_NOTE.match(line)))


FILTERS = {"stdout": quiet_stdout, "stderr": quiet_stderr}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in FILTERS:
        print("usage: python -m clickstream.deploy.console stdout|stderr", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout.buffer
    for line in FILTERS[argv[0]](iter(sys.stdin.buffer.readline, b"")):
        out.write(line)
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
