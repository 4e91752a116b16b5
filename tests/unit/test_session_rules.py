"""Session rules in plain Python: what each profile carries, bad rules named, flags
winning over the profile."""

import json

import pytest

from clickstream.runs import sessions
from clickstream.config.errors import UsageError
from clickstream.config.profiles import SessionRules, load_profile, parse_profile

from helpers import CONF_DIR


def test_profiles_carry_the_session_rules():
    assert {n: load_profile(CONF_DIR, n).sessions.as_dict() for n in
            ("hipages", "app_events", "impressions", "mobile_events")} == {
        "hipages": {"gap_minutes": 30, "conversion": None, "device": None},
        "app_events": {"gap_minutes": 30, "conversion": "meeting_scheduled", "device": None},
        "impressions": {"gap_minutes": 30, "conversion": None, "device": None},
        "mobile_events": {"gap_minutes": 15, "conversion": "Ride Started|Ride Done|Rating Screen",
                          "device": "device_id"},
    }


@pytest.mark.parametrize("sessions_spec, message", [
    ({"gap_minutes": 0}, "'sessions.gap_minutes' 0 must be a whole number of minutes, 1 or more"),
    ({"conversion": ""}, "'sessions.conversion' must be a non-empty regular expression"),
    ({"device_property": "phone"}, "'sessions.device_property' 'phone' is not one of the profile's 'properties'"),
    ({"gap": 5}, "'sessions' must be an object with 'gap_minutes', 'conversion' and 'device_property'"),
])
def test_bad_session_rules_name_the_problem(sessions_spec, message):
    raw = json.loads((CONF_DIR / "sources" / "mobile_events.json").read_text())
    with pytest.raises(UsageError) as err:
        parse_profile({**raw, "sessions": sessions_spec}, "p.json")
    assert str(err.value).startswith(f"p.json: {message}")


def test_flags_win_over_the_profile():
    cfg = sessions.parse_args(["--warehouse", "w", "--source", "mobile_events", "--gap-minutes", "5",
                               "--conversion", "Done"])
    assert sessions.rules_by_source(cfg, ["mobile_events", "hipages"]) == {
        "mobile_events": SessionRules(5, "Done", "device_id"), "hipages": SessionRules(5, "Done", None)}
