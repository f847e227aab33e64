"""Refund requests: only a customer's own paid payment, never more than is left to refund
(refunds and open requests counted), a reason required, and a refused request changes nothing."""

import pytest
from argon2 import PasswordHasher
from sqlmodel import func, select

from billing_portal.billing import accounts, invoices, payments, refund_requests
from billing_portal.billing.errors import DomainError, InvalidAmount, NotFound
from billing_portal.billing.invoices import DraftLine
from billing_portal.models import RefundRequest, RefundRequestStatus
from tests.support.builders import T0, make_customer


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def paid(session, customer, amount=15000, currency="KRW", *, key="p1", succeeded=True):
    draft = invoices.create_draft(
        session, customer_id=customer.id, currency=currency, lines=[DraftLine("Starter", amount)], now=T0
    )
    invoice = invoices.finalize(session, draft.id, now=T0)
    return payments.record_payment(session, invoice_id=invoice.id, idempotency_key=key, succeeded=succeeded, now=T0)


@pytest.fixture
def customer(session):
    return make_customer(session, currency="KRW")


def ask(session, customer, payment, amount, reason="Charged twice"):
    return refund_requests.request_refund(
        session, customer_id=customer.id, payment_id=payment.id, amount=amount, reason=reason, now=T0
    )


def requests(session) -> int:
    return session.exec(select(func.count()).select_from(RefundRequest)).one()


def test_a_request_is_stored_as_requested_with_what_was_asked(session, customer):
    payment = paid(session, customer)
    request = ask(session, customer, payment, 5000, "  The export   did not work ")
    assert (request.payment_id, request.customer_id, request.amount, request.currency) == (payment.id, customer.id, 5000, "KRW")
    assert (request.status, request.reason, request.created_at) == (RefundRequestStatus.REQUESTED, "The export did not work", T0)
    assert (request.decided_at, request.decided_by, request.refund_id, request.decision_reason) == (None, None, None, "")
    # The payment itself is untouched: nothing is refunded until an admin decides.
    assert payment.status == "succeeded"


def test_the_offer_is_what_is_left_after_refunds_and_open_requests(session, customer):
    payment = paid(session, customer)
    offer = refund_requests.offer(session, customer_id=customer.id, payment_id=payment.id)
    assert (offer.refundable, offer.currency, offer.refundable_label) == (15000, "KRW", "₩15,000")
    payments.record_refund(session, payment_id=payment.id, amount=4000, reason="goodwill", now=T0)
    ask(session, customer, payment, 6000)
    offer = refund_requests.offer(session, customer_id=customer.id, payment_id=payment.id)
    assert offer.refundable == 5000 and offer.refundable_label == "₩5,000"
    with pytest.raises(DomainError, match=r"at most ₩5,000"):
        ask(session, customer, payment, 5001)
    assert ask(session, customer, payment, 5000).amount == 5000
    with pytest.raises(DomainError, match="already requested"):
        refund_requests.offer(session, customer_id=customer.id, payment_id=payment.id)
    assert requests(session) == 2


def test_decided_requests_no_longer_hold_money_back(session, customer):
    payment = paid(session, customer)
    rejected = ask(session, customer, payment, 15000)
    rejected.status = RefundRequestStatus.REJECTED
    session.add(rejected)
    session.flush()
    assert refund_requests.offer(session, customer_id=customer.id, payment_id=payment.id).refundable == 15000


def test_the_typed_amount_is_read_in_the_customers_locale(session):
    customer = make_customer(session, "usd@example.com", currency="USD")
    payment = paid(session, customer, 1250, "USD")
    assert ask(session, customer, payment, "$12.50").amount == 1250
    payment2 = paid(session, customer, 1000, "USD", key="p2")
    assert ask(session, customer, payment2, "3.1").amount == 310
    with pytest.raises(InvalidAmount):
        ask(session, customer, payment2, "three dollars")
    with pytest.raises(DomainError, match="Enter the amount"):
        ask(session, customer, payment2, "  ")


@pytest.mark.parametrize("amount, message", [(0, "more than zero"), (-5, "more than zero"), (15001, "at most ₩15,000")])
def test_bad_amounts_are_refused_and_change_nothing(session, customer, amount, message):
    payment = paid(session, customer)
    with pytest.raises(DomainError, match=message):
        ask(session, customer, payment, amount)
    assert requests(session) == 0


def test_a_float_is_a_programming_error(session, customer):
    payment = paid(session, customer)
    with pytest.raises(TypeError):
        ask(session, customer, payment, 10.5)


@pytest.mark.parametrize("reason, message", [("", "Tell us why"), ("   ", "Tell us why"), ("x" * 501, "under 500")])
def test_a_reason_is_required(session, customer, reason, message):
    payment = paid(session, customer)
    with pytest.raises(DomainError, match=message):
        ask(session, customer, payment, 100, reason)
    assert requests(session) == 0


def test_someone_elses_payment_answers_like_a_missing_one(session, customer):
    other = make_customer(session, "bob@example.com", currency="KRW")
    theirs = paid(session, other)
    for payment_id in (theirs.id, 999_999, "1", True):
        with pytest.raises(NotFound, match="No such payment"):
            refund_requests.request_refund(session, customer_id=customer.id, payment_id=payment_id, amount=1, reason="x")
        with pytest.raises(NotFound):
            refund_requests.offer(session, customer_id=customer.id, payment_id=payment_id)
    assert requests(session) == 0


def test_only_paid_payments_can_be_asked_for(session, customer):
    failed = paid(session, customer, succeeded=False)
    with pytest.raises(DomainError, match="Only a paid payment"):
        ask(session, customer, failed, 100)
    refunded = paid(session, customer, key="p2")
    payments.record_refund(session, payment_id=refunded.id, amount=15000, reason="full", now=T0)
    with pytest.raises(DomainError, match="Only a paid payment"):
        ask(session, customer, refunded, 1)
    partly = paid(session, customer, key="p3")
    payments.record_refund(session, payment_id=partly.id, amount=10000, reason="part", now=T0)
    assert ask(session, customer, partly, 5000).amount == 5000
