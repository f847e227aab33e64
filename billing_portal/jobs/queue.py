"""The scale-out job backend (JOBS_BACKEND=procrastinate): procrastinate workers on the app's own
PostgreSQL run the same job functions as the embedded runner (`runner.JOBS`).

Every job is a procrastinate task of its own name, on a queue of that name, and a periodic task on
a cron made from its `every_seconds`. Every worker runs procrastinate's periodic deferrer; its unique
(task, periodic id, timestamp) row defers each period once however many workers run. The queueing
lock (the job's name) keeps at most one run of a job waiting, so a slow run is not piled on. Two
runs of one job may still overlap on two workers: the job functions claim their rows under row locks
and unique keys (jobs/tasks.py), so the work is done once either way.
"""

import logging
from collections.abc import Callable, Iterable

import procrastinate
import psycopg
from sqlalchemy.engine import make_url

from billing_portal.jobs.runner import JOBS, Job
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

# Jobs are blocking (database, Stripe): procrastinate runs each in a thread; this many at once
# keeps a long reconciliation from holding up the webhooks.
WORKER_CONCURRENCY = 4
# Any constant: serialises concurrent `migrate` runs installing the schema.
_SCHEMA_LOCK = 7_263_001


def conninfo(database_url: str) -> str:
    """SQLAlchemy's `postgresql+psycopg://...` as the libpq URL procrastinate's psycopg pool takes."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"procrastinate needs PostgreSQL, not {url.get_backend_name()}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def cron_for(every_seconds: int) -> str:
    """The cron of a job's interval; croniter's optional sixth field counts seconds."""
    for unit, cron in ((86400, "0 0 */{n} * *"), (3600, "0 */{n} * * *"), (60, "*/{n} * * * *"),
                       (1, "* * * * * */{n}")):
        if every_seconds % unit == 0:
            return cron.format(n=every_seconds // unit)
    raise ValueError(f"no cron for every {every_seconds} s")


def _task_function(job: Job) -> Callable[..., int]:
    def run(timestamp: int | None = None) -> int:
        # Due work is judged when the run starts (a queued run may start late), as the embedded
        # runner does; `timestamp` is the period procrastinate deferred it for.
        return job.run(utcnow())

    run.__name__ = run.__qualname__ = job.name.replace("-", "_")
    return run


def make_app(database_url: str | None = None, only: Iterable[str] | None = None) -> procrastinate.App:
    """A procrastinate App on DATABASE_URL with every job (or those named) as a periodic task."""
    url = conninfo(database_url or get_settings().database_url)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))
    chosen = set(only) if only else None
    for job in JOBS:
        if chosen is None or job.name in chosen:
            task = app.task(name=job.name, queue=job.name, queueing_lock=job.name)(_task_function(job))
            app.periodic(cron=cron_for(job.every_seconds), periodic_id=job.name)(task)
    return app


def run_worker(name: str | None = None, only: Iterable[str] | None = None) -> None:
    """A procrastinate worker until SIGINT/SIGTERM: defers the periodic jobs and runs them."""
    if get_settings().log_level != "DEBUG":
        # Its INFO lines are three per run, every 3 s for the webhooks alone: failures still show.
        logging.getLogger("procrastinate").setLevel(logging.WARNING)
    app = make_app(only=only)
    app.run_worker(
        queues=[job.name for job in JOBS if job.name in app.tasks],
        name=name,
        concurrency=WORKER_CONCURRENCY,
        delete_jobs="successful",  # a job every few seconds: keep only the failures to look at
    )


def ensure_schema(database_url: str | None = None) -> bool:
    """Install procrastinate's tables unless they are there; True when it installed them."""
    from procrastinate.schema import SchemaManager

    with psycopg.connect(conninfo(database_url or get_settings().database_url)) as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0] is not None:
                return False
            conn.execute(SchemaManager.get_schema())
    return True
