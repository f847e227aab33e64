"""GET /api/health: is the database reachable? (Sync, so Starlette runs it off the event loop.)"""

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from billing_portal.db import get_engine


def health(_request: Request) -> JSONResponse:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any failure means "not healthy"; the detail stays in the server log
        return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "up"})
