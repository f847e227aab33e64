"""A local SMTP server that keeps every message instead of delivering it (aiosmtpd).

    python -m billing_portal.sandbox.mail_sink --port 8025 --dir .data/mail

`make run` starts it and `.env.example` points SMTP_URL at it, so the demo sends real email
offline: each message lands as an `.eml` file (open it with any mail client) under `--dir`.
Tests use `MailSink` in-process to read what arrived.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller

DEFAULT_PORT = 8025


@dataclass(frozen=True)
class Received:
    mail_from: str
    recipients: list[str]
    message: EmailMessage


class MailSink:
    """aiosmtpd handler: accepts every message, keeps it in `received`, and saves it as .eml."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory
        self.received: list[Received] = []
        self._numbers = itertools.count(1)

    async def handle_DATA(self, server, session, envelope) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{next(self._numbers):04d}.eml"
            (self.directory / name).write_bytes(envelope.content)
        return "250 Message accepted for delivery"


@contextmanager
def running(handler: MailSink, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> Iterator[Controller]:
    """The sink listening on host:port (in a thread) for the block's duration."""
    controller = Controller(handler, hostname=host, port=port)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Keep every email sent to it as an .eml file.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--dir", type=Path, default=Path(".data/mail"), help="where the .eml files go")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with running(MailSink(args.dir), host=args.host, port=args.port):
        print(f"Mail sink on smtp://{args.host}:{args.port}, saving to {args.dir}/", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
