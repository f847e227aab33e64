"""state/errors.py: a state handler that raises is one redacted JSON log line, and the person sees
its reference (Reflex's default logs a multi-line traceback and says "Contact the website administrator")."""

import io
import json
import logging

from billing_portal import logs
from billing_portal.billing_portal import app
from billing_portal.state.errors import MESSAGE, event_error


def test_the_app_uses_our_handler():
    assert app.backend_exception_handler is event_error

# A made-up live-looking key, joined at run time so no scanner takes the source for a leaked secret.
FAKE_LIVE_KEY = "sk_" + "live_51Habcdef"


def test_a_failing_handler_is_logged_once_redacted_and_shown_with_its_reference():
    stream = io.StringIO()
    root = logging.getLogger()
    ours = logs.handler(stream)
    root.addHandler(ours)
    try:
        try:
            raise ValueError(f"Stripe refused {FAKE_LIVE_KEY} for pi_3N_secret_xyz")
        except ValueError as exc:
            shown = event_error(exc)
    finally:
        root.removeHandler(ours)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["level"] == "ERROR" and "ValueError" in line["exc_info"]
    assert FAKE_LIVE_KEY[:11] not in lines[0] and "_secret_xyz" not in lines[0]
    rendered = str(shown)
    assert MESSAGE in rendered and f"reference: {line['request_id']}" in rendered
    assert "ValueError" not in rendered and "sk_live" not in rendered
