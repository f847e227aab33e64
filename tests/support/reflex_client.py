"""A Reflex client speaking the browser's event protocol over one websocket (Socket.IO v5 on
Engine.IO v4, at /_event), for tests and benchmarks that need many sessions without browsers.

    async with ReflexSession(base_url) as s:
        await s.sign_in(SIGN_IN, email, password, "/billing/history")  # as the login page does
        await s.event(HISTORY + ".next_page", {}, "/billing/history", until=lambda s: ...)
        s.state(HISTORY)["page_rx_state_"]

What the frontend does, from reflex's state.js and the compiled context.jsx: the Socket.IO CONNECT
packet (namespace /_event) carries the page's `hydrate_and_load` event, the backend answers with the
state and runs the page's on_load; every event is `["event", {name, payload, router_data}]`; the
backend streams `["event", {delta, events}]` updates. The session cookie is httpOnly and set by
POST /api/session/start: `sign_in` posts the grant the page would post and reconnects with the
cookie in the handshake, as the page load after it does. `server_pid()` names the backend worker
process holding this connection (from /proc, Linux), to show which worker served a session.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp

ROOT = "reflex___state____state"
HYDRATE = f"{ROOT}.hydrate_and_load"
NAMESPACE = "/_event"
Until = Callable[["ReflexSession"], bool]


def state_name(state_class) -> str:
    """The frontend's name of a state class, e.g. `reflex___state____state.billing_portal___...`."""
    return state_class.get_full_name()


class ReflexSession:
    """One browser tab's websocket: `connect(path, until)`, `event(name, payload, path, until)`,
    `state(name)`. The backend sends no "done" marker, so each call waits until `until(session)`
    holds on the state received so far (what the page would show), or until updates stop."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.token = token or str(uuid.uuid4())
        self.timeout = timeout
        self.states: dict[str, dict] = {}  # the state the frontend would hold, by state name
        self.redirects: list[str] = []
        self.cookies: dict[str, str] = {}  # HTTP cookies the handshake carries (the session's)
        self.scripts: list[str] = []  # what the backend asked the page to run (rx.call_script)
        self.snapshot: dict[str, dict] | None = None  # the state as the connection found it (hydrate)
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._updates: asyncio.Queue = asyncio.Queue()
        self._reader: asyncio.Task | None = None

    async def __aenter__(self) -> ReflexSession:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # ---- connection

    async def connect(self, path: str = "/", until: Until | None = None) -> float:
        """Open the websocket as a page at `path` does (its CONNECT carries `hydrate_and_load`, the
        backend then runs the page's on_load); seconds until `until` held."""
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = f"{scheme}://{parts.netloc}{NAMESPACE}/?EIO=4&transport=websocket&token={self.token}"
        started = time.perf_counter()
        self._http = aiohttp.ClientSession()
        headers = {"Origin": self.base_url}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        self._ws = await asyncio.wait_for(
            self._http.ws_connect(url, headers=headers, max_msg_size=0), self.timeout)
        opened = await self._ws.receive_str(timeout=self.timeout)
        if not opened.startswith("0"):
            raise ConnectionError(f"no Engine.IO open packet: {opened[:200]!r}")
        self._reader = asyncio.create_task(self._read())
        boot = self._event(HYDRATE, {}, path)
        await self._ws.send_str(f"40{NAMESPACE}," + json.dumps({"event": boot}))
        return await self._settle(until or _hydrated, started)

    async def sign_in(self, sign_in_state: str, email: str, password: str, next_path: str) -> None:
        """Sign in on /login as a person does: the form's event, then the grant the page posts to
        /api/session/start, whose httpOnly cookie the next page load's websocket carries."""
        await self.connect(f"/login?next={next_path}")
        await self.event(f"{sign_in_state}.submit", {"form": {"email": email, "password": password}},
                         f"/login?next={next_path}", until=lambda s: any('"grant"' in js for js in s.scripts))
        grant = re.search(r'"grant": "([^"]+)"', next(js for js in self.scripts if '"grant"' in js)).group(1)
        await self.close()
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{self.base_url}/api/session/start", data={"grant": grant, "next": next_path},
                                 headers={"Origin": self.base_url}, allow_redirects=False) as answer:
                if answer.status != 303 or "bp_session" not in answer.cookies:
                    raise ConnectionError(f"the sign-in was refused: {answer.status}")
                self.cookies["bp_session"] = answer.cookies["bp_session"].value
        await self.connect(next_path)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()
        self._reader = self._ws = self._http = None

    def server_pid(self) -> int | None:
        """The pid of the backend process whose socket is the other end of this connection."""
        transport = self._ws._response.connection.transport  # noqa: SLF001 - aiohttp keeps it there
        if transport is None:
            return None
        local_port = transport.get_extra_info("sockname")[1]
        server_port = transport.get_extra_info("peername")[1]
        return _socket_owner(server_port, local_port)

    # ---- events

    async def event(self, name: str, payload: dict | None = None, path: str = "/",
                    until: Until | None = None) -> float:
        """Send one event as the page at `path` does; seconds until `until` held (the round trip)."""
        started = time.perf_counter()
        await self._ws.send_str(f"42{NAMESPACE}," + json.dumps(["event", self._event(name, payload or {}, path)]))
        return await self._settle(until, started)

    def state(self, name: str) -> dict:
        return self.states.get(name, {})

    # ---- internals

    @staticmethod
    def _event(name: str, payload: dict, path: str) -> dict:
        return {"name": name, "payload": payload, "router_data": {"pathname": path, "asPath": path}}

    async def _settle(self, until: Until | None, started: float) -> float:
        """Apply updates until `until(self)` holds (or, without one, until 0.3 s pass without any)."""
        deadline = time.monotonic() + self.timeout
        while True:
            if until is not None and until(self):
                return time.perf_counter() - started
            wait = deadline - time.monotonic() if until is not None else 0.3
            try:
                update = await asyncio.wait_for(self._updates.get(), max(wait, 0.001))
            except TimeoutError:
                if until is None:
                    return time.perf_counter() - started
                raise TimeoutError(f"the state did not reach what was awaited in {self.timeout:g} s") from None
            self._apply(update)

    def _apply(self, update: dict) -> None:
        if self.snapshot is None:  # hydrate_and_load answers the stored state first, before on_load
            self.snapshot = update.get("delta") or {}
        for state, delta in (update.get("delta") or {}).items():
            self.states.setdefault(state, {}).update(delta)
        for event in update.get("events") or []:
            if event.get("name") == "_redirect":
                self.redirects.append((event.get("payload") or {}).get("path", ""))
            elif event.get("name") == "_call_script":
                self.scripts.append(str((event.get("payload") or {}).get("javascript_code", "")))

    async def _read(self) -> None:
        prefix = f"42{NAMESPACE},"
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = message.data
            if data == "2":  # Engine.IO ping
                await self._ws.send_str("3")
            elif data.startswith(prefix):
                name, body = json.loads(data[len(prefix):])[:2]
                if name == "event":
                    await self._updates.put(body)


def _hydrated(session: ReflexSession) -> bool:
    return session.state(ROOT).get("is_hydrated_rx_state_") is True


def _socket_owner(server_port: int, client_port: int) -> int | None:
    """The pid holding the loopback TCP socket from `server_port` to `client_port` (root sees all)."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.rsplit(":", 1)[1], 16) == server_port and int(remote.rsplit(":", 1)[1], 16) == client_port:
                inode = fields[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == target for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue
    return None
