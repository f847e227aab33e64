"""The outgoing webhooks job killed mid-delivery (SIGKILL while the receiver holds the request),
SQLite and PostgreSQL: nothing is lost. A new run delivers the same event (same webhook-id) to the
real receiver on loopback, which verifies it with the official library."""

import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from billing_portal.billing import accounts
from billing_portal.billing.outgoing_webhooks import endpoints
from billing_portal.db import session_scope
from billing_portal.models import WebhookDelivery
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings
from tests.support.builders import make_admin, make_customer
from tests.support.webhook_receiver import Receiver

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


def job(db_url: str, tmp_path, *command: str) -> subprocess.Popen:
    env = {**os.environ, "BILLING_PORTAL_ENV_FILE": os.devnull, "PYTHONPATH": str(REPO_ROOT), "DATABASE_URL": db_url,
           "STORAGE_DIR": str(tmp_path / "files"), "OUTGOING_WEBHOOKS_ALLOW_PRIVATE": "true",
           "OUTGOING_WEBHOOKS_TIMEOUT_SECONDS": "1"}
    return subprocess.Popen([sys.executable, "-m", "billing_portal", "jobs", *command], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_a_sender_killed_mid_delivery_loses_nothing(engine, db_url, tmp_path, receiver, monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setenv("OUTGOING_WEBHOOKS_ALLOW_PRIVATE", "true")  # the receiver is on loopback
    get_settings.cache_clear()
    scope = partial(session_scope, engine)
    with scope() as s:
        admin = make_admin(s)
        created = endpoints.create(s, admin=admin, data=endpoints.check(receiver.url, "", []))
        make_customer(s, "bo@example.com")
    receiver.secret = created.secret
    receiver.script = [("stall", 30)]  # holds the first request until the sender is dead

    worker = job(db_url, tmp_path, "work", "--job", "outgoing-webhooks")
    deadline = time.monotonic() + 60
    while not receiver.arrived:
        assert worker.poll() is None and time.monotonic() < deadline, worker.communicate()[0].decode()[-2000:]
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.communicate(timeout=10)

    with scope() as s:
        (row,) = s.exec(select(WebhookDelivery)).all()
    assert (row.status, row.attempts) == ("pending", 1)  # claimed, never recorded: still owed
    while utcnow() < row.next_attempt_at:  # the dead sender's lease runs out
        time.sleep(0.2)
    again = job(db_url, tmp_path, "run-once", "--job", "outgoing-webhooks")
    assert again.wait(timeout=60) == 0, again.communicate()[0].decode()[-2000:]

    first_id = receiver.arrived[0]
    delivered = [r for r in receiver.received if r.headers["webhook-id"] == first_id and r.verified]
    assert delivered and delivered[-1].event["type"] == "customer.created"
    with scope() as s:
        (row,) = s.exec(select(WebhookDelivery)).all()
    assert (row.status, row.attempts, row.response_code) == ("succeeded", 2, 204)
