"""The Starlette routes mounted in front of Reflex's (rx.App(api_transformer=build_api()))."""

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from billing_portal.api import sessions
from billing_portal.api.documents import credit_note, invoice_pdf
from billing_portal.api.downloads import download
from billing_portal.api.middleware import Guard, Unrouted
from billing_portal.api.health import health, info
from billing_portal.api.usage import record_usage
from billing_portal.api.v1 import routes as v1_routes
from billing_portal.api.v1.framework import http_exception
from billing_portal.api.webhooks import stripe_webhook
from billing_portal.billing.portal_sessions.service import LINK_ROUTE
from billing_portal.gateways.storage import DOWNLOAD_ROUTE


def build_api() -> Starlette:
    routes = [
        Route("/api/health", health, methods=["GET"]),
        Route("/api/info", info, methods=["GET"]),
        Route("/api/webhooks/stripe", stripe_webhook, methods=["POST"]),
        Route(DOWNLOAD_ROUTE, download, methods=["GET"]),
        Route("/api/invoices/{object_id}/pdf", invoice_pdf, methods=["GET"]),
        Route("/api/refunds/{object_id}/credit-note", credit_note, methods=["GET"]),
        Route("/api/usage", record_usage, methods=["POST"]),
        Route(sessions.START_ROUTE, sessions.start, methods=["POST"]),
        Route(sessions.END_ROUTE, sessions.end, methods=["POST"]),
        Route(LINK_ROUTE, sessions.open_link, methods=["GET"]),
        *v1_routes(),  # the seller's REST API (api/v1/): 404 and 405 there answer in its error shape
    ]
    return Starlette(routes=[*routes, Unrouted(routes)], middleware=[Middleware(Guard)],
                     exception_handlers={HTTPException: http_exception})
