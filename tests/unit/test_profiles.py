"""Source profiles, in plain Python: a bad profile names its problem; the PII salt
comes from the environment."""

import pytest

from clickstream.runs import events
from clickstream.config.errors import UsageError
from clickstream.config.profiles import parse_profile

from helpers import CHECKOUT, CONF_DIR


@pytest.mark.parametrize("change, message", [
    ({"format": "xml"}, "format 'xml' is not supported (supported: json, csv)"),
    ({"fields": {**CHECKOUT["fields"], "event_id": {"path": "order"}}},
     "field 'event_id': a csv profile names its fields with 'column', not 'path'"),
    ({"required": ["event_id", "user_id", "activity", "timestamp", "coupon"]},
     "'coupon' cannot be required: it is neither a requirable field"),
    ({"required": ["event_id", "activity", "timestamp"]}, "'user_id' must be required"),
    ({"properties": {"url": {"column": "page"}}}, "bad property name 'url'"),
    ({"fields": {**CHECKOUT["fields"], "user_id": {"column": "customer", "pii": "md5"}}},
     "field 'user_id': 'pii' must be one of sha256"),
    ({"csv": {"delimiter": "|", "header": False}}, "must list its 'csv.columns'"),
    ({"url_base": "shop.example.com"}, "'url_base' 'shop.example.com' must be an absolute URL ending in '/'"),
])
def test_bad_profiles_name_the_problem(change, message):
    with pytest.raises(UsageError, match=None) as err:
        parse_profile({**CHECKOUT, **change}, "checkout.json")
    assert str(err.value).startswith("checkout.json: ") and message in str(err.value)


def test_the_pii_salt_comes_from_the_environment_and_is_required(monkeypatch):
    args = ["--input", "in", "--warehouse", "wh", "--source", "app_events"]
    monkeypatch.delenv("CLICKSTREAM_PII_SALT", raising=False)
    with pytest.raises(UsageError) as err:
        events.parse_args(args, str(CONF_DIR))
    assert str(err.value) == (
        "profile app_events hashes PII (user_id) and CLICKSTREAM_PII_SALT is not set: set it (a secret, the same "
        "for every run into this warehouse), or pass --allow-unsalted to hash without one, which a dictionary "
        "attack reverses")
    unsalted = events.parse_args([*args, "--allow-unsalted"], str(CONF_DIR))
    assert (unsalted.pii_salt, unsalted.allow_unsalted) == ("", True)
    assert events.parse_args(["--input", "in", "--warehouse", "wh"], str(CONF_DIR)).pii_salt == ""  # no PII: no need
    monkeypatch.setenv("CLICKSTREAM_PII_SALT", "pepper")
    assert events.parse_args(args, str(CONF_DIR)).pii_salt == "pepper"


def test_the_salt_fingerprint_is_stable_and_keeps_nothing_of_the_salt():
    a = events.salt_fingerprint("pepper")
    assert a == events.salt_fingerprint("pepper") != events.salt_fingerprint("pepper2")
    assert a.startswith("pbkdf2-sha256:") and len(a) == len("pbkdf2-sha256:") + 32 and "pepper" not in a
    assert events.salt_fingerprint("") == "unsalted"
