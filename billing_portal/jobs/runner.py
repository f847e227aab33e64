"""Runs the jobs: once (CLI `jobs run-once`) or periodically inside the app (lifespan task).

The embedded runner is the default for a single-server install; scale-out deployments run the same
job functions from their own workers instead (JOBS_IN_PROCESS=false).
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from billing_portal.jobs import tasks
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[datetime], int]  # returns how many things it did
    every_seconds: int


JOBS: tuple[Job, ...] = (
    Job("renewals", tasks.renew_due_subscriptions, every_seconds=60),
    Job("webhooks", tasks.process_webhook_events, every_seconds=3),
    Job("invoice-pdfs", tasks.render_missing_invoice_pdfs, every_seconds=60),
    Job("file-cleanup", tasks.cleanup_files, every_seconds=3600),
    # Asked often, refreshes only when a payment landed (or every 5 minutes): analytics/rollups.py.
    Job("revenue-rollups", tasks.refresh_revenue_rollups, every_seconds=5),
    Job("dunning", tasks.retry_failed_payments, every_seconds=300),
    Job("reconciliation", tasks.reconcile_recent, every_seconds=86400),
    Job("mail", tasks.send_queued_mail, every_seconds=10),
    Job("outgoing-webhooks", tasks.deliver_outgoing_webhooks, every_seconds=2),
)


def run_once(now: datetime | None = None, only: set[str] | None = None) -> dict[str, int]:
    """Run every job (or those named) once; one failing job does not stop the others."""
    now = now or utcnow()
    done = {}
    for job in JOBS:
        if only and job.name not in only:
            continue
        try:
            done[job.name] = job.run(now)
        except Exception:
            logger.exception("job %s failed", job.name)
            done[job.name] = -1
    return done


async def run_forever(tick_seconds: float = 1.0, only: set[str] | None = None) -> None:
    """Run each job (or those named) every `every_seconds`, until cancelled."""
    last_run: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    while True:
        for job in JOBS:
            if only and job.name not in only:
                continue
            if loop.time() - last_run.get(job.name, float("-inf")) >= job.every_seconds:
                last_run[job.name] = loop.time()
                await asyncio.to_thread(run_once, None, {job.name})
        await asyncio.sleep(tick_seconds)


@contextlib.asynccontextmanager
async def embedded_runner() -> AsyncIterator[None]:
    """The app's lifespan task: runs due jobs in the background while the app is up."""
    settings = get_settings()
    if not settings.jobs_in_process or settings.jobs_backend != "embedded":  # workers run them
        yield
        return
    task = asyncio.create_task(run_forever(), name="billing-jobs")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
