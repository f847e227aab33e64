"""Every query the engine makes, in one place, so indexes can be checked against them.

Every row lock (SELECT ... FOR UPDATE) re-reads the row (populate_existing): after waiting for
another transaction's lock, the object in the session must show what that transaction committed,
not what this session had loaded before.
"""

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import Integer, String, bindparam, cast, literal_column, or_, union_all, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from billing_portal.models import (
    ApiKey,
    AuditEntry,
    CreditLedgerEntry,
    CreditPack,
    Customer,
    Invoice,
    InvoiceLine,
    InvoiceNumberSequence,
    MeteredPrice,
    OutboxEmail,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Plan,
    Price,
    Refund,
    RefundRequest,
    RefundRequestStatus,
    RefundStatus,
    RiskAssessment,
    StoredFile,
    Subscription,
    SubscriptionStatus,
    UsageRecord,
    User,
    WebhookEvent,
)

LIVE_SUBSCRIPTION_STATUSES = (
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.PAUSED,
    SubscriptionStatus.INCOMPLETE,
)


def active_plans(session: Session) -> Sequence[Plan]:
    return session.exec(select(Plan).where(Plan.active).order_by(Plan.tier, Plan.id)).all()


def active_prices(session: Session, *, currency: str) -> Sequence[Price]:
    return session.exec(
        select(Price).where(Price.active, Price.currency == currency).order_by(Price.id)
    ).all()


def active_currencies(session: Session) -> list[str]:
    return list(
        session.exec(select(Price.currency).where(Price.active).distinct().order_by(Price.currency))
    )


def plan_by_slug(session: Session, slug: str) -> Plan | None:
    return session.exec(select(Plan).where(Plan.slug == slug)).first()


def credit_pack_by_slug(session: Session, slug: str) -> CreditPack | None:
    return session.exec(select(CreditPack).where(CreditPack.slug == slug)).first()


def active_credit_packs(session: Session, *, currency: str) -> Sequence[CreditPack]:
    return session.exec(
        select(CreditPack)
        .where(CreditPack.active, CreditPack.currency == currency)
        .order_by(CreditPack.amount)
    ).all()


def price_is_used(session: Session, price_id: int) -> bool:
    used = select(func.count()).select_from(Subscription).where(
        (Subscription.price_id == price_id) | (Subscription.scheduled_price_id == price_id)
    )
    return session.exec(used).one() > 0


def live_subscription(session: Session, customer_id: int) -> Subscription | None:
    """The customer's one subscription that is not canceled (a customer has at most one)."""
    return session.exec(
        select(Subscription)
        .where(
            Subscription.customer_id == customer_id,
            Subscription.status.in_(LIVE_SUBSCRIPTION_STATUSES),
        )
        .order_by(Subscription.id.desc())
    ).first()


def lock_subscription(session: Session, subscription_id: int) -> Subscription | None:
    return session.exec(
        _for_update(select(Subscription).where(Subscription.id == subscription_id))
    ).first()


def lock_invoice(session: Session, invoice_id: int) -> Invoice | None:
    return session.exec(_for_update(select(Invoice).where(Invoice.id == invoice_id))).first()


def invoice_lines(session: Session, invoice_id: int) -> Sequence[InvoiceLine]:
    return session.exec(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.id)
    ).all()


def next_invoice_number(session: Session, prefix: str) -> int:
    """Bump the counter for `prefix` inside the caller's transaction and return the new value.

    The UPDATE takes the row lock, so concurrent finalizations queue behind it and a rolled-back
    transaction gives its number back: numbers stay gapless and unique.
    """
    while True:
        bumped = session.exec(
            update(InvoiceNumberSequence)
            .where(InvoiceNumberSequence.prefix == prefix)
            .values(last_value=InvoiceNumberSequence.last_value + 1)
            .returning(InvoiceNumberSequence.last_value)
        ).first()
        if bumped is not None:
            return bumped[0]
        # First number for this prefix. A concurrent first insert makes ours fail on the primary
        # key once theirs commits; the loop then takes the UPDATE path.
        try:
            with session.begin_nested():
                session.add(InvoiceNumberSequence(prefix=prefix, last_value=1))
            return 1
        except IntegrityError:
            continue


def customer_invoices(session: Session, customer_id: int, *, limit: int, offset: int = 0) -> Sequence[Invoice]:
    return session.exec(
        select(Invoice)
        .where(Invoice.customer_id == customer_id)
        .order_by(Invoice.created_at.desc(), Invoice.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()


def all_invoices(session: Session, *, limit: int, offset: int = 0, status: str | None = None) -> Sequence[Invoice]:
    query = select(Invoice)
    if status:
        query = query.where(Invoice.status == status)
    return session.exec(query.order_by(Invoice.created_at.desc(), Invoice.id.desc()).limit(limit).offset(offset)).all()


def invoice_by_key(session: Session, idempotency_key: str) -> Invoice | None:
    return session.exec(select(Invoice).where(Invoice.idempotency_key == idempotency_key)).first()


def customer_has_trialed(session: Session, customer_id: int) -> bool:
    trialed = select(func.count()).select_from(Subscription).where(
        Subscription.customer_id == customer_id, Subscription.trial_end.is_not(None)
    )
    return session.exec(trialed).one() > 0


def open_invoices_of(session: Session, subscription_id: int) -> Sequence[Invoice]:
    return session.exec(
        select(Invoice).where(Invoice.subscription_id == subscription_id, Invoice.status == "open")
    ).all()


def due_subscription_ids(session: Session, now, *, limit: int = 500) -> list[int]:
    """Subscriptions whose period has ended, and paused ones whose resume date has come: what the
    renewal job must pass to renew(). A paused subscription without a due resume date is left out,
    since renew() does nothing for it and it would crowd real renewals out of the limit."""
    return list(
        session.exec(
            select(Subscription.id)
            .where(
                or_(
                    Subscription.status.in_(("active", "past_due", "trialing"))
                    & (Subscription.current_period_end <= now),
                    (Subscription.status == "paused") & (Subscription.resume_at <= now),
                )
            )
            .order_by(Subscription.current_period_end)
            .limit(limit)
        )
    )


def payment_by_key(session: Session, idempotency_key: str) -> Payment | None:
    return session.exec(select(Payment).where(Payment.idempotency_key == idempotency_key)).first()


def lock_payment(session: Session, payment_id: int) -> Payment | None:
    return session.exec(_for_update(select(Payment).where(Payment.id == payment_id))).first()


def refunded_amount(session: Session, payment_id: int) -> int:
    """What has left (or is leaving) a payment as refunds."""
    total = select(func.coalesce(func.sum(Refund.amount), 0)).where(
        Refund.payment_id == payment_id,
        Refund.status.in_((RefundStatus.SUCCEEDED, RefundStatus.APPROVED)),
    )
    return int(session.exec(total).one())  # PostgreSQL sums BIGINT as NUMERIC


# ---- customers' files and invoice PDFs (billing/files.py, billing/invoice_pdfs.py)

FILE_SORTS = {
    "newest": (StoredFile.created_at.desc(), StoredFile.id.desc()),
    "oldest": (StoredFile.created_at.asc(), StoredFile.id.asc()),
    "name": (func.lower(StoredFile.display_name).asc(), StoredFile.id.asc()),
    "size": (StoredFile.size_bytes.desc(), StoredFile.id.desc()),
}


def lock_customer(session: Session, customer_id: int) -> Customer | None:
    return session.exec(_for_update(select(Customer).where(Customer.id == customer_id))).first()


def _live_files(owner_id: int, now):
    """A customer's files that are neither deleted nor expired (uses ix_files_owner_created)."""
    return (
        StoredFile.owner_id == owner_id,
        StoredFile.deleted_at.is_(None),
        or_(StoredFile.expires_at.is_(None), StoredFile.expires_at > now),
    )


def storage_used(session: Session, owner_id: int, now) -> int:
    used = select(func.coalesce(func.sum(StoredFile.size_bytes), 0)).where(*_live_files(owner_id, now))
    return int(session.exec(used).one())


def live_file(session: Session, owner_id: int, file_id: int, now) -> StoredFile | None:
    return session.exec(select(StoredFile).where(StoredFile.id == file_id, *_live_files(owner_id, now))).first()


def files_page(
    session: Session, owner_id: int, *, now, category: str | None, search: str | None, sort: str,
    limit: int, offset: int,
) -> tuple[Sequence[StoredFile], int]:
    """One page of a customer's live files and how many match in all."""
    where = [*_live_files(owner_id, now)]
    if category:
        where.append(StoredFile.category == category)
    if search:
        where.append(func.lower(StoredFile.display_name).contains(search.lower(), autoescape=True))
    total = session.exec(select(func.count()).select_from(StoredFile).where(*where)).one()
    rows = session.exec(select(StoredFile).where(*where).order_by(*FILE_SORTS[sort]).limit(limit).offset(offset)).all()
    return rows, int(total)


def live_keys_among(session: Session, keys: Sequence[str]) -> set[str]:
    """Which of `keys` belong to a file row that is not deleted."""
    if not keys:
        return set()
    found = select(StoredFile.storage_key).where(StoredFile.storage_key.in_(keys), StoredFile.deleted_at.is_(None))
    return set(session.exec(found))


def expired_files(session: Session, now, *, limit: int = 500) -> Sequence[StoredFile]:
    return session.exec(
        select(StoredFile)
        .where(StoredFile.deleted_at.is_(None), StoredFile.expires_at <= now)
        .order_by(StoredFile.expires_at, StoredFile.id)
        .limit(limit)
    ).all()


def live_files_after(session: Session, *, after_id: int, created_before, limit: int = 500) -> Sequence[StoredFile]:
    """Rows not marked deleted, in id order, for the cleanup's missing-object check."""
    return session.exec(
        select(StoredFile)
        .where(StoredFile.id > after_id, StoredFile.deleted_at.is_(None), StoredFile.created_at < created_before)
        .order_by(StoredFile.id)
        .limit(limit)
    ).all()


def invoice_by_number(session: Session, number: str) -> Invoice | None:
    return session.exec(select(Invoice).where(Invoice.number == number)).first()


def open_invoices_of_customer(session: Session, customer_id: int) -> Sequence[Invoice]:
    return session.exec(
        select(Invoice)
        .where(Invoice.customer_id == customer_id, Invoice.status == "open")
        .order_by(Invoice.id)
        .with_for_update().execution_options(populate_existing=True)
    ).all()


def invoices_needing_pdf(session: Session, *, limit: int = 200) -> list[int]:
    """Finalized invoices without a PDF, or whose PDF was drawn before they were paid or voided."""
    return list(
        session.exec(
            select(Invoice.id)
            .where(
                Invoice.number.is_not(None),
                Invoice.status != "draft",
                or_(
                    Invoice.pdf_key.is_(None),
                    Invoice.pdf_rendered_at.is_(None),
                    Invoice.paid_at > Invoice.pdf_rendered_at,
                    Invoice.voided_at > Invoice.pdf_rendered_at,
                ),
            )
            .order_by(Invoice.id)
            .limit(limit)
        )
    )


def refunds_needing_credit_note(session: Session, *, limit: int = 200) -> list[int]:
    return list(
        session.exec(
            select(Refund.id)
            .where(Refund.status == RefundStatus.SUCCEEDED, Refund.credit_note_key.is_(None))
            .order_by(Refund.id)
            .limit(limit)
        )
    )


# --- customer portal (billing/portal.py) ---------------------------------------------------------
# History merges three tables, newest first: ordered by (created_at, kind, id), all descending.
# A page is found either by offset (each branch keeps its own newest `offset + limit` rows, so a
# page reads at most 3 × (offset + limit) rows) or by keyset: the rows older (or newer) than a
# row's key, `limit` per branch, whatever the depth. Both read through ix_invoices_customer_created_status,
# ix_payments_customer_created and ix_refunds_customer_created (then each refund's payment by id), or,
# filtered by status, one ordered index range per status (ix_*_customer_status_created).


class HistoryKey(NamedTuple):
    """Where a history row sits in the order: keyset pages start after or end before one."""

    created_at: datetime
    kind: str
    id: int


# History statements are built once per shape (kinds, statuses, which bounds, which way) and run
# with bound values: building and hashing a three-branch UNION took a third of a page's time.
_CUSTOMER, _START, _END = bindparam("customer_id", type_=Integer), bindparam("start"), bindparam("end")
_KEY_AT, _KEY_ID = bindparam("key_at"), bindparam("key_id", type_=Integer)
_WINDOW, _LIMIT, _OFFSET = (bindparam(name, type_=Integer) for name in ("window", "limit", "offset"))


def _beyond(kind: str, table, key_kind: str, *, newer: bool):
    """This branch's rows strictly after the key row (kind `key_kind`, at :key_at, id :key_id) in the
    newest-first order (before it when `newer`).

    Written as a bound on created_at first, so the (customer_id, created_at) index takes the range."""
    at = table.created_at
    if kind == key_kind:
        if newer:
            return (at >= _KEY_AT) & ((at > _KEY_AT) | (table.id > _KEY_ID))
        return (at <= _KEY_AT) & ((at < _KEY_AT) | (table.id < _KEY_ID))
    # At the same instant the kinds sort by name, descending: a later name comes first.
    same_instant_first = kind > key_kind
    if newer:
        return at >= _KEY_AT if same_instant_first else at > _KEY_AT
    return at < _KEY_AT if same_instant_first else at <= _KEY_AT


def _history_branch(kind: str, statuses: tuple[str, ...] | None, bounded: tuple[bool, bool]):
    if kind == "invoice":
        query = select(
            literal_column("'invoice'", String).label("kind"),
            Invoice.id.label("id"),
            Invoice.created_at.label("created_at"),
            Invoice.status.label("status"),
            Invoice.total.label("amount"),
            Invoice.currency.label("currency"),
            Invoice.number.label("text1"),
            Invoice.billing_reason.label("text2"),
            literal_column("''", String).label("text3"),
            Invoice.id.label("invoice_id"),
        ).where(Invoice.customer_id == _CUSTOMER, Invoice.status != "draft")
        table = Invoice
    elif kind == "payment":
        query = select(
            literal_column("'payment'", String).label("kind"),
            Payment.id.label("id"),
            Payment.created_at.label("created_at"),
            Payment.status.label("status"),
            Payment.amount.label("amount"),
            Payment.currency.label("currency"),
            Payment.card_brand.label("text1"),
            Payment.card_last4.label("text2"),
            Payment.failure_message.label("text3"),
            Payment.invoice_id.label("invoice_id"),
        ).where(Payment.customer_id == _CUSTOMER)
        table = Payment
    else:
        query = (
            select(
                literal_column("'refund'", String).label("kind"),
                Refund.id.label("id"),
                Refund.created_at.label("created_at"),
                Refund.status.label("status"),
                Refund.amount.label("amount"),
                Refund.currency.label("currency"),
                Refund.reason.label("text1"),
                literal_column("''", String).label("text2"),
                literal_column("''", String).label("text3"),
                cast(Payment.invoice_id, Integer).label("invoice_id"),
            )
            # Outer: the planner drops the join where invoice_id is not needed (counting).
            .outerjoin(Payment, Payment.id == Refund.payment_id)
            .where(Refund.customer_id == _CUSTOMER)
        )
        table = Refund
    if statuses is not None:
        query = query.where(table.status.in_(statuses))
    if bounded[0]:
        query = query.where(table.created_at >= _START)
    if bounded[1]:
        query = query.where(table.created_at < _END)
    return query, table


def _history_parts(branches: tuple):
    """(kind, statuses) to query, one part per status when filtered: each part then reads one
    ordered index range (ix_*_customer_status_created) rather than filtering all the customer's rows."""
    for kind, statuses in branches:
        if statuses is None:
            yield kind, None
        else:
            yield from ((kind, (status,)) for status in statuses)


def _history_params(customer_id: int, start, end, **values) -> dict:
    return {"customer_id": customer_id, "start": start, "end": end, **values}


def history_window(session: Session, customer_id: int, *, branches: dict, start, end, limit: int, offset: int = 0,
                   after: HistoryKey | None = None, before: HistoryKey | None = None) -> list:
    """One page of the merged history, newest first: rows with kind, id, created_at, status, amount,
    currency, text1..3, invoice_id, invoice_number and requested (the payment's pending refund
    requests, summed; None when there are none). `branches` maps kind -> statuses (None = all but
    drafts).

    The page is the `limit` rows after `offset`, or right after the row `after`, or right before the
    row `before` (keyset: no offset, so any depth costs the same)."""
    if not branches:
        return []
    newer = before is not None
    key = before if newer else after
    statement = _window_statement(tuple(branches.items()), (start is not None, end is not None),
                                  key.kind if key is not None else None, newer)
    params = _history_params(customer_id, start, end, limit=limit, offset=0 if key is not None else offset,
                             window=limit if key is not None else offset + limit)
    if key is not None:
        params.update(key_at=key.created_at, key_id=key.id)
    rows = list(session.exec(statement, params=params).all())
    return rows[::-1] if newer else rows


@lru_cache(maxsize=256)
def _window_statement(branches: tuple, bounded: tuple[bool, bool], key_kind: str | None, newer: bool):
    parts = []
    for kind, statuses in _history_parts(branches):
        query, table = _history_branch(kind, statuses, bounded)
        if key_kind is not None:
            query = query.where(_beyond(kind, table, key_kind, newer=newer))
        order = (table.created_at.asc(), table.id.asc()) if newer else (table.created_at.desc(), table.id.desc())
        ordered = query.order_by(*order).limit(_WINDOW).subquery()
        parts.append(select(*ordered.c))
    merged = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()

    def ordering(columns):
        return [c.asc() if newer else c.desc() for c in (columns.created_at, columns.kind, columns.id)]

    page = select(*merged.c).order_by(*ordering(merged.c)).limit(_LIMIT).offset(_OFFSET).subquery()
    # What each row shows besides itself, looked up for the page's rows only.
    number = select(Invoice.number).where(
        Invoice.id == page.c.invoice_id, Invoice.customer_id == _CUSTOMER
    ).scalar_subquery()
    requested = select(func.sum(RefundRequest.amount)).where(
        page.c.kind == "payment",
        RefundRequest.payment_id == page.c.id,
        RefundRequest.customer_id == _CUSTOMER,
        RefundRequest.status == RefundRequestStatus.REQUESTED,
    ).scalar_subquery()
    return select(*page.c, number.label("invoice_number"), requested.label("requested")).order_by(*ordering(page.c))


def history_count(session: Session, customer_id: int, *, branches: dict, start, end, cap: int | None = None) -> int:
    """Rows matching; past `cap` the count stops (at most `cap` + 1 rows read in all branches together,
    so a huge history is not counted whole). One statement: the branches are read one after the
    other until the limit is reached."""
    if not branches:
        return 0
    statement = _count_statement(tuple(branches.items()), (start is not None, end is not None), cap is not None)
    params = _history_params(customer_id, start, end, window=None if cap is None else cap + 1)
    return session.exec(statement, params=params).one()


@lru_cache(maxsize=64)
def _count_statement(branches: tuple, bounded: tuple[bool, bool], capped: bool):
    parts = [_history_branch(kind, statuses, bounded)[0].with_only_columns(literal_column("1"))
             for kind, statuses in _history_parts(branches)]
    rows = parts[0] if len(parts) == 1 else union_all(*parts)
    return select(func.count()).select_from((rows.limit(_WINDOW) if capped else rows).subquery())


def storage_used_bytes(session: Session, customer_id: int) -> int:
    """Bytes of the customer's files not deleted (ix_files_owner_created)."""
    used = select(func.coalesce(func.sum(StoredFile.size_bytes), 0)).where(
        StoredFile.owner_id == customer_id, StoredFile.deleted_at.is_(None)
    )
    return int(session.exec(used).one())


def open_invoice_totals(session: Session, customer_id: int) -> tuple[int, str, int]:
    """(amount still due, currency, count) over the customer's open invoices that are debts: a
    credit pack's invoice is an offer left unpaid, never owed (billing/credits.py)."""
    rows = session.exec(
        select(Invoice.total - Invoice.amount_paid, Invoice.currency).where(
            Invoice.customer_id == customer_id, Invoice.status == "open", Invoice.billing_reason != "credit_pack"
        )
    ).all()
    currency = rows[0][1] if rows else ""
    return sum(row[0] for row in rows if row[1] == currency), currency, len(rows)


# --- checkout, webhooks and credits (billing/checkout.py, webhooks.py, credits.py) ---------------


def payment_by_intent(session: Session, payment_intent_id: str, *, lock: bool = False) -> Payment | None:
    query = select(Payment).where(Payment.stripe_payment_intent_id == payment_intent_id)
    return session.exec(_for_update(query) if lock else query).first()


def payments_of_invoice(session: Session, invoice_id: int) -> Sequence[Payment]:
    return session.exec(select(Payment).where(Payment.invoice_id == invoice_id).order_by(Payment.id)).all()


def refund_by_stripe_id(session: Session, stripe_refund_id: str) -> Refund | None:
    return session.exec(select(Refund).where(Refund.stripe_refund_id == stripe_refund_id)).first()


def refunds_of_payment(session: Session, payment_id: int) -> Sequence[Refund]:
    return session.exec(select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.id)).all()


def customer_by_stripe_id(session: Session, stripe_customer_id: str) -> Customer | None:
    return session.exec(select(Customer).where(Customer.stripe_customer_id == stripe_customer_id)).first()


def open_unpaid_invoices_by_reason(session: Session, customer_id: int, billing_reason: str) -> Sequence[Invoice]:
    return session.exec(
        select(Invoice)
        .where(
            Invoice.customer_id == customer_id,
            Invoice.billing_reason == billing_reason,
            Invoice.status == "open",
            Invoice.amount_paid == 0,
        )
        .order_by(Invoice.id)
    ).all()


def last_ledger_entry(session: Session, customer_id: int) -> CreditLedgerEntry | None:
    """The customer's newest ledger entry: its balance_after is the balance (ix_credit_ledger_customer_id)."""
    return session.exec(
        select(CreditLedgerEntry)
        .where(CreditLedgerEntry.customer_id == customer_id)
        .order_by(CreditLedgerEntry.id.desc())
        .limit(1)
    ).first()


def ledger_entry_by_key(session: Session, idempotency_key: str) -> CreditLedgerEntry | None:
    return session.exec(select(CreditLedgerEntry).where(CreditLedgerEntry.idempotency_key == idempotency_key)).first()


def ledger_entries(session: Session, customer_id: int, *, limit: int = 50, offset: int = 0) -> Sequence[CreditLedgerEntry]:
    return session.exec(
        select(CreditLedgerEntry)
        .where(CreditLedgerEntry.customer_id == customer_id)
        .order_by(CreditLedgerEntry.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()


def ledger_count(session: Session, customer_id: int) -> int:
    return int(session.exec(
        select(func.count()).select_from(CreditLedgerEntry).where(CreditLedgerEntry.customer_id == customer_id)
    ).one())


def webhook_event_by_stripe_id(session: Session, stripe_event_id: str) -> WebhookEvent | None:
    return session.exec(select(WebhookEvent).where(WebhookEvent.stripe_event_id == stripe_event_id)).first()


def insert_webhook_events(session: Session, rows: list[dict]) -> set[str]:
    """Insert events whose Stripe id is not kept yet; the ids this call stored.

    One INSERT ... ON CONFLICT DO NOTHING for all the rows: no read first and no savepoint, so two
    deliveries of the same event at once cannot both store it, and a batch is one round trip.
    """
    statement = _insert_event_statement(session.get_bind().dialect.name)
    return {row[0] for row in session.connection().execute(statement, rows).all()}


@lru_cache(maxsize=2)
def _insert_event_statement(dialect: str):
    # A Core statement on the table, built once: the ORM insert path costs more than the insert.
    insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[dialect]
    table = WebhookEvent.__table__
    return insert(table).on_conflict_do_nothing(index_elements=["stripe_event_id"]).returning(
        table.c.stripe_event_id
    )


def due_webhook_event_ids(session: Session, now, *, after: int = 0, limit: int = 200) -> list[int]:
    """Events waiting to be processed, ids above `after`: new ones, and retries whose wait is over
    (ix_webhook_events_due)."""
    return list(
        session.exec(
            select(WebhookEvent.id)
            .where(
                WebhookEvent.id > after,
                or_(
                    WebhookEvent.status == "received",
                    (WebhookEvent.status == "retrying") & (WebhookEvent.next_attempt_at <= now),
                )
            )
            .order_by(WebhookEvent.id)
            .limit(limit)
        )
    )


def lock_webhook_event(session: Session, event_id: int) -> WebhookEvent | None:
    """The event under a row lock; None when another runner holds it (PostgreSQL skips it)."""
    return session.exec(
        _for_update(select(WebhookEvent).where(WebhookEvent.id == event_id), skip_locked=True)
    ).first()


def webhook_events(session: Session, *, status: str | None = None, limit: int = 50) -> Sequence[WebhookEvent]:
    query = select(WebhookEvent)
    if status:
        query = query.where(WebhookEvent.status == status)
    return session.exec(query.order_by(WebhookEvent.id.desc()).limit(limit)).all()


# --- refund requests (billing/refund_requests.py) -------------------------------------------------


def pending_refund_requested(session: Session, payment_id: int) -> int:
    """What open refund requests ask for on a payment (ix_refund_requests_payment_status)."""
    total = select(func.coalesce(func.sum(RefundRequest.amount), 0)).where(
        RefundRequest.payment_id == payment_id, RefundRequest.status == RefundRequestStatus.REQUESTED
    )
    return int(session.exec(total).one())


def lock_refund_request(session: Session, request_id: int) -> RefundRequest | None:
    return session.exec(_for_update(select(RefundRequest).where(RefundRequest.id == request_id))).first()


def count_refund_requests(session: Session, *, status: str | None) -> int:
    query = select(func.count()).select_from(RefundRequest)
    if status:
        query = query.where(RefundRequest.status == status)
    return int(session.exec(query).one())


def refund_requests_page(session: Session, *, status: str | None, limit: int, offset: int) -> list:
    """(request, payment, customer, invoice number) rows: waiting requests oldest first (first come,
    first decided), decided ones newest first."""
    query = (
        select(RefundRequest, Payment, Customer, Invoice.number)
        .join(Payment, Payment.id == RefundRequest.payment_id)
        .join(Customer, Customer.id == RefundRequest.customer_id)
        .join(Invoice, Invoice.id == Payment.invoice_id, isouter=True)
    )
    if status:
        query = query.where(RefundRequest.status == status)
    if status == RefundRequestStatus.REQUESTED:
        query = query.order_by(RefundRequest.created_at.asc(), RefundRequest.id.asc())
    else:
        query = query.order_by(RefundRequest.created_at.desc(), RefundRequest.id.desc())
    return list(session.exec(query.limit(limit).offset(offset)).all())


def stripe_payments_between(session: Session, start, end) -> Sequence[Payment]:
    """Payments made through Stripe (they carry a PaymentIntent id) created in [start, end)."""
    return session.exec(
        select(Payment)
        .where(Payment.stripe_payment_intent_id.is_not(None), Payment.created_at >= start, Payment.created_at < end)
        .order_by(Payment.id)
    ).all()


def payments_by_intents(session: Session, intent_ids: Sequence[str]) -> dict[str, Payment]:
    if not intent_ids:
        return {}
    rows = session.exec(select(Payment).where(Payment.stripe_payment_intent_id.in_(list(intent_ids)))).all()
    return {row.stripe_payment_intent_id: row for row in rows}


def stripe_refunds_between(session: Session, start, end) -> Sequence[Refund]:
    """Refunds Stripe made (real `re_` ids, not the placeholders of charge.refunded) in [start, end)."""
    return session.exec(
        select(Refund)
        .where(Refund.stripe_refund_id.like("re\\_%", escape="\\"), Refund.created_at >= start, Refund.created_at < end)
        .order_by(Refund.id)
    ).all()


def refunds_by_stripe_ids(session: Session, refund_ids: Sequence[str]) -> dict[str, Refund]:
    if not refund_ids:
        return {}
    rows = session.exec(select(Refund).where(Refund.stripe_refund_id.in_(list(refund_ids)))).all()
    return {row.stripe_refund_id: row for row in rows}


# --- off-session collection and dunning (billing/dunning.py) -------------------------------------


def due_collection_invoice_ids(session: Session, now, *, limit: int = 100) -> list[int]:
    """Open invoices whose next off-session charge is due (ix_invoices_collection_due)."""
    return list(
        session.exec(
            select(Invoice.id)
            .where(Invoice.status == "open", Invoice.next_collection_at <= now)
            .order_by(Invoice.next_collection_at, Invoice.id)
            .limit(limit)
        )
    )


def customer_invoice_ids_in_collection(session: Session, customer_id: int) -> list[int]:
    return list(
        session.exec(
            select(Invoice.id)
            .where(Invoice.customer_id == customer_id, Invoice.status == "open", Invoice.next_collection_at.is_not(None))
            .order_by(Invoice.id)
        )
    )


def lock_invoice_in_collection(session: Session, invoice_id: int, *, due_by=None) -> Invoice | None:
    """The open invoice under a row lock if it is collected off-session (and due by `due_by` when
    given); None otherwise or when another runner holds it (PostgreSQL skips it)."""
    query = select(Invoice).where(
        Invoice.id == invoice_id, Invoice.status == "open", Invoice.next_collection_at.is_not(None)
    )
    if due_by is not None:
        query = query.where(Invoice.next_collection_at <= due_by)
    return session.exec(_for_update(query, skip_locked=True)).first()


def try_lock_subscription(session: Session, subscription_id: int) -> Subscription | None:
    """The subscription under a row lock, or None when another transaction holds it (PostgreSQL)."""
    return session.exec(
        _for_update(select(Subscription).where(Subscription.id == subscription_id), skip_locked=True)
    ).first()


def claim_collection_attempt(session: Session, invoice_id: int, *, attempts_seen: int) -> bool:
    """Count one more charge attempt unless another runner counted it first. The conditional
    UPDATE is the claim where row locks are not (SQLite): the second writer matches no row."""
    claimed = session.exec(
        update(Invoice)
        .where(Invoice.id == invoice_id, Invoice.collection_attempts == attempts_seen)
        .values(collection_attempts=attempts_seen + 1)
        .returning(Invoice.id)
    ).first()
    return claimed is not None


def first_failed_payment_at(session: Session, invoice_id: int):
    """When the first charge of this invoice failed (or needed the customer), if one did."""
    return session.exec(
        select(func.min(Payment.created_at)).where(
            Payment.invoice_id == invoice_id, Payment.status.in_(("failed", "canceled", "requires_action"))
        )
    ).one()


def free_price(session: Session, currency: str) -> Price | None:
    """The lowest-tier active price of nothing in `currency` (the Free plan)."""
    return session.exec(
        select(Price)
        .join(Plan, Plan.id == Price.plan_id)
        .where(Price.active, Plan.active, Price.currency == currency, Price.unit_amount == 0)
        .order_by(Plan.tier, Price.id)
    ).first()


# --- saved cards (billing/payment_methods.py) and paying an open invoice (billing/checkout.py) ---


def payment_methods_of(session: Session, customer_id: int) -> Sequence[PaymentMethod]:
    """The customer's saved cards, newest first."""
    return session.exec(
        select(PaymentMethod).where(PaymentMethod.customer_id == customer_id).order_by(PaymentMethod.id.desc())
    ).all()


def payment_method_by_stripe_id(session: Session, stripe_payment_method_id: str) -> PaymentMethod | None:
    return session.exec(
        select(PaymentMethod).where(PaymentMethod.stripe_payment_method_id == stripe_payment_method_id)
    ).first()


def payment_method_by_fingerprint(session: Session, customer_id: int, fingerprint: str) -> PaymentMethod | None:
    if not fingerprint:
        return None
    return session.exec(
        select(PaymentMethod).where(PaymentMethod.customer_id == customer_id, PaymentMethod.fingerprint == fingerprint)
    ).first()


def oldest_open_invoice_id(session: Session, customer_id: int) -> int | None:
    """The customer's open invoice to pay first (the oldest; never a credit pack's), or None."""
    return session.exec(
        select(Invoice.id).where(Invoice.customer_id == customer_id, Invoice.status == "open",
                                 Invoice.billing_reason != "credit_pack").order_by(Invoice.id)
    ).first()


# --- usage billing (billing/usage.py, billing/api_keys.py) --------------------------------------


def active_metered_price(session: Session, *, plan_id: int, metric: str, currency: str) -> MeteredPrice | None:
    return session.exec(
        select(MeteredPrice).where(
            MeteredPrice.plan_id == plan_id, MeteredPrice.metric == metric,
            MeteredPrice.currency == currency, MeteredPrice.active,
        )
    ).first()


def active_metered_prices(session: Session, *, plan_id: int, currency: str) -> Sequence[MeteredPrice]:
    return session.exec(
        select(MeteredPrice)
        .where(MeteredPrice.plan_id == plan_id, MeteredPrice.currency == currency, MeteredPrice.active)
        .order_by(MeteredPrice.metric, MeteredPrice.id)
    ).all()


def usage_by_key(session: Session, customer_id: int, idempotency_key: str) -> UsageRecord | None:
    return session.exec(
        select(UsageRecord).where(UsageRecord.customer_id == customer_id, UsageRecord.idempotency_key == idempotency_key)
    ).first()


def usage_totals(session: Session, subscription_id: int, start, end) -> list[tuple[int, int]]:
    """(metered price id, units) used in [start, end), through ix_usage_subscription_metric_at."""
    rows = session.exec(
        select(UsageRecord.metered_price_id, func.sum(UsageRecord.quantity))
        .where(
            UsageRecord.subscription_id == subscription_id,
            UsageRecord.recorded_at >= start,
            UsageRecord.recorded_at < end,
        )
        .group_by(UsageRecord.metered_price_id)
        .order_by(UsageRecord.metered_price_id)
    ).all()
    return [(price_id, int(units)) for price_id, units in rows]


def share_lock_subscription(session: Session, subscription_id: int) -> Subscription | None:
    """Usage reports share the lock; a renewal (FOR UPDATE) waits for them and they for it.
    The row is read again under the lock (populate_existing), not taken from the session."""
    return session.exec(
        select(Subscription)
        .where(Subscription.id == subscription_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    ).first()


def api_key_by_hash(session: Session, token_hash: str) -> ApiKey | None:
    return session.exec(select(ApiKey).where(ApiKey.token_hash == token_hash)).first()


def customer_api_keys(session: Session, customer_id: int, *, limit: int) -> Sequence[ApiKey]:
    """The customer's keys that still work, newest first."""
    return session.exec(
        select(ApiKey)
        .where(ApiKey.customer_id == customer_id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.id.desc())
        .limit(limit)
    ).all()


def customer_by_email(session: Session, email: str) -> Customer | None:
    return session.exec(select(Customer).join(User, User.id == Customer.user_id).where(User.email == email)).first()


# --- admin console (billing/admin_console.py) -------------------------------------------------------


def _event_filters(type: str | None, status: str | None) -> list:
    where = []
    if type:
        where.append(WebhookEvent.type == type)
    if status:
        where.append(WebhookEvent.status == status)
    return where


def count_webhook_events(session: Session, *, type: str | None, status: str | None) -> int:
    return int(session.exec(select(func.count()).select_from(WebhookEvent).where(*_event_filters(type, status))).one())


def webhook_events_page(session: Session, *, type: str | None, status: str | None, limit: int, offset: int
                        ) -> Sequence[WebhookEvent]:
    """Newest first (ix_webhook_events_type_status serves the filters)."""
    query = select(WebhookEvent).where(*_event_filters(type, status))
    return session.exec(query.order_by(WebhookEvent.id.desc()).limit(limit).offset(offset)).all()


def webhook_event_counts(session: Session) -> list[tuple[str, str, int]]:
    rows = session.exec(
        select(WebhookEvent.type, WebhookEvent.status, func.count()).group_by(WebhookEvent.type, WebhookEvent.status)
    ).all()
    return [(t, s, int(n)) for t, s, n in rows]


def all_plans(session: Session) -> Sequence[Plan]:
    return session.exec(select(Plan).order_by(Plan.active.desc(), Plan.tier, Plan.id)).all()


def all_prices(session: Session) -> Sequence[Price]:
    return session.exec(
        select(Price).order_by(Price.active.desc(), Price.currency, Price.interval, Price.interval_count, Price.id)
    ).all()


def used_price_ids(session: Session) -> set[int]:
    used = session.exec(select(Subscription.price_id).distinct()).all()
    scheduled = session.exec(select(Subscription.scheduled_price_id).where(Subscription.scheduled_price_id.is_not(None)).distinct()).all()
    return set(used) | set(scheduled)


def _audit_filters(actor, action, subject_type, subject_id, start, end) -> list:
    where = []
    if actor:
        where.append(func.lower(AuditEntry.actor_label).contains(actor.lower(), autoescape=True))
    if action:
        where.append(AuditEntry.action.startswith(action, autoescape=True))
    if subject_type:
        where.append(AuditEntry.subject_type == subject_type)
    if subject_id:
        where.append(AuditEntry.subject_id == subject_id)
    if start:
        where.append(AuditEntry.at >= start)
    if end:
        where.append(AuditEntry.at < end)
    return where


def count_audit_entries(session: Session, *, actor=None, action=None, subject_type=None, subject_id=None,
                        start=None, end=None) -> int:
    where = _audit_filters(actor, action, subject_type, subject_id, start, end)
    return int(session.exec(select(func.count()).select_from(AuditEntry).where(*where)).one())


def audit_entries_page(session: Session, *, actor=None, action=None, subject_type=None, subject_id=None,
                       start=None, end=None, limit: int, offset: int) -> Sequence[AuditEntry]:
    """Newest first (ix_audit_at, ix_audit_subject)."""
    where = _audit_filters(actor, action, subject_type, subject_id, start, end)
    return session.exec(
        select(AuditEntry).where(*where).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset)
    ).all()


def _customer_search(query: str) -> list:
    if not query:
        return []
    needle = query.lower()
    return [or_(
        func.lower(Customer.name).contains(needle, autoescape=True),
        func.lower(Customer.company).contains(needle, autoescape=True),
        func.lower(User.email).contains(needle, autoescape=True),
    )]


def count_customers(session: Session, *, query: str) -> int:
    return int(session.exec(
        select(func.count()).select_from(Customer).join(User, User.id == Customer.user_id).where(*_customer_search(query))
    ).one())


def customers_page(session: Session, *, query: str, limit: int, offset: int) -> list:
    """(customer, sign-in email) rows, newest customers first."""
    return list(session.exec(
        select(Customer, User.email).join(User, User.id == Customer.user_id).where(*_customer_search(query))
        .order_by(Customer.created_at.desc(), Customer.id.desc()).limit(limit).offset(offset)
    ).all())


def subscriptions_of(session: Session, customer_id: int) -> Sequence[Subscription]:
    return session.exec(
        select(Subscription).where(Subscription.customer_id == customer_id).order_by(Subscription.id.desc()).limit(20)
    ).all()


def payments_of_customer(session: Session, customer_id: int, *, limit: int) -> Sequence[Payment]:
    return session.exec(
        select(Payment).where(Payment.customer_id == customer_id)
        .order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit)
    ).all()


def audit_of_customer(session: Session, customer_id: int, *, limit: int) -> Sequence[AuditEntry]:
    """Entries about the customer itself (admin actions are recorded with the customer as subject)."""
    return session.exec(
        select(AuditEntry).where(AuditEntry.subject_type == "customer", AuditEntry.subject_id == str(customer_id))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    ).all()


def _for_update(statement, *, skip_locked: bool = False):
    """The statement under a row lock, re-reading the row (see the module's docstring)."""
    return statement.with_for_update(skip_locked=skip_locked).execution_options(populate_existing=True)


# --- fraud guard (billing/fraud.py) ---------------------------------------------------------------


def count_risk_attempts(session: Session, *, since, customer_id: int | None = None, client_ip: str | None = None,
                        card_fingerprint: str | None = None) -> int:
    """Checkout charges assessed since `since` for one customer, IP or card (exactly one given)."""
    column, value = next((c, v) for c, v in ((RiskAssessment.customer_id, customer_id),
                                             (RiskAssessment.client_ip, client_ip),
                                             (RiskAssessment.card_fingerprint, card_fingerprint)) if v is not None)
    return int(session.exec(
        select(func.count()).select_from(RiskAssessment).where(column == value, RiskAssessment.created_at >= since)
    ).one())


def count_risk_declines(session: Session, *, since, customer_id: int, client_ip: str, card_fingerprint: str) -> int:
    """Assessed charges since `since` by this customer, from this IP or with this card that were declined."""
    match = [RiskAssessment.customer_id == customer_id]
    if client_ip:
        match.append(RiskAssessment.client_ip == client_ip)
    if card_fingerprint:
        match.append(RiskAssessment.card_fingerprint == card_fingerprint)
    return int(session.exec(
        select(func.count()).select_from(RiskAssessment)
        .join(Payment, Payment.id == RiskAssessment.payment_id)
        .where(or_(*match), RiskAssessment.created_at >= since, Payment.status == PaymentStatus.FAILED)
    ).one())


def _risk_filter(status: str) -> list:
    if status == "flagged":
        return [RiskAssessment.decision == "flag", RiskAssessment.cleared_at.is_(None)]
    if status == "blocked":
        return [RiskAssessment.decision == "block"]
    if status == "cleared":
        return [RiskAssessment.cleared_at.is_not(None)]
    return []


def count_risk_assessments(session: Session, *, status: str) -> int:
    return int(session.exec(select(func.count()).select_from(RiskAssessment).where(*_risk_filter(status))).one())


def risk_assessments_page(session: Session, *, status: str, limit: int, offset: int) -> list:
    """(assessment, customer, user email, payment status, invoice number) rows, newest first."""
    query = (
        select(RiskAssessment, Customer, User.email, Payment.status, Invoice.number)
        .join(Customer, Customer.id == RiskAssessment.customer_id)
        .join(User, User.id == Customer.user_id)
        .join(Payment, Payment.id == RiskAssessment.payment_id, isouter=True)
        .join(Invoice, Invoice.id == RiskAssessment.invoice_id, isouter=True)
        .where(*_risk_filter(status))
        .order_by(RiskAssessment.created_at.desc(), RiskAssessment.id.desc())
    )
    return list(session.exec(query.limit(limit).offset(offset)).all())


def lock_risk_assessment(session: Session, assessment_id: int) -> RiskAssessment | None:
    return session.exec(_for_update(select(RiskAssessment).where(RiskAssessment.id == assessment_id))).first()


# --- email outbox (billing/emails.py, billing/outbox.py) -----------------------------------------


def insert_outbox_email(session: Session, **values) -> bool:
    """Keep a message unless its key is taken; True when this call stored it. ON CONFLICT DO
    NOTHING: a duplicate never fails the caller's transaction (the money change it reports)."""
    insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[session.get_bind().dialect.name]
    table = OutboxEmail.__table__
    statement = insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(table.c.id)
    return session.connection().execute(statement, values).first() is not None


def outbox_by_key(session: Session, key: str) -> OutboxEmail | None:
    return session.exec(select(OutboxEmail).where(OutboxEmail.idempotency_key == key)).first()


def due_outbox_ids(session: Session, now, *, limit: int) -> list[int]:
    """Queued messages never tried or whose retry wait is over, oldest first (ix_email_outbox_due)."""
    return list(session.exec(
        select(OutboxEmail.id)
        .where(OutboxEmail.status == "queued",
               or_(OutboxEmail.next_attempt_at.is_(None), OutboxEmail.next_attempt_at <= now))
        .order_by(OutboxEmail.id).limit(limit)
    ))


def count_queued_outbox(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(OutboxEmail).where(OutboxEmail.status == "queued")).one())


def lock_outbox_email(session: Session, email_id: int) -> OutboxEmail | None:
    """The message under a row lock; None when another runner holds it (PostgreSQL skips it)."""
    return session.exec(_for_update(select(OutboxEmail).where(OutboxEmail.id == email_id), skip_locked=True)).first()


def claim_outbox_attempt(session: Session, email_id: int, *, attempts_seen: int) -> bool:
    """Count one more send attempt unless another runner counted it first (what serialises SQLite)."""
    return session.exec(
        update(OutboxEmail)
        .where(OutboxEmail.id == email_id, OutboxEmail.attempts == attempts_seen, OutboxEmail.status == "queued")
        .values(attempts=attempts_seen + 1)
        .returning(OutboxEmail.id)
    ).first() is not None


def outbox_of_customer(session: Session, customer_id: int, *, limit: int) -> Sequence[OutboxEmail]:
    return session.exec(
        select(OutboxEmail).where(OutboxEmail.customer_id == customer_id)
        .order_by(OutboxEmail.id.desc()).limit(limit)
    ).all()
