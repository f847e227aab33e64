"""GET /api/health answers 200 with the database up and 503 without it."""

from starlette.testclient import TestClient

from billing_portal.api import build_api
from billing_portal.settings import get_settings


def test_health_is_ok_when_the_database_answers(engine):
    response = TestClient(build_api()).get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up"}


def test_health_is_503_when_the_database_is_unreachable(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    get_settings.cache_clear()
    response = TestClient(build_api()).get("/api/health")
    assert response.status_code == 503
    assert response.json()["database"] == "down"
    assert "nobody" not in response.text
