"""Browser tests against the real app: `reflex run --env prod` as a subprocess on a free port.

The app gets a fresh SQLite file in a temp dir (DATABASE_URL), migrated and seeded through the CLI
(`python -m billing_portal migrate` / `seed-demo`), exactly as an operator would. In prod mode
Reflex serves the built frontend and the backend on one port, so PUBLIC_URL, API_URL and the only
allowed origin are the same URL. The whole process group is stopped at the end. A test needing
other settings asks `app_server.ensure({"CHECKOUT_MODE": "hosted"})`: the app restarts on the same
port and database with them, and `app_url` restarts it with the defaults for the next test.

Chromium is Debian's (/usr/bin/chromium): `playwright install` cannot download here.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.stand_ins import start_localstripe, start_moto

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = float(os.environ.get("E2E_START_TIMEOUT", "420"))  # a cold bun install + build
# "s3": the app keeps files and PDFs in moto's S3 over HTTP instead of on local disk.
E2E_STORAGE = os.environ.get("E2E_STORAGE", "local")


@pytest.fixture(autouse=True)
def _expectations_allow_a_slow_round_trip():
    """Every browser test waits up to 20 s for what it expects: the first event after an app restart
    (another test's settings) or on a loaded CI machine can take seconds; a failure costs the wait."""
    expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the whole group (reflex, granian workers), then SIGKILL what is left."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """The Stripe stand-in the app talks to (its API and the fake Stripe.js the pages load)."""
    with start_localstripe() as handle:
        yield handle.url


class AppServer:
    """The app under test: one SQLite database and port, restarted when a test needs other settings.

    `ensure(extra_env)` answers the URL of the app running with those extra environment variables
    (e.g. {"CHECKOUT_MODE": "hosted"}), restarting it on the same port and database only when they
    differ from the running app's, so tests of the default settings never see another mode.
    """

    def __init__(self, work: Path, localstripe_url: str, database_url: str, storage_env: dict[str, str]):
        self.work = work
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.localstripe_url = localstripe_url
        self.proc: subprocess.Popen | None = None
        self.extra: dict[str, str] | None = None
        self.env = {
            **os.environ,
            "BILLING_PORTAL_ENV_FILE": os.devnull,  # a developer's .env must not steer the app
            "DATABASE_URL": database_url,
            "PUBLIC_URL": self.url,
            "API_URL": self.url,
            "ALLOWED_ORIGINS": f'["{self.url}"]',
            "STORAGE_DIR": str(work / "files"),
            "STRIPE_API_BASE": localstripe_url,
            "STRIPE_JS_URL": f"{localstripe_url}/js.stripe.com/v3/",
            "PYTHONUNBUFFERED": "1",
            # Every browser test signs up and pays from 127.0.0.1: limits are tested without a browser.
            "RATE_LIMIT_SIGN_UP": "10000/hour",
            "RATE_LIMIT_SIGN_IN": "10000/minute",
            "RATE_LIMIT_CHECKOUT": "10000/minute",
            # ... and the fraud guard would count their attempts, and the declines the failure-path tests
            # make on purpose, from that one IP (the guard itself: tests/billing/test_fraud.py).
            "FRAUD_IP_ATTEMPTS": "100000",
            "FRAUD_DECLINES_ALLOWED": "100000",
            "REFLEX_TELEMETRY_ENABLED": "false",
            **storage_env,
        }
        self.env.pop("REDIS_URL", None)
        for command in ("migrate", "seed-demo"):
            done = subprocess.run(
                [sys.executable, "-m", "billing_portal", command],
                cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=180,
            )
            assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"

    def ensure(self, extra_env: dict[str, str] | None = None) -> str:
        extra = dict(extra_env or {})
        if self.proc is not None and self.proc.poll() is None and extra == self.extra:
            return self.url
        self.stop()
        self._start(extra)
        return self.url

    def _start(self, extra: dict[str, str]) -> None:
        log_path = self.work / f"reflex-{len(list(self.work.glob('reflex-*.log')))}.log"
        started = time.monotonic()
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "reflex", "run", "--env", "prod",
                 "--frontend-port", str(self.port), "--backend-port", str(self.port), "--loglevel", "info"],
                cwd=ROOT, env={**self.env, **extra}, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, stopped as a whole
            )
        self.extra = extra
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"reflex run exited with {self.proc.returncode}:\n{_tail(log_path)}")
            if time.monotonic() - started > START_TIMEOUT:
                pytest.fail(f"the app did not answer within {START_TIMEOUT:.0f} s:\n{_tail(log_path)}")
            if _status(f"{self.url}/api/health") == 200 and _status(f"{self.url}/pricing") == 200:
                break
            time.sleep(0.5)
        print(f"\n[e2e] app {extra or ''} up at {self.url} after {time.monotonic() - started:.1f} s (log: {log_path})")

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None


@pytest.fixture(scope="session")
def storage_env() -> Iterator[dict[str, str]]:
    """The app's storage settings: none for local disk; with E2E_STORAGE=s3, a moto server and a bucket."""
    if E2E_STORAGE != "s3":
        yield {}
        return
    import boto3  # only this mode needs it

    with start_moto() as moto:
        keys = {"aws_access_key_id": "e2e", "aws_secret_access_key": "e2e-secret"}
        boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1", **keys).create_bucket(Bucket="e2e-files")
        yield {"STORAGE_BACKEND": "s3", "S3_ENDPOINT_URL": moto.url, "S3_BUCKET": "e2e-files",
               "S3_REGION": "us-east-1", "S3_ACCESS_KEY_ID": keys["aws_access_key_id"],
               "S3_SECRET_ACCESS_KEY": keys["aws_secret_access_key"]}


@pytest.fixture(scope="session")
def app_database_url(tmp_path_factory) -> str:
    """The app's database, for tests that set up what no page can (e.g. a failed renewal)."""
    return f"sqlite:///{tmp_path_factory.mktemp('e2e-db') / 'billing.db'}"


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, localstripe_url, app_database_url, storage_env) -> Iterator[AppServer]:
    server = AppServer(tmp_path_factory.mktemp("e2e-app"), localstripe_url, app_database_url, storage_env)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def app_url(app_server) -> str:
    """The app with the default settings (started once, restarted only after a test changed them)."""
    return app_server.ensure()


class ConsoleGuard:
    """Collects what a page logs as an error (console.error: React's hydration and nesting warnings
    among them) and its uncaught exceptions, for every page `watch` is given."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.answering: tuple[str, ...] = ()

    def allow_refusals_from(self, origin: str) -> None:
        """A declined card is a 402 from Stripe (here its stand-in), which Chromium logs as an error."""
        self.answering += (origin,)

    def _console(self, page, msg) -> None:
        if msg.type != "error":
            return
        url = (msg.location or {}).get("url", "")
        if msg.text.startswith("Failed to load resource") and url.startswith(self.answering or ("\0",)):
            return
        self.errors.append(f"{page.url}: {msg.text} ({url})")

    def watch(self, page):
        page.on("console", lambda msg: self._console(page, msg))
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: uncaught {exc}"))
        return page

    def assert_clean(self) -> None:
        errors, self.errors = self.errors, []
        assert errors == [], "the browser logged errors:\n" + "\n".join(errors)


@pytest.fixture
def console_errors() -> Iterator[ConsoleGuard]:
    """Fails the test when a watched page logs an error: `console_errors.watch(page)`."""
    guard = ConsoleGuard()
    yield guard
    guard.assert_clean()
