"""A real webhook receiver on loopback (http.server in a thread), as a SaaS app would run one: it
verifies every request with the official `standardwebhooks` library and keeps what it received.

`script` lists how to answer the next requests, one item each, then 204 for the rest:
an int (that status), ("stall", seconds) (wait before answering 204), ("redirect", url) (302).
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str = ""
    script: list = field(default_factory=list)
    received: list[Received] = field(default_factory=list)  # answered requests
    arrived: list[str] = field(default_factory=list)  # webhook-id of every request, as it arrives
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def verified_events(self) -> list[dict]:
        return [r.event for r in self.received if r.verified]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.received)

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    Webhook(receiver.secret).verify(body, headers)
                    verified = True
                except (WebhookVerificationError, ValueError):
                    verified = False
                receiver.arrived.append(headers.get("webhook-id", ""))
                step = receiver.script.pop(0) if receiver.script else 204
                if isinstance(step, tuple) and step[0] == "stall":
                    time.sleep(step[1])
                    step = 204
                receiver.received.append(Received(headers, body, verified))
                if isinstance(step, tuple) and step[0] == "redirect":
                    self.send_response(302)
                    self.send_header("location", step[1])
                else:
                    self.send_response(step)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):  # quiet test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
