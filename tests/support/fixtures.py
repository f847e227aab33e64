"""pytest fixtures for the real stand-ins (tests/support/stand_ins.py).

Load with `pytest_plugins = ["tests.support.fixtures"]` (or `-p tests.support.fixtures`).
Session-scoped services start the first time a test asks for them and stop at session end;
a session that never asks for one never starts it. `*_clean` fixtures reset state per test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import stand_ins
from tests.support.stand_ins import PostgresStandIn, StandIn


def _reset(method: str, url: str) -> None:
    status, body = stand_ins.http_request(method, url)
    if status >= 300:
        raise RuntimeError(f"{method} {url} answered {status}: {body[:200]!r}")


@pytest.fixture(scope="session")
def localstripe() -> Iterator[StandIn]:
    """localstripe (in-memory store) on a free port; `.url` is the Stripe API base."""
    with stand_ins.start_localstripe() as handle:
        yield handle


@pytest.fixture(scope="session")
def stripe_api_base(localstripe: StandIn) -> str:
    """The API base URL for the stripe SDK: `StripeClient(key, base_addresses={"api": stripe_api_base})`."""
    return localstripe.url


@pytest.fixture
def localstripe_clean(localstripe: StandIn) -> StandIn:
    """localstripe emptied with `DELETE /_config/data` before the test (registered webhooks stay)."""
    _reset("DELETE", localstripe.url + "/_config/data")
    return localstripe


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[StandIn]:
    """moto's server; use boto3 with `endpoint_url=moto_s3.url` and any keys."""
    with stand_ins.start_moto() as handle:
        yield handle


@pytest.fixture
def moto_clean(moto_s3: StandIn) -> StandIn:
    """moto emptied with `POST /moto-api/reset` before the test."""
    _reset("POST", moto_s3.url + "/moto-api/reset")
    return moto_s3


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresStandIn]:
    """A throwaway PostgreSQL cluster; `.url` (SQLAlchemy), `.dsn` (libpq), `.create_database(name)`."""
    with stand_ins.start_postgres() as handle:
        yield handle


@pytest.fixture(scope="session")
def redis() -> Iterator[StandIn]:
    """redis-server without persistence; `.url` is redis://127.0.0.1:PORT/0."""
    with stand_ins.start_redis() as handle:
        yield handle


@pytest.fixture
def mail_sink(monkeypatch, tmp_path):
    """The sandbox's SMTP sink (aiosmtpd) on a free loopback port, SMTP_URL pointing at it;
    `.received` lists what arrived, and each message is also saved under tmp_path/mail."""
    from billing_portal.sandbox import mail_sink as sink_module
    from billing_portal.settings import get_settings

    sink = sink_module.MailSink(tmp_path / "mail")
    port = stand_ins.free_port()
    with sink_module.running(sink, port=port):
        monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{port}")
        get_settings.cache_clear()
        yield sink
