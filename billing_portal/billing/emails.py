"""What the portal tells customers by email, written to the outbox in the caller's transaction.

Each message is rendered from the templates in `billing_portal/templates/email/` (a `.txt` and an
`.html` of the same name; HTML is autoescaped) when the thing it tells about happens, and stored in
`email_outbox` under a key naming that thing:

| message | when | key |
|---|---|---|
| receipt | a payment succeeded (payments.py) | `receipt:payment:{payment}` |
| invoice, PDF attached | an invoice with something to pay is finalized (invoices.py) | `invoice:{invoice}` |
| invoice resent by an admin | admin_console.resend_invoice | `invoice:{invoice}:resend:{audit entry}` |
| dunning notice | an off-session charge failed (dunning.py) | `dunning:{invoice}:{attempt}` |
| refund confirmation | a refund succeeded (payments.py) | `refund:{refund}` |
| notice to each admin | a dashboard alert was raised, an outgoing webhook endpoint was disabled (outgoing_webhooks) | `alert:{alert}:{admin}`, `endpoint-disabled:{endpoint}:{at}:{admin}` |

The key is unique in the table and the insert does nothing when it is taken, so a webhook replay,
a job run again or two runners at once never make a second message, and a message is kept only if
the money change it reports is committed. billing/outbox.py sends them.
"""

import logging
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlmodel import Session

from billing_portal.billing import repository
from billing_portal.billing.invoice_document import document_locale
from billing_portal.billing.money import format_money
from billing_portal.models import Customer, Invoice, OutboxEmail, Payment, Refund, User
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"
RECEIPT, INVOICE, DUNNING, REFUND = "receipt", "invoice", "dunning", "refund"
ADMIN_NOTICE = "admin_notice"


@lru_cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                       undefined=StrictUndefined, keep_trailing_newline=True)


def render(template: str, context: dict) -> tuple[str, str]:
    """(text, html) of one message; a missing variable raises instead of printing nothing."""
    env = _environment()
    return env.get_template(f"{template}.txt").render(context), env.get_template(f"{template}.html").render(context)


def _links() -> dict[str, str]:
    base = get_settings().public_url.rstrip("/")
    return {"public_url": base, "billing_url": f"{base}/billing/history", "pricing_url": f"{base}/pricing"}


def pay_url(invoice_id: int) -> str:
    return f"{get_settings().public_url.rstrip('/')}/checkout?invoice={invoice_id}"


def recipient(session: Session, customer: Customer) -> str:
    """The customer's invoice email, else the address they sign in with."""
    if customer.invoice_email:
        return customer.invoice_email
    user = session.get(User, customer.user_id)
    return user.email if user else ""


def enqueue(session: Session, *, key: str, kind: str, customer: Customer, subject: str, context: dict,
            invoice_id: int | None = None, attach_invoice_pdf: bool = False, requested_by: int | None = None,
            now: datetime | None = None) -> bool:
    """Render and keep one message for the customer; False when its key was used already (or the
    customer has no address: nothing to send to)."""
    to_address = recipient(session, customer)
    if not to_address:
        logger.info("customer %s has no email address: %s not queued", customer.id, key)
        return False
    context = {**_links(), "seller_name": get_settings().seller_name,
               "customer_name": customer.name or customer.company or to_address, "subject": subject, **context}
    text, html = render(kind, context)
    return repository.insert_outbox_email(
        session, idempotency_key=key, kind=kind, customer_id=customer.id, invoice_id=invoice_id,
        attach_invoice_pdf=attach_invoice_pdf, to_address=to_address, subject=subject[:300], text_body=text,
        html_body=html, status="queued", attempts=0, next_attempt_at=None, last_error="",
        requested_by=requested_by, created_at=now or utcnow(), sent_at=None,
    )


def _money(customer: Customer):
    # A locale Babel does not know (kept from an old profile) must not stop the money change mailing it.
    locale = document_locale(customer.locale)
    return lambda amount, currency: format_money(amount, currency, locale)


def receipt(session: Session, payment: Payment, *, now: datetime | None = None) -> bool:
    customer = session.get(Customer, payment.customer_id)
    money = _money(customer)
    invoice = session.get(Invoice, payment.invoice_id) if payment.invoice_id else None
    number = invoice.number if invoice else ""
    amount = money(payment.amount, payment.currency)
    card = f"{payment.card_brand.title()} ending {payment.card_last4}" if payment.card_last4 else ""
    return enqueue(
        session, key=f"receipt:payment:{payment.id}", kind=RECEIPT, customer=customer,
        invoice_id=invoice.id if invoice else None,
        subject=f"Receipt for your payment of {amount}" + (f" ({number})" if number else ""),
        context={"amount": amount, "invoice_number": number, "card": card,
                 "paid_on": f"{now or payment.updated_at or utcnow():%Y-%m-%d}"},
        now=now,
    )


def invoice_issued(session: Session, invoice: Invoice, *, key: str | None = None, requested_by: int | None = None,
                   now: datetime | None = None) -> bool:
    """The invoice with its PDF attached (drawn when the message is sent)."""
    customer = session.get(Customer, invoice.customer_id)
    money = _money(customer)
    due = invoice.total - invoice.amount_paid
    lines = [{"description": line.description, "amount": money(line.amount, invoice.currency)}
             for line in repository.invoice_lines(session, invoice.id)]
    is_open = invoice.status == "open" and due > 0
    return enqueue(
        session, key=key or f"invoice:{invoice.id}", kind=INVOICE, customer=customer, invoice_id=invoice.id,
        attach_invoice_pdf=True, requested_by=requested_by,
        subject=f"Invoice {invoice.number} for {money(invoice.total, invoice.currency)}",
        context={"number": invoice.number, "issued_on": f"{invoice.finalized_at or now or utcnow():%Y-%m-%d}",
                 "lines": lines, "subtotal": money(invoice.subtotal, invoice.currency),
                 "tax": money(invoice.tax, invoice.currency), "total": money(invoice.total, invoice.currency),
                 "amount_due": money(due, invoice.currency), "pay_url": pay_url(invoice.id) if is_open else "",
                 "auto_charge": is_open and invoice.billing_reason == "subscription_cycle"},
        now=now,
    )


def dunning_notice(session: Session, invoice: Invoice, *, attempt: int, reason: str,
                   next_attempt_at: datetime | None, final_action: str | None, now: datetime | None = None) -> bool:
    """A charge of the invoice failed: what failed, when we try again, and the link to pay now."""
    customer = session.get(Customer, invoice.customer_id)
    money = _money(customer)
    due = money(invoice.total - invoice.amount_paid, invoice.currency)
    subject = (f"Your subscription has ended: invoice {invoice.number} could not be paid" if final_action
               else f"Payment failed for invoice {invoice.number} ({due})")
    return enqueue(
        session, key=f"dunning:{invoice.id}:{attempt}", kind=DUNNING, customer=customer, invoice_id=invoice.id,
        subject=subject,
        context={"number": invoice.number, "amount_due": due, "reason": reason, "pay_url": pay_url(invoice.id),
                 "next_attempt_on": f"{next_attempt_at:%Y-%m-%d}" if next_attempt_at else "",
                 "final_action": final_action or ("stopped" if next_attempt_at is None else "")},
        now=now,
    )


def refund_confirmation(session: Session, refund: Refund, *, now: datetime | None = None) -> bool:
    payment = session.get(Payment, refund.payment_id)
    customer = session.get(Customer, payment.customer_id)
    money = _money(customer)
    invoice = session.get(Invoice, payment.invoice_id) if payment.invoice_id else None
    amount = money(refund.amount, refund.currency)
    return enqueue(
        session, key=f"refund:{refund.id}", kind=REFUND, customer=customer,
        invoice_id=invoice.id if invoice else None,
        subject=f"Refund of {amount}" + (f" for invoice {invoice.number}" if invoice and invoice.number else ""),
        context={"amount": amount, "payment_amount": money(payment.amount, payment.currency),
                 "invoice_number": invoice.number if invoice else "",
                 "refunded_on": f"{refund.decided_at or now or utcnow():%Y-%m-%d}"},
        now=now,
    )


def admin_notice(session: Session, admin: User, *, key: str, subject: str, message: str, path: str,
                 now: datetime | None = None) -> bool:
    """A message to one admin (no customer) about something that needs a look at `path`."""
    subject = subject[:300]
    text, html = render(ADMIN_NOTICE, {"seller_name": get_settings().seller_name, "subject": subject,
                                       "message": message, "link": f"{_links()['public_url']}{path}"})
    return repository.insert_outbox_email(
        session, idempotency_key=key[:255], kind=ADMIN_NOTICE, customer_id=None, invoice_id=None,
        attach_invoice_pdf=False, to_address=admin.email, subject=subject, text_body=text, html_body=html,
        status="queued", attempts=0, next_attempt_at=None, last_error="", requested_by=None,
        created_at=now or utcnow(), sent_at=None,
    )


def outbox_of_customer(session: Session, customer_id: int, *, limit: int = 20) -> list[OutboxEmail]:
    return list(repository.outbox_of_customer(session, customer_id, limit=limit))
