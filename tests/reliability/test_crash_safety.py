"""The process doing the work dies (SIGKILL) in the middle of checkout, refund approval, a renewal
and invoice finalization, on PostgreSQL. The operation runs in a child process
(tests/support/engine_worker.py) and is killed at the worst moment: Stripe has done the work and
its answer is held by the fault proxy, or finalization waits for the invoice-number row lock.

Afterwards, through the recovery paths the product has (the customer's retry, the admin approving
again, the dunning and reconciliation jobs): no money change is lost or counted twice, nothing is
half-applied, and invoice numbers stay gapless.
"""

import os
import signal
import subprocess
import time

import psycopg
import pytest
from sqlmodel import Session, select

from billing_portal.billing import invoices, refund_decisions, webhooks
from billing_portal.billing.invoices import DraftLine
from billing_portal.db import session_scope
from billing_portal.jobs import tasks
from billing_portal.models import AuditEntry, Invoice, RefundRequest
from billing_portal.models.types import utcnow
from tests.reliability.test_stripe_faults import (
    INTENTS, REFUNDS, books, pay, refund_requested, save_card, stripe_list, subscribed)
from tests.reliability.test_stripe_faults import _cheap_password_hashing, ls, proxy, shop  # noqa: F401
from tests.billing.test_webhooks import event
from tests.support.engine_worker import spawn
from tests.support.fault_proxy import Rule
from tests.support.stand_ins import libpq_url

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


def kill_when(ready, worker: subprocess.Popen, timeout: float = 60) -> None:
    """SIGKILL the worker as soon as `ready()` is true (fail if it ends or stalls first)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            pytest.fail(f"the worker did not get there: {worker.communicate()[0].decode()[-2000:]}")
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.communicate(timeout=10)
    assert worker.returncode == -signal.SIGKILL


def kill_while_held(rule: Rule, worker: subprocess.Popen) -> None:
    """Kill the worker while Stripe's answer to it is held (the work is done at Stripe), then let go."""
    kill_when(rule.reached.is_set, worker)
    rule.release(drop=True)


def invoice_numbers(engine) -> list[str]:
    """Every invoice number handed out, after checking each prefix ("INV-2026") counts 1, 2, 3..."""
    with Session(engine) as session:
        numbers = session.exec(select(Invoice.number).where(Invoice.number.is_not(None))).all()
    by_prefix: dict[str, list[int]] = {}
    for number in numbers:
        prefix, value = number.rsplit("-", 1)
        by_prefix.setdefault(prefix, []).append(int(value))
    for prefix, values in by_prefix.items():
        assert sorted(values) == list(range(1, len(values) + 1)), f"{prefix} has a gap or a repeat: {values}"
    return sorted(numbers)


def discrepancy_alerts(engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(AuditEntry).where(AuditEntry.action == "reconciliation.discrepancies")).all())


def test_checkout_killed_after_stripe_charged_is_flagged_and_the_next_try_records_the_one_charge(engine, proxy, ls,
                                                                                              shop):
    user, _admin, price_id = shop
    setup_intent_id = save_card(engine, ls, user)
    held = proxy.add("POST", INTENTS, "hold_after_forward", times=1)

    kill_while_held(held, spawn("pay", user=user, setup_intent_id=setup_intent_id, price_id=price_id))

    [charged] = stripe_list(ls, INTENTS)
    assert charged["status"] == "succeeded"
    # Nothing half-applied: the invoice (committed before the charge) waits, nothing is paid.
    assert books(engine)["payments"] == []
    assert (books(engine)["invoices"], books(engine)["subscriptions"]) == ([("open", 0)], ["incomplete"])
    assert tasks.reconcile_recent(utcnow()) == 1 and discrepancy_alerts(engine) == 1  # the alert

    # The customer, whose page never answered, types the card again: a new card entry, a new key.
    outcome = pay(engine, user, save_card(engine, ls, user), price_id)

    assert outcome.status == "succeeded" and outcome.payment_intent_id == charged["id"]
    assert len(stripe_list(ls, INTENTS)) == 1
    assert books(engine)["payments"] == [("succeeded", charged["id"])]
    assert (books(engine)["invoices"], books(engine)["subscriptions"]) == ([("paid", 1500)], ["active"])
    assert tasks.reconcile_recent(utcnow()) == 0
    assert len(invoice_numbers(engine)) == 1


def test_checkout_killed_after_stripe_charged_is_recorded_by_stripes_webhook(engine, proxy, ls, shop):
    user, _admin, price_id = shop
    setup_intent_id = save_card(engine, ls, user)
    held = proxy.add("POST", INTENTS, "hold_after_forward", times=1)
    kill_while_held(held, spawn("pay", user=user, setup_intent_id=setup_intent_id, price_id=price_id))
    [charged] = stripe_list(ls, INTENTS)

    # Stripe's payment_intent.succeeded, carrying the PaymentIntent as localstripe holds it.
    with session_scope(engine) as session:
        webhooks.receive(session, event("payment_intent.succeeded", charged, created=int(time.time())))
    assert tasks.process_webhook_events(utcnow()) == 1

    assert books(engine)["payments"] == [("succeeded", charged["id"])]
    assert (books(engine)["invoices"], books(engine)["subscriptions"]) == ([("paid", 1500)], ["active"])
    outcome = pay(engine, user, setup_intent_id, price_id)  # the customer's page is reloaded: paid
    assert outcome.status == "succeeded" and len(stripe_list(ls, INTENTS)) == 1


def test_refund_approval_killed_after_stripe_refunded_is_recorded_once_when_approved_again(engine, proxy, ls, shop):
    user, admin, price_id = shop
    payment, request = refund_requested(engine, ls, user, price_id)
    held = proxy.add("POST", REFUNDS, "hold_after_forward", times=1)

    kill_while_held(held, spawn("approve_refund", admin=admin, request_id=request.id))

    [refunded] = stripe_list(ls, REFUNDS)
    assert books(engine)["refunds"] == [] and books(engine)["payments"] == [("succeeded", payment.stripe_payment_intent_id)]
    with Session(engine) as session:
        assert session.get(RefundRequest, request.id).status == "requested"
    assert tasks.reconcile_recent(utcnow()) == 1  # the refund Stripe made is flagged

    with session_scope(engine) as session:  # the admin, who saw no answer, approves again
        assert refund_decisions.approve(session, request_id=request.id, admin=admin).status == "approved"

    assert [r["id"] for r in stripe_list(ls, REFUNDS)] == [refunded["id"]]
    assert books(engine)["refunds"] == [(1500, refunded["id"])]
    assert books(engine)["payments"] == [("refunded", payment.stripe_payment_intent_id)]
    assert tasks.reconcile_recent(utcnow()) == 0


def test_a_renewal_killed_while_stripe_charged_keeps_its_number_and_is_collected_once(engine, proxy, ls, shop):
    user, _admin, price_id = shop
    _first_id, period_end = subscribed(engine, ls, user, price_id)
    held = proxy.add("POST", INTENTS, "hold_after_forward", times=1)

    kill_while_held(held, spawn("renew", now=period_end.isoformat()))

    assert len(stripe_list(ls, INTENTS)) == 2  # the renewal was charged at Stripe
    assert books(engine)["invoices"] == [("paid", 1500), ("open", 0)]  # issued, numbered, not paid
    assert len(invoice_numbers(engine)) == 2

    assert tasks.retry_failed_payments(period_end) == 1  # the dunning job, after the restart

    assert len(stripe_list(ls, INTENTS)) == 2  # the same key: Stripe's first answer, no second charge
    assert books(engine)["invoices"] == [("paid", 1500), ("paid", 1500)]
    assert [status for status, _ in books(engine)["payments"]] == ["succeeded", "succeeded"]
    assert len(invoice_numbers(engine)) == 2


def test_finalization_killed_midway_leaves_the_draft_and_numbers_stay_gapless(engine, db_url, shop):
    user, _admin, _price_id = shop

    def draft(session, amount):
        return invoices.create_draft(session, customer_id=user.customer_id, currency="USD",
                                     lines=[DraftLine("Extra seats", amount)])

    with session_scope(engine) as session:
        prefix = invoices.finalize(session, draft(session, 700).id).number.rsplit("-", 1)[0]
        pending = draft(session, 900)
    with psycopg.connect(libpq_url(db_url)) as blocker, psycopg.connect(libpq_url(db_url), autocommit=True) as watch:
        # Hold the number counter: the worker's finalization stops inside its transaction, after
        # its first writes (totals, billing details), waiting for the next number.
        blocker.execute("SELECT last_value FROM invoice_number_sequences WHERE prefix = %s FOR UPDATE", (prefix,))

        def waiting() -> bool:
            return watch.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                 ).fetchone()[0] > 0

        kill_when(waiting, spawn("finalize", invoice_id=pending.id))
        blocker.rollback()

    with Session(engine) as session:
        left = session.get(Invoice, pending.id)
        assert (left.status, left.number) == ("draft", None)
    with session_scope(engine) as session:
        invoices.finalize(session, pending.id)
        invoices.finalize(session, draft(session, 1100).id)
    assert len(invoice_numbers(engine)) == 3
