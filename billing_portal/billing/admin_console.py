"""The admin console's use cases: webhook events, the catalog, the audit log, customers.

Every function takes the acting `admin` and refuses anyone else (NotFound, like a missing object);
every change writes the audit log in the same transaction. Rows come back as small display
dataclasses, one page at a time: filtering and paging happen in the database.
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from billing_portal.billing import audit, catalog, credits, emails, plan_changes, repository, subscriptions, webhooks
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.money import format_money, parse_money
from billing_portal.billing.portal import parse_day, start_of_day
from billing_portal.models import AuditEntry, Customer, Invoice, InvoiceStatus, Plan, Price, WebhookEvent
from billing_portal.models.types import utcnow

CSV_MAX_ROWS = 50_000


def require_admin(user: CurrentUser | None) -> CurrentUser:
    if user is None or not user.is_admin:
        raise NotFound("No such page.")
    return user


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


# ---- webhook events


@dataclass(frozen=True)
class EventRow:
    id: int
    stripe_event_id: str
    type: str
    status: str
    attempts: int
    created_label: str
    received_label: str
    processed_label: str
    last_error: str


@dataclass(frozen=True)
class EventFilters:
    type: str = ""
    status: str = ""


def event_page(session: Session, *, admin: CurrentUser, filters: EventFilters, page: int, per_page: int
               ) -> tuple[list[EventRow], int]:
    require_admin(admin)
    if filters.status and filters.status not in webhooks.STATUSES:
        raise DomainError("Pick one of the statuses offered.")
    total = repository.count_webhook_events(session, type=filters.type or None, status=filters.status or None)
    rows = repository.webhook_events_page(session, type=filters.type or None, status=filters.status or None,
                                          limit=per_page, offset=(max(page, 1) - 1) * per_page)
    return [EventRow(e.id, e.stripe_event_id, e.type, e.status, e.attempts, _when(e.created), _when(e.received_at),
                     _when(e.processed_at), e.last_error) for e in rows], total


def event_types(session: Session, *, admin: CurrentUser) -> list[tuple[str, dict[str, int]]]:
    """Each event type with its count per status, for the filter and the summary."""
    require_admin(admin)
    counts: dict[str, dict[str, int]] = {}
    for type_, status, count in repository.webhook_event_counts(session):
        counts.setdefault(type_, {})[status] = count
    return sorted(counts.items())


def event_payload(session: Session, *, admin: CurrentUser, event_id: int) -> str:
    import json

    require_admin(admin)
    row = session.get(WebhookEvent, event_id) if isinstance(event_id, int) else None
    if row is None:
        raise NotFound("No such webhook event.")
    return json.dumps(row.payload, indent=2, ensure_ascii=False, sort_keys=True)


def replay_event(session: Session, *, admin: CurrentUser, event_id: int, now: datetime | None = None) -> WebhookEvent:
    """Process a stored event again (handlers are idempotent), audited."""
    require_admin(admin)
    row = session.get(WebhookEvent, event_id) if isinstance(event_id, int) else None
    if row is None:
        raise NotFound("No such webhook event.")
    before = {"status": row.status, "attempts": row.attempts}
    row = webhooks.replay(session, row.stripe_event_id, now=now)
    audit.record(session, actor=admin, action="webhook.replayed", subject_type="webhook_event",
                 subject_id=row.stripe_event_id, before=before, now=now,
                 after={"status": row.status, "attempts": row.attempts, "last_error": row.last_error})
    return row


# ---- catalog


@dataclass(frozen=True)
class PriceRow:
    id: int
    label: str  # "$12.00 per month"
    currency: str
    trial_days: int
    active: bool
    used: bool


@dataclass(frozen=True)
class PlanRow:
    id: int
    slug: str
    name: str
    tier: int
    active: bool
    prices: tuple[PriceRow, ...]


def catalog_rows(session: Session, *, admin: CurrentUser) -> list[PlanRow]:
    require_admin(admin)
    plans = repository.all_plans(session)
    prices = repository.all_prices(session)
    used = repository.used_price_ids(session)
    return [
        PlanRow(plan.id, plan.slug, plan.name, plan.tier, plan.active, tuple(
            PriceRow(p.id, f"{format_money(p.unit_amount, p.currency)} {catalog.period_label(p.interval, p.interval_count)}",
                     p.currency, p.trial_days, p.active, p.id in used)
            for p in prices if p.plan_id == plan.id
        ))
        for plan in plans
    ]


def create_plan(session: Session, *, admin: CurrentUser, slug: str, name: str, tier: str, description: str = "",
                features: str = "") -> Plan:
    require_admin(admin)
    plan = catalog.create_plan(session, slug=slug.strip(), name=name, tier=_whole(tier, "The tier"),
                               description=description.strip(),
                               features=[line for line in features.splitlines() if line.strip()])
    audit.record(session, actor=admin, action="plan.created", subject_type="plan", subject_id=plan.id,
                 after={"slug": plan.slug, "name": plan.name, "tier": plan.tier})
    return plan


def create_price(session: Session, *, admin: CurrentUser, plan_id: int, currency: str, period: str, amount: str,
                 trial_days: str = "0") -> Price:
    """`period` is "month-1", "month-3", "year-1"...; `amount` as typed ("12.00", "₩15,000")."""
    require_admin(admin)
    interval, _, count = period.partition("-")
    currency = currency.strip().upper()
    price = catalog.create_price(session, plan_id=plan_id, currency=currency, interval=interval,
                                 interval_count=_whole(count, "The interval count"),
                                 unit_amount=parse_money(amount, currency, admin.locale),
                                 trial_days=_whole(trial_days or "0", "Trial days"))
    audit.record(session, actor=admin, action="price.created", subject_type="price", subject_id=price.id,
                 after={"plan_id": plan_id, "currency": price.currency, "interval": price.interval,
                        "interval_count": price.interval_count, "unit_amount": price.unit_amount})
    return price


def archive_plan(session: Session, *, admin: CurrentUser, plan_id: int) -> Plan:
    require_admin(admin)
    plan = catalog.archive_plan(session, plan_id)
    audit.record(session, actor=admin, action="plan.archived", subject_type="plan", subject_id=plan.id,
                 before={"active": True}, after={"active": False})
    return plan


def archive_price(session: Session, *, admin: CurrentUser, price_id: int) -> Price:
    """Prices are never edited once used: a change is a new price and the old one archived."""
    require_admin(admin)
    price = catalog.archive_price(session, price_id)
    audit.record(session, actor=admin, action="price.archived", subject_type="price", subject_id=price.id,
                 before={"active": True}, after={"active": False})
    return price


def _whole(text: str, label: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise DomainError(f"{label} must be a whole number.") from None


# ---- audit log


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    action: str = ""
    subject_type: str = ""
    subject_id: str = ""
    date_from: str = ""
    date_to: str = ""


@dataclass(frozen=True)
class AuditRow:
    id: int
    at_label: str
    actor: str
    action: str
    subject: str
    change: str  # before → after, compact


def _audit_query_args(filters: AuditFilters) -> dict:
    first = parse_day(filters.date_from, "from")
    last = parse_day(filters.date_to, "to")
    if first and last and last < first:
        raise DomainError("The end date is before the start date.")
    return dict(
        actor=filters.actor.strip() or None, action=filters.action.strip() or None,
        subject_type=filters.subject_type.strip() or None, subject_id=filters.subject_id.strip() or None,
        start=start_of_day(first) if first else None, end=start_of_day(last + timedelta(days=1)) if last else None,
    )


def _compact(values: dict | None) -> str:
    if not values:
        return ""
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _audit_row(entry: AuditEntry) -> AuditRow:
    change = " → ".join(part for part in (_compact(entry.before), _compact(entry.after)) if part)
    return AuditRow(entry.id, _when(entry.at), entry.actor_label, entry.action,
                    f"{entry.subject_type} {entry.subject_id}", change)


def audit_page(session: Session, *, admin: CurrentUser, filters: AuditFilters, page: int, per_page: int
               ) -> tuple[list[AuditRow], int]:
    require_admin(admin)
    args = _audit_query_args(filters)
    total = repository.count_audit_entries(session, **args)
    rows = repository.audit_entries_page(session, **args, limit=per_page, offset=(max(page, 1) - 1) * per_page)
    return [_audit_row(e) for e in rows], total


def audit_csv_lines(session: Session, *, admin: CurrentUser, filters: AuditFilters) -> Iterator[str]:
    """The filtered entries as CSV, newest first, at most CSV_MAX_ROWS, streamed in batches."""
    require_admin(admin)
    args = _audit_query_args(filters)
    yield _csv_line(["at", "actor", "action", "subject_type", "subject_id", "before", "after"])
    done, batch = 0, 500
    while done < CSV_MAX_ROWS:
        rows = repository.audit_entries_page(session, **args, limit=min(batch, CSV_MAX_ROWS - done), offset=done)
        for e in rows:
            yield _csv_line([_when(e.at), e.actor_label, e.action, e.subject_type, e.subject_id,
                             _compact(e.before), _compact(e.after)])
        done += len(rows)
        if len(rows) < batch:
            break


def _csv_line(values: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([_csv_safe(str(v)) for v in values])
    return out.getvalue()


def _csv_safe(text: str) -> str:
    # A cell starting with = + - @ would run as a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


# ---- customers


@dataclass(frozen=True)
class CustomerRow:
    id: int
    name: str
    company: str
    email: str
    plan: str
    status: str
    created_label: str


@dataclass(frozen=True)
class CustomerDetail:
    id: int
    name: str
    company: str
    email: str
    country: str
    currency: str
    credits: int
    subscription_id: int | None
    plan: str
    status: str
    period_label: str
    cancel_at_period_end: bool
    subscriptions: tuple[str, ...]
    invoices: tuple[str, ...]
    payments: tuple[str, ...]
    files: tuple[str, ...]
    audit: tuple[str, ...]
    price_options: tuple[tuple[str, str], ...]  # (price id, label) the plan may change to
    emails: tuple[str, ...] = ()
    invoice_options: tuple[tuple[str, str], ...] = ()  # (invoice id, number) of finalized invoices


def customer_page(session: Session, *, admin: CurrentUser, query: str, page: int, per_page: int
                  ) -> tuple[list[CustomerRow], int]:
    require_admin(admin)
    query = " ".join(query.split())[:200]
    total = repository.count_customers(session, query=query)
    found = repository.customers_page(session, query=query, limit=per_page, offset=(max(page, 1) - 1) * per_page)
    rows = []
    for customer, email in found:
        live = repository.live_subscription(session, customer.id)
        plan = session.get(Plan, session.get(Price, live.price_id).plan_id).name if live else ""
        rows.append(CustomerRow(customer.id, customer.name, customer.company, email, plan,
                                live.status if live else "", customer.created_at.strftime("%Y-%m-%d")))
    return rows, total


def customer_detail(session: Session, *, admin: CurrentUser, customer_id: int, now: datetime | None = None
                    ) -> CustomerDetail:
    require_admin(admin)
    customer = session.get(Customer, customer_id) if isinstance(customer_id, int) else None
    if customer is None:
        raise NotFound("No such customer.")
    now = now or utcnow()
    live = repository.live_subscription(session, customer.id)
    price = session.get(Price, live.price_id) if live else None
    plan = session.get(Plan, price.plan_id) if price else None
    options: list[tuple[str, str]] = []
    if price is not None:
        for other in repository.active_prices(session, currency=price.currency):
            other_plan = session.get(Plan, other.plan_id)
            if other.id != price.id and other_plan.active:
                options.append((str(other.id), f"{other_plan.name}, {format_money(other.unit_amount, other.currency)} "
                                               f"{catalog.period_label(other.interval, other.interval_count)}"))
    money = format_money
    latest_invoices = repository.customer_invoices(session, customer.id, limit=20)
    return CustomerDetail(
        id=customer.id, name=customer.name, company=customer.company, email=customer.invoice_email,
        country=customer.country, currency=customer.preferred_currency, credits=credits.balance(session, customer.id),
        subscription_id=live.id if live else None, plan=plan.name if plan else "", status=live.status if live else "",
        period_label=f"{live.current_period_start:%Y-%m-%d} to {live.current_period_end:%Y-%m-%d}" if live else "",
        cancel_at_period_end=bool(live and live.cancel_at_period_end),
        subscriptions=tuple(
            f"#{s.id} {s.status} since {s.created_at:%Y-%m-%d}" for s in repository.subscriptions_of(session, customer.id)),
        invoices=tuple(
            f"{i.number or '(draft)'} · {i.status} · {money(i.total, i.currency)} · {i.created_at:%Y-%m-%d}"
            for i in latest_invoices),
        payments=tuple(
            f"#{p.id} {p.status} · {money(p.amount, p.currency)} · {p.created_at:%Y-%m-%d}"
            + (f" · {p.stripe_payment_intent_id}" if p.stripe_payment_intent_id else " · manual")
            for p in repository.payments_of_customer(session, customer.id, limit=20)),
        files=tuple(f"{f.display_name} · {f.size_bytes:,} bytes · {f.created_at:%Y-%m-%d}"
                    for f in repository.files_page(session, customer.id, now=now, category=None, search=None,
                                                   sort="newest", limit=20, offset=0)[0]),
        audit=tuple(f"{_when(e.at)} · {e.actor_label} · {e.action}"
                    for e in repository.audit_of_customer(session, customer.id, limit=20)),
        price_options=tuple(options),
        emails=tuple(f"{_when(m.created_at)} · {m.kind} · {m.status} · {m.subject} · to {m.to_address}"
                     for m in emails.outbox_of_customer(session, customer.id)),
        invoice_options=tuple((str(i.id), f"{i.number} · {i.status} · {money(i.total, i.currency)}")
                              for i in latest_invoices if i.number),
    )


def _customer_subscription(session: Session, customer_id: int):
    live = repository.live_subscription(session, customer_id)
    if live is None:
        raise DomainError("This customer has no subscription.")
    return live


def change_plan(session: Session, *, admin: CurrentUser, customer_id: int, price_id: int) -> None:
    require_admin(admin)
    live = _customer_subscription(session, customer_id)
    before = {"price_id": live.price_id}
    changed = plan_changes.change_plan(session, live.id, price_id=price_id, quantity=live.quantity, actor=admin)
    audit.record(session, actor=admin, action="subscription.plan_changed_by_admin", subject_type="customer",
                 subject_id=customer_id, before=before,
                 after={"price_id": price_id, "effective": changed.preview.effective, "outcome": changed.outcome,
                        "invoice": changed.invoice.number if changed.invoice else None})


def cancel_subscription(session: Session, *, admin: CurrentUser, customer_id: int, at_period_end: bool,
                        reason: str) -> None:
    require_admin(admin)
    live = _customer_subscription(session, customer_id)
    if not " ".join(reason.split()):
        raise DomainError("Say why the subscription is canceled.")
    before = {"status": live.status}
    done = subscriptions.cancel(session, live.id, at_period_end=at_period_end, reason=reason)
    audit.record(session, actor=admin, action="subscription.canceled_by_admin", subject_type="customer",
                 subject_id=customer_id, before=before,
                 after={"status": done.status, "at_period_end": at_period_end, "reason": done.cancel_reason})


def grant_credits(session: Session, *, admin: CurrentUser, customer_id: int, amount: str, reason: str,
                  now: datetime | None = None) -> None:
    require_admin(admin)
    reason = " ".join(reason.split())
    if not reason:
        raise DomainError("Say why the credits are granted.")
    now = now or utcnow()
    entry = credits.grant(session, customer_id=customer_id, amount=_whole(amount.replace(",", ""), "The credit amount"),
                          reason=f"Granted by {admin.email}: {reason}",
                          idempotency_key=f"admin-grant:{admin.user_id}:{customer_id}:{now.isoformat()}", now=now)
    audit.record(session, actor=admin, action="credits.granted", subject_type="customer", subject_id=customer_id,
                 after={"amount": entry.delta, "balance": entry.balance_after, "reason": reason}, now=now)


def record_manual_payment(session: Session, *, admin: CurrentUser, customer_id: int, invoice_number: str,
                          received_from: str, reason: str, now: datetime | None = None) -> None:
    """Money received outside Stripe (bank transfer, cash) for an open invoice of the customer:
    who paid and why are required and kept in the audit log."""
    from billing_portal.billing import payments

    require_admin(admin)
    received_from, reason = " ".join(received_from.split()), " ".join(reason.split())
    if not received_from or not reason:
        raise DomainError("Say who paid and why it is recorded by hand.")
    invoice = repository.invoice_by_number(session, invoice_number.strip())
    if invoice is None or invoice.customer_id != customer_id:
        raise DomainError("No open invoice of this customer has that number.")
    if invoice.status != "open":
        raise DomainError(f"Invoice {invoice.number} is {invoice.status}: there is nothing to pay.")
    now = now or utcnow()
    payment = payments.record_payment(session, invoice_id=invoice.id, idempotency_key=f"manual:{invoice.id}",
                                      succeeded=True, now=now)
    payment.method_type = "manual"
    session.add(payment)
    session.flush()
    audit.record(session, actor=admin, action="payment.recorded_manually", subject_type="customer",
                 subject_id=customer_id, now=now,
                 after={"invoice": invoice.number, "payment_id": payment.id, "amount": payment.amount,
                        "currency": payment.currency, "received_from": received_from, "reason": reason})



def resend_invoice(session: Session, *, admin: CurrentUser, customer_id: int, invoice_id: int,
                   now: datetime | None = None) -> None:
    """Mail a finalized invoice of the customer again, PDF attached: a new outbox message each
    time, keyed by the audit entry that records who asked."""
    require_admin(admin)
    invoice = session.get(Invoice, invoice_id) if isinstance(invoice_id, int) else None
    if invoice is None or invoice.customer_id != customer_id or invoice.status == InvoiceStatus.DRAFT:
        raise DomainError("Pick one of this customer's issued invoices.")
    to_address = emails.recipient(session, session.get(Customer, customer_id))
    if not to_address:
        raise DomainError("This customer has no email address to send to.")
    now = now or utcnow()
    entry = audit.record(session, actor=admin, action="invoice.resent", subject_type="customer",
                         subject_id=customer_id, now=now, after={"invoice": invoice.number, "to": to_address})
    emails.invoice_issued(session, invoice, key=f"invoice:{invoice.id}:resend:{entry.id}",
                          requested_by=admin.user_id, now=now)
