"""Admins deciding refund requests, against localstripe over HTTP, on SQLite and PostgreSQL."""

import pytest
from sqlmodel import func, select

from billing_portal.billing import checkout, credits, refund_decisions, refund_requests
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.gateways.stripe_gateway import StripeGateway
from billing_portal.models import AuditEntry, CreditPack, Payment, Refund, RefundRequest, Role
from tests.billing.test_checkout import VISA, _cheap_password_hashing, ls, save_card, user_of  # noqa: F401
from tests.support.builders import make_customer

@pytest.fixture
def admin(session) -> CurrentUser:
    customer = make_customer(session, "root@example.com")
    return CurrentUser(user_id=customer.user_id, email="root@example.com", role=Role.ADMIN, customer_id=None,
                       name="Root", currency="USD", locale="en_US")


@pytest.fixture
def bought(session, ls):
    """A customer who paid $20.00 for 2 × 1,000 credits (+ 2 × 100 bonus) at localstripe."""
    pack = CreditPack(slug="credits-1000", name="1,000 credits", currency="USD", amount=1000, credits=1000,
                      bonus_credits=100)
    session.add(pack)
    session.flush()
    user = user_of(make_customer(session))
    outcome = checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, VISA),
                           pack_slug=pack.slug, quantity=2)
    assert outcome.status == "succeeded"
    payment = session.exec(select(Payment)).one()
    return user, payment


def ask(session, user, payment, amount, reason="Bought the wrong pack"):
    return refund_requests.request_refund(session, customer_id=user.customer_id, payment_id=payment.id,
                                          amount=amount, reason=reason)


def stripe_refunds(payment) -> list:
    return list(StripeGateway.from_settings()._v1.refunds.list(
        params={"payment_intent": payment.stripe_payment_intent_id}).auto_paging_iter())


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_a_partial_approval_refunds_at_stripe_records_it_and_claws_back_the_credits(session, bought, admin):
    user, payment = bought
    request = ask(session, user, payment, 1000)
    decided = refund_decisions.approve(session, request_id=request.id, admin=admin, amount="$5.00", note="Half")

    assert (decided.status, decided.decided_by, decided.decision_reason) == ("approved", admin.user_id, "Half")
    refund = session.get(Refund, decided.refund_id)
    assert (refund.amount, refund.status, refund.approved_by) == (500, "succeeded", admin.user_id)
    [at_stripe] = stripe_refunds(payment)
    assert at_stripe["id"] == refund.stripe_refund_id and at_stripe["amount"] == 500
    assert at_stripe["metadata"]["idempotency_key"] == f"refund-request:{request.id}"
    assert payment.status == "partially_refunded"
    # A quarter of the money back takes back a quarter of the 2,200 credits.
    assert credits.balance(session, user.customer_id) == 2200 - 550
    assert refund.credit_note_key and refund.credit_note_key.endswith(".pdf")
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "refund_request.approved")).one()
    assert entry.actor_user_id == admin.user_id and entry.after["refunded"] == 500


def test_approving_again_after_a_crash_makes_no_second_refund_at_stripe(session, bought, admin):
    """Stripe refunded but our transaction was lost: the same key finds the refund already made."""
    user, payment = bought
    request = ask(session, user, payment, 2000)
    StripeGateway.from_settings().refund(payment_intent_id=payment.stripe_payment_intent_id, amount=2000,
                                         idempotency_key=f"refund-request:{request.id}")
    refund_decisions.approve(session, request_id=request.id, admin=admin)
    assert len(stripe_refunds(payment)) == 1
    assert payment.status == "refunded" and count(session, Refund) == 1
    assert credits.balance(session, user.customer_id) == 0


@pytest.mark.parametrize("amount, message", [
    (2001, r"at most the \$20\.00 asked for"), (0, "more than zero"), ("$-1", "amount"),
])
def test_more_than_asked_or_nothing_is_refused_and_changes_nothing(session, bought, admin, amount, message):
    user, payment = bought
    request = ask(session, user, payment, 2000)
    with pytest.raises(DomainError, match=message):
        refund_decisions.approve(session, request_id=request.id, admin=admin, amount=amount)
    assert request.status == "requested" and stripe_refunds(payment) == [] and count(session, Refund) == 0
    assert count(session, AuditEntry) == 0


def test_never_more_than_the_payment_has_left(session, bought, admin):
    user, payment = bought
    first, second = ask(session, user, payment, 1500), ask(session, user, payment, 500)
    refund_decisions.approve(session, request_id=first.id, admin=admin)
    refund_decisions.approve(session, request_id=second.id, admin=admin)
    assert payment.status == "refunded"
    assert sum(r["amount"] for r in stripe_refunds(payment)) == 2000


def test_a_decided_request_cannot_be_decided_again(session, bought, admin):
    user, payment = bought
    request = ask(session, user, payment, 500)
    refund_decisions.reject(session, request_id=request.id, admin=admin, reason="  Used   already ")
    assert (request.status, request.decision_reason) == ("rejected", "Used already")
    with pytest.raises(DomainError, match="rejected already"):
        refund_decisions.approve(session, request_id=request.id, admin=admin)
    assert stripe_refunds(payment) == []
    entry = session.exec(select(AuditEntry)).one()
    assert (entry.action, entry.after["reason"]) == ("refund_request.rejected", "Used already")


def test_a_rejection_needs_a_reason(session, bought, admin):
    user, payment = bought
    request = ask(session, user, payment, 500)
    with pytest.raises(DomainError, match="reason"):
        refund_decisions.reject(session, request_id=request.id, admin=admin, reason="   ")
    assert request.status == "requested"


def test_a_customer_cannot_decide_or_list(session, bought):
    user, payment = bought
    request = ask(session, user, payment, 500)
    for decide in (
        lambda: refund_decisions.approve(session, request_id=request.id, admin=user),
        lambda: refund_decisions.reject(session, request_id=request.id, admin=user, reason="no"),
        lambda: refund_decisions.request_page(session, admin=user, status="all", page=1, per_page=10),
    ):
        with pytest.raises(NotFound):
            decide()
    assert request.status == "requested" and stripe_refunds(payment) == []


def test_the_page_lists_waiting_requests_oldest_first(session, bought, admin):
    user, payment = bought
    first, second = ask(session, user, payment, 500, "first"), ask(session, user, payment, 700, "second")
    rows, total = refund_decisions.request_page(session, admin=admin, status="requested", page=1, per_page=10)
    assert total == 2 and [r.id for r in rows] == [first.id, second.id]
    assert (rows[0].amount_label, rows[0].paid_label, rows[0].refundable_label) == ("$5.00", "$20.00", "$20.00")
    assert rows[0].invoice_number.startswith("INV-")
    refund_decisions.reject(session, request_id=first.id, admin=admin, reason="no")
    rows, total = refund_decisions.request_page(session, admin=admin, status="rejected", page=1, per_page=10)
    assert total == 1 and rows[0].decision_reason == "no"
    assert count(session, RefundRequest) == 2
