"""What customers are told by email, sent for real to the sandbox's SMTP sink (aiosmtpd), on SQLite
and PostgreSQL: receipts, invoices with their PDF, dunning notices, refund confirmations; each once,
whatever replays the change behind it."""

from datetime import timedelta

from sqlmodel import select

from billing_portal.billing import dunning, emails, invoices, payments, subscriptions, webhooks
from billing_portal.billing.invoices import DraftLine
from billing_portal.jobs import tasks
from billing_portal.models import Invoice, OutboxEmail
from tests.billing.test_webhooks import _cheap_password_hashing, scope  # noqa: F401  (fixtures)
from tests.billing.test_webhooks import T, at, deliver, event, payment_intent
from tests.support.builders import T0, make_customer, make_plan


def outbox(scope) -> list[OutboxEmail]:
    with scope() as s:
        return list(s.exec(select(OutboxEmail).order_by(OutboxEmail.id)))


def send(now=T0) -> int:
    return tasks.send_queued_mail(now)


def the_only(sink, kind_subject: str):
    found = [r for r in sink.received if kind_subject in r.message["Subject"]]
    assert len(found) == 1, [r.message["Subject"] for r in sink.received]
    return found[0]


def body(message, subtype: str = "plain") -> str:
    return message.get_body(preferencelist=(subtype,)).get_content()


def krw_subscription(scope, *, email="minji@example.com"):
    """A KRW customer subscribed to a ₩15,000 monthly plan from T0; first invoice open."""
    with scope() as s:
        customer = make_customer(s, email, country="", currency="KRW")
        customer.name, customer.locale = "Kim Minji", "ko_KR"
        _, prices = make_plan(s, "pro", tier=2, prices={("KRW", "month", 1): 15000})
        started = subscriptions.subscribe(s, customer_id=customer.id, price_id=prices[("KRW", "month", 1)].id, now=T0)
        return customer.id, started.subscription.id, started.invoice.id


def test_an_issued_invoice_is_mailed_with_its_pdf_in_the_customers_currency(scope, mail_sink):
    _customer, _sub, invoice_id = krw_subscription(scope)
    assert send() == 1
    with scope() as s:
        number = s.get(Invoice, invoice_id).number
    got = the_only(mail_sink, number)
    assert got.recipients == ["minji@example.com"]
    assert got.message["Subject"] == f"Invoice {number} for ₩15,000"
    text = body(got.message)
    assert "₩15,000" in text and "₩15,000.00" not in text  # KRW has no minor unit
    assert f"/checkout?invoice={invoice_id}" in text
    [pdf] = list(got.message.iter_attachments())
    assert pdf.get_filename() == f"{number}.pdf" and pdf.get_content_type() == "application/pdf"
    assert pdf.get_content().startswith(b"%PDF")
    html = body(got.message, "html")
    assert f'href="http://localhost:3000/checkout?invoice={invoice_id}"' in html
    # Sent once: the job again sends nothing.
    assert send(T0 + timedelta(minutes=1)) == 0 and len(mail_sink.received) == 1


def test_html_is_escaped(scope, mail_sink):
    with scope() as s:
        customer = make_customer(s, "eve@example.com")
        customer.name = "<script>alert(1)</script>"
        draft = invoices.create_draft(s, customer_id=customer.id, currency="USD",
                                      lines=[DraftLine("<b>Consulting</b> & more", 12000)])
        invoices.finalize(s, draft.id, now=T0)
    send()
    message = mail_sink.received[0].message
    html = body(message, "html")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;Consulting&lt;/b&gt; &amp; more" in html and "$120.00" in html
    assert "<b>Consulting</b> & more: $120.00" in body(message)


def test_a_payment_through_the_webhook_sends_one_receipt_however_often_it_is_replayed(scope, mail_sink):
    _customer, _sub, invoice_id = krw_subscription(scope)
    with scope() as s:
        payments.record_intent(s, invoice_id=invoice_id, idempotency_key=f"invoice:{invoice_id}:pm:pi_A",
                               status="requires_action", stripe_payment_intent_id="pi_A", observed_at=at(T))
    succeeded = event("payment_intent.succeeded", payment_intent("pi_A", "succeeded", amount=15000, currency="krw"),
                      created=T + 5)
    deliver(scope, succeeded, succeeded)
    with scope() as s:
        webhooks.replay(s, succeeded["id"])
    send()
    with scope() as s:
        webhooks.replay(s, succeeded["id"])
    send(T0 + timedelta(minutes=1))
    receipts = [r for r in mail_sink.received if r.message["Subject"].startswith("Receipt")]
    assert len(receipts) == 1
    with scope() as s:
        number = s.get(Invoice, invoice_id).number
    assert receipts[0].message["Subject"] == f"Receipt for your payment of ₩15,000 ({number})"
    assert "We received your payment of ₩15,000 for invoice" in body(receipts[0].message)
    assert [row.idempotency_key for row in outbox(scope)] == [f"invoice:{invoice_id}", "receipt:payment:1"]


def test_a_failed_renewal_sends_a_dunning_notice_with_the_link_to_pay(scope, mail_sink):
    with scope() as s:
        customer = make_customer(s, "ana@example.com")
        _, prices = make_plan(s, "pro", tier=2, prices={("USD", "month", 1): 1500})
        started = subscriptions.subscribe(s, customer_id=customer.id, price_id=prices[("USD", "month", 1)].id, now=T0)
        payments.record_payment(s, invoice_id=started.invoice.id, idempotency_key="first", succeeded=True, now=T0)
    renewal_at = T0 + timedelta(days=28)  # no saved card: the renewal charge fails
    assert tasks.renew_due_subscriptions(renewal_at) == 1
    with scope() as s:
        renewal = s.exec(select(Invoice).where(Invoice.billing_reason == "subscription_cycle")).one()
    send(renewal_at)
    notice = the_only(mail_sink, "Payment failed")
    assert notice.message["Subject"] == f"Payment failed for invoice {renewal.number} ($15.00)"
    text = body(notice.message)
    assert dunning.NO_CARD_MESSAGE in text
    assert f"http://localhost:3000/checkout?invoice={renewal.id}" in text
    assert "again on 2026-03-01" in text
    # The renewal invoice itself says it is charged to the saved card; the receipt of the first.
    assert "charged to your saved card" in body(the_only(mail_sink, f"Invoice {renewal.number}").message)
    the_only(mail_sink, "Receipt")
    # The same attempt is not told twice; the next failed retry is its own notice.
    send(renewal_at + timedelta(hours=1))
    assert tasks.retry_failed_payments(renewal_at + timedelta(days=1)) == 1
    send(renewal_at + timedelta(days=1))
    notices = [r for r in mail_sink.received if "Payment failed" in r.message["Subject"]]
    assert len(notices) == 2
    assert [row.idempotency_key for row in outbox(scope) if row.kind == "dunning"] == [
        f"dunning:{renewal.id}:1", f"dunning:{renewal.id}:2"]


def test_the_last_failed_retry_says_the_subscription_ended(scope, mail_sink, monkeypatch):
    monkeypatch.setenv("DUNNING_RETRY_DAYS", "1")
    with scope() as s:
        customer = make_customer(s, "ana@example.com")
        _, prices = make_plan(s, "pro", tier=2, prices={("USD", "month", 1): 1500})
        started = subscriptions.subscribe(s, customer_id=customer.id, price_id=prices[("USD", "month", 1)].id, now=T0)
        payments.record_payment(s, invoice_id=started.invoice.id, idempotency_key="first", succeeded=True, now=T0)
    renewal_at = T0 + timedelta(days=28)
    tasks.renew_due_subscriptions(renewal_at)
    tasks.retry_failed_payments(renewal_at + timedelta(days=1))
    send(renewal_at + timedelta(days=1))
    ended = the_only(mail_sink, "Your subscription has ended")
    text = body(ended.message)
    assert "so your subscription has ended" in text and "http://localhost:3000/pricing" in text
    assert "/checkout?invoice=" not in text  # written off: nothing to pay there any more


def test_a_refund_is_confirmed_once(scope, mail_sink):
    with scope() as s:
        customer = make_customer(s, "ana@example.com")
        draft = invoices.create_draft(s, customer_id=customer.id, currency="USD", lines=[DraftLine("Pack", 5000)])
        invoice = invoices.finalize(s, draft.id, now=T0)
        payment = payments.record_payment(s, invoice_id=invoice.id, idempotency_key="pay", succeeded=True, now=T0)
        payments.record_refund(s, payment_id=payment.id, amount=1250, reason="asked", stripe_refund_id="re_1", now=T0)
        payments.record_refund(s, payment_id=payment.id, amount=1250, reason="asked", stripe_refund_id="re_1", now=T0)
    send()
    refund = the_only(mail_sink, "Refund")
    assert refund.message["Subject"] == f"Refund of $12.50 for invoice {invoice.number}"
    assert "We refunded $12.50 of your payment of $50.00" in body(refund.message)
    assert sorted(r.message["Subject"].split()[0] for r in mail_sink.received) == ["Invoice", "Receipt", "Refund"]


def test_a_free_invoice_is_not_mailed_and_a_customer_without_address_gets_nothing(scope):
    with scope() as s:
        customer = make_customer(s, "ana@example.com")
        draft = invoices.create_draft(s, customer_id=customer.id, currency="USD", lines=[DraftLine("Free", 0)])
        invoices.finalize(s, draft.id, now=T0)
        assert outbox(scope) == []
        customer.invoice_email = ""
        s.add(customer)
        s.flush()
        assert emails.recipient(s, customer) == "ana@example.com"  # falls back to the sign-in address
