"""The admin console's use cases on SQLite and PostgreSQL: admins only, every change audited,
filters and pages done by the database."""

import pytest
from sqlmodel import func, select

from billing_portal.billing import admin_console, credits, invoices, subscriptions, webhooks
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.admin_console import AuditFilters, EventFilters
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.invoices import DraftLine
from billing_portal.models import AuditEntry, Invoice, OutboxEmail, Payment, Price, Role
from tests.billing.test_webhooks import event, payment_intent
from tests.support.builders import T0, make_customer, make_plan


@pytest.fixture
def admin(session) -> CurrentUser:
    who = make_customer(session, "root@example.com")
    return CurrentUser(user_id=who.user_id, email="root@example.com", role=Role.ADMIN, customer_id=None, name="Root",
                       currency="USD", locale="en_US")


@pytest.fixture
def customer(session):
    return make_customer(session, "ana@example.com")


def as_customer(customer) -> CurrentUser:
    return CurrentUser(user_id=customer.user_id, email="ana@example.com", role=Role.CUSTOMER, customer_id=customer.id,
                       name="Ana", currency="USD", locale="en_US")


def actions(session) -> list[str]:
    return [e.action for e in session.exec(select(AuditEntry).order_by(AuditEntry.id))]


def test_webhook_events_filter_page_show_payload_and_replay_audited(session, admin):
    for n in range(3):
        webhooks.receive(session, event("payment_intent.succeeded", payment_intent(f"pi_{n}", "succeeded", ours=False)))
    webhooks.receive(session, event("customer.updated", {"id": "cus_1", "object": "customer"}))
    rows, total = admin_console.event_page(session, admin=admin, filters=EventFilters(type="payment_intent.succeeded"),
                                           page=2, per_page=2)
    assert total == 3 and len(rows) == 1 and rows[0].type == "payment_intent.succeeded"
    assert dict(admin_console.event_types(session, admin=admin))["customer.updated"] == {"received": 1}
    assert '"pi_0"' in admin_console.event_payload(session, admin=admin, event_id=1)

    replayed = admin_console.replay_event(session, admin=admin, event_id=1)
    assert replayed.status == "ignored" and replayed.attempts == 1  # not charged by the portal
    entry = session.exec(select(AuditEntry)).one()
    assert (entry.action, entry.before["status"], entry.after["status"]) == ("webhook.replayed", "received", "ignored")
    with pytest.raises(DomainError, match="statuses"):
        admin_console.event_page(session, admin=admin, filters=EventFilters(status="bogus"), page=1, per_page=2)


def test_catalog_create_and_archive_are_audited_and_used_prices_are_marked(session, admin, customer):
    plan = admin_console.create_plan(session, admin=admin, slug="team", name="Team", tier="2",
                                     features="5 users\n\n10 GB")
    assert plan.features == ["5 users", "10 GB"]
    price = admin_console.create_price(session, admin=admin, plan_id=plan.id, currency="usd", period="month-3",
                                       amount="$36.00", trial_days="7")
    assert (price.unit_amount, price.interval, price.interval_count, price.trial_days) == (3600, "month", 3, 7)
    subscriptions.subscribe(session, customer_id=customer.id, price_id=price.id, now=T0)
    [row] = [p for p in admin_console.catalog_rows(session, admin=admin) if p.slug == "team"]
    assert row.prices[0].used and row.prices[0].label == "$36.00 every 3 months"
    admin_console.archive_price(session, admin=admin, price_id=price.id)
    admin_console.archive_plan(session, admin=admin, plan_id=plan.id)
    assert not session.get(Price, price.id).active
    assert actions(session) == ["plan.created", "price.created", "price.archived", "plan.archived"]
    with pytest.raises(DomainError):
        admin_console.create_price(session, admin=admin, plan_id=plan.id, currency="USD", period="week-1", amount="1")


def test_the_audit_log_filters_pages_and_exports_csv_safely(session, admin, customer):
    for n in range(5):
        admin_console.grant_credits(session, admin=admin, customer_id=customer.id, amount="1,000", reason=f"=gift {n}")
    admin_console.create_plan(session, admin=admin, slug="solo", name="Solo", tier="1")
    rows, total = admin_console.audit_page(session, admin=admin, filters=AuditFilters(action="credits."), page=1,
                                           per_page=3)
    assert total == 5 and len(rows) == 3 and rows[0].subject == f"customer {customer.id}"
    assert "reason==gift 4" in rows[0].change  # newest first
    lines = list(admin_console.audit_csv_lines(session, admin=admin, filters=AuditFilters(actor="root@")))
    assert lines[0].startswith("at,actor,action") and len(lines) == 7
    assert any(",credits.granted,customer," in line for line in lines)
    none, total = admin_console.audit_page(session, admin=admin, filters=AuditFilters(date_to="2000-01-01"), page=1,
                                           per_page=3)
    assert (none, total) == ([], 0)
    with pytest.raises(DomainError):
        admin_console.audit_page(session, admin=admin, filters=AuditFilters(date_from="soon"), page=1, per_page=3)


def test_customers_search_detail_and_actions(session, admin, customer):
    _plan, prices = make_plan(session, "starter", tier=1, prices={("USD", "month", 1): 1200})
    _plan, bigger = make_plan(session, "pro", tier=2, prices={("USD", "month", 1): 2900})
    subscribed = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices[("USD", "month", 1)].id)
    make_customer(session, "bob@example.com")
    rows, total = admin_console.customer_page(session, admin=admin, query="ANA@", page=1, per_page=10)
    assert total == 1 and rows[0].id == customer.id and rows[0].plan == "Starter"

    open_invoice = subscribed.invoice
    admin_console.record_manual_payment(session, admin=admin, customer_id=customer.id, invoice_number=open_invoice.number,
                                        received_from="Ana, bank transfer 2026-02-01", reason="Paid by wire")
    assert session.get(Invoice, open_invoice.id).status == "paid"
    payment = session.exec(select(Payment)).one()
    assert (payment.method_type, payment.stripe_payment_intent_id) == ("manual", None)
    with pytest.raises(DomainError, match="nothing to pay"):
        admin_console.record_manual_payment(session, admin=admin, customer_id=customer.id,
                                            invoice_number=open_invoice.number, received_from="x", reason="y")

    admin_console.grant_credits(session, admin=admin, customer_id=customer.id, amount="250", reason="Goodwill")
    assert credits.balance(session, customer.id) == 250
    admin_console.change_plan(session, admin=admin, customer_id=customer.id, price_id=bigger[("USD", "month", 1)].id)
    with pytest.raises(DomainError, match="why"):
        admin_console.cancel_subscription(session, admin=admin, customer_id=customer.id, at_period_end=True, reason=" ")
    admin_console.cancel_subscription(session, admin=admin, customer_id=customer.id, at_period_end=True,
                                      reason="Asked by phone")
    detail = admin_console.customer_detail(session, admin=admin, customer_id=customer.id)
    assert (detail.plan, detail.credits, detail.cancel_at_period_end) == ("Pro", 250, True)
    assert detail.payments[0].endswith("manual") and detail.invoices
    assert [line.split(" · ")[-1] for line in detail.audit] == [
        "subscription.canceled_by_admin", "subscription.plan_changed_by_admin", "credits.granted",
        "payment.recorded_manually"]


def test_customers_get_nothing(session, admin, customer):
    draft = invoices.create_draft(session, customer_id=customer.id, currency="USD", lines=[DraftLine("x", 100)])
    invoices.finalize(session, draft.id)
    user = as_customer(customer)
    calls = [
        lambda: admin_console.event_page(session, admin=user, filters=EventFilters(), page=1, per_page=5),
        lambda: admin_console.replay_event(session, admin=user, event_id=1),
        lambda: admin_console.catalog_rows(session, admin=user),
        lambda: admin_console.create_plan(session, admin=user, slug="x", name="X", tier="1"),
        lambda: admin_console.audit_page(session, admin=user, filters=AuditFilters(), page=1, per_page=5),
        lambda: list(admin_console.audit_csv_lines(session, admin=user, filters=AuditFilters())),
        lambda: admin_console.customer_page(session, admin=user, query="", page=1, per_page=5),
        lambda: admin_console.customer_detail(session, admin=user, customer_id=customer.id),
        lambda: admin_console.grant_credits(session, admin=user, customer_id=customer.id, amount="5", reason="me"),
        lambda: admin_console.resend_invoice(session, admin=user, customer_id=customer.id, invoice_id=draft.id),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()
    assert credits.balance(session, customer.id) == 0
    assert session.exec(select(func.count()).select_from(AuditEntry)).one() == 0


def test_resending_an_invoice_queues_a_new_message_each_time_audited_with_who(session, admin, customer):
    draft = invoices.create_draft(session, customer_id=customer.id, currency="USD", lines=[DraftLine("Pro", 1500)])
    invoice = invoices.finalize(session, draft.id, now=T0)
    other = make_customer(session, "bob@example.com")
    others = invoices.finalize(session, invoices.create_draft(session, customer_id=other.id, currency="USD",
                                                              lines=[DraftLine("Pro", 900)]).id)
    new_draft = invoices.create_draft(session, customer_id=customer.id, currency="USD", lines=[DraftLine("x", 5)])
    for wrong in (others.id, new_draft.id, 999_999):
        with pytest.raises(DomainError, match="issued invoices"):
            admin_console.resend_invoice(session, admin=admin, customer_id=customer.id, invoice_id=wrong)
    admin_console.resend_invoice(session, admin=admin, customer_id=customer.id, invoice_id=invoice.id)
    admin_console.resend_invoice(session, admin=admin, customer_id=customer.id, invoice_id=invoice.id)
    sent = session.exec(select(OutboxEmail).where(OutboxEmail.invoice_id == invoice.id).order_by(OutboxEmail.id)).all()
    entries = session.exec(select(AuditEntry).where(AuditEntry.action == "invoice.resent").order_by(AuditEntry.id)).all()
    assert [m.idempotency_key for m in sent] == [
        f"invoice:{invoice.id}", *(f"invoice:{invoice.id}:resend:{e.id}" for e in entries)]
    assert [m.requested_by for m in sent] == [None, admin.user_id, admin.user_id]
    assert all(m.attach_invoice_pdf and m.to_address == "ana@example.com" for m in sent)
    assert [(e.actor_label, e.after) for e in entries] == [
        ("root@example.com", {"invoice": invoice.number, "to": "ana@example.com"})] * 2
    detail = admin_console.customer_detail(session, admin=admin, customer_id=customer.id)
    assert detail.invoice_options[0] == (str(invoice.id), f"{invoice.number} · open · $15.00")
    assert len(detail.emails) == 3 and detail.emails[0].endswith(f"queued · Invoice {invoice.number} for $15.00 "
                                                                 f"· to ana@example.com")
