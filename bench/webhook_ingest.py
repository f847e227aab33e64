"""Webhook ingest over loopback: signed events POSTed to /api/webhooks/stripe on one granian worker
backed by PostgreSQL.

1. Latency at a steady 200 events/s for BENCH_SECONDS (default 60): p50 and p99 (goal p99 < 50 ms).
2. Maximum throughput with 64 requests in flight for 10 s (goal >= 1,000 events/s and >= 50 % of a
   bare Starlette route doing the same insert, measured in the same run).

    .venv/bin/python -m bench.webhook_ingest
"""

import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from bench.report import emit, percentile
from billing_portal.migrations import upgrade_to_head
from tests.support.stand_ins import create_database, free_port, start_postgres
from tests.support.stripe_signing import signed_event

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_bench_only"
STEADY_RATE = 200
SECONDS = float(os.environ.get("BENCH_SECONDS", "60"))
IN_FLIGHT = 64


def event_body() -> tuple[bytes, str]:
    event = {
        "id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "payment_intent.succeeded",
        "created": int(time.time()), "api_version": "2024-06-20", "livemode": False,
        "data": {"object": {"id": f"pi_{uuid.uuid4().hex[:24]}", "object": "payment_intent", "amount": 15000,
                            "currency": "krw", "status": "succeeded", "metadata": {}}},
    }
    return signed_event(event, SECRET)


def serve(app: str, port: int, env: dict, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "granian", "--interface", "asgi", "--workers", "1", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", app],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            import urllib.request

            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
        except Exception as exc:  # 404 means it is up
            if getattr(exc, "code", None) == 404:
                return proc
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app} did not start: {log.read_text()[-2000:]}")


async def post(http: aiohttp.ClientSession, url: str) -> float:
    body, signature = event_body()
    started = time.perf_counter()
    async with http.post(url, data=body, headers={"Stripe-Signature": signature,
                                                  "Content-Type": "application/json"}) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"answered {response.status}")
    return time.perf_counter() - started


async def steady(url: str) -> list[float]:
    """Open loop: one request every 1/rate s whatever the answers do, so slow answers show as latency."""
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as http:
        tasks, started = [], time.perf_counter()
        for n in itertools.count():
            at = started + n / STEADY_RATE
            if at - started >= SECONDS:
                break
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            tasks.append(asyncio.create_task(post(http, url)))
        latencies = await asyncio.gather(*tasks)
    return list(latencies)


async def saturate(url: str, seconds: float = 10.0) -> float:
    done = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT)) as http:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await post(http, url)
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        return done / (time.perf_counter() - started)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    with start_postgres() as pg:
        url = create_database(pg.url, "bench")
        upgrade_to_head(url)
        env = {**os.environ, "DATABASE_URL": url, "STRIPE_WEBHOOK_SECRET": SECRET,
               "BILLING_PORTAL_ENV_FILE": os.devnull, "STORAGE_DIR": str(work / "files"),
               # One client sends everything: lift the per-IP flood guard above what it sends
               # (the limiter still counts every request).
               "RATE_LIMIT_WEBHOOK": "1000000/minute"}
        ours_port, bare_port = free_port(), free_port()
        servers = [serve("bench.webhook_apps:ours", ours_port, env, work / "ours.log"),
                   serve("bench.webhook_apps:bare", bare_port, env, work / "bare.log")]
        try:
            ours_url = f"http://127.0.0.1:{ours_port}/api/webhooks/stripe"
            bare_url = f"http://127.0.0.1:{bare_port}/api/webhooks/stripe"
            latencies = asyncio.run(steady(ours_url))
            p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
            emit("webhook_ingest_p50_at_200_per_s", p50, "ms", "informational", None, True,
                 events=len(latencies), seconds=SECONDS)
            emit("webhook_ingest_p99_at_200_per_s", p99, "ms", "p99 < 50 ms", None, p99 < 50,
                 events=len(latencies), seconds=SECONDS)
            ours = asyncio.run(saturate(ours_url))
            bare = asyncio.run(saturate(bare_url))
            emit("webhook_ingest_max_throughput", ours, "events/s", ">= 1000/s and >= 50% of bare Starlette",
                 bare, ours >= 1000 and ours >= 0.5 * bare, in_flight=IN_FLIGHT)
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=10)


if __name__ == "__main__":
    main()
