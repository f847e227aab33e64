"""A fault-injecting HTTP proxy for the stand-ins (localstripe, moto): it forwards every request
to `upstream` unless a rule says otherwise.

    with FaultProxy(localstripe.url, idempotency=True) as proxy:
        proxy.add("POST", "/v1/payment_intents", "drop_after_forward")   # charged, never answered
        proxy.add("POST", "/v1/refunds", "error", status=500, times=2)   # two 500s, then through
        proxy.add("GET", r"/v1/payment_intents/\\w+", "delay", seconds=3)   # beyond the client timeout
        gate = proxy.add("POST", "/v1/refunds", "hold_after_forward")   # made, answer held
        gate.reached.wait(10); ...; gate.release()
        proxy.requests   # [(method, path, idempotency key)] of every request seen

Rules match the method ("*" for any) and a regex matched whole against the path, with or without
its query string.

Faults (the first matching rule with tries left applies; `times=None` means every time):
- "error": answer `status` (500, 429, 503...) without forwarding, with a Stripe-shaped body.
- "delay": forward, then wait `seconds` before answering (the work was done, the answer is late).
- "drop": close the connection without forwarding (nothing was done).
- "drop_after_forward": forward, then close the connection without answering (the work was done
  and the client never hears of it).
- "hold_after_forward": forward, signal `rule.reached`, answer only after `rule.release()` (or
  drop if released with `drop=True`): lets a test kill the client while Stripe's answer is held.
- "fail_after_bytes": (request bodies) read `after_bytes` of the body, then close the connection
  without forwarding: an upload that breaks in the middle.

`idempotency=True` gives the upstream Stripe's `Idempotency-Key` behaviour, which localstripe
lacks (ENVIRONMENT.md): the first POST with a key is forwarded and its answer kept; the same key
again is answered from that record (`Idempotent-Replayed: true`) without reaching localstripe, and
while the first is still in flight the second gets Stripe's 409. So a count of the PaymentIntents
localstripe holds tells whether a retry reused the key.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.support.stand_ins import LOOPBACK

FAULTS = ("error", "delay", "drop", "drop_after_forward", "hold_after_forward", "fail_after_bytes")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-connection", "content-length", "host", "expect"}


@dataclass
class Rule:
    method: str
    path: re.Pattern
    fault: str
    times: int | None = None
    status: int = 500
    seconds: float = 0.0
    after_bytes: int = 0
    hits: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    _released: threading.Event = field(default_factory=threading.Event)
    _drop: bool = False

    def matches(self, method: str, path: str) -> bool:
        left = self.times is None or self.hits < self.times
        wanted = self.path.fullmatch(path.split("?", 1)[0]) or self.path.fullmatch(path)
        return left and self.method in (method, "*") and wanted is not None

    def release(self, *, drop: bool = False) -> None:
        self._drop = drop
        self._released.set()


def serve_on_loopback(handle: Callable[[BaseHTTPRequestHandler], None], *,
                      protocol_version: str = "HTTP/1.0") -> tuple[ThreadingHTTPServer, str]:
    """A threaded HTTP server on a free loopback port calling `handle(request)` for every method,
    served from a daemon thread; (server, url). Stop it with `shutdown()` and `server_close()`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            handle(self)

        do_POST = do_DELETE = do_PUT = do_HEAD = do_GET

        def log_message(self, *args):
            pass

    Handler.protocol_version = protocol_version
    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://{LOOPBACK}:{server.server_address[1]}"


class FaultProxy:
    def __init__(self, upstream: str, *, idempotency: bool = False):
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname, parts.port or 80
        self.idempotency = idempotency
        self.rules: list[Rule] = []
        self.requests: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()
        self._replies: dict[str, tuple[int, list[tuple[str, str]], bytes] | None] = {}
        self._server, self.url = serve_on_loopback(self._handle, protocol_version="HTTP/1.1")

    # ---- configuring

    def add(self, method: str, path: str, fault: str, *, times: int | None = None, status: int = 500,
            seconds: float = 0.0, after_bytes: int = 0) -> Rule:
        """A fault for requests whose method ("*": any) and path match: `path` is a regex matched
        whole against the path without its query, or with it (`r"/b/k\\?partNumber=2&.*"`)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        rule = Rule(method.upper(), re.compile(path), fault, times, status, seconds, after_bytes)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forward everything again (held answers are released)."""
        with self._lock:
            rules, self.rules = self.rules, []
        for rule in rules:
            rule.release()

    def posts(self, path: str) -> list[str | None]:
        """The idempotency keys of the POSTs seen on `path` (a regex matched whole)."""
        pattern = re.compile(path)
        return [key for method, seen, key in self.requests if method == "POST" and pattern.fullmatch(seen)]

    def stop(self) -> None:
        self.clear()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ---- serving

    def _rule_for(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    return rule
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        method, path = handler.command, handler.path
        key = handler.headers.get("Idempotency-Key")
        with self._lock:
            self.requests.append((method, path.split("?", 1)[0], key))
        rule = self._rule_for(method, path)
        if rule and rule.fault == "fail_after_bytes":
            self._read_body(handler, limit=rule.after_bytes)
            return self._drop(handler)
        body = self._read_body(handler)
        if rule and rule.fault == "error":
            return self._answer(handler, rule.status, [("Content-Type", "application/json")], json.dumps(
                {"error": {"type": "api_error", "message": f"Injected {rule.status}."}}).encode())
        if rule and rule.fault == "drop":
            return self._drop(handler)

        try:
            status, headers, payload = self._answer_for(handler, method, path, key, body)
        except OSError:
            return self._drop(handler)
        if rule and rule.fault == "delay":
            time.sleep(rule.seconds)
        elif rule and rule.fault == "drop_after_forward":
            return self._drop(handler)
        elif rule and rule.fault == "hold_after_forward":
            rule.reached.set()
            rule._released.wait()
            if rule._drop:
                return self._drop(handler)
        self._answer(handler, status, headers, payload)

    def _answer_for(self, handler, method: str, path: str, key: str | None, body: bytes):
        """Upstream's answer, or with `idempotency` the one recorded for the key (Stripe's replay)."""
        replay_key = key if self.idempotency and method == "POST" and key else None
        if replay_key is None:
            return self._forward(handler, method, path, body)
        with self._lock:
            known = replay_key in self._replies
            recorded = self._replies.get(replay_key)
            if not known:
                self._replies[replay_key] = None  # in flight
        if known and recorded is None:
            return 409, [("Content-Type", "application/json")], json.dumps(
                {"error": {"type": "idempotency_error", "code": "idempotency_key_in_use",
                           "message": "A request with this key is in progress."}}).encode()
        if known:
            status, headers, payload = recorded
            return status, [*headers, ("Idempotent-Replayed", "true")], payload
        try:
            answer = self._forward(handler, method, path, body)
        except OSError:
            with self._lock:
                self._replies.pop(replay_key, None)
            raise
        with self._lock:
            self._replies[replay_key] = answer
        return answer

    @staticmethod
    def _read_body(handler: BaseHTTPRequestHandler, limit: int | None = None) -> bytes:
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while limit is None or len(out) < limit:
                size = int(handler.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    handler.rfile.readline()
                    break
                out += handler.rfile.read(size)
                handler.rfile.readline()
            return bytes(out)
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length if limit is None else min(length, limit)) if length else b""

    def _forward(self, handler, method: str, path: str, body: bytes):
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Host"] = f"{self.upstream_host}:{self.upstream_port}"
            headers["Content-Length"] = str(len(body))
            conn.request(method, path, body=body if body or method in ("POST", "PUT") else None, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            # A HEAD answer's Content-Length is the object's size (boto3 reads it): keep it.
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP
                    or (method == "HEAD" and k.lower() == "content-length")]
            return response.status, kept, payload
        finally:
            conn.close()

    @staticmethod
    def _answer(handler, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        try:
            handler.send_response(status)
            for name, value in headers:
                handler.send_header(name, value)
            if not any(name.lower() == "content-length" for name, _ in headers):
                handler.send_header("Content-Length", str(len(payload)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(payload)
        except OSError:
            pass  # the client gave up waiting
        handler.close_connection = True

    @staticmethod
    def _drop(handler) -> None:
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
