"""The two ASGI apps the entitlements benchmark serves with granian: ours (the whole /api, with
/api/v1/customers/{id}/entitlements), and a bare Starlette route answering a JSON body of the same
shape with no key check, database or validation: the floor of one worker on this machine."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from billing_portal.api import build_api

ours = build_api()

_BODY = {
    "object": "entitlements", "customer": 1, "external_id": "bench-user", "plan": "pro", "status": "active",
    "grace": False, "trial": False, "features": ["pro feature"], "limits": {"max_projects": 10, "max_users": 5},
    "usage": [{"metric": "api_calls", "used": 1200, "included": 1000}],
    "storage": {"used_bytes": 0, "quota_bytes": 10_737_418_240},
}


async def _bare_entitlements(request: Request) -> JSONResponse:
    return JSONResponse({**_BODY, "customer": request.path_params["customer"]})


bare = Starlette(routes=[Route("/api/v1/customers/{customer}/entitlements", _bare_entitlements)])
