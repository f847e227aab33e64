"""`make run-scaled`'s services: PostgreSQL and Redis in a chosen dir and port, kept between runs."""

import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from billing_portal.sandbox import services


@pytest.fixture
def open_dir():
    """A dir the `postgres` user can reach (pytest's tmp dirs are private to root), as .data/ is."""
    path = Path(tempfile.mkdtemp(prefix="scaled-services-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_kept_postgres_cluster_is_reused_with_its_data(open_dir):
    data = open_dir / "postgres"
    port = services.free_port()
    with services.start_postgres(data_dir=data, port=port) as first:
        assert first.port == port
        url = first.create_database("kept")
        with psycopg.connect(services.libpq_url(url), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (n int); INSERT INTO t VALUES (7)")
    assert (data / "data" / "PG_VERSION").exists()  # stopping kept it
    with services.start_postgres(data_dir=data, port=port), psycopg.connect(services.libpq_url(url)) as conn:
        assert conn.execute("SELECT n FROM t").fetchone() == (7,)


def test_a_kept_redis_answers_on_its_port_and_keeps_its_dir(tmp_path):
    port = services.free_port()
    with services.start_redis(data_dir=tmp_path / "redis", port=port) as redis:
        assert redis.url == f"redis://127.0.0.1:{port}/0"
    assert (tmp_path / "redis" / "redis.log").exists()
