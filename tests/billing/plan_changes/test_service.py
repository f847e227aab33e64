"""An upgrade's proration invoice is charged at once, against localstripe over HTTP, on SQLite and
PostgreSQL: what Stripe charged is the invoice's amount to the minor unit, a decline goes to dunning
(at_once) or changes nothing (when_paid)."""

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from billing_portal.billing import dunning, plan_changes
from billing_portal.billing.plan_changes.wording import outcome_text
from billing_portal.models import AuditEntry, Customer, Invoice, InvoiceStatus, OutboxEmail, Payment, Subscription
from billing_portal.models import SubscriptionStatus as S
from billing_portal.settings import get_settings
from tests.billing.test_dunning import (  # noqa: F401 - fixtures
    DAY,
    DECLINED_AT_CHARGE,
    VISA,
    _cheap_password_hashing,
    fresh,
    ls,
    prices,
    save_default_card,
    subscribed,
)
from tests.support.builders import T0, make_plan

MID = T0 + timedelta(days=10)  # 10 Feb, mid-period of the 31 Jan – 28 Feb month


@pytest.fixture
def upgrade_to(session):
    _, plans = make_plan(session, "scale", tier=4, prices={("USD", "month", 1): 9000})
    return plans[("USD", "month", 1)]


def update_invoices(engine, subscription_id) -> list[Invoice]:
    with Session(engine) as s:
        return list(s.exec(select(Invoice).where(Invoice.subscription_id == subscription_id,
                                                 Invoice.billing_reason == "subscription_update")))


def charged_at_stripe(ls, payment: Payment) -> tuple[int, str, str]:
    intent = ls.get(f"/v1/payment_intents/{payment.stripe_payment_intent_id}")
    return intent["amount"], intent["currency"], intent["status"]


def test_an_upgrade_is_charged_at_once_for_exactly_its_invoice(engine, session, ls, prices, upgrade_to):
    sub = subscribed(session, prices["pro"])
    done = plan_changes.change_plan(session, sub.id, price_id=upgrade_to.id, quantity=1, now=MID)
    session.commit()
    assert done.outcome == "paid" and done.invoice.status == InvoiceStatus.PAID
    [invoice] = update_invoices(engine, sub.id)
    with Session(engine) as s:
        [payment] = s.exec(select(Payment).where(Payment.invoice_id == invoice.id)).all()
    assert payment.idempotency_key == invoice.idempotency_key == f"subscription_update:{sub.id}:{MID.isoformat()}"
    assert charged_at_stripe(ls, payment) == (invoice.total, "usd", "succeeded") and invoice.total > 0
    assert invoice.next_collection_at is None
    assert fresh(engine, Subscription, sub.id).price_id == upgrade_to.id
    notice, error = outcome_text(done, "Scale", "Pro", "en_US")
    assert notice == f"Your plan is now Scale. ${invoice.total / 100:,.2f} was charged to your card (invoice {invoice.number})."
    assert error == ""


def test_a_declined_upgrade_applies_and_goes_to_dunning(engine, session, ls, prices, upgrade_to):
    sub = subscribed(session, prices["pro"], card=DECLINED_AT_CHARGE)
    done = plan_changes.change_plan(session, sub.id, price_id=upgrade_to.id, quantity=1, now=MID)
    session.commit()
    assert done.outcome == "failed" and done.next_attempt_at == MID + DAY
    after = fresh(engine, Subscription, sub.id)
    assert (after.price_id, after.status) == (upgrade_to.id, S.PAST_DUE)  # grace: the new plan, kept while retried
    [invoice] = update_invoices(engine, sub.id)
    assert (invoice.status, invoice.collection_attempts, invoice.next_collection_at) == ("open", 1, MID + DAY)
    with Session(engine) as s:
        assert s.exec(select(OutboxEmail).where(OutboxEmail.kind == "dunning")).first() is not None
    _, error = outcome_text(done, "Scale", "Pro", "en_US")
    assert error.startswith(f"Your plan is now Scale, but the charge of ${invoice.total / 100:,.2f} for invoice "
                            f"{invoice.number} failed: ") and "We try again on 11 February 2026" in error

    # The customer saves a card that works: the retry of the schedule pays it, with its own key.
    with Session(engine) as s:
        save_default_card(s, s.get(Customer, s.get(Subscription, sub.id).customer_id), VISA)
        [attempt] = dunning.retry_open_invoices(s, MID + DAY)
        s.commit()
    assert (attempt.status, attempt.idempotency_key) == ("succeeded", f"invoice:{invoice.id}:attempt:2")
    assert fresh(engine, Subscription, sub.id).status == S.ACTIVE
    assert fresh(engine, Invoice, invoice.id).status == InvoiceStatus.PAID


@pytest.fixture
def when_paid(monkeypatch):
    monkeypatch.setenv("UPGRADE_APPLY", "when_paid")
    get_settings.cache_clear()


def test_when_paid_a_declined_upgrade_changes_nothing(engine, session, ls, prices, upgrade_to, when_paid):
    sub = subscribed(session, prices["pro"], card=DECLINED_AT_CHARGE)
    done = plan_changes.change_plan(session, sub.id, price_id=upgrade_to.id, quantity=1, now=MID)
    session.commit()
    assert (done.outcome, done.invoice) == ("refused", None)
    after = fresh(engine, Subscription, sub.id)
    assert (after.price_id, after.status) == (prices["pro"].id, S.ACTIVE)
    assert update_invoices(engine, sub.id) == []  # no invoice, no number taken, nothing to chase
    with Session(engine) as s:
        assert s.exec(select(OutboxEmail).where(OutboxEmail.kind == "dunning")).first() is None
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "subscription.upgrade_refused")).one()
        assert entry.after["kept_price_id"] == prices["pro"].id
        assert entry.actor_label == "customer"
    _, error = outcome_text(done, "Scale", "Pro", "en_US")
    assert error.endswith("Your plan did not change: you are still on Pro.") and len(error) > 50

    # A later try with a card that works is a new charge (a new key), and applies.
    save_default_card(session, session.get(Customer, sub.customer_id), VISA)
    session.commit()
    again = plan_changes.change_plan(session, sub.id, price_id=upgrade_to.id, quantity=1, now=MID + timedelta(hours=1))
    session.commit()
    assert again.outcome == "paid" and fresh(engine, Subscription, sub.id).price_id == upgrade_to.id


def test_when_paid_a_paid_upgrade_applies(engine, session, ls, prices, upgrade_to, when_paid):
    sub = subscribed(session, prices["pro"])
    done = plan_changes.change_plan(session, sub.id, price_id=upgrade_to.id, quantity=1, now=MID)
    session.commit()
    assert done.outcome == "paid" and fresh(engine, Subscription, sub.id).price_id == upgrade_to.id


def test_a_downgrade_is_scheduled_and_a_trial_change_charges_nothing(engine, session, ls, prices, upgrade_to):
    sub = subscribed(session, prices["pro"])
    assert plan_changes.change_plan(session, sub.id, price_id=prices["free"].id, quantity=1, now=MID).outcome == "scheduled"
    trial = subscribed(session, prices["team"], email="trial@example.com")
    assert fresh(engine, Subscription, trial.id).status == S.TRIALING
    assert plan_changes.change_plan(session, trial.id, price_id=upgrade_to.id, quantity=1, now=MID).outcome == "applied"
    assert update_invoices(engine, trial.id) == []
