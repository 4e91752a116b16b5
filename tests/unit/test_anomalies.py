"""The anomaly flags' arithmetic (clickstream.report.anomalies), on hand-made series."""
from __future__ import annotations

import datetime as dt
import math
import random

import pytest

from clickstream.report import anomalies

DAY0 = dt.date(2017, 1, 1)


def series(values: list[float]) -> dict[dt.date, float]:
    return {DAY0 + dt.timedelta(days=k): v for k, v in enumerate(values)}


def judged(values) -> list[dt.date]:
    return sorted(values)


def test_score_is_the_robust_z_score():
    history = [100, 102, 98, 101, 99, 100, 103, 97, 100, 100, 104, 96, 100, 100]
    median, z = anomalies.score(90, history)
    mad = 1.0  # |h - 100|: eight 0s and one each of 1..4 twice -> the median is 1
    assert median == 100
    assert z == pytest.approx(10 / (1.4826 * mad))


def test_a_mad_of_zero_falls_back_to_the_mean_absolute_deviation():
    history = [100] * 10 + [110, 90, 120, 80]  # MAD 0: ten of fourteen equal
    median, z = anomalies.score(70, history)
    assert median == 100
    assert z == pytest.approx(30 / (1.2533 * (10 + 10 + 20 + 20) / 14))


def test_a_constant_history_scores_infinity_for_any_change_and_zero_for_none():
    assert anomalies.score(101, [100] * 14) == (100, math.inf)
    assert anomalies.score(100, [100] * 14) == (100, 0.0)


def test_a_drop_to_a_tenth_is_flagged_with_its_numbers():
    values = [1000 + 30 * ((k * 7) % 5 - 2) for k in range(21)]
    values[17] = 100
    flags = anomalies.flag_series("hipages", "events", series(values), judged(series(values)))
    assert [f.to_dict() for f in flags] == [{
        "source": "hipages", "day": "2017-01-18", "metric": "events", "value": 100, "median": 1000.0,
        "score": 20.23, "change": -0.9}]  # |100 - 1000| / (1.4826 * 30)
    assert flags[0].describe() == "2017-01-18 hipages: 100 events against a median of 1,000 (-90%), robust z 20.2"


def test_the_relative_floor_keeps_a_flat_series_from_flagging_noise():
    """A series that moves by one event in a thousand has a tiny MAD: 2% off scores far
    above 3.5, but is no news."""
    values = [1000, 1001] * 10 + [980]
    s = series(values)
    assert anomalies.score(980, values[-15:-1])[1] > 3.5
    assert anomalies.flag_series("a", "events", s, judged(s)) == []
    values[-1] = 740  # 26% off: past the floor too
    assert [f.day for f in anomalies.flag_series("a", "events", series(values), judged(s))] == ["2017-01-21"]


def test_the_absolute_floor_keeps_a_sparse_feed_quiet():
    values = [0] * 14 + [3]
    s = series(values)
    assert [f.value for f in anomalies.flag_series("a", "events", s, judged(s))] == [3]
    assert anomalies.flag_series("a", "events", s, judged(s), min_step=20) == []


def test_a_noisy_series_needs_more_than_the_floor():
    """With +-40% swings, a day 45% down is within 3.5 robust deviations."""
    values = [1000, 1400, 600, 1000, 1400, 600, 1000] * 2 + [550]
    s = series(values)
    median, z = anomalies.score(550, values[:14])
    assert (median, z < 3.5) == (1000, True)
    assert anomalies.flag_series("a", "events", s, judged(s)) == []


def test_a_day_needs_seven_trailing_values_and_only_judged_days_are_judged():
    values = [1000] * 6 + [10]
    assert anomalies.flag_series("a", "events", series(values), judged(series(values))) == []
    values = [1000] * 7 + [10]
    s = series(values)
    assert [f.day for f in anomalies.flag_series("a", "events", s, judged(s))] == ["2017-01-08"]
    assert anomalies.flag_series("a", "events", s, judged(s)[:-1]) == []  # the same day, not judged (today)


def test_days_without_a_value_are_not_part_of_the_history():
    """A reject rate exists only on days with runs: the gaps are skipped, not zeros."""
    rates = {DAY0 + dt.timedelta(days=2 * k): 0.01 + 0.001 * (k % 3) for k in range(8)}
    day = DAY0 + dt.timedelta(days=16)
    rates[day] = 0.05
    flags = anomalies.flag_series("a", "reject_rate", rates, [day], min_step=0.005)
    # the 7 values of days 3..15: 0.011, 0.012, 0.010, ... (MAD 0.001)
    assert [(f.day, f.value, f.median, f.score) for f in flags] == [("2017-01-17", 0.05, 0.011, 26.31)]
    assert flags[0].describe() == "2017-01-17 a: a reject rate of 5.00% against a median of 1.10% (+355%), robust z 26.3"


def test_sixty_days_of_ordinary_variation_flag_nothing_and_a_tenth_flags_one_day():
    rng = random.Random(7)
    values = [round(10000 * (0.9 if k % 7 in (5, 6) else 1.0) * rng.gauss(1, 0.05)) for k in range(60)]
    s = series(values)
    assert anomalies.flag_series("a", "events", s, judged(s), min_step=20) == []
    values[40] = values[40] // 10
    assert [f.day for f in anomalies.flag_series("a", "events", series(values), judged(s), min_step=20)] == \
        ["2017-02-10"]
