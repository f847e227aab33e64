"""The webhook sender against a real receiver on loopback: signed so the official library verifies
it, no redirect followed, timeouts, and private addresses refused unless the setting allows them."""

import pytest

from billing_portal.billing.outgoing_webhooks.endpoints import new_secret
from billing_portal.gateways import webhook_sender
from billing_portal.gateways.webhook_sender import Refused, resolve_public
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings
from tests.support.webhook_receiver import Receiver

BODY = b'{"id":"msg_1","type":"customer.created"}'


@pytest.fixture
def receiver():
    started = Receiver(secret=new_secret()).start()
    yield started
    started.stop()


def allow_private(monkeypatch, allowed: bool) -> None:
    monkeypatch.setenv("OUTGOING_WEBHOOKS_ALLOW_PRIVATE", "true" if allowed else "false")
    monkeypatch.setenv("OUTGOING_WEBHOOKS_TIMEOUT_SECONDS", "1")
    get_settings.cache_clear()


def send(receiver, url=None):
    return webhook_sender.send(url or receiver.url, receiver.secret, "msg_1", BODY, at=utcnow())


def test_a_signed_post_verifies_with_the_official_library(monkeypatch, receiver):
    allow_private(monkeypatch, True)
    outcome = send(receiver)
    assert outcome.ok and outcome.status_code == 204 and outcome.error == ""
    (got,) = receiver.received
    assert got.verified and got.body == BODY
    assert got.headers["webhook-id"] == "msg_1" and got.headers["content-type"] == "application/json"
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"


def test_another_secret_does_not_verify(monkeypatch, receiver):
    allow_private(monkeypatch, True)
    webhook_sender.send(receiver.url, new_secret(), "msg_1", BODY, at=utcnow())
    assert [r.verified for r in receiver.received] == [False]


def test_loopback_and_private_addresses_are_refused_by_default(monkeypatch, receiver):
    allow_private(monkeypatch, False)
    for url in (receiver.url, f"http://localhost:{receiver.port}/hooks", "http://10.0.0.7/x",
                "http://169.254.169.254/latest/meta-data", "http://[::1]:9/x", "http://[::ffff:127.0.0.1]:9/x",
                "http://0.0.0.0:9/x", "http://192.168.1.1/x"):
        outcome = send(receiver, url)
        assert not outcome.ok and outcome.error.startswith("refused:"), url
    assert receiver.arrived == []


def test_only_http_and_https(monkeypatch, receiver):
    allow_private(monkeypatch, True)
    assert "only http" in send(receiver, "file:///etc/passwd").error


def test_public_addresses_pass_the_check():
    assert resolve_public("8.8.8.8", 443, allow_private=False) == "8.8.8.8"
    with pytest.raises(Refused):
        resolve_public("224.0.0.1", 80, allow_private=True)  # multicast: never


def test_a_redirect_is_a_failure_and_not_followed(monkeypatch, receiver):
    allow_private(monkeypatch, True)
    receiver.script = [("redirect", f"http://127.0.0.1:{receiver.port}/other")]
    outcome = send(receiver)
    assert not outcome.ok and outcome.status_code == 302 and "not followed" in outcome.error
    assert len(receiver.arrived) == 1


def test_a_slow_receiver_times_out(monkeypatch, receiver):
    allow_private(monkeypatch, True)
    receiver.script = [("stall", 2.5)]
    outcome = send(receiver)
    assert not outcome.ok and outcome.status_code is None and "timed out" in outcome.error
    assert 900 <= outcome.duration_ms < 2500


def test_an_error_answer_is_kept_short(monkeypatch, receiver):
    allow_private(monkeypatch, True)
    receiver.script = [500]
    outcome = send(receiver)
    assert (outcome.ok, outcome.status_code, outcome.error) == (False, 500, "HTTP 500: ")
