"""The entitlements endpoint (GET /api/v1/customers/{id}/entitlements) over loopback, on one granian
worker backed by PostgreSQL: an open loop at BENCH_ENTITLEMENTS_RATE requests/s (default 500, the
issue's target) for BENCH_SECONDS (default 30): p50, p99, the rate achieved and the errors; the same
load on a bare Starlette JSON route (entitlements_apps.py) in the same run is the baseline.

The customer is subscribed to a plan with limits, features and a metered price, and has usage in
the period: the endpoint does all its work. One read key sends everything, so the per-key limit
(RATE_LIMIT_SELLER_API) is lifted above the run's rate; the limiter still counts every request.

    .venv/bin/python -m bench.entitlements
"""

import asyncio
import itertools
from collections import Counter
import os
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlmodel import Session

from bench.report import emit, percentile
from bench.webhook_ingest import serve
from billing_portal.billing import catalog, payments, subscriptions, usage
from billing_portal.billing.seller_keys import service as seller_keys
from billing_portal.db import engine_for
from billing_portal.migrations import upgrade_to_head
from tests.support.builders import make_customer, make_plan
from tests.support.stand_ins import create_database, free_port, start_postgres

RATE = float(os.environ.get("BENCH_ENTITLEMENTS_RATE", "500"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
GOAL_P99_MS = 50.0


def seed(database_url: str) -> tuple[int, str]:
    """A subscribed customer with usage, and a read key: (customer id, token)."""
    with Session(engine_for(database_url), expire_on_commit=False) as session:
        plan, prices = make_plan(session, "pro", tier=2, prices={("USD", "month", 1): 3000})
        catalog.create_metered_price(session, plan_id=plan.id, metric="api_calls", label="API calls", currency="USD",
                                     package_size=1000, package_amount=250, included_units=1000)
        customer = make_customer(session, "bench@example.com")
        subscribed = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices[("USD", "month", 1)].id)
        payments.record_payment(session, invoice_id=subscribed.invoice.id, idempotency_key="bench-first",
                                succeeded=True)
        for n in range(20):
            usage.record_usage(session, customer.id, "api_calls", 60, f"bench-usage-{n}")
        token = seller_keys.create(session, actor="bench", name="bench", scope="read").token
        session.commit()
        return customer.id, token


async def get(http: aiohttp.ClientSession, url: str, headers: dict) -> tuple[float, int]:
    """The latency of one request and its status (0: no answer)."""
    started = time.perf_counter()
    try:
        async with http.get(url, headers=headers) as response:
            await response.read()
            status = response.status
    except aiohttp.ClientError:
        status = 0
    return time.perf_counter() - started, status


async def steady(url: str, headers: dict) -> dict:
    """Open loop: one request every 1/RATE s whatever the answers do, so slow answers show as latency."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512)) as http:
        for _ in range(50):  # warm-up: connections, caches, the first queries' plans
            await get(http, url, headers)
        tasks, started = [], time.perf_counter()
        for n in itertools.count():
            at = started + n / RATE
            if at - started >= SECONDS:
                break
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            tasks.append(asyncio.create_task(get(http, url, headers)))
        results = await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    latencies = [latency for latency, status in results if status == 200]
    errors = Counter(str(status) for _latency, status in results if status != 200)
    return {"p50": percentile(latencies, 50) * 1000 if latencies else float("nan"),
            "p99": percentile(latencies, 99) * 1000 if latencies else float("nan"),
            "achieved": len(latencies) / elapsed, "errors": sum(errors.values()), "error_statuses": dict(errors),
            "sent": len(results)}


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-entitlements-"))
    with start_postgres() as pg:
        url = create_database(pg.url, "bench")
        upgrade_to_head(url)
        env = {**os.environ, "DATABASE_URL": url, "BILLING_PORTAL_ENV_FILE": os.devnull,
               "STORAGE_DIR": str(work / "files"), "RATE_LIMIT_SELLER_API": "1000000/minute"}
        env.pop("REDIS_URL", None)  # one worker: the in-memory limiter
        os.environ.update({"DATABASE_URL": url, "BILLING_PORTAL_ENV_FILE": os.devnull,
                           "STORAGE_DIR": str(work / "files")})
        customer_id, token = seed(url)
        ours_port, bare_port = free_port(), free_port()
        servers = [serve("bench.entitlements_apps:ours", ours_port, env, work / "ours.log"),
                   serve("bench.entitlements_apps:bare", bare_port, env, work / "bare.log")]
        headers = {"Authorization": f"Bearer {token}"}
        path = f"/api/v1/customers/{customer_id}/entitlements"
        try:
            bare = asyncio.run(steady(f"http://127.0.0.1:{bare_port}{path}", headers))
            ours = asyncio.run(steady(f"http://127.0.0.1:{ours_port}{path}", headers))
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=10)
    common = {"target_rate": RATE, "seconds": SECONDS, "workers": 1}
    emit(f"entitlements_p50_at_{RATE:g}_per_s", ours["p50"], "ms", "informational", bare["p50"], True, **common)
    emit(f"entitlements_p99_at_{RATE:g}_per_s", ours["p99"], "ms", f"p99 < {GOAL_P99_MS:g} ms", bare["p99"],
         ours["p99"] < GOAL_P99_MS and ours["errors"] == 0, **common)
    emit("entitlements_achieved_rate", ours["achieved"], "requests/s", f">= 99% of {RATE:g}/s, no errors",
         bare["achieved"], ours["achieved"] >= 0.99 * RATE and ours["errors"] == 0,
         errors=ours["errors"], error_statuses=ours["error_statuses"], sent=ours["sent"], baseline_errors=bare["errors"], **common)


if __name__ == "__main__":
    main()
