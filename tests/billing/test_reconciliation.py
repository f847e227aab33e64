"""Reconciliation against localstripe over HTTP, on SQLite and PostgreSQL: objects made directly at
the stand-in that we never recorded, statuses a lost webhook never brought, and healing each."""

from datetime import date, timedelta

import pytest
from sqlmodel import func, select

from billing_portal.billing import analytics, checkout, invoices, payments, reconciliation
from billing_portal.billing.errors import DomainError
from billing_portal.billing.invoices import DraftLine
from billing_portal.gateways.stripe_gateway import StripeGateway
from billing_portal.models import AuditEntry, Customer, Invoice, Payment, Refund
from billing_portal.models.types import utcnow
from tests.billing.test_checkout import VISA, _cheap_password_hashing, ls, price, save_card, user_of  # noqa: F401
from tests.billing.test_refund_decisions import admin  # noqa: F401
from tests.support.builders import make_customer


@pytest.fixture
def paid(session, ls, price):
    """A customer who subscribed and paid at localstripe through checkout."""
    user = user_of(make_customer(session))
    outcome = checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, VISA), price_id=price.id)
    assert outcome.status == "succeeded"
    customer = session.get(Customer, user.customer_id)
    return customer, session.exec(select(Payment)).one()


def today_report(session, actor="system", heal=False):
    start, end = reconciliation.day_range(date.today(), date.today())
    return reconciliation.reconcile(session, start=start, end=end, actor=actor, heal=heal)


def charge_at_stripe(customer, amount, currency="USD", metadata=None, key="direct"):
    """A PaymentIntent made directly at the stand-in: Stripe has the money, our books do not."""
    gw = StripeGateway.from_settings()
    return gw.charge(stripe_customer_id=customer.stripe_customer_id, payment_method_id=customer.default_payment_method_id,
                     amount=amount, currency=currency, idempotency_key=key, off_session=True, metadata=metadata)


def audit_actions(session) -> list[str]:
    return [e.action for e in session.exec(select(AuditEntry).order_by(AuditEntry.id))]


def test_payments_made_through_checkout_reconcile_clean_and_the_job_writes_nothing(session, paid):
    report = today_report(session)
    assert report.clean and report.payments_checked == 1
    assert audit_actions(session) == []


def test_a_charge_we_never_recorded_is_found_and_healed_onto_its_invoice(session, paid, admin):
    customer, _ = paid
    draft = invoices.create_draft(session, customer_id=customer.id, currency="USD", lines=[DraftLine("Extra seats", 700)])
    invoice = invoices.finalize(session, draft.id)
    lost = charge_at_stripe(customer, 700, metadata={"invoice_id": invoice.id}, key=f"invoice:{invoice.id}:pm:x")

    report = today_report(session)
    [found] = report.discrepancies
    assert (found.kind, found.stripe_id, found.healable, found.healed) == ("missing_here", lost.payment_intent_id, True, False)
    assert audit_actions(session) == ["reconciliation.discrepancies"]  # the nightly job's alert

    healed = today_report(session, actor=admin, heal=True)
    assert healed.healed == 1
    payment = session.exec(select(Payment).where(Payment.stripe_payment_intent_id == lost.payment_intent_id)).one()
    assert (payment.status, payment.amount, payment.idempotency_key) == ("succeeded", 700, f"invoice:{invoice.id}:pm:x")
    assert session.get(Invoice, invoice.id).status == "paid"
    assert audit_actions(session)[-2:] == ["reconciliation.healed", "reconciliation.discrepancies"]

    # Healing is idempotent: the next run is clean and records nothing twice.
    again = today_report(session, actor=admin, heal=True)
    assert again.clean and session.exec(select(func.count()).select_from(Payment)).one() == 2
    assert audit_actions(session)[-1] == "reconciliation.run"


def test_a_charge_naming_no_invoice_is_recorded_unapplied_and_an_unknown_customer_is_left_to_a_person(session, paid, ls, admin):
    customer, _ = paid
    stray = charge_at_stripe(customer, 300, key="dashboard-charge")
    stranger = make_customer(session, "zed@example.com")
    gw = StripeGateway.from_settings()
    stranger.stripe_customer_id = gw.ensure_customer(stripe_customer_id=None, email="zed@example.com", name="Zed",
                                                     country="", idempotency_key="customer:zed")
    pm = gw.attach_payment_method(ls.create_payment_method(VISA), stranger.stripe_customer_id).id
    foreign = gw.charge(stripe_customer_id=stranger.stripe_customer_id, payment_method_id=pm, amount=900,
                        currency="USD", idempotency_key="elsewhere", off_session=True)
    stranger.stripe_customer_id = None  # not ours after all: no customer here has it
    session.add(stranger)
    session.flush()

    report = today_report(session, actor=admin, heal=True)
    by_id = {d.stripe_id: d for d in report.discrepancies}
    assert by_id[stray.payment_intent_id].healed
    assert not by_id[foreign.payment_intent_id].healable and not by_id[foreign.payment_intent_id].healed
    unapplied = session.exec(select(Payment).where(Payment.stripe_payment_intent_id == stray.payment_intent_id)).one()
    assert (unapplied.invoice_id, unapplied.customer_id, unapplied.amount) == (None, customer.id, 300)
    assert session.exec(select(func.count()).select_from(Payment)).one() == 2


def test_a_missed_success_webhook_is_healed_and_a_success_stripe_denies_is_not(session, paid, admin):
    customer, payment = paid
    draft = invoices.create_draft(session, customer_id=customer.id, currency="USD", lines=[DraftLine("Seats", 400)])
    invoice = invoices.finalize(session, draft.id)
    charged = charge_at_stripe(customer, 400, metadata={"invoice_id": invoice.id}, key="k2")
    pending = payments.record_intent(session, invoice_id=invoice.id, idempotency_key="k2", status="pending",
                                     stripe_payment_intent_id=charged.payment_intent_id, observed_at=utcnow())
    ghost = Payment(customer_id=customer.id, stripe_payment_intent_id="pi_nosuchintent0000", amount=100,
                    currency="USD", status="succeeded", idempotency_key="ghost")
    payment.amount += 1  # our books say a cent more than Stripe took
    session.add_all([ghost, payment])
    session.flush()

    report = today_report(session, actor=admin, heal=True)
    kinds = {(d.stripe_id, d.kind): d for d in report.discrepancies}
    assert kinds[(charged.payment_intent_id, "status_differs")].healed
    assert pending.status == "succeeded" and session.get(Invoice, invoice.id).status == "paid"
    missing = kinds[("pi_nosuchintent0000", "missing_at_stripe")]
    assert not missing.healable and ghost.status == "succeeded"
    differs = kinds[(payment.stripe_payment_intent_id, "amount_differs")]
    assert not differs.healed and differs.ours.endswith("$15.01") and differs.theirs.endswith("$15.00")
    assert len(report.discrepancies) == 3


def test_a_refund_made_at_stripe_is_recorded_once(session, paid, admin):
    _, payment = paid
    made = StripeGateway.from_settings().refund(payment_intent_id=payment.stripe_payment_intent_id, amount=500,
                                                idempotency_key="dashboard-refund")
    report = today_report(session, actor=admin, heal=True)
    [found] = report.discrepancies
    assert (found.object_type, found.kind, found.healed) == ("refund", "missing_here", True)
    refund = session.exec(select(Refund)).one()
    assert (refund.stripe_refund_id, refund.amount, payment.status) == (made.id, 500, "partially_refunded")
    assert today_report(session, actor=admin).clean


def test_only_admins_reconcile_and_ranges_are_checked(session, paid):
    customer, _ = paid
    with pytest.raises(DomainError, match="Only an admin"):
        today_report(session, actor=user_of(customer))
    with pytest.raises(DomainError, match="before"):
        reconciliation.day_range(date(2026, 2, 2), date(2026, 2, 1))
    with pytest.raises(DomainError, match="at most 92 days"):
        reconciliation.day_range(date(2026, 1, 1), date(2026, 6, 1))


def test_the_nightly_job_reports_what_it_finds_in_the_audit_log(session, paid):
    from billing_portal.jobs import tasks

    customer, _ = paid
    session.commit()
    charge_at_stripe(customer, 250, key="unrecorded")
    assert tasks.reconcile_recent(utcnow()) == 1
    session.expire_all()
    entry = session.exec(select(AuditEntry)).one()
    assert (entry.action, entry.actor_label, entry.after["kinds"]) == (
        "reconciliation.discrepancies", "system", {"missing_here": 1})
    # ... and raises an alert on the admin dashboard, pointing at the reconciliation page.
    [alert] = analytics.alerts_page(session, open_only=True)
    today = utcnow().date()
    assert (alert.kind, alert.currency, alert.month, alert.value) == ("reconciliation", "", today, 1)
    assert alert.message == (f"1 discrepancy with Stripe for {today - timedelta(days=1)} to {today}: "
                             "review and heal them at /admin/reconciliation")
    assert analytics.dashboard(session, start=today, end=today).open_alerts == 1
    # Running again the same night adds no second alert.
    assert tasks.reconcile_recent(utcnow()) == 1
    session.expire_all()
    assert len(analytics.alerts_page(session, open_only=False)) == 1


def test_a_clean_night_raises_no_alert(session, paid):
    from billing_portal.jobs import tasks

    session.commit()
    assert tasks.reconcile_recent(utcnow()) == 0
    session.expire_all()
    assert analytics.alerts_page(session, open_only=False) == []
