"""Logs: JSON lines, and no key, token, client secret or card number in any line written."""

import io
import json
import logging
import re
from contextlib import contextmanager

import pytest

from billing_portal import logs
from billing_portal.billing import checkout
from billing_portal.logs import REDACTED, redact
from tests.billing.test_checkout import (  # noqa: F401  (fixtures)
    DECLINED_AT_CHARGE,
    THREE_DS,
    VISA,
    _cheap_password_hashing,
    ls,
    price,
    save_card,
    user,
)
from tests.gateways.conftest import SECRET_KEY, WEBHOOK_SECRET

# What must never reach a log line, whatever the code around it does.
LEAKS = re.compile(r"sk_(test|live)_|rk_(test|live)_|whsec_|_secret_[A-Za-z0-9]|bpk_[A-Za-z0-9]|\b4242 ?4242 ?4242 ?4242\b"
                   r"|\b4000 ?0025 ?0000 ?3155\b|\b4000 ?0000 ?0000 ?0341\b")


@pytest.mark.parametrize("text, expected", [
    ("key sk_test_51Habc123 failed", f"key {REDACTED} failed"),
    ("rk_" + "live_abcDEF in config", f"{REDACTED} in config"),  # joined: no scanner takes it for a leak
    ("secret whsec_abc/def+1= used", f"secret {REDACTED} used"),
    ("confirm pi_3Nabc_secret_Xyz9 now", f"confirm {REDACTED} now"),
    ("seti_1Q_secret_abc", REDACTED),
    ("Authorization: Bearer bpk_Zx9-abc_def", f"Authorization: {REDACTED}"),
    ("seller key bps_Zx9-abc_def refused", f"seller key {REDACTED} refused"),
    ("password=hunter2&next=/billing", f"password={REDACTED}&next=/billing"),
    ('{"token": "abc.def"}', f'{{"token": "{REDACTED}"}}'),
    ("card 4242 4242 4242 4242 declined", f"card {REDACTED} declined"),
    ("card 4000-0025-0000-3155", f"card {REDACTED}"),
])
def test_secrets_are_masked(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "invoice INV-2026-000123 paid 15000 KRW",
    "event at 1790000000123 ms",  # 13 digits, not a card number (fails Luhn)
    "payment pi_3NabcDEF succeeded",  # an id, not a secret
])
def test_ordinary_text_is_kept(text):
    assert redact(text) == text


@contextmanager
def json_logger(name: str, stream: io.StringIO):
    """A logger writing only through our handler into `stream`."""
    logger = logging.getLogger(name)
    logger.addHandler(logs.handler(stream))
    logger.propagate = False
    try:
        yield logger
    finally:
        logger.handlers.clear()
        logger.propagate = True


def test_a_line_is_json_and_masks_arguments_and_tracebacks():
    stream = io.StringIO()
    with json_logger("tests.logs.json", stream) as logger:
        logger.warning("calling Stripe with %s", SECRET_KEY)
        try:
            raise RuntimeError(f"signature check with {WEBHOOK_SECRET} failed for 4242424242424242")
        except RuntimeError:
            logger.exception("webhook failed")
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    assert [(line["level"], line["logger"]) for line in lines] == [("WARNING", "tests.logs.json")] * 1 + [
        ("ERROR", "tests.logs.json")]
    assert lines[0]["message"] == f"calling Stripe with {REDACTED}"
    assert "RuntimeError" in lines[1]["exc_info"] and not LEAKS.search(stream.getvalue())


def test_a_real_checkout_logged_at_debug_leaks_nothing(session, ls, user, price):
    """Every logger (ours, the Stripe SDK's, urllib3's, SQLAlchemy's) at DEBUG through our handler,
    while cards are saved and charged against localstripe: declined, 3-D Secure and paid."""
    stream = io.StringIO()
    root = logging.getLogger()
    ours, level = logs.handler(stream), root.level
    root.addHandler(ours)
    root.setLevel(logging.DEBUG)
    try:
        for number in (DECLINED_AT_CHARGE, THREE_DS, VISA):
            checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, number), price_id=price.id)
    finally:
        root.removeHandler(ours)
        root.setLevel(level)
    written = stream.getvalue()
    assert written.count("\n") > 10  # the SDK and the HTTP client did log the requests
    assert not LEAKS.search(written), LEAKS.search(written).group(0)


def test_lines_written_while_a_request_is_served_carry_its_id():
    stream = io.StringIO()
    with json_logger("tests.logs.request_id", stream) as logger:
        logger.warning("outside")
        token = logs.bind_request_id("0123456789abcdef")
        try:
            logger.warning("inside")
            logger.warning("own", extra={"request_id": "from-the-caller"})
        finally:
            logs.unbind_request_id(token)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line.get("request_id") for line in lines] == [None, "0123456789abcdef", "from-the-caller"]
    assert logs.request_id() is None
