"""The credit ledger: grant, spend and claw back credits, each entry carrying the balance after it.

The ledger is append-only. Every entry names what caused it in `idempotency_key` (unique in the
database), so the checkout page and the webhook recording the same paid credit-pack invoice grant
its credits once. Writes take the customer's row lock first, so two concurrent writers for one
customer queue and `balance_after` stays a running total.

Rules:
- grant: a positive amount, added.
- spend: a positive amount, refused (DomainError) when the balance is too small.
- clawback: takes back up to `amount` (a refunded or disputed pack) but never below zero: credits
  already spent are not turned into a debt; the entry records what was actually taken.
- Credit packs: an invoice with billing_reason "credit_pack" and the key
  `credit_pack:{customer_id}:{pack_id}:{quantity}:{attempt}` grants `credits × quantity` and
  `bonus_credits × quantity` once, keyed `credit_pack_invoice:{invoice_id}:credits|bonus`.
- A credit pack is a one-off purchase, never a debt: its invoice is voided as soon as its charge is
  declined or blocked (`void_unpaid_pack_invoice`), and one left behind (3-D Secure never finished,
  Stripe's page left) is never "waiting for payment" (repository.open_invoice_totals leaves pack
  invoices out) and is voided by the customer's next pack checkout.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from billing_portal.billing import invoices, repository
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.models import CreditLedgerEntry, CreditPack, Invoice, InvoiceStatus, PaymentStatus
from billing_portal.models.types import utcnow

CREDIT_PACK_REASON = "credit_pack"
MAX_CREDITS = 10**12


@dataclass(frozen=True)
class PackOrder:
    customer_id: int
    pack_id: int
    quantity: int


def balance(session: Session, customer_id: int) -> int:
    last = repository.last_ledger_entry(session, customer_id)
    return last.balance_after if last else 0


def grant(
    session: Session,
    *,
    customer_id: int,
    amount: int,
    reason: str,
    idempotency_key: str,
    payment_id: int | None = None,
    now: datetime | None = None,
) -> CreditLedgerEntry:
    """Add credits; the same key twice is one entry (the first is returned)."""
    _check_amount(amount)
    return _append(session, customer_id, amount, reason, idempotency_key, payment_id, now)


def spend(
    session: Session,
    *,
    customer_id: int,
    amount: int,
    reason: str,
    idempotency_key: str,
    now: datetime | None = None,
) -> CreditLedgerEntry:
    """Use credits; refused when the balance is smaller than `amount`. Same key → one entry."""
    _check_amount(amount)
    existing = repository.ledger_entry_by_key(session, idempotency_key)
    if existing:
        return existing
    _lock(session, customer_id)
    available = balance(session, customer_id)
    if amount > available:
        raise DomainError(f"Not enough credits: {amount:,} needed, {available:,} left.")
    return _append(session, customer_id, -amount, reason, idempotency_key, None, now)


def clawback(
    session: Session,
    *,
    customer_id: int,
    amount: int,
    reason: str,
    idempotency_key: str,
    payment_id: int | None = None,
    now: datetime | None = None,
) -> CreditLedgerEntry | None:
    """Take back up to `amount`, never below zero; None when there was nothing left to take."""
    _check_amount(amount)
    existing = repository.ledger_entry_by_key(session, idempotency_key)
    if existing:
        return existing
    _lock(session, customer_id)
    taken = min(amount, balance(session, customer_id))
    if taken <= 0:
        return None
    return _append(session, customer_id, -taken, reason, idempotency_key, payment_id, now)


# ---- credit packs


def pack_invoice_key(customer_id: int, pack_id: int, quantity: int, attempt: str) -> str:
    return f"{CREDIT_PACK_REASON}:{customer_id}:{pack_id}:{quantity}:{attempt}"


# A payment in these states has taken, or may still take, the invoice's money.
_LIVE_PAYMENTS = (PaymentStatus.SUCCEEDED, PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)


def void_unpaid_pack_invoice(session: Session, invoice: Invoice, *, now: datetime | None = None) -> bool:
    """Void a credit pack's open invoice once no payment on it is paid or in flight (a declined or
    blocked charge): the number stays used, nothing is owed. True when it was voided."""
    if invoice.billing_reason != CREDIT_PACK_REASON or invoice.status != InvoiceStatus.OPEN or invoice.amount_paid:
        return False
    if any(p.status in _LIVE_PAYMENTS for p in repository.payments_of_invoice(session, invoice.id)):
        return False
    invoices.void(session, invoice.id, now=now)
    return True


def pack_order_of(invoice: Invoice) -> PackOrder | None:
    """What a credit-pack invoice bought, read from its key; None for any other invoice."""
    if invoice.billing_reason != CREDIT_PACK_REASON or not invoice.idempotency_key:
        return None
    parts = invoice.idempotency_key.split(":")
    if len(parts) != 5 or parts[0] != CREDIT_PACK_REASON:
        return None
    return PackOrder(customer_id=int(parts[1]), pack_id=int(parts[2]), quantity=int(parts[3]))


def grant_for_invoice(
    session: Session, invoice: Invoice, *, payment_id: int | None = None, now: datetime | None = None
) -> list[CreditLedgerEntry]:
    """The credits (and bonus) of a paid credit-pack invoice, granted once; [] for other invoices."""
    order = pack_order_of(invoice)
    if order is None or invoice.status != InvoiceStatus.PAID:
        return []
    pack = session.get(CreditPack, order.pack_id)
    if pack is None:
        raise NotFound("No such credit pack.")
    granted = [
        grant(
            session, customer_id=invoice.customer_id, amount=pack.credits * order.quantity,
            reason=f"{pack.name} × {order.quantity} ({invoice.number})" if order.quantity > 1
            else f"{pack.name} ({invoice.number})",
            idempotency_key=f"credit_pack_invoice:{invoice.id}:credits", payment_id=payment_id, now=now,
        )
    ]
    if pack.bonus_credits:
        granted.append(
            grant(
                session, customer_id=invoice.customer_id, amount=pack.bonus_credits * order.quantity,
                reason=f"Bonus credits, {pack.name} ({invoice.number})",
                idempotency_key=f"credit_pack_invoice:{invoice.id}:bonus", payment_id=payment_id, now=now,
            )
        )
    return granted


def clawback_for_invoice(
    session: Session, invoice: Invoice, *, share_numerator: int, share_denominator: int, key: str,
    payment_id: int | None = None, now: datetime | None = None,
) -> CreditLedgerEntry | None:
    """Take back the share of a pack's credits (and bonus) that a refund or dispute returns."""
    order = pack_order_of(invoice)
    if order is None or share_denominator <= 0:
        return None
    pack = session.get(CreditPack, order.pack_id)
    if pack is None:
        return None
    total = (pack.credits + pack.bonus_credits) * order.quantity
    amount = total * share_numerator // share_denominator
    if amount <= 0:
        return None
    return clawback(session, customer_id=invoice.customer_id, amount=amount,
                    reason=f"Credits taken back ({invoice.number})", idempotency_key=key,
                    payment_id=payment_id, now=now)


# ---- internals


def _check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("credit amounts are ints")
    if not 0 < amount <= MAX_CREDITS:
        raise DomainError("A credit amount is a whole number above zero.")


def _lock(session: Session, customer_id: int) -> None:
    if repository.lock_customer(session, customer_id) is None:
        raise NotFound("No such customer.")


def _append(
    session: Session, customer_id: int, delta: int, reason: str, key: str, payment_id: int | None,
    now: datetime | None,
) -> CreditLedgerEntry:
    if not key:
        raise ValueError("every ledger entry names what caused it (idempotency_key)")
    existing = repository.ledger_entry_by_key(session, key)
    if existing:
        return existing
    _lock(session, customer_id)
    entry = CreditLedgerEntry(
        customer_id=customer_id,
        delta=delta,
        balance_after=balance(session, customer_id) + delta,
        reason=" ".join(reason.split())[:200],
        payment_id=payment_id,
        idempotency_key=key,
        created_at=now or utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError:  # a concurrent writer used the key first: theirs stands
        found = repository.ledger_entry_by_key(session, key)
        if found is None:
            raise
        return found
    return entry
