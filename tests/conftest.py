"""Shared fixtures: real databases (SQLite and PostgreSQL), migrated by Alembic, one per test.

Each backend is migrated once: SQLite into a template file copied per test, PostgreSQL into one
database whose tables are truncated before each test. Every test starts from the real schema.
"""

import os
import shutil

os.environ["BILLING_PORTAL_ENV_FILE"] = os.devnull  # a developer's .env must not steer the tests

import pytest
import psycopg
from sqlmodel import Session, SQLModel

from billing_portal import rate_limits
from billing_portal.db import engine_for
from billing_portal.migrations import upgrade_to_head
from billing_portal.settings import get_settings
import billing_portal.models  # noqa: F401  (registers the tables truncated between tests)
from tests.support.stand_ins import create_database, libpq_url

pytest_plugins = ["tests.support.fixtures"]

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch, tmp_path):
    """Settings come from the environment of each test; `monkeypatch.setenv` then clear.
    Files go to the test's own folder, never a developer's .data/files."""
    monkeypatch.setenv("STORAGE_DIR", str(tmp_path / "files"))
    get_settings.cache_clear()
    rate_limits._limiter.cache_clear()  # every test starts with no attempts counted
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade_to_head(f"sqlite:///{path}")
    engine_for(f"sqlite:///{path}").dispose()
    return str(path)


@pytest.fixture(scope="session")
def postgres_database(postgres) -> str:
    url = create_database(postgres.url, "billing_test")
    upgrade_to_head(url)
    return url


def _truncate_all(url: str) -> None:
    """Empty every table and restart ids: a fresh database in a few milliseconds."""
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "billing.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        engine_for(f"sqlite:///{path}").dispose()
        return
    url = request.getfixturevalue("postgres_database")
    _truncate_all(url)
    yield url


@pytest.fixture
def engine(db_url, monkeypatch):
    """The test's database, also made the app's DATABASE_URL so code using get_engine() sees it."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    return engine_for(db_url)


@pytest.fixture
def session(engine):
    with Session(engine, expire_on_commit=False) as s:
        yield s
        s.rollback()
