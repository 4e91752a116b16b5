"""Pause points for the crash tests: `CLICKSTREAM_PAUSE_AT=<point>` makes a job print
`clickstream: paused at <point>` and wait there, so that a test can SIGKILL it at
exactly that point. With `CLICKSTREAM_RESUME_FILE=PATH` too, the paused job goes on
once PATH exists (a local path), so that a test can change the world at that point
and watch what the run makes of it. Unset (always, outside tests), `point()` does nothing.

Points, in the order a run passes them:
    reading            the input is listed (and a stream's batch planned), nothing read yet
    rejects_committed  the rejects commit is made, the events commit is not
    events_writing     the events transaction has begun, at the version the batch was
                       classified at; nothing of it is written
    events_committed   the events commit is made; a stream's batch is not yet recorded
                       in its checkpoint, and no run report is written
    stats_committed    (hourly_stats) the stats commit is made, the run report is not
    staging_created    (export) the staging table exists, Spark has not written it
    staging_written    (export) the staging table is written and counted; the target's
                       transaction has not begun
"""
from __future__ import annotations

import os
import sys
import time

ENV = "CLICKSTREAM_PAUSE_AT"
RESUME_ENV = "CLICKSTREAM_RESUME_FILE"
POINTS = ("reading", "rejects_committed", "events_writing", "events_committed", "stats_committed", "staging_created",
          "staging_written")


def point(name: str) -> None:
    if name not in POINTS:
        raise ValueError(f"unknown pause point {name!r}")
    if os.environ.get(ENV) == name:
        print(f"clickstream: paused at {name}", file=sys.stderr, flush=True)
        resume = os.environ.get(RESUME_ENV)
        while not (resume and os.path.exists(resume)):
            time.sleep(0.05 if resume else 60)
        print(f"clickstream: resumed at {name}", file=sys.stderr, flush=True)
