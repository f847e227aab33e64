"""Shared fixtures: real databases (SQLite and PostgreSQL), migrated by Alembic, one per test.

Each backend is migrated once into a template (a file for SQLite, a template database for
PostgreSQL) and copied per test, so every test starts from the real schema in milliseconds.
"""

import os
import shutil
import uuid

os.environ["BILLING_PORTAL_ENV_FILE"] = os.devnull  # a developer's .env must not steer the tests

import pytest
import psycopg
from sqlmodel import Session

from billing_portal.db import engine_for
from billing_portal.migrations import upgrade_to_head
from billing_portal.settings import get_settings
from tests.support.stand_ins import create_database, libpq_url

pytest_plugins = ["tests.support.fixtures"]

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch):
    """Settings come from the environment of each test; `monkeypatch.setenv` then clear."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade_to_head(f"sqlite:///{path}")
    engine_for(f"sqlite:///{path}").dispose()
    return str(path)


@pytest.fixture(scope="session")
def postgres_template(postgres) -> str:
    url = create_database(postgres.url, "billing_template")
    upgrade_to_head(url)
    engine_for(url).dispose()  # a template must have no open connections to be copied
    return "billing_template"


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "billing.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        engine_for(f"sqlite:///{path}").dispose()
        return
    template = request.getfixturevalue("postgres_template")
    server = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_url(server.url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = server.url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    engine_for(url).dispose()
    with psycopg.connect(libpq_url(server.url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
