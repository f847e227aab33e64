"""The seller's REST API, /api/v1: routes built from the operation table (operations.py), the
OpenAPI document and its reference page. The machinery is framework.py's."""

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from billing_portal.api.v1.framework import endpoint
from billing_portal.api.v1.openapi import document, reference_page
from billing_portal.api.v1.operations import OPERATIONS

DOCS_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def openapi_json(_request: Request) -> JSONResponse:
    return JSONResponse(document(), headers={"Cache-Control": "no-cache"})


def docs(_request: Request) -> HTMLResponse:
    return HTMLResponse(reference_page(), headers={"Cache-Control": "no-cache", "Content-Security-Policy": DOCS_CSP})


def routes() -> list[Route]:
    """One Route per path (its methods from the table); the document and the page beside them."""
    by_path: dict[str, dict] = {}
    for operation in OPERATIONS:
        by_path.setdefault(operation.path, {})[operation.method] = operation
    return [
        Route("/api/v1/openapi.json", openapi_json, methods=["GET"]),
        Route("/api/v1/docs", docs, methods=["GET"]),
        *(Route(path, endpoint(operations), methods=list(operations)) for path, operations in by_path.items()),
    ]
