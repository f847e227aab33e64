"""Reflex configuration. Every value comes from `billing_portal.settings` (environment / .env)."""

import click
import reflex as rx
from reflex_base.plugins.sitemap import SitemapPlugin

from billing_portal.settings import get_settings

_settings = get_settings()


def _ports() -> dict[str, int]:
    """FRONTEND_PORT and BACKEND_PORT, as far as the `reflex run` being started uses them.

    Reflex refuses a configured frontend port with `--backend-only` (and a backend port with
    `--frontend-only`), and `--env prod` serves frontend and backend on one port; so each mode is
    given only the port it listens on. Outside `reflex run` (export, the backend's workers) both.
    """
    command = click.get_current_context(silent=True)
    run = command.params if command is not None and command.command.name == "run" else {}
    if run.get("backend_only"):
        return {"backend_port": _settings.backend_port}
    if run.get("frontend_only") or run.get("env") in ("prod", "preview"):
        return {"frontend_port": _settings.frontend_port}
    return {"frontend_port": _settings.frontend_port, "backend_port": _settings.backend_port}


config = rx.Config(
    app_name="billing_portal",
    # The database is `billing_portal.db` (settings.database_url) and its schema is Alembic's
    # (`python -m billing_portal migrate`). Reflex gets no db_url on purpose: with one, every
    # `reflex run` loads our alembic/env.py to autogenerate-diff the live database and tells
    # operators to run `reflex db migrate`; nothing here uses rx.session / rx.Model.
    db_url=None,
    redis_url=_settings.redis_url,
    # Sessions' page state: in Redis when several workers share it (REDIS_URL), else in the
    # worker's memory. It holds only what a page shows and every page reloads it on load (the
    # sign-in is a cookie), so a restart loses nothing; Reflex's default disk manager re-listed
    # every saved session file after each write, 8 % of a history click's CPU with a few
    # thousand sessions (bench/ui_sessions.py).
    state_manager_mode="redis" if _settings.redis_url else "memory",
    # Where the browser reaches the backend (websocket + /api). In `--env prod` Reflex serves
    # frontend and backend on one port, so this is usually the same as PUBLIC_URL.
    api_url=_settings.api_url,
    deploy_url=_settings.public_url,
    # Never "*": only our own origins may open the event websocket or call the API.
    cors_allowed_origins=list(_settings.allowed_origins),
    **_ports(),
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # No sitemap: the portal is not a public site to index (and the plugin warns without pages).
    disable_plugins=[SitemapPlugin],
    # One accent colour, light appearance, Radix Themes everywhere.
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="light", accent_color="indigo", gray_color="slate", radius="large"),
        ),
    ],
)
