"""Webhook torture: TORTURE_DELIVERIES (default 10,000) signed deliveries to the real route.

Eight concurrent clients POST to `/api/webhooks/stripe` (granian, PostgreSQL) in shuffled order:
20 % are repeats of another delivery, 5 % carry a bad or stale signature. Two job workers
(`python -m billing_portal jobs work --job webhooks`) process them meanwhile; one is killed with
SIGKILL and restarted twice. Afterwards every valid event is stored once and processed, every bad
one was answered 400 and left nothing behind, and the money equals what the events say, counted
once: payments, invoices, refunds and credits.

Events are built from Stripe's payload shapes (tests/billing/test_webhooks.py) for 250 payments:
  i % 5 in (0, 1, 2)  requires_action, a decline, then succeeded; i % 5 == 0 also refunded 500
                      (i % 10 == 0: a credit pack of 1,000 + 100 bonus credits, half clawed back)
  i % 5 == 3          requires_action then payment_failed: failed, invoice open
  i % 5 == 4          requires_action then canceled: canceled, invoice open
padded with more reports of the same facts under new event ids (older statuses, the same refund
again), which must change nothing.
"""

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from functools import partial

import aiohttp
import pytest
from argon2 import PasswordHasher
from sqlmodel import func, select

from billing_portal.billing import accounts, credits, invoices, payments
from billing_portal.billing.invoices import DraftLine
from billing_portal.db import session_scope
from billing_portal.models import AuditEntry, CreditPack, Invoice, Payment, Refund, WebhookEvent
from tests.billing.test_webhooks import T, at, charge_refunded, event, payment_intent, refund_obj
from tests.support.builders import make_customer
from tests.api.conftest import start_api
from tests.support.event_loops import run_to_completion
from tests.support.stand_ins import REPO_ROOT
from tests.support.stripe_signing import sign_payload, signed_event

SECRET = "whsec_torture"
DELIVERIES = int(os.environ.get("TORTURE_DELIVERIES", "10000"))
PAYMENTS = 250
CLIENTS = 8
AMOUNT, PACK_AMOUNT, REFUNDED = 1500, 1000, 500

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


# The route's and the workers' settings: no rate limit in the way, retries a second apart.
SETTINGS = {"STRIPE_WEBHOOK_SECRET": SECRET, "RATE_LIMIT_WEBHOOK": "1000000/minute",
            "WEBHOOK_RETRY_BASE_SECONDS": "1"}


def _env(db_url: str) -> dict:
    return {**os.environ, "DATABASE_URL": db_url, "BILLING_PORTAL_ENV_FILE": os.devnull,
            "PYTHONPATH": str(REPO_ROOT), **SETTINGS}


@pytest.fixture
def route(engine, db_url):
    handle = start_api(db_url, **SETTINGS)
    yield handle.url + "/api/webhooks/stripe"
    handle.stop()


class Workers:
    """Job workers as real processes, so a kill is a real kill mid-transaction."""

    def __init__(self, db_url: str, log_dir) -> None:
        self.env, self.log_dir, self.procs, self.started = _env(db_url), log_dir, [], 0

    def start(self) -> subprocess.Popen:
        self.started += 1
        log = open(self.log_dir / f"worker-{self.started}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "billing_portal", "jobs", "work", "--job", "webhooks"],
                                cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def kill_one_and_restart(self) -> None:
        victim = next(p for p in self.procs if p.poll() is None)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        self.start()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _build_payments(scope) -> list[dict]:
    """The 250 payments waiting for Stripe's word, made through the services."""
    with scope() as s:
        pack = CreditPack(slug="torture", name="1,000 credits", currency="USD", amount=PACK_AMOUNT,
                          credits=1000, bonus_credits=100)
        s.add(pack)
        s.flush()
        pack_id = pack.id
    built = []
    for i in range(PAYMENTS):
        pi_id = f"pi_torture{i:04d}"
        with scope() as s:
            customer_id = make_customer(s, f"torture{i}@example.com").id
            is_pack = i % 10 == 0
            amount = PACK_AMOUNT if is_pack else AMOUNT
            extra = ({"billing_reason": "credit_pack",
                      "idempotency_key": credits.pack_invoice_key(customer_id, pack_id, 1, f"seti_{i}")}
                     if is_pack else {})
            draft = invoices.create_draft(s, customer_id=customer_id, currency="USD",
                                          lines=[DraftLine("Torture", amount)], **extra)
            invoice_id = invoices.finalize(s, draft.id).id
            payments.record_intent(s, invoice_id=invoice_id, idempotency_key=f"invoice:{invoice_id}:pm:{pi_id}",
                                   status="requires_action", stripe_payment_intent_id=pi_id,
                                   observed_at=at(T - 100))
        built.append({"i": i, "pi": pi_id, "customer_id": customer_id, "invoice_id": invoice_id,
                      "amount": amount, "pack": is_pack})
    return built


def _facts(p: dict) -> list[dict]:
    """The events that tell payment p's story (each a new Stripe event id)."""
    i, pi, amount = p["i"], p["pi"], p["amount"]
    story = [event("payment_intent.requires_action", payment_intent(pi, "requires_action", amount=amount),
                   created=T + 1)]
    if i % 5 in (0, 1, 2):
        story += [event("payment_intent.payment_failed", payment_intent(pi, "requires_payment_method",
                                                                        amount=amount), created=T + 6),
                  event("payment_intent.succeeded", payment_intent(pi, "succeeded", amount=amount),
                        created=T + 10)]
        if i % 5 == 0:
            refund = refund_obj(f"re_torture{i:04d}", pi, REFUNDED)
            story += [event("charge.refunded", charge_refunded(pi, [refund], amount=amount),
                            created=T + 20),
                      event("refund.updated", refund, created=T + 21)]
    elif i % 5 == 3:
        story.append(event("payment_intent.payment_failed",
                           payment_intent(pi, "requires_payment_method", amount=amount), created=T + 6))
    else:
        story.append(event("payment_intent.canceled", payment_intent(pi, "canceled", amount=amount),
                           created=T + 8))
    return story


def _restatement(p: dict, n: int) -> dict:
    """One more report of something already true (or older), under a new event id."""
    pi, amount = p["pi"], p["amount"]
    if p["i"] % 5 == 0 and n % 3 == 0:
        return event("refund.updated", refund_obj(f"re_torture{p['i']:04d}", pi, REFUNDED),
                     created=T + 30 + n)
    if p["i"] % 5 in (0, 1, 2) and n % 3 == 1:
        return event("payment_intent.succeeded", payment_intent(pi, "succeeded", amount=amount),
                     created=T + 40 + n)
    return event("payment_intent.requires_action", payment_intent(pi, "requires_action", amount=amount),
                 created=T + 2)


def _deliveries(built: list[dict], rng: random.Random) -> tuple[list[tuple[bytes, str, bool]], set[str], set[str]]:
    """(body, signature, valid) for every delivery, shuffled; the valid and the refused event ids."""
    duplicates, bad = int(DELIVERIES * 0.20), int(DELIVERIES * 0.05)
    unique = DELIVERIES - duplicates - bad
    events = [e for p in built for e in _facts(p)]
    n = 0
    while len(events) < unique:
        events.append(_restatement(built[n % len(built)], n // len(built)))
        n += 1
    valid = [(*signed_event(e, SECRET), True) for e in events]
    repeats = [valid[rng.randrange(len(valid))] for _ in range(duplicates)]
    refused = []
    for k in range(bad):
        e = event("payment_intent.succeeded", payment_intent(built[k % len(built)]["pi"], "succeeded"),
                  event_id=f"evt_refused_{uuid.uuid4().hex[:16]}")
        body, _ = signed_event(e, SECRET)
        signature = (sign_payload(body, "whsec_not_ours") if k % 2 else
                     sign_payload(body, SECRET, timestamp=int(time.time()) - 1000))
        refused.append((body, signature, False))
    deliveries = valid + repeats + refused
    rng.shuffle(deliveries)
    return deliveries, {e["id"] for e in events}, {b.split(b'"id":"', 1)[1].split(b'"', 1)[0].decode()
                                                    for b, _, _ in refused}


async def _send(url: str, deliveries, on_progress) -> list[tuple[bool, int]]:
    """CLIENTS concurrent clients drain the shuffled deliveries; (valid, status) per delivery."""
    queue: asyncio.Queue = asyncio.Queue()
    for item in deliveries:
        queue.put_nowait(item)
    answers: list[tuple[bool, int]] = []

    async def client(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body, signature, valid = queue.get_nowait()
            async with http.post(url, data=body, headers={"Stripe-Signature": signature,
                                                          "Content-Type": "application/json"}) as answer:
                await answer.read()
                answers.append((valid, answer.status))
            await on_progress(len(answers))

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS)) as http:
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
    return answers


def test_ten_thousand_deliveries_with_repeats_bad_signatures_and_killed_workers(route, engine, db_url, tmp_path):
    scope = partial(session_scope, engine)
    built = _build_payments(scope)
    deliveries, valid_ids, refused_ids = _deliveries(built, random.Random(20261203))
    workers = Workers(db_url, tmp_path)
    workers.start()
    workers.start()
    kills_at = {len(deliveries) // 3, 2 * len(deliveries) // 3}

    async def on_progress(done: int) -> None:
        if done in kills_at:
            kills_at.discard(done)
            await asyncio.to_thread(workers.kill_one_and_restart)

    try:
        answers = run_to_completion(_send(route, deliveries, on_progress))
        assert workers.started == 4  # two kills, two restarts
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with scope() as s:
                waiting = s.exec(select(func.count()).select_from(WebhookEvent).where(
                    WebhookEvent.status.in_(["received", "retrying"]))).one()
            if not waiting:
                break
            time.sleep(1)
    finally:
        workers.stop()

    assert len(answers) == DELIVERIES
    assert {status for valid, status in answers if valid} == {200}
    assert {status for valid, status in answers if not valid} == {400}

    with scope() as s:
        rows = s.exec(select(WebhookEvent.stripe_event_id, WebhookEvent.status)).all()
        assert len(rows) == len(valid_ids) and {r[0] for r in rows} == valid_ids  # each once, nothing refused
        assert not refused_ids & {r[0] for r in rows}
        assert {r[1] for r in rows} == {"processed"}, [r for r in rows if r[1] != "processed"][:5]

        for p in built:
            payment = s.exec(select(Payment).where(Payment.stripe_payment_intent_id == p["pi"])).one()
            invoice = s.get(Invoice, p["invoice_id"])
            refunds = s.exec(select(Refund).where(Refund.payment_id == payment.id)).all()
            kind = p["i"] % 5
            if kind in (0, 1, 2):
                assert (invoice.status, invoice.amount_paid) == ("paid", p["amount"]), p
                expected_refunds = [REFUNDED] if kind == 0 else []
                assert [r.amount for r in refunds] == expected_refunds, p
                assert invoice.amount_refunded == sum(expected_refunds)
                assert payment.status == ("partially_refunded" if kind == 0 else "succeeded")
            else:
                assert payment.status == ("failed" if kind == 3 else "canceled"), p
                assert (invoice.status, invoice.amount_paid, refunds) == ("open", 0, []), p
            if p["pack"]:  # 1,100 credits granted once, half clawed back once by the 500 refund
                assert credits.balance(s, p["customer_id"]) == 550, p

        assert s.exec(select(func.count()).select_from(Payment)).one() == PAYMENTS
        assert not s.exec(select(AuditEntry).where(AuditEntry.action == "payment.unapplied")).all()
