"""procrastinate workers (JOBS_BACKEND=procrastinate) as real processes on one PostgreSQL: the same
job functions as the embedded runner, each period deferred once, each event and renewal done once."""

import json
import os
import sys
import time
from datetime import timedelta

import psycopg
import pytest
from sqlmodel import Session, SQLModel, func, select

from billing_portal import cli
from billing_portal.billing import payments, subscriptions, webhooks
from billing_portal.db import engine_for
from billing_portal.jobs import queue, runner
from billing_portal.migrations import upgrade_to_head
from billing_portal.models import Invoice, Payment, WebhookEvent
from billing_portal.models.types import utcnow
from billing_portal.settings import Settings, get_settings
from tests.support.builders import make_customer, make_plan
from tests.support.stand_ins import REPO_ROOT, create_database, libpq_url, start_process

QUEUE_TABLES = "procrastinate_periodic_defers, procrastinate_events, procrastinate_jobs, procrastinate_workers"


@pytest.fixture(scope="module")
def queue_database(postgres) -> str:
    """A database of its own: migrated, with procrastinate's tables (as `migrate` leaves it)."""
    url = create_database(postgres.url, "billing_queue")
    upgrade_to_head(url)
    assert queue.ensure_schema(url) is True
    return url


@pytest.fixture
def queue_db(queue_database, monkeypatch) -> str:
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with psycopg.connect(libpq_url(queue_database), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {tables}, {QUEUE_TABLES} RESTART IDENTITY CASCADE")
    monkeypatch.setenv("DATABASE_URL", queue_database)
    monkeypatch.setenv("JOBS_BACKEND", "procrastinate")
    get_settings.cache_clear()
    return queue_database


@pytest.fixture
def session(queue_db):
    with Session(engine_for(queue_db), expire_on_commit=False) as s:
        yield s
        s.rollback()


class Workers:
    """`python -m billing_portal jobs work` processes, stopped (SIGTERM to the group) at the end."""

    def __init__(self, db_url: str, tmp_path, **settings: str) -> None:
        self.env = {**os.environ, "BILLING_PORTAL_ENV_FILE": os.devnull, "PYTHONPATH": str(REPO_ROOT),
                    "DATABASE_URL": db_url, "JOBS_BACKEND": "procrastinate", "STORAGE_DIR": str(tmp_path / "files"),
                    **settings}
        self.handles = []
        self.final_logs: dict[str, str] = {}

    def start(self, name: str):
        def up(handle) -> bool:
            return "job worker running" in handle.log_path.read_text(errors="replace")

        self.handles.append(start_process(
            name, lambda _port, _dir: [sys.executable, "-m", "billing_portal", "jobs", "work", "--name", name],
            "worker://{port}", up, cwd=REPO_ROOT, env=self.env, attempts=1,
        ))

    def logs(self) -> dict[str, str]:
        """Each worker's output (kept from when it stopped: stopping removes its dir)."""
        return {handle.name: self.final_logs.get(handle.name) or handle.log_path.read_text(errors="replace")
                for handle in self.handles}

    def stop(self) -> None:
        for handle in self.handles:
            if handle.running:
                self.final_logs[handle.name] = handle.log_path.read_text(errors="replace")
                handle.stop()


@pytest.fixture
def workers(queue_db, tmp_path):
    started: list[Workers] = []

    def start(*names: str, **settings: str) -> Workers:
        group = Workers(queue_db, tmp_path, **settings)
        started.append(group)
        for name in names:
            group.start(name)
        return group

    yield start
    for group in started:
        group.stop()


def _jobs_left(url: str) -> list[tuple[str, str]]:
    """(task, status) of the jobs still in the queue: successful ones are deleted."""
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute("SELECT task_name, status::text FROM procrastinate_jobs ORDER BY id").fetchall()


def test_every_job_of_the_embedded_runner_is_a_periodic_task_on_its_own_queue():
    app = queue.make_app("postgresql+psycopg://u@127.0.0.1:1/db")
    names = {job.name for job in runner.JOBS}
    assert {name: app.tasks[name].queue for name in names} == {name: name for name in names}
    periodic = {p.task.name: p.cron for p in app.periodic_registry.periodic_tasks.values()}
    assert set(periodic) == names
    assert periodic["webhooks"] == "* * * * * */3" and periodic["revenue-rollups"] == "* * * * * */5"
    assert periodic["file-cleanup"] == "0 */1 * * *" and periodic["reconciliation"] == "0 0 */1 * *"
    assert names & set(queue.make_app("postgresql+psycopg://u@h/db", only={"webhooks"}).tasks) == {"webhooks"}


def test_procrastinate_is_refused_on_sqlite_with_a_clear_message():
    with pytest.raises(ValueError, match="JOBS_BACKEND=procrastinate keeps its queue in PostgreSQL"):
        Settings(_env_file=None, jobs_backend="procrastinate", database_url="sqlite:///x.db")
    with pytest.raises(ValueError, match="needs PostgreSQL"):
        queue.make_app("sqlite:///x.db")


def test_migrate_installs_the_queue_tables_once(queue_db, capsys):
    assert cli.main(["migrate"]) == 0
    assert cli.main(["migrate"]) == 0
    assert "Installed the job queue" not in capsys.readouterr().out  # the fixture installed them
    assert queue.ensure_schema() is False


def test_two_workers_process_each_webhook_event_and_renewal_once(queue_db, workers, session, localstripe_clean):
    """Eight runs each of the webhooks and renewals jobs, deferred at once and taken by two worker
    processes running four at a time: every event is processed once and every renewal is charged
    once (localstripe ignores Idempotency-Key, so a second charge would show there)."""
    from tests.billing.test_dunning import DECLINED_AT_CHARGE, VISA, save_default_card
    from tests.gateways.conftest import SECRET_KEY, LocalStripeHelper

    stripe = {"STRIPE_API_BASE": localstripe_clean.url, "STRIPE_SECRET_KEY": SECRET_KEY}
    os.environ.update(stripe)  # the builders' gateway; restored by hand below
    try:
        get_settings.cache_clear()
        started_at = utcnow() - timedelta(days=35)  # one monthly renewal due now
        _, prices = make_plan(session, "pro", tier=2, prices={("USD", "month", 1): 1500})
        for n in range(6):
            customer = make_customer(session, f"q{n}@example.com")
            save_default_card(session, customer, VISA if n % 2 else DECLINED_AT_CHARGE)
            begun = subscriptions.subscribe(session, customer_id=customer.id,
                                            price_id=prices[("USD", "month", 1)].id, now=started_at)
            payments.record_payment(session, invoice_id=begun.invoice.id, idempotency_key=f"first:{n}",
                                    succeeded=True, now=started_at)
        for n in range(300):
            webhooks.receive(session, {"id": f"evt_queue_{n}", "type": "invoice.finalized", "created": 1_700_000_000})
        session.commit()
    finally:
        for key in stripe:
            os.environ.pop(key, None)
        get_settings.cache_clear()

    app = queue.make_app(queue_db)
    with app.open():
        for n in range(8):  # past the queueing lock: runs that overlap on purpose
            for name in ("webhooks", "renewals"):
                app.tasks[name].configure(queueing_lock=f"race-{name}-{n}").defer()

    group = workers("worker-a", "worker-b", **stripe)
    deadline = time.monotonic() + 120
    while any(status in ("todo", "doing") for task, status in _jobs_left(queue_db) if task in ("webhooks", "renewals")):
        assert time.monotonic() < deadline, f"jobs still queued: {_jobs_left(queue_db)}\n{group.logs()}"
        time.sleep(0.3)
    group.stop()

    assert not [job for job in _jobs_left(queue_db) if job[1] == "failed"], group.logs()
    engine = engine_for(queue_db)
    with Session(engine) as s:
        events = s.exec(select(WebhookEvent.attempts, WebhookEvent.status)).all()
        renewals = s.exec(select(Invoice).where(Invoice.billing_reason == "subscription_cycle")).all()
        charged = s.exec(select(Payment).where(Payment.stripe_payment_intent_id.is_not(None))).all()
        assert s.exec(select(func.count()).select_from(Invoice)).one() == 12
    assert len(events) == 300 and {attempts for attempts, _ in events} == {1}
    assert {status for _, status in events} == {"ignored"}
    assert len(renewals) == 6 and sorted(i.status for i in renewals) == ["open"] * 3 + ["paid"] * 3
    assert [i.collection_attempts for i in renewals] == [1] * 6
    intents = LocalStripeHelper(localstripe_clean.url).get("/v1/payment_intents?limit=100")["data"]
    keys = [intent["metadata"]["idempotency_key"] for intent in intents]
    assert len(keys) == len(set(keys)) == 6
    assert sorted(keys) == sorted(p.idempotency_key for p in charged)


def _deferrals(log: str) -> tuple[list[tuple[str, int]], int]:
    """(task, period) the worker deferred, and how many periods it found already deferred."""
    deferred, skipped = [], 0
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("action") == "periodic_task_deferred":
            deferred.append((record["task_name"], record["defer_timestamp"]))
        elif record.get("action") == "periodic_task_already_deferred":
            skipped += 1
    return deferred, skipped


def test_two_workers_defer_each_period_of_a_periodic_job_once(queue_db, workers):
    group = workers("worker-a", "worker-b", LOG_LEVEL="DEBUG")
    time.sleep(10)  # three or four periods of the webhooks job (every 3 s)
    group.stop()
    found = {name: _deferrals(log) for name, log in group.logs().items()}
    deferred = [key for keys, _ in found.values() for key in keys]
    assert len(deferred) == len(set(deferred)), found  # no period deferred by both workers
    webhook_periods = sorted(period for task, period in deferred if task == "webhooks")
    # Every 3 s (a period may be skipped while the last run still waits in the queue: its queueing lock).
    assert len(webhook_periods) >= 3 and all((b - a) % 3 == 0 for a, b in zip(webhook_periods, webhook_periods[1:]))
    assert sum(skipped for _, skipped in found.values()) >= 2, "the second worker also tried each period"
