"""Anomaly flags: a day whose value is an outlier against the trailing days of its own series.

A day is flagged when both hold:

    robust z-score  |x - median| / (1.4826 * MAD) > THRESHOLD (3.5), over the WINDOW (14)
                    days before it: the median and the median absolute deviation are
                    not moved by the outliers they are looking for, as a mean and a
                    standard deviation would be;
    relative floor  |x - median| >= MIN_CHANGE (25%) of the median, so that a very flat
                    series does not flag noise (and, for a rate, also at least
                    `min_step`, an absolute floor: 0.002 more rejects per record
                    against a median of 0.0001 is not news).

MAD = 0 (more than half of the trailing days are equal) falls back to 1.2533 * the
mean absolute deviation (Iglewicz and Hoaglin's rule); when that is 0 too, the history
is constant, every change scores infinity, and the floors alone decide. A day is
judged only with at least MIN_HISTORY trailing values, and never the current, partial
day. This is plain Python over at most a few hundred daily totals per series, which
the report has already aggregated in Spark and brought to the driver for its charts.
"""
from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import asdict, dataclass

WINDOW = 14
MIN_HISTORY = 7
THRESHOLD = 3.5
MIN_CHANGE = 0.25
MAD_SCALE = 1.4826  # MAD * 1.4826 estimates the standard deviation of normal data
MEAN_AD_SCALE = 1.2533  # mean absolute deviation * 1.2533 does (sqrt(pi / 2))


@dataclass(frozen=True)
class Flag:
    """A flagged day. `score` is None when the trailing days were all equal (infinite)."""
    source: str
    day: str
    metric: str  # 'events' or 'reject_rate'
    value: float
    median: float
    score: float | None
    change: float | None  # (value - median) / median; None when the median is 0

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.metric == "events":
            what = f"{self.value:,.0f} events against a median of {self.median:,.0f}"
        else:
            what = f"a reject rate of {self.value:.2%} against a median of {self.median:.2%}"
        change = "" if self.change is None else f" ({self.change:+.0%})"
        score = "a constant history" if self.score is None else f"robust z {self.score:.1f}"
        return f"{self.day} {self.source}: {what}{change}, {score}"


def score(value: float, history: list[float]) -> tuple[float, float]:
    """(median, robust z-score) of `value` against `history`; the score is math.inf for
    any change from a constant history, and 0 for no change."""
    median = statistics.median(history)
    deviation = abs(value - median)
    if deviation == 0:
        return median, 0.0
    mad = statistics.median(abs(h - median) for h in history)
    scale = MAD_SCALE * mad if mad > 0 else MEAN_AD_SCALE * statistics.fmean(abs(h - median) for h in history)
    return median, (deviation / scale if scale > 0 else math.inf)


def flag_series(source: str, metric: str, values: dict[dt.date, float], judged: list[dt.date],
                min_step: float = 0.0) -> list[Flag]:
    """The flags among the `judged` days of one series. `values` holds every day that
    has a value (a day missing from it has none and is not part of any history; a
    series where a quiet day means 0 passes that 0)."""
    flags = []
    for day in judged:
        if day not in values:
            continue
        history = [values[d] for d in (day - dt.timedelta(days=k) for k in range(WINDOW, 0, -1)) if d in values]
        if len(history) < MIN_HISTORY:
            continue
        value = values[day]
        median, z = score(value, history)
        deviation = abs(value - median)
        if z > THRESHOLD and deviation >= MIN_CHANGE * median and deviation >= min_step:
            flags.append(Flag(source=source, day=day.isoformat(), metric=metric, value=value, median=median,
                              score=None if math.isinf(z) else round(z, 2),
                              change=round((value - median) / median, 4) if median else None))
    return flags
