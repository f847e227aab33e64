"""Off-session renewal charges and dunning against localstripe over HTTP, on SQLite and PostgreSQL.

Cards are saved for the customer at localstripe and made the default (what checkout and the
saved-cards page do); the jobs then charge them off-session. 4242 succeeds, 0341 is declined at
charge, 3155 asks for 3-D Secure (off-session: requires_action).

Dates: T0 is 31 Jan 2026 12:00 UTC; a monthly subscription renews 28 Feb 12:00 (FEB28).
"""

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlmodel import Session, select

from billing_portal.billing import accounts, dunning, payments, repository, subscriptions
from billing_portal.gateways.stripe_gateway import StripeGateway
from billing_portal.jobs import tasks
from billing_portal.models import AuditEntry, Customer, Invoice, InvoiceStatus, Payment, Subscription
from billing_portal.models import SubscriptionStatus as S
from billing_portal.settings import get_settings
from tests.gateways.conftest import SECRET_KEY, WEBHOOK_SECRET, LocalStripeHelper
from tests.support.builders import T0, make_customer, make_plan
from tests.support.stand_ins import free_port

VISA = "4242424242424242"
DECLINED_AT_CHARGE = "4000000000000341"
THREE_DS = "4000002500003155"
FEB28 = datetime(2026, 2, 28, 12, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def ls(localstripe_clean, monkeypatch, engine) -> LocalStripeHelper:
    monkeypatch.setenv("STRIPE_API_BASE", localstripe_clean.url)
    monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    get_settings.cache_clear()
    return LocalStripeHelper(localstripe_clean.url)


@pytest.fixture
def prices(session):
    _, free = make_plan(session, "free", tier=0, prices={("USD", "month", 1): 0})
    _, pro = make_plan(session, "pro", tier=2, prices={("USD", "month", 1): 1500})
    _, team = make_plan(session, "team", tier=3, prices={("USD", "month", 1): 5000}, trial_days=14)
    return {"free": free[("USD", "month", 1)], "pro": pro[("USD", "month", 1)], "team": team[("USD", "month", 1)]}


def save_default_card(session: Session, customer: Customer, number: str) -> str:
    """A card saved for the customer at Stripe and made the default for renewals."""
    gw = StripeGateway.from_settings()
    if not customer.stripe_customer_id:
        customer.stripe_customer_id = gw.ensure_customer(
            stripe_customer_id=None, email=f"c{customer.id}@example.com", name=customer.name,
            idempotency_key=f"customer:{customer.id}")
    card = gw.attach_payment_method(LocalStripeHelper(gw.api_base).create_payment_method(number),
                                    customer.stripe_customer_id)
    gw.set_default_card(customer.stripe_customer_id, card.id)
    customer.default_payment_method_id = card.id
    customer.card_brand, customer.card_last4 = card.brand, card.last4
    session.add(customer)
    session.flush()
    return card.id


def subscribed(session, price, *, email="ana@example.com", card=VISA) -> Subscription:
    """An active monthly subscription from T0 whose first invoice is paid, with a default card."""
    customer = make_customer(session, email)
    if card:
        save_default_card(session, customer, card)
    started = subscriptions.subscribe(session, customer_id=customer.id, price_id=price.id, now=T0)
    if started.invoice is not None and started.invoice.status == InvoiceStatus.OPEN:
        payments.record_payment(session, invoice_id=started.invoice.id, idempotency_key=f"first:{customer.id}",
                                succeeded=True, now=T0)
    session.commit()
    return started.subscription


def fresh(engine, model, row_id):
    with Session(engine) as s:
        return s.get(model, row_id)


def renewal_invoice(engine, subscription_id: int) -> Invoice:
    with Session(engine) as s:
        return s.exec(select(Invoice).where(Invoice.subscription_id == subscription_id,
                                            Invoice.billing_reason == "subscription_cycle")
                      .order_by(Invoice.id)).first()


def payments_of(engine, invoice_id: int) -> list[Payment]:
    with Session(engine) as s:
        return list(s.exec(select(Payment).where(Payment.invoice_id == invoice_id).order_by(Payment.id)))


def test_the_renewal_is_charged_off_session_and_paid(session, engine, ls, prices):
    sub = subscribed(session, prices["pro"])
    assert tasks.renew_due_subscriptions(FEB28) == 1

    invoice = renewal_invoice(engine, sub.id)
    assert (invoice.status, invoice.amount_paid, invoice.collection_attempts) == ("paid", 1500, 1)
    assert invoice.next_collection_at is None
    [payment] = payments_of(engine, invoice.id)
    key = f"renewal:{sub.id}:{FEB28.isoformat()}"
    assert (payment.status, payment.idempotency_key, payment.card_last4) == ("succeeded", key, "4242")
    intent = ls.get(f"/v1/payment_intents/{payment.stripe_payment_intent_id}")
    assert (intent["status"], intent["amount"], intent["metadata"]["idempotency_key"]) == ("succeeded", 1500, key)
    rolled = fresh(engine, Subscription, sub.id)
    assert rolled.status == S.ACTIVE and rolled.current_period_start == FEB28
    # Nothing is left for the dunning job, and running the renewals again charges nothing.
    assert tasks.retry_failed_payments(FEB28 + DAY) == 0
    assert tasks.renew_due_subscriptions(FEB28) == 0
    assert len(payments_of(engine, invoice.id)) == 1


def test_a_declined_renewal_is_past_due_and_retried_on_schedule_until_the_card_changes(session, engine, ls, prices):
    sub = subscribed(session, prices["pro"], card=DECLINED_AT_CHARGE)
    tasks.renew_due_subscriptions(FEB28)

    invoice = renewal_invoice(engine, sub.id)
    assert (invoice.status, invoice.collection_attempts, invoice.next_collection_at) == ("open", 1, FEB28 + DAY)
    [failed] = payments_of(engine, invoice.id)
    assert (failed.status, failed.failure_message) == ("failed", "Your card was declined.")
    # Grace: past due, still on the plan, its period rolled.
    assert fresh(engine, Subscription, sub.id).status == S.PAST_DUE

    assert tasks.retry_failed_payments(FEB28 + DAY - timedelta(seconds=1)) == 0  # not due yet
    assert tasks.retry_failed_payments(FEB28 + DAY) == 1
    invoice = fresh(engine, Invoice, invoice.id)
    assert (invoice.collection_attempts, invoice.next_collection_at) == (2, FEB28 + 3 * DAY)
    assert payments_of(engine, invoice.id)[-1].idempotency_key == f"invoice:{invoice.id}:attempt:2"

    # The customer saves a good card on day 2: retried at once, paid, active again.
    with Session(engine) as s:
        customer = s.get(Customer, sub.customer_id)
        save_default_card(s, customer, VISA)
        [attempt] = dunning.card_changed(s, customer.id, FEB28 + 2 * DAY)
        s.commit()
    assert (attempt.number, attempt.status, attempt.next_attempt_at) == (3, "succeeded", None)
    assert attempt.idempotency_key == f"invoice:{invoice.id}:attempt:3"
    assert fresh(engine, Invoice, invoice.id).status == "paid"
    assert fresh(engine, Subscription, sub.id).status == S.ACTIVE
    assert tasks.retry_failed_payments(FEB28 + 3 * DAY) == 0
    assert [p.status for p in payments_of(engine, invoice.id)] == ["failed", "failed", "succeeded"]


def test_an_early_retry_does_not_move_the_schedule(session, engine, ls, prices):
    sub = subscribed(session, prices["pro"], card=DECLINED_AT_CHARGE)
    tasks.renew_due_subscriptions(FEB28)
    with Session(engine) as s:
        customer = s.get(Customer, sub.customer_id)
        save_default_card(s, customer, DECLINED_AT_CHARGE)  # another card, declined too
        [attempt] = dunning.card_changed(s, customer.id, FEB28 + DAY + timedelta(hours=1))
        s.commit()
    # Days after the FIRST failure: 1 has passed, so 3 is next.
    assert (attempt.status, attempt.next_attempt_at) == ("failed", FEB28 + 3 * DAY)


@pytest.mark.parametrize("final_action", ["cancel", "free"])
def test_after_the_last_retry_fails_the_final_action_runs(session, engine, ls, prices, monkeypatch, final_action):
    monkeypatch.setenv("DUNNING_FINAL_ACTION", final_action)
    get_settings.cache_clear()
    sub = subscribed(session, prices["pro"], card=DECLINED_AT_CHARGE)
    tasks.renew_due_subscriptions(FEB28)
    for day in (1, 3, 5):
        assert tasks.retry_failed_payments(FEB28 + day * DAY) == 1
        assert fresh(engine, Subscription, sub.id).status == S.PAST_DUE
    assert tasks.retry_failed_payments(FEB28 + 7 * DAY) == 1

    invoice = renewal_invoice(engine, sub.id)
    assert (invoice.status, invoice.collection_attempts, invoice.next_collection_at) == ("uncollectible", 5, None)
    ended = fresh(engine, Subscription, sub.id)
    assert ended.status == S.CANCELED and ended.canceled_at == FEB28 + 7 * DAY
    assert ended.cancel_reason == dunning.EXHAUSTED_REASON
    with Session(engine) as s:
        live = s.exec(select(Subscription).where(Subscription.customer_id == sub.customer_id,
                                                 Subscription.status != S.CANCELED)).all()
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "invoice.uncollectible")).one()
    if final_action == "free":
        assert [(x.price_id, x.status) for x in live] == [(prices["free"].id, S.ACTIVE)]
    else:
        assert live == []
    assert entry.after["final_action"] == final_action and entry.actor_label == "dunning"
    assert tasks.retry_failed_payments(FEB28 + 30 * DAY) == 0
    assert len(payments_of(engine, invoice.id)) == 5


def test_without_a_saved_card_the_renewal_fails_with_a_clear_reason(session, engine, ls, prices):
    sub = subscribed(session, prices["pro"], card=None)
    tasks.renew_due_subscriptions(FEB28)
    invoice = renewal_invoice(engine, sub.id)
    [payment] = payments_of(engine, invoice.id)
    assert (payment.status, payment.failure_code) == ("failed", dunning.NO_CARD_CODE)
    assert payment.failure_message == dunning.NO_CARD_MESSAGE and payment.stripe_payment_intent_id is None
    assert fresh(engine, Subscription, sub.id).status == S.PAST_DUE
    assert invoice.next_collection_at == FEB28 + DAY


def test_a_card_stripe_no_longer_has_fails_the_attempt_instead_of_the_job(session, engine, ls, prices):
    sub = subscribed(session, prices["pro"])
    with Session(engine) as s:
        customer = s.get(Customer, sub.customer_id)
        customer.default_payment_method_id = "pm_removedAtStripe"
        s.add(customer)
        s.commit()
    tasks.renew_due_subscriptions(FEB28)
    invoice = renewal_invoice(engine, sub.id)
    [payment] = payments_of(engine, invoice.id)
    assert (payment.status, payment.failure_message) == ("failed", dunning.CARD_REFUSED_MESSAGE)
    assert (invoice.collection_attempts, invoice.next_collection_at) == (1, FEB28 + DAY)
    assert fresh(engine, Subscription, sub.id).status == S.PAST_DUE


def test_an_attempt_is_claimed_once_even_without_row_locks(session, engine, ls, prices):
    """The conditional UPDATE alone decides between two runners that read the same attempt count."""
    sub = subscribed(session, prices["pro"], card=None)
    with Session(engine) as s:
        subscriptions.renew(s, sub.id, now=FEB28)
        s.commit()
    invoice_id = renewal_invoice(engine, sub.id).id
    with Session(engine) as first, Session(engine) as second:
        assert first.get(Invoice, invoice_id).collection_attempts == second.get(Invoice, invoice_id).collection_attempts == 0
        second.rollback()  # ends its read; what it read stays in hand
        assert repository.claim_collection_attempt(first, invoice_id, attempts_seen=0)
        first.commit()
        assert not repository.claim_collection_attempt(second, invoice_id, attempts_seen=0)


def test_off_session_3d_secure_counts_as_a_failure_the_customer_can_finish(session, engine, ls, prices):
    sub = subscribed(session, prices["pro"], card=THREE_DS)
    tasks.renew_due_subscriptions(FEB28)
    invoice = renewal_invoice(engine, sub.id)
    [payment] = payments_of(engine, invoice.id)
    assert payment.status == "requires_action" and payment.stripe_payment_intent_id
    assert fresh(engine, Subscription, sub.id).status == S.PAST_DUE
    assert invoice.next_collection_at == FEB28 + DAY


def test_a_zero_renewal_is_paid_without_a_charge(session, engine, ls, prices):
    sub = subscribed(session, prices["free"])
    assert tasks.renew_due_subscriptions(FEB28) == 1
    invoice = renewal_invoice(engine, sub.id)
    assert (invoice.status, invoice.total, invoice.collection_attempts) == ("paid", 0, 0)
    assert payments_of(engine, invoice.id) == []
    assert ls.get("/v1/payment_intents")["data"] == []


@pytest.mark.parametrize("card, status, invoice_status", [(VISA, S.ACTIVE, "paid"),
                                                          (DECLINED_AT_CHARGE, S.PAST_DUE, "open")])
def test_the_end_of_a_trial_triggers_the_first_charge(session, engine, ls, prices, card, status, invoice_status):
    sub = subscribed(session, prices["team"], card=card)
    assert sub.status == S.TRIALING
    trial_end = T0 + 14 * DAY
    assert tasks.renew_due_subscriptions(trial_end) == 1
    invoice = renewal_invoice(engine, sub.id)
    assert (invoice.status, invoice.total) == (invoice_status, 5000)
    assert fresh(engine, Subscription, sub.id).status == status


def test_paused_and_ending_subscriptions_are_not_charged(session, engine, ls, prices):
    paused = subscribed(session, prices["pro"], email="paused@example.com")
    ending = subscribed(session, prices["pro"], email="ending@example.com")
    subscriptions.pause(session, paused.id, now=T0 + DAY)
    subscriptions.cancel(session, ending.id, at_period_end=True, reason="too expensive", now=T0 + DAY)
    session.commit()

    assert tasks.renew_due_subscriptions(FEB28 + DAY) == 0
    assert renewal_invoice(engine, paused.id) is None and renewal_invoice(engine, ending.id) is None
    assert fresh(engine, Subscription, paused.id).status == S.PAUSED
    ended = fresh(engine, Subscription, ending.id)
    assert (ended.status, ended.canceled_at) == (S.CANCELED, FEB28)
    assert ls.get("/v1/payment_intents")["data"] == []


def test_when_stripe_does_not_answer_the_renewal_stands_and_dunning_charges_it_later(
        session, engine, ls, prices, monkeypatch):
    sub = subscribed(session, prices["pro"])
    monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    assert tasks.renew_due_subscriptions(FEB28) == 1
    invoice = renewal_invoice(engine, sub.id)
    assert (invoice.status, invoice.collection_attempts, invoice.next_collection_at) == ("open", 0, FEB28)
    assert payments_of(engine, invoice.id) == []

    monkeypatch.setenv("STRIPE_API_BASE", ls.url)
    get_settings.cache_clear()
    assert tasks.retry_failed_payments(FEB28 + timedelta(minutes=5)) == 1
    [payment] = payments_of(engine, invoice.id)
    assert payment.idempotency_key == f"renewal:{sub.id}:{FEB28.isoformat()}"  # the same attempt, same key
    assert fresh(engine, Invoice, invoice.id).status == "paid"


def test_next_retry_is_counted_from_the_first_failure():
    first = FEB28
    days = (1, 3, 5, 7)
    assert dunning.next_retry_at(first, first, days) == first + DAY
    assert dunning.next_retry_at(first, first + DAY, days) == first + 3 * DAY
    assert dunning.next_retry_at(first, first + 4 * DAY, days) == first + 5 * DAY
    assert dunning.next_retry_at(first, first + 7 * DAY, days) is None
