"""`make run-scaled`: the portal in its scale-out shape on one machine.

    python -m billing_portal.sandbox.scaled [--port 3000] [--backend-workers 2]

PostgreSQL and Redis (data and logs under .data/postgres and .data/redis, kept between runs), the
migrations and demo data, the Stripe sandbox, then `reflex run --env prod` with REDIS_URL (Reflex
keeps every session's state in Redis, so any of the GRANIAN_WORKERS backend workers can serve any
event) and one procrastinate job worker (JOBS_BACKEND=procrastinate). Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from billing_portal.sandbox import services
from billing_portal.settings import PROJECT_ROOT

DATA = PROJECT_ROOT / ".data"


def scaled_env(database_url: str, redis_url: str, public_url: str, backend_workers: int) -> dict[str, str]:
    """The settings of the scale-out mode over the caller's environment (and .env, which they override)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "JOBS_BACKEND": "procrastinate",
        "GRANIAN_WORKERS": str(backend_workers),
        # In prod Reflex serves the built pages and the backend on one port.
        "PUBLIC_URL": public_url,
        "API_URL": public_url,
        "ALLOWED_ORIGINS": f'["{public_url}"]',
        "REFLEX_TELEMETRY_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }


def _database(postgres: services.PostgresStandIn, name: str = "billing") -> str:
    """The portal's database on the cluster, created on the first run."""
    import psycopg

    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            return services.create_database(postgres.url, name)
    return postgres.url.rsplit("/", 1)[0] + f"/{name}"


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=3000, help="the portal (pages and backend)")
    parser.add_argument("--backend-workers", type=int, default=2)
    parser.add_argument("--stripe-port", type=int, default=8420)
    parser.add_argument("--postgres-port", type=int, default=55433)
    parser.add_argument("--redis-port", type=int, default=56380)
    args = parser.parse_args(argv)
    # SIGTERM (and SIGINT, which a shell's background job ignores) stop everything as Ctrl-C does.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _interrupt)
    python = sys.executable
    started: list[subprocess.Popen] = []
    postgres = redis = None
    try:
        postgres = services.start_postgres(data_dir=DATA / "postgres", port=args.postgres_port)
        redis = services.start_redis(data_dir=DATA / "redis", port=args.redis_port)
        print(f"PostgreSQL {postgres.url} · Redis {redis.url} (data and logs under {DATA})", flush=True)
        env = scaled_env(_database(postgres), redis.url, f"http://localhost:{args.port}", args.backend_workers)
        stripe = f"http://localhost:{args.stripe_port}"
        env.setdefault("STRIPE_API_BASE", stripe)
        env.setdefault("STRIPE_JS_URL", f"{stripe}/js.stripe.com/v3/")
        for command in ("migrate", "seed-demo"):
            subprocess.run([python, "-m", "billing_portal", command], cwd=PROJECT_ROOT, env=env, check=True)
        started.append(_spawn([python, "-m", "billing_portal.sandbox.localstripe_server", "--port",
                               str(args.stripe_port)], env, DATA / "localstripe.log"))
        started.append(_spawn([python, "-m", "billing_portal", "jobs", "work", "--name", "jobs-1"], env,
                              DATA / "job-worker.log"))
        print(f"Job worker: procrastinate (log {DATA / 'job-worker.log'})", flush=True)
        print(f"Portal: http://localhost:{args.port} with {args.backend_workers} backend workers on Redis "
              "(the first start builds the pages; Ctrl-C stops everything)", flush=True)
        portal = subprocess.Popen(
            [python, "-m", "reflex", "run", "--env", "prod", "--frontend-port", str(args.port),
             "--backend-port", str(args.port)], cwd=PROJECT_ROOT, env=env, start_new_session=True)
        started.append(portal)
        while all(proc.poll() is None for proc in started):
            time.sleep(1)
        print("a process stopped; stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in reversed(started):
            services.stop_group(proc, grace=10)
        for service in (redis, postgres):
            if service is not None:
                service.stop()


if __name__ == "__main__":
    sys.exit(main())
