"""The Starlette routes mounted in front of Reflex's (rx.App(api_transformer=build_api()))."""

from starlette.applications import Starlette
from starlette.routing import Route

from billing_portal.api.health import health


def build_api() -> Starlette:
    return Starlette(routes=[Route("/api/health", health, methods=["GET"])])
