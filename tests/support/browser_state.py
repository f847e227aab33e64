"""Reflex states as the server builds them for one browser connection, for state tests."""

import reflex as rx
from reflex.istate.data import HeaderData, ReflexURL, RouterData

from billing_portal.api.sessions import SESSION_COOKIE


def router_for(token: str = "", url: str = "") -> RouterData:
    """What the connection's websocket handshake carries: the httpOnly session cookie the server set
    (none when `token` is empty), beside another site's cookie, and the page's URL."""
    cookie = f"other=1; {SESSION_COOKIE}={token}" if token else "other=1"
    return RouterData(headers=HeaderData(cookie=cookie), url=ReflexURL(f"http://portal.test{url}" if url else ""))


def state_of(cls, token: str = "", url: str = ""):
    """A state of page class `cls` for a browser signed in with `token` (none: a visitor) at `url`."""
    root = rx.State(_reflex_internal_init=True)
    state = root.get_substate(cls.get_full_name().split("."))
    state.router = router_for(token, url)
    return state
