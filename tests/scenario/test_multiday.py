"""A multi-day scenario, run by `make scenario` (and CI), not by `make test`.

Five days of a generated feed (written at run time, never stored in the repo) arrive
day by day in dated prefixes. Some files are late: they land in older prefixes with
old modification times and carry events of earlier days, some repeat events already
ingested, every file has rejects. Each day the schedule runs `events --new-files-only`
then `hourly_stats`; two of those runs are SIGKILLed through the real entry point, and
the maintain job compacts the tables half-way. At the end the warehouse must hold
exactly the tables of one clean run over all files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random

from clickstream.runs import maintain

from helpers import Job, events_args, run_events, run_stats, state, write_lines


FIRST_DAY = dt.date(2020, 1, 13)

ACTIONS = ("page_view", "button_click", "search", "booking")

URLS = ("https://www.hipages.com.au/articles", "https://www.hipages.com.au/connect/bob/service/123",
        "http://hipages.com.au/get_quotes_simple?search_str=sfdg", "https://www.homeimprovementpages.com.au/find")


def event(rng: random.Random, event_id: str, day: dt.date) -> str:
    at = dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60), rng.randrange(60)))
    user = rng.randrange(40)
    return json.dumps({"event_id": event_id, "user": {"session_id": f"s{user}-{day:%d}", "id": user, "ip": "10.0.0.1"},
                       "action": rng.choice(ACTIONS), "url": rng.choice(URLS),
                       "timestamp": at.strftime("%d/%m/%Y %H:%M:%S")})


def arrivals(root, rng: random.Random):
    """Day by day, the files that arrive: [(path, lines, modification time)]."""
    sent: list[str] = []
    days = []
    for d in range(5):
        day = FIRST_DAY + dt.timedelta(days=d)
        files = []
        for part in range(2):
            lines = [event(rng, f"{day:%m%d}-{part}-{i}", day) for i in range(60)]
            lines += ['{"event_id": "broken"', "", json.dumps({"event_id": f"nouser-{day}-{part}",
                                                                 "timestamp": "13/01/2020 10:00:00"})]
            if sent:
                lines += rng.sample(sent, 5)  # identical copies of events sent earlier
            sent += lines[:60]
            files.append((root / f"{day:%Y/%m/%d}" / f"part-{part}.json", lines, None))
        if d >= 2:  # a late file in an older prefix, with events of the two days before
            late_day = day - dt.timedelta(days=2)
            lines = [event(rng, f"late-{day:%m%d}-{i}", late_day + dt.timedelta(days=i % 2)) for i in range(20)]
            sent += lines
            old = dt.datetime.combine(late_day, dt.time()).timestamp()
            files.append((root / f"{late_day:%Y/%m/%d}" / f"late-{day:%m%d}.json", lines, old))
        days.append(files)
    return days


def deliver(files):
    for path, lines, mtime in files:
        write_lines(path, lines)
        if mtime is not None:
            os.utime(path, (mtime, mtime))


def test_five_days_with_late_files_and_kills_equal_one_clean_run(spark, hipages_profile, tmp_path):
    src, wh = tmp_path / "in", tmp_path / "wh"
    days = arrivals(src, random.Random(20200113))
    for d, files in enumerate(days):
        deliver(files)
        if d == 1:  # killed after its MERGE, before the checkpoint and report
            job = Job(events_args(src, wh, f"day{d}-killed", "--new-files-only"), pause="events_committed")
            assert job.wait() < 0 and job.killed, job.output
        if d == 3:  # killed between the rejects commit and the MERGE
            job = Job(events_args(src, wh, f"day{d}-killed", "--new-files-only"), pause="rejects_committed")
            assert job.wait() < 0 and job.killed, job.output
        rep = run_events(spark, hipages_profile, src, wh, f"day{d}", new_files_only=True)
        assert sorted(rep.input_files) == sorted(f"file:{p}" for p, _, _ in files), d
        stats = run_stats(spark, wh, f"day{d}-stats")
        assert stats["mode"] == ("full" if d == 0 else "catch_up")
        if d == 2:
            maintain.run(spark, maintain.MaintainConfig(warehouse=str(wh), vacuum=False, run_id="optimize"))

    clean_wh = tmp_path / "clean"
    run_events(spark, hipages_profile, src, clean_wh, "clean")
    run_stats(spark, clean_wh, "clean-stats")
    clean, got = state(spark, clean_wh), state(spark, wh)
    assert len(clean["events"]) == 5 * 2 * 60 + 3 * 20
    assert len(clean["rejects"]) == 5 * 2 * 2
    assert got == clean
