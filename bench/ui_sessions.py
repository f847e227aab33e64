"""UI sessions paging through the billing history, over Reflex's own event protocol (one websocket
per session, tests/support/reflex_client.py), against the prod backend (granian, as `reflex run --env prod` runs it) on
PostgreSQL with the demo data.

1. One backend worker (state in memory), 50 sessions: the event round trip (a click on Next or
   Previous until the session's state shows the other page, loaded) p95, goal < 250 ms. Baseline:
   one session alone on the same worker, same clicks.
2. Two backend workers with the state in Redis (REDIS_URL, GRANIAN_WORKERS=2), 100 sessions: the
   same p95 (goal < 250 ms); baseline the one-worker p95; `scaling` is the events per second of
   two workers over one.

Every session signs in as the demo customer (its own session each) and clicks every
BENCH_THINK_SECONDS (0.5) for BENCH_SECONDS (30), like a person paging quickly. A session whose
click is not answered within 60 s stops and counts in `failed_sessions` (then `met` is false).

    .venv/bin/python -m bench.ui_sessions
"""

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.report import emit, percentile
from billing_portal.migrations import upgrade_to_head
from tests.support.reflex_client import ReflexSession, state_name
from tests.support.stand_ins import create_database, http_request, start_postgres, start_process, start_redis

ROOT = Path(__file__).resolve().parent.parent
SESSIONS_PER_WORKER = int(os.environ.get("BENCH_SESSIONS_PER_WORKER", "50"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
THINK = float(os.environ.get("BENCH_THINK_SECONDS", "0.5"))
GOAL_MS = 250
DEMO = ("demo@example.com", "demo-password-123")


def _names() -> tuple[str, str, str]:
    from billing_portal.state.auth import SignInState
    from billing_portal.state.billing import HistoryState

    return state_name(SignInState), state_name(HistoryState), (
        "reflex___state____state.reflex___state____on_load_internal_state.on_load_internal")


SIGN_IN, HISTORY, ON_LOAD = _names()


def start_backend(database_url: str, workers: int, redis_url: str | None, work: Path):
    env = {**os.environ, "BILLING_PORTAL_ENV_FILE": os.devnull, "DATABASE_URL": database_url,
           "STORAGE_DIR": str(work / "files"), "GRANIAN_WORKERS": str(workers), "LOG_LEVEL": "WARNING",
           "RATE_LIMIT_SIGN_IN": "1000000/minute", "REFLEX_TELEMETRY_ENABLED": "false", "PYTHONUNBUFFERED": "1",
           "REFLEX_ENV_MODE": "prod", "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url

    def command(port: int, _dir) -> list[str]:
        # The origin the websocket accepts depends on the port start_process picks.
        url = f"http://127.0.0.1:{port}"
        env.update(PUBLIC_URL=url, API_URL=url, ALLOWED_ORIGINS=f'["{url}"]')
        # What `reflex run --env prod --backend-only` runs (granian on the app factory), started
        # directly so that host, port and workers are the benchmark's own.
        return [str(Path(sys.executable).parent / "granian"), "--interface", "asgi", "--factory",
                "--workers", str(workers), "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                "billing_portal.billing_portal:app"]

    def ready(handle) -> bool:
        return http_request("GET", handle.url + "/api/health", timeout=2)[0] == 200

    return start_process(f"backend-{workers}", command, "http://127.0.0.1:{port}", ready, cwd=ROOT, env=env,
                         timeout=300)


def _on_page(number: int):
    def shown(session: ReflexSession) -> bool:
        history = session.state(HISTORY)
        return history.get("page_rx_state_") == number and history.get("loaded_rx_state_") is True \
            and not history.get("loading_rx_state_")
    return shown


async def signed_in_session(url: str) -> ReflexSession:
    """A session on the history page, signed in as the demo customer, on page 1."""
    session = ReflexSession(url, timeout=60)
    try:
        await session.sign_in(SIGN_IN, *DEMO, "/billing/history")
        await session.event(ON_LOAD, {}, "/billing/history", until=_on_page(1))
    except BaseException:
        await session.close()
        raise
    if session.state(HISTORY).get("pages_rx_state_", 1) < 2:
        raise RuntimeError("the demo history has one page: nothing to page through")
    return session


async def page_through(session: ReflexSession, stop_at: float, samples: list[float], think: float,
                       pause: random.Random) -> int:
    """Next, Previous, Next, ... until `stop_at`: each click's round trip in ms. A click not
    answered within the session's timeout ends the session: it counts as a failure.

    Sessions start at a random point of the first think time and each pause varies by ±50 %, as
    people's do: otherwise every session clicks in the same instant and the figure measures a
    synchronized burst of 50 clicks, not 50 people."""
    page = 1
    await asyncio.sleep(pause.uniform(0, think))
    while time.monotonic() < stop_at:
        handler, page = ("next_page", 2) if page == 1 else ("previous_page", 1)
        try:
            seconds = await session.event(f"{HISTORY}.{handler}", {}, "/billing/history", until=_on_page(page))
        except TimeoutError:
            return 1
        samples.append(seconds * 1000)
        await asyncio.sleep(pause.uniform(0.5 * think, 1.5 * think))
    return 0


async def measure(url: str, sessions: int, seconds: float, think: float = THINK) -> dict:
    gate = asyncio.Semaphore(4)  # sign-ins hash passwords: not all at once

    async def one() -> ReflexSession | None:
        async with gate:
            try:
                return await signed_in_session(url)
            except TimeoutError:
                return None

    opened = [s for s in await asyncio.gather(*(one() for _ in range(sessions))) if s is not None]
    pids = {session.server_pid() for session in opened}
    samples: list[float] = []
    pause = random.Random(7)
    started = time.monotonic()
    failed = await asyncio.gather(*(page_through(s, started + seconds, samples, think, pause) for s in opened))
    elapsed = time.monotonic() - started
    await asyncio.gather(*(s.close() for s in opened))
    return {"p95": percentile(samples, 95), "p50": statistics.median(samples), "events": len(samples),
            "events_per_s": len(samples) / elapsed, "workers_seen": len(pids - {None}),
            "failed_sessions": sessions - len(opened) + sum(failed)}


def run(coroutine):
    return asyncio.run(coroutine)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    with start_postgres() as postgres, start_redis() as redis:
        database_url = create_database(postgres.url, "bench_ui")
        upgrade_to_head(database_url)
        from billing_portal.db import session_scope, engine_for
        from billing_portal.demo import seed_demo

        with session_scope(engine_for(database_url)) as session:
            seed_demo(session)

        with start_backend(database_url, 1, None, work) as backend:
            alone = run(measure(backend.url, 1, min(SECONDS, 10), think=0.05))
            one = run(measure(backend.url, SESSIONS_PER_WORKER, SECONDS))
        emit("ui_round_trip_p95_1_worker", one["p95"], "ms", f"p95 < {GOAL_MS} ms, {SESSIONS_PER_WORKER} sessions",
             alone["p95"], one["p95"] < GOAL_MS and not one["failed_sessions"],
             sessions=SESSIONS_PER_WORKER, p50_ms=round(one["p50"], 1),
             events=one["events"], events_per_s=round(one["events_per_s"], 1), think_s=THINK,
             failed_sessions=one["failed_sessions"])

        with start_backend(database_url, 2, redis.url, work) as backend:
            two = run(measure(backend.url, 2 * SESSIONS_PER_WORKER, SECONDS))
        emit("ui_round_trip_p95_2_workers_redis", two["p95"], "ms",
             f"p95 < {GOAL_MS} ms, {2 * SESSIONS_PER_WORKER} sessions", one["p95"],
             two["p95"] < GOAL_MS and not two["failed_sessions"],
             sessions=2 * SESSIONS_PER_WORKER, p50_ms=round(two["p50"], 1), events=two["events"],
             events_per_s=round(two["events_per_s"], 1), workers_serving=two["workers_seen"],
             scaling=round(two["events_per_s"] / one["events_per_s"], 2), think_s=THINK,
             failed_sessions=two["failed_sessions"])


if __name__ == "__main__":
    main()
