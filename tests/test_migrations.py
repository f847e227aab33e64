"""Alembic migrations build the schema from empty on both backends and match the models."""

import uuid

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import billing_portal.models  # noqa: F401
from billing_portal.db import engine_for
from billing_portal.migrations import alembic_config, upgrade_to_head
from tests.support.stand_ins import libpq_url


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server = request.getfixturevalue("postgres")
    name = f"m_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_url(server.url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    engine_for(url).dispose()


def test_upgrade_from_empty_then_down_and_up_again(empty_db_url):
    upgrade_to_head(empty_db_url)
    tables = set(inspect(engine_for(empty_db_url)).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables

    command.downgrade(alembic_config(empty_db_url), "base")
    assert set(inspect(engine_for(empty_db_url)).get_table_names()) <= {"alembic_version"}
    upgrade_to_head(empty_db_url)


def test_autogenerate_finds_no_difference_between_models_and_migrations(engine):
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []
