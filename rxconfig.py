"""Reflex configuration. Every value comes from `billing_portal.settings` (environment / .env)."""

import reflex as rx
from reflex_base.plugins.sitemap import SitemapPlugin

from billing_portal.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="billing_portal",
    # Same URL as the engine; the schema is Alembic's (`python -m billing_portal migrate`),
    # never `reflex db ...`.
    db_url=_settings.database_url,
    redis_url=_settings.redis_url,
    # Where the browser reaches the backend (websocket + /api). In `--env prod` Reflex serves
    # frontend and backend on one port, so this is usually the same as PUBLIC_URL.
    api_url=_settings.api_url,
    deploy_url=_settings.public_url,
    # Never "*": only our own origins may open the event websocket or call the API.
    cors_allowed_origins=list(_settings.allowed_origins),
    frontend_port=3000,
    backend_port=8000,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # No sitemap: the portal is not a public site to index (and the plugin warns without pages).
    disable_plugins=[SitemapPlugin],
    plugins=[],
)
