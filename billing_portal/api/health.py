"""GET /api/health: is the database reachable? GET /api/info: what is running. (Sync, so Starlette
runs them off the event loop.)"""

import tomllib
from functools import cache
from pathlib import Path

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from billing_portal.api.v1.openapi import API_VERSION
from billing_portal.db import get_engine
from billing_portal.settings import get_settings

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def health(_request: Request) -> JSONResponse:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any failure means "not healthy"; the detail stays in the server log
        return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "up"})


@cache
def version() -> str:
    """The project's version (pyproject.toml: the app runs from its checkout, it is not installed)."""
    try:
        return tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def info(_request: Request) -> JSONResponse:
    return JSONResponse({"version": version(), "api_version": API_VERSION, "build": get_settings().build_id})
