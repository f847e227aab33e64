"""Start localstripe (the local Stripe API stand-in) without its on-disk persistence.

    python -m billing_portal.sandbox.localstripe_server --port 8420

Why not just run `localstripe`: its `Store` re-pickles the whole store to one fixed file,
`/tmp/localstripe.pickle`, on every write (and its middleware again after every POST/PUT/DELETE),
and reloads that file at start. That makes it slow (300 flows: 107 s instead of 11 s) and makes
every run -- and every parallel run on the machine -- share and clobber one store. Here both
`Store.dump_to_disk` and `Store.try_load_from_disk` become no-ops, so each process starts empty
and keeps its data in memory only. Reset it with `DELETE /_config/data` (this does not forget
webhooks registered with `POST /_config/webhooks/<name>`).

localstripe builds one module-level aiohttp `app` at import time; routes it lacks can be added before the server starts:

    from aiohttp import web
    from billing_portal.sandbox import localstripe_server

    localstripe_server.main(["--port", "8420"], extra_routes=[web.post("/v1/things", handler)])

Added routes go through localstripe's middlewares (paths outside `/_config/` and `/js.stripe.com/`
need an `sk_...` key, as with Stripe) and come after its own routes, so they cannot override a path
it already matches (e.g. `GET /v1/customers/search` is taken by `GET /v1/customers/{id}`).

`main` always adds the sandbox's minimal Stripe Checkout (billing_portal/sandbox/checkout_sessions.py).

localstripe always listens on all interfaces (IPv4 and IPv6); it has no host option.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence

from aiohttp import web

from billing_portal.sandbox import checkout_sessions

DEFAULT_PORT = 8420


def _no_op(self) -> None:
    return None


def disable_persistence() -> None:
    """Make localstripe's store memory-only: never write nor read `/tmp/localstripe.pickle`."""
    from localstripe.resources import Store

    Store.dump_to_disk = _no_op
    Store.try_load_from_disk = _no_op


def build_app(extra_routes: Iterable[web.AbstractRouteDef] = ()) -> web.Application:
    """Return localstripe's aiohttp app, persistence disabled and `extra_routes` added.

    Call before `start()`; aiohttp freezes the router once the server runs.
    """
    disable_persistence()
    from localstripe import server

    server.app.router.add_routes(list(extra_routes))
    return server.app


def start(port: int = DEFAULT_PORT) -> None:
    """Serve the app from `build_app()` on `port` until interrupted (blocking)."""
    disable_persistence()
    from localstripe import server

    # localstripe's start() reads its options from sys.argv with argparse.
    sys.argv = [sys.argv[0] if sys.argv else "localstripe", "--port", str(port), "--from-scratch"]
    server.start()


def main(argv: Sequence[str] | None = None, extra_routes: Iterable[web.AbstractRouteDef] = ()) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m billing_portal.sandbox.localstripe_server",
        description="Run localstripe with an in-memory store (no /tmp/localstripe.pickle).",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    build_app([*checkout_sessions.routes(), *extra_routes])
    start(args.port)


if __name__ == "__main__":
    main()
