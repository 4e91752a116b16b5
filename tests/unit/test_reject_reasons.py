"""The reject reasons, in their documented order (README, "Rules")."""

from clickstream.rules import events as event_rules


def test_reasons_are_listed_in_order():
    assert event_rules.REASONS == (
        "line_too_long", "bad_encoding", "malformed_json", "malformed_csv", "missing_event_id", "missing_user_id", "missing_activity", "missing_url",
        "missing_timestamp", "bad_timestamp", "bad_url", "conflicting_duplicate",
    )
