"""Throwaway PostgreSQL databases for the benchmarks, filled by set-based SQL.

Rows are made by `INSERT ... SELECT` over `generate_series` inside PostgreSQL (millions of rows in
seconds, never the ORM one by one). `insert_select` fills every NOT NULL column the caller leaves
out with the model's scalar default, so the generators name only the columns that matter.
"""

import contextlib
import signal
import sys
import time
from collections.abc import Iterator

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import billing_portal.models  # noqa: F401 - registers every table on SQLModel.metadata
from billing_portal.migrations import upgrade_to_head
from tests.support.stand_ins import create_database, libpq_url, start_postgres


@contextlib.contextmanager
def migrated_database(name: str) -> Iterator[str]:
    """A fresh PostgreSQL cluster with database `name` at the migrations' head; yields its URL.

    SIGTERM unwinds like Ctrl-C, so a stopped benchmark still stops its cluster."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with start_postgres() as pg:
        url = create_database(pg.url, name)
        upgrade_to_head(url)
        yield url


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if hasattr(value, "as_tuple"):  # Decimal
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def insert_select(conn: psycopg.Connection, table: str, values: dict[str, str], source: str) -> int:
    """INSERT INTO table (...) SELECT <values> <source>; returns the rows inserted.

    `values` maps column -> SQL expression; NOT NULL columns left out get the model's scalar default.
    """
    columns = dict(values)
    for column in SQLModel.metadata.tables[table].columns:
        if column.name in columns or column.nullable or column.primary_key:
            continue
        default = column.default
        if default is None or not default.is_scalar:
            raise ValueError(f"{table}.{column.name} needs a value (no scalar default)")
        columns[column.name] = _literal(default.arg)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns.values())} {source}"
    return conn.execute(sql).rowcount


@contextlib.contextmanager
def bulk_load(conn: psycopg.Connection, tables: list[str]) -> Iterator[None]:
    """Load without per-row work: no foreign-key triggers (the generators keep the references right)
    and the secondary indexes and unique constraints of `tables` rebuilt once at the end."""
    found = conn.execute("""
        SELECT t.relname, i.relname, pg_get_indexdef(i.oid), c.conname, pg_get_constraintdef(c.oid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.contype = 'u'
        WHERE t.relname = ANY(%s) AND NOT x.indisprimary""", (tables,)).fetchall()
    for table, index, _, constraint, _ in found:
        conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}" if constraint else f"DROP INDEX {index}")
    conn.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        conn.execute("SET session_replication_role = DEFAULT")
        for table, _, definition, constraint, constraint_definition in found:
            conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {constraint_definition}" if constraint
                         else definition)


def reset_sequences(conn: psycopg.Connection, tables: list[str]) -> None:
    """Rows were inserted with explicit ids: move each id sequence past them."""
    for table in tables:
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )


def connect(url: str) -> psycopg.Connection:
    # No server-side prepared statements: a generic plan chosen after five runs must not skew the
    # bare replay.
    return psycopg.connect(libpq_url(url), autocommit=True, prepare_threshold=None)


def vacuum_analyze(url: str) -> None:
    with connect(url) as conn:
        conn.execute("VACUUM ANALYZE")


class Step:
    """Prints how long each generation step took (stderr-free: the JSON lines stay on stdout alone)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.log.append((name, time.perf_counter() - started))

    def summary(self) -> dict[str, float]:
        return {name: round(seconds, 1) for name, seconds in self.log}


class StatementRecorder:
    """Records the SQL an engine sends, so the bare baseline can replay exactly the same statements
    through a raw psycopg cursor (no ORM, no result objects)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, object]] = []

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements.append((statement, parameters))

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[tuple[str, object]]]:
        self.statements = []
        event.listen(self.engine, "before_cursor_execute", self._record)
        try:
            yield self.statements
        finally:
            event.remove(self.engine, "before_cursor_execute", self._record)


def replay(conn: psycopg.Connection, statements: list[tuple[str, object]]) -> None:
    for statement, parameters in statements:
        with conn.cursor() as cursor:
            cursor.execute(statement, parameters)
            if cursor.description is not None:
                cursor.fetchall()
