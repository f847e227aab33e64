"""Read models for the customer portal pages (/billing, /billing/plan, /billing/history). No Reflex.

Every function takes the customer id of the signed-in user (resolved on the server by the caller)
and reads only that customer's rows. Money is formatted here with the customer's locale and dates
are written in English ("1 March 2027", UTC) because the portal's text is English.

History merges invoices, payments and refunds newest first. Filtering, ordering and paging are
done in SQL (repository.history_window) through the (customer_id, created_at) indexes. The next
and previous pages are found by keyset (the rows right after the page's last row, or right before
its first), so paging costs the same on page 2 and page 500; a page asked for by number takes each
branch's newest `offset + limit` rows, merges them and cuts the page (3 × (offset + limit) rows at
most).
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from datetime import UTC, date, datetime, time, timedelta
from math import ceil

from sqlmodel import Session

from billing_portal.billing import payment_methods, repository
from billing_portal.billing.catalog import PRICING_INTERVALS, period_label
from billing_portal.billing.errors import DomainError
from billing_portal.billing.lifecycle import Event, allowed_events
from billing_portal.billing.money import format_money, to_major
from billing_portal.billing.refund_requests import REFUNDABLE_STATUSES
from billing_portal.billing.repository import HistoryKey
from billing_portal.billing.subscriptions import ChangePreview
from billing_portal.billing.tax import line_tax
from billing_portal.billing.taxation import AppliedTax, applied_tax
from billing_portal.billing.usage import summary as usage_summary
from billing_portal.gateways import stripe_currencies
from billing_portal.models import Customer, Plan, Price, Subscription
from billing_portal.models import SubscriptionStatus as S
from billing_portal.settings import get_settings

TRIAL_WARNING_DAYS = 7
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Pages past this are not offered (deep offsets cost 3 × offset rows, and counting a huge history
# whole is slow): the count stops there and the page says "10,000+"; filters narrow it down.
MAX_PAGE = 500
CSV_MAX_ROWS = 10_000
CSV_HEADER = ["date", "type", "reference", "description", "status", "amount", "currency"]

KINDS = ("invoice", "payment", "refund")
KIND_LABELS = {"invoice": "Invoice", "payment": "Payment", "refund": "Refund"}

# A status group (what the filter and the badge colour use) -> raw statuses per kind.
STATUS_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "paid": {"invoice": ("paid",), "payment": ("succeeded",)},
    "open": {"invoice": ("open",), "payment": ("pending", "requires_action"), "refund": ("requested", "approved")},
    "failed": {"invoice": ("uncollectible",), "payment": ("failed", "canceled"), "refund": ("rejected", "failed")},
    "refunded": {"payment": ("refunded", "partially_refunded"), "refund": ("succeeded",)},
    "void": {"invoice": ("void",)},
}
STATUS_FILTERS: list[tuple[str, str]] = [
    ("paid", "Paid"),
    ("open", "Open or pending"),
    ("failed", "Failed"),
    ("refunded", "Refunded"),
    ("void", "Void"),
]
KIND_FILTERS: list[tuple[str, str]] = [("invoice", "Invoices"), ("payment", "Payments"), ("refund", "Refunds")]
_GROUP_OF = {
    (kind, raw): group for group, kinds in STATUS_GROUPS.items() for kind, raws in kinds.items() for raw in raws
}
_STATUS_LABELS = {
    ("invoice", "paid"): "Paid",
    ("invoice", "open"): "Open",
    ("invoice", "void"): "Void",
    ("invoice", "uncollectible"): "Uncollectible",
    ("payment", "succeeded"): "Succeeded",
    ("payment", "pending"): "Pending",
    ("payment", "requires_action"): "Needs authentication",
    ("payment", "failed"): "Failed",
    ("payment", "canceled"): "Canceled",
    ("payment", "refunded"): "Refunded",
    ("payment", "partially_refunded"): "Partly refunded",
    ("refund", "succeeded"): "Refunded",
    ("refund", "requested"): "Requested",
    ("refund", "approved"): "Approved",
    ("refund", "rejected"): "Rejected",
    ("refund", "failed"): "Failed",
}
_REASONS = {
    "subscription_create": "First period of your subscription",
    "subscription_cycle": "Subscription renewal",
    "subscription_update": "Plan change (prorated)",
    "subscription_usage": "Metered usage",
    "manual": "Invoice",
}
STATUS_LABELS = {
    S.INCOMPLETE: "Awaiting first payment",
    S.TRIALING: "Trial",
    S.ACTIVE: "Active",
    S.PAST_DUE: "Past due",
    S.PAUSED: "Paused",
    S.CANCELED: "Canceled",
}


def format_day(moment: datetime | date | None) -> str:
    """"1 March 2027": the portal's one date format (UTC)."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date()
    return f"{moment.day} {moment:%B %Y}"


def format_short_day(moment: datetime | None) -> str:
    """"1 Mar 2027": for date ranges, where the long form wraps."""
    if moment is None:
        return ""
    day = moment.astimezone(UTC).date()
    return f"{day.day} {day:%b %Y}"


def start_of_day(day: date) -> datetime:
    """Midnight UTC of a calendar day (dates picked in the page are UTC days)."""
    return datetime.combine(day, time.min, UTC)


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            break
        value /= 1024
    else:  # pragma: no cover - the loop always breaks
        unit = "GB"
    if unit == "GB" and value >= 1024:
        value, unit = value / 1024, "TB"
    return f"{int(value)} {unit}" if unit == "B" or value == int(value) else f"{value:.1f} {unit}"


def _every(label: str) -> str:
    """"per month" -> "every month"; "every 3 months" stays."""
    return "every " + label.removeprefix("per ") if label.startswith("per ") else label


# --- overview -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Banner:
    kind: str  # past_due | trial_ending | cancel_scheduled | paused | open_invoice
    tone: str  # red | amber | blue
    title: str
    message: str
    invoice_id: int | None = None  # the invoice a "Pay now" link pays


def _past_due_banner(session: Session, subscription: Subscription, locale: str, now: datetime) -> Banner:
    """What failed, why, when we try again (billing/dunning.py), and the invoice to pay now."""
    unpaid = min(repository.open_invoices_of(session, subscription.id), key=lambda i: i.id, default=None)
    if unpaid is None:
        return Banner("past_due", "red", "Your payment failed", "Update your card to keep your plan running.")
    attempts = repository.payments_of_invoice(session, unpaid.id)
    why = f" {attempts[-1].failure_message}" if attempts and attempts[-1].failure_message else ""
    owed = format_money(unpaid.total - unpaid.amount_paid, unpaid.currency, locale)
    if unpaid.next_collection_at is None:
        when = "Your plan keeps running for now."
    elif unpaid.next_collection_at <= now:
        when = "We will try again shortly; your plan keeps running."
    else:
        when = f"We will try again on {format_day(unpaid.next_collection_at)}; your plan keeps running until then."
    return Banner(
        "past_due", "red", "Your payment failed",
        f"We could not collect {owed} for invoice {unpaid.number}.{why} {when} "
        "Update your card, or pay the invoice now.",
        invoice_id=unpaid.id,
    )


@dataclass(frozen=True)
class UsageMeter:
    label: str
    used_label: str
    limit_label: str
    percent: int  # 0..100; 0 when there is no limit to compare with
    over: bool = False


@dataclass(frozen=True)
class Overview:
    has_subscription: bool
    plan_name: str = ""
    status: str = ""
    status_label: str = ""
    price_label: str = ""  # "₩15,000 per month" (× quantity when more than one)
    quantity: int = 1
    period_label: str = ""  # "1 February 2027 – 1 March 2027"
    next_renewal_label: str = ""  # "1 March 2027"; "" when nothing renews
    next_renewal_amount_label: str = ""
    renewal_note: str = ""  # one sentence about what happens next
    banners: tuple[Banner, ...] = ()
    usage: tuple[UsageMeter, ...] = ()
    limits: tuple[str, ...] = ()
    open_invoice_id: int | None = None  # the open invoice "Pay now" pays first (the oldest)


def _tax_rule(session: Session, customer_id: int, currency: str) -> AppliedTax:
    return applied_tax(session.get(Customer, customer_id), currency)


def _gross(amounts: list[int], rule: AppliedTax, currency: str) -> int:
    """What invoices will charge for these line amounts: tax per line (exclusive adds), summed."""
    step = stripe_currencies.quantum(currency)
    return sum(line_tax(amount, rule.rate, rule.inclusive, step, rule.rounding).gross for amount in amounts)


def _locale(session: Session, customer_id: int) -> str:
    customer = session.get(Customer, customer_id)
    return customer.locale if customer else get_settings().default_locale


def overview(session: Session, customer_id: int, now: datetime) -> Overview:
    subscription = repository.live_subscription(session, customer_id)
    locale = _locale(session, customer_id)
    used = repository.storage_used_bytes(session, customer_id)
    if subscription is None:
        return Overview(
            has_subscription=False,
            usage=(UsageMeter("Storage", format_bytes(used), "", 0),),
        )
    price = session.get(Price, subscription.price_id)
    plan = session.get(Plan, price.plan_id)
    rule = _tax_rule(session, customer_id, price.currency)
    money = lambda amount: format_money(amount, price.currency, locale)  # noqa: E731

    each = period_label(price.interval, price.interval_count)
    price_label = f"{money(price.unit_amount * subscription.quantity)} {each}"
    if subscription.quantity > 1:
        price_label += f" ({subscription.quantity} × {money(price.unit_amount)})"

    # What the next renewal charges: the scheduled change when one waits for the period end.
    next_price = price
    next_quantity = subscription.quantity
    if subscription.scheduled_price_id:
        next_price = session.get(Price, subscription.scheduled_price_id)
        next_quantity = subscription.scheduled_quantity or subscription.quantity
    # The renewal invoice also bills this period's metered usage (billing/usage.py): so far, here.
    metered = usage_summary(session, customer_id)
    metered_amounts = [] if metered.trial else [c.amount for c in metered.metrics + metered.earlier]
    next_amount = _gross([next_price.unit_amount * next_quantity, *metered_amounts], rule, next_price.currency)
    renews_at = subscription.current_period_end
    next_label = format_day(renews_at)
    next_amount_label = format_money(next_amount, next_price.currency, locale)
    note = f"Renews on {next_label} for {next_amount_label}."
    if subscription.scheduled_price_id:
        next_plan = session.get(Plan, next_price.plan_id)
        note = (
            f"Changes to {next_plan.name} on {next_label}; you then pay {next_amount_label} "
            f"{_every(period_label(next_price.interval, next_price.interval_count))}."
        )

    banners: list[Banner] = []
    status = subscription.status
    if status == S.TRIALING:
        note = f"Your trial ends on {next_label}; then you pay {next_amount_label} {_every(each)}."
        if subscription.current_period_end - now <= timedelta(days=TRIAL_WARNING_DAYS):
            banners.append(Banner(
                "trial_ending", "amber", "Your trial ends soon",
                f"Your trial ends on {next_label}. Your card will then be charged {next_amount_label}.",
            ))
    if status == S.PAST_DUE:
        banners.append(_past_due_banner(session, subscription, locale, now))
    if status == S.PAUSED:
        resume = (
            f"It resumes on {format_day(subscription.resume_at)}."
            if subscription.resume_at else "It stays paused until you unpause it."
        )
        banners.append(Banner("paused", "blue", "Your subscription is paused", f"Nothing is charged while paused. {resume}"))
        note = "Paused: nothing renews until you unpause."
        next_label = next_amount_label = ""
    if subscription.cancel_at_period_end:
        ends = format_day(subscription.current_period_end)
        banners.append(Banner(
            "cancel_scheduled", "amber", f"Your plan ends on {ends}",
            f"You keep {plan.name} until {ends}; nothing renews after that. Resume to keep it.",
        ))
        note = f"Ends on {ends}. Nothing renews."
        next_label = next_amount_label = ""
    card_banner = _card_expiry_banner(session.get(Customer, customer_id), now, status)
    if card_banner is not None:
        banners.append(card_banner)
    open_total, open_currency, open_count = repository.open_invoice_totals(session, customer_id)
    if open_count:
        what = "invoice is" if open_count == 1 else f"{open_count} invoices are"
        banners.append(Banner(
            "open_invoice", "amber", "An invoice is waiting for payment" if open_count == 1 else "Invoices are waiting for payment",
            f"{format_money(open_total, open_currency or price.currency, locale)} on your open {what} unpaid.",
        ))

    usage = [
        UsageMeter(
            "Storage",
            format_bytes(used),
            format_bytes(plan.storage_quota_bytes) if plan.storage_quota_bytes is not None else "Unlimited",
            min(100, used * 100 // plan.storage_quota_bytes) if plan.storage_quota_bytes else 0,
            over=bool(plan.storage_quota_bytes is not None and used > plan.storage_quota_bytes),
        )
    ]
    limits = (
        f"Projects: {_limit(plan.max_projects)}",
        f"Users: {_limit(plan.max_users)}",
        f"Storage: {format_bytes(plan.storage_quota_bytes) if plan.storage_quota_bytes is not None else 'unlimited'}",
    )
    return Overview(
        has_subscription=True,
        plan_name=plan.name,
        status=status,
        status_label=STATUS_LABELS.get(status, status),
        price_label=price_label,
        quantity=subscription.quantity,
        period_label=f"{format_short_day(subscription.current_period_start)} – {format_short_day(subscription.current_period_end)}",
        next_renewal_label=next_label,
        next_renewal_amount_label=next_amount_label,
        renewal_note=note,
        banners=tuple(banners),
        usage=tuple(usage),
        limits=limits,
        open_invoice_id=repository.oldest_open_invoice_id(session, customer_id) if open_count else None,
    )


def _card_expiry_banner(customer: Customer, now: datetime, status: str) -> Banner | None:
    """The default card renewals charge has expired or expires this month."""
    if status in (S.CANCELED, S.PAUSED) or not customer.default_payment_method_id:
        return None
    expiry = payment_methods.expiry_status(customer.card_exp_month, customer.card_exp_year, now)
    card = f"{(customer.card_brand or 'card').title()} •••• {customer.card_last4}"
    if expiry == "expired":
        return Banner("card_expiring", "red", "Your card has expired",
                      f"Your default card ({card}) has expired. Add a new card so your plan renews.")
    if expiry == "expiring":
        return Banner("card_expiring", "amber", "Your card expires this month",
                      f"Your default card ({card}) expires at the end of this month. Add a new card.")
    return None


def _limit(value: int | None) -> str:
    return "unlimited" if value is None else f"up to {value}"


# --- plan page ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanOption:
    price_id: int
    plan_name: str
    plan_slug: str
    price_label: str
    period_label: str
    features: tuple[str, ...]
    is_current: bool


@dataclass(frozen=True)
class PlanPage:
    has_subscription: bool
    currency: str = ""
    plan_name: str = ""
    status: str = ""
    status_label: str = ""
    quantity: int = 1
    price_label: str = ""
    period_end_label: str = ""
    cancel_at_period_end: bool = False
    cancel_reason: str = ""
    resume_at_label: str = ""
    scheduled_note: str = ""
    can_change: bool = False
    can_cancel: bool = False
    can_schedule_cancel: bool = False  # "at period end" is offered (not while paused)
    can_resume: bool = False
    can_pause: bool = False
    can_unpause: bool = False
    current_interval: str = "month-1"  # the key of the current price's interval, e.g. "month-3"
    options: tuple[PlanOption, ...] = field(default_factory=tuple)
    open_invoice_id: int | None = None  # e.g. the proration invoice of an upgrade, to pay now


def interval_key(interval: str, count: int) -> str:
    return f"{interval}-{count}"


INTERVAL_KEYS = {interval_key(i, c): (i, c) for i, c, _ in PRICING_INTERVALS}


def plan_page(session: Session, customer_id: int, *, interval: str | None, now: datetime) -> PlanPage:
    """The customer's subscription and the prices they may switch to (same currency) for one interval."""
    subscription = repository.live_subscription(session, customer_id)
    if subscription is None:
        return PlanPage(has_subscription=False)
    price = session.get(Price, subscription.price_id)
    plan = session.get(Plan, price.plan_id)
    locale = _locale(session, customer_id)
    current_key = interval_key(price.interval, price.interval_count)
    key = interval if interval in INTERVAL_KEYS else current_key
    events = allowed_events(subscription.status)
    scheduled_note = ""
    if subscription.scheduled_price_id:
        scheduled = session.get(Price, subscription.scheduled_price_id)
        scheduled_plan = session.get(Plan, scheduled.plan_id)
        scheduled_note = (
            f"{scheduled_plan.name} ({format_money(scheduled.unit_amount * (subscription.scheduled_quantity or 1), scheduled.currency, locale)} "
            f"{period_label(scheduled.interval, scheduled.interval_count)}) starts on {format_day(subscription.current_period_end)}."
        )
    return PlanPage(
        has_subscription=True,
        currency=price.currency,
        plan_name=plan.name,
        status=subscription.status,
        status_label=STATUS_LABELS.get(subscription.status, subscription.status),
        quantity=subscription.quantity,
        price_label=f"{format_money(price.unit_amount * subscription.quantity, price.currency, locale)} "
        f"{period_label(price.interval, price.interval_count)}",
        period_end_label=format_day(subscription.current_period_end),
        cancel_at_period_end=subscription.cancel_at_period_end,
        cancel_reason=subscription.cancel_reason,
        resume_at_label=format_day(subscription.resume_at),
        scheduled_note=scheduled_note,
        can_change=Event.CHANGE_PLAN in events and subscription.status not in (S.INCOMPLETE, S.CANCELED),
        can_cancel=Event.CANCEL_NOW in events and subscription.status != S.INCOMPLETE,
        can_schedule_cancel=Event.SCHEDULE_CANCEL in events and not subscription.cancel_at_period_end,
        can_resume=subscription.cancel_at_period_end and Event.UNDO_CANCEL in events,
        can_pause=Event.PAUSE in events and not subscription.cancel_at_period_end,
        can_unpause=Event.UNPAUSE in events,
        current_interval=current_key,
        options=tuple(change_options(session, subscription, key, locale)),
        open_invoice_id=repository.oldest_open_invoice_id(session, customer_id),
    )


def change_options(session: Session, subscription: Subscription, key: str, locale: str) -> list[PlanOption]:
    price = session.get(Price, subscription.price_id)
    interval, count = INTERVAL_KEYS.get(key, (price.interval, price.interval_count))
    plans = {p.id: p for p in repository.active_plans(session)}
    options = []
    for candidate in repository.active_prices(session, currency=price.currency):
        if (candidate.interval, candidate.interval_count) != (interval, count) or candidate.plan_id not in plans:
            continue
        candidate_plan = plans[candidate.plan_id]
        options.append(PlanOption(
            price_id=candidate.id,
            plan_name=candidate_plan.name,
            plan_slug=candidate_plan.slug,
            price_label=format_money(candidate.unit_amount, candidate.currency, locale),
            period_label=period_label(candidate.interval, candidate.interval_count),
            features=tuple(candidate_plan.features),
            is_current=candidate.id == subscription.price_id,
        ))
    tiers = {p.slug: p.tier for p in plans.values()}
    options.sort(key=lambda o: (tiers[o.plan_slug], o.price_id))
    return options


def is_change_option(session: Session, subscription: Subscription, price_id: int) -> bool:
    """An active price of an active plan in the subscription's currency (the server's own check)."""
    price = session.get(Price, subscription.price_id)
    candidate = session.get(Price, price_id)
    if candidate is None or not candidate.active or candidate.currency != price.currency:
        return False
    plan = session.get(Plan, candidate.plan_id)
    return bool(plan and plan.active)


@dataclass(frozen=True)
class PreviewLineText:
    description: str
    period: str
    amount: str


@dataclass(frozen=True)
class PreviewText:
    sentence: str  # "You pay ₩X now, then ₩Y every 3 months from 1 March 2027."
    lines: tuple[PreviewLineText, ...]
    due_now_label: str
    confirm_label: str  # what the confirm button says


def describe_preview(session: Session, customer_id: int, preview: ChangePreview, *, trialing: bool) -> PreviewText:
    """The preview in plain words, with tax as the invoices will charge it."""
    locale = _locale(session, customer_id)
    rule = _tax_rule(session, customer_id, preview.currency)
    money = lambda amount: format_money(amount, preview.currency, locale)  # noqa: E731
    every = _every(preview.recurring_label)
    recurring = money(_gross([preview.recurring_amount], rule, preview.currency))
    tax_note = " (tax included)" if rule.rate and not rule.inclusive else ""
    lines = tuple(
        PreviewLineText(
            description=line.description,
            period=f"{format_day(line.period_start)} – {format_day(line.period_end)}",
            amount=money(line.amount),
        )
        for line in preview.lines
    )
    due = _gross([line.amount for line in preview.lines], rule, preview.currency) if preview.amount_due > 0 else 0
    if preview.effective == "period_end":
        starts = format_day(preview.effective_at)
        sentence = (
            f"Nothing changes until {starts}. From {starts} you pay {recurring} {every}{tax_note}."
        )
        return PreviewText(sentence, lines, money(0), "Schedule change")
    if trialing:
        sentence = (
            f"Nothing to pay now: your trial continues. Then you pay {recurring} {every} "
            f"from {format_day(preview.next_renewal_at)}{tax_note}."
        )
        return PreviewText(sentence, lines, money(0), "Confirm change")
    if due > 0:
        sentence = (
            f"You pay {money(due)} now, then {recurring} {every} "
            f"from {format_day(preview.next_renewal_at)}{tax_note}."
        )
        return PreviewText(sentence, lines, money(due), "Confirm change")
    sentence = (
        f"Nothing to pay now. Then you pay {recurring} {every} from {format_day(preview.next_renewal_at)}{tax_note}."
    )
    return PreviewText(sentence, lines, money(0), "Confirm change")


# --- history ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryFilters:
    status: str = ""  # "" or a key of STATUS_GROUPS
    kind: str = ""  # "" or one of KINDS
    date_from: date | None = None
    date_to: date | None = None  # inclusive

    def checked(self) -> "HistoryFilters":
        if self.status and self.status not in STATUS_GROUPS:
            raise DomainError("Pick a status from the list.")
        if self.kind and self.kind not in KINDS:
            raise DomainError("Pick a type from the list.")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise DomainError("The start date must be on or before the end date.")
        return self


# Days a person may type: a filter's end day + 1 and a period's end must still be dates.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def parse_day(text: str, what: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise DomainError(f"Enter the {what} as a date (YYYY-MM-DD).") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise DomainError(f"Enter the {what} between {FIRST_DAY.year} and {LAST_DAY.year}.")
    return day


@dataclass(frozen=True)
class HistoryRow:
    kind: str
    id: int
    created_at: datetime
    status: str
    status_group: str  # paid | open | failed | refunded | void: the badge colour
    status_label: str
    amount: int  # signed: refunds are negative
    currency: str
    amount_label: str
    date_label: str
    kind_label: str
    reference: str  # the invoice number the row belongs to
    description: str
    invoice_id: int | None
    has_pdf: bool = False  # an invoice's PDF, or a succeeded refund's credit note
    can_request_refund: bool = False  # a paid payment with no refund request waiting
    refund_requested_label: str = ""  # "Refund requested: ₩5,000" while a request waits
    can_pay: bool = False  # an open invoice: payable at /checkout?invoice=ID


@dataclass(frozen=True)
class HistoryPage:
    rows: tuple[HistoryRow, ...]
    total: int
    page: int
    pages: int
    page_size: int = DEFAULT_PAGE_SIZE
    total_is_exact: bool = True  # False: more than MAX_PAGE pages match; total is the reachable part
    # Keyset bounds for the pages around this one: the row it starts after (None: the first page),
    # its own first and last rows.
    starts_after: HistoryKey | None = None
    first: HistoryKey | None = None
    last: HistoryKey | None = None


def _branches(filters: HistoryFilters) -> dict[str, tuple[str, ...] | None]:
    """kind -> raw statuses to keep (None: any shown status); kinds left out are not queried."""
    kinds = (filters.kind,) if filters.kind else KINDS
    if not filters.status:
        return {kind: None for kind in kinds}
    group = STATUS_GROUPS[filters.status]
    return {kind: group[kind] for kind in kinds if kind in group}


def _bounds(filters: HistoryFilters) -> tuple[datetime | None, datetime | None]:
    start = start_of_day(filters.date_from) if filters.date_from else None
    end = start_of_day(filters.date_to + timedelta(days=1)) if filters.date_to else None
    return start, end


def history_page(
    session: Session,
    customer_id: int,
    *,
    status: str = "",
    kind: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    after: HistoryKey | None = None,
    before: HistoryKey | None = None,
    counted: tuple[int, bool] | None = None,
    locale: str | None = None,
) -> HistoryPage:
    """Page `page` of the filtered history. The next page passes the current page's `last` row as
    `after`, the previous one its `first` as `before`, and both the (total, total_is_exact) the
    first page counted as `counted` (counting a large history is the slow part); the page number
    then only labels the page. Without them the page is found by its number. `locale`: the
    customer's, when the caller has it (else read)."""
    filters = HistoryFilters(status, kind, date_from, date_to).checked()
    page_size = max(1, min(MAX_PAGE_SIZE, int(page_size)))
    branches = _branches(filters)
    start, end = _bounds(filters)
    reachable = MAX_PAGE * page_size
    if counted is None:
        total = repository.history_count(session, customer_id, branches=branches, start=start, end=end, cap=reachable)
        exact = total <= reachable
    else:
        total, exact = counted
    total = min(total, reachable)
    pages = max(1, ceil(total / page_size))
    page = max(1, min(int(page), pages))
    window = partial(repository.history_window, session, customer_id, branches=branches, start=start, end=end)
    raw, starts_after = None, None
    if after is not None:
        raw, starts_after = window(limit=page_size, after=after), after
    elif before is not None:
        # One row more than a page: the newest of them is the row the page starts after.
        newer = window(limit=page_size + 1, before=before)
        if len(newer) > page_size:
            raw, starts_after, page = newer[1:], _key(newer[0]), max(page, 2)
        else:
            page = 1  # at the top (or rows went away meanwhile): the first page, by number
    if not raw:
        starts_after, offset = None, (page - 1) * page_size
        # From the row before the page, when there is one, to know where the page starts.
        raw = window(limit=page_size + (1 if offset else 0), offset=max(0, offset - 1))
        if offset and raw:
            starts_after, raw = _key(raw[0]), raw[1:]
    rows = tuple(_rows(session, customer_id, raw, locale))
    return HistoryPage(rows, total, page, pages, page_size, exact, starts_after,
                       _key(raw[0]) if raw else None, _key(raw[-1]) if raw else None)


def _key(row) -> HistoryKey:
    return HistoryKey(row.created_at, row.kind, row.id)


def _rows(session: Session, customer_id: int, raw, locale: str | None = None) -> Iterator[HistoryRow]:
    locale = locale or _locale(session, customer_id)
    for r in raw:
        number = r.invoice_number or ""
        amount = -r.amount if r.kind == "refund" else r.amount
        if r.kind == "invoice":
            description = _REASONS.get(r.text2, "Invoice")
        elif r.kind == "payment":
            card = f"{r.text1.title() or 'Card'} •••• {r.text2}" if r.text2 else "Card"
            description = f"Card payment, {card}" + (f": {r.text3}" if r.text3 else "")
        else:
            description = "Refund" + (f": {r.text1}" if r.text1 else "")
        yield HistoryRow(
            kind=r.kind,
            id=r.id,
            created_at=r.created_at,
            status=r.status,
            status_group=_GROUP_OF.get((r.kind, r.status), "open"),
            status_label=_STATUS_LABELS.get((r.kind, r.status), r.status.replace("_", " ").capitalize()),
            amount=amount,
            currency=r.currency,
            amount_label=format_money(amount, r.currency, locale),
            date_label=format_day(r.created_at),
            kind_label=KIND_LABELS[r.kind],
            reference=number,
            description=description,
            invoice_id=r.invoice_id,
            has_pdf=r.kind == "invoice" or (r.kind == "refund" and r.status == "succeeded"),
            can_request_refund=r.kind == "payment" and r.status in REFUNDABLE_STATUSES and r.requested is None,
            refund_requested_label=(
                f"Refund requested: {format_money(int(r.requested), r.currency, locale)}"
                if r.requested is not None else ""
            ),
            can_pay=r.kind == "invoice" and r.status == "open",
        )


def history_csv_lines(session: Session, customer_id: int, filters: HistoryFilters) -> Iterator[str]:
    """CSV text line by line (header first), newest first, at most CSV_MAX_ROWS rows.

    Amounts are plain decimals in major units ("15000", "12.50", "-5000") with the currency code,
    so a spreadsheet reads them as numbers.
    """
    filters = filters.checked()
    branches = _branches(filters)
    start, end = _bounds(filters)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield flush()
    raw = repository.history_window(
        session, customer_id, branches=branches, start=start, end=end, limit=CSV_MAX_ROWS, offset=0
    )
    for row in _rows(session, customer_id, raw):
        writer.writerow([
            row.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            row.kind,
            row.reference,
            _csv_safe(row.description),
            row.status,
            str(to_major(row.amount, row.currency)),
            row.currency,
        ])
        yield flush()


def history_csv(session: Session, customer_id: int, filters: HistoryFilters) -> str:
    return "".join(history_csv_lines(session, customer_id, filters))


def _csv_safe(text: str) -> str:
    """No spreadsheet formulas from free text (refund reasons): prefix a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- credits ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerRow:
    id: int
    date_label: str
    reason: str
    delta_label: str  # "+1,000" / "-300"
    balance_label: str
    grant: bool


@dataclass(frozen=True)
class PackOption:
    slug: str
    name: str
    credits_label: str  # "1,000 credits + 100 bonus"
    price_label: str


@dataclass(frozen=True)
class CreditsPage:
    balance: int
    balance_label: str
    rows: tuple[LedgerRow, ...]
    total: int
    page: int
    pages: int
    packs: tuple[PackOption, ...]
    page_size: int = DEFAULT_PAGE_SIZE


def _credits(amount: int) -> str:
    return f"{amount:,}"


def credits_page(session: Session, customer_id: int, *, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE) -> CreditsPage:
    """The balance, one page of the ledger (newest first, paged in SQL) and the packs on sale in the
    customer's billing currency (their subscription's, else their preferred one)."""
    page_size = max(1, min(MAX_PAGE_SIZE, int(page_size)))
    last = repository.last_ledger_entry(session, customer_id)
    balance = last.balance_after if last else 0
    total = min(repository.ledger_count(session, customer_id), MAX_PAGE * page_size)
    pages = max(1, ceil(total / page_size))
    page = max(1, min(int(page), pages))
    entries = repository.ledger_entries(session, customer_id, limit=page_size, offset=(page - 1) * page_size)
    rows = tuple(
        LedgerRow(
            id=e.id,
            date_label=format_day(e.created_at),
            reason=e.reason,
            delta_label=("+" if e.delta > 0 else "") + _credits(e.delta),
            balance_label=_credits(e.balance_after),
            grant=e.delta > 0,
        )
        for e in entries
    )
    live = repository.live_subscription(session, customer_id)
    customer = session.get(Customer, customer_id)
    currency = session.get(Price, live.price_id).currency if live else customer.preferred_currency
    locale = _locale(session, customer_id)
    packs = tuple(
        PackOption(
            slug=p.slug,
            name=p.name,
            credits_label=_credits(p.credits) + " credits" + (f" + {_credits(p.bonus_credits)} bonus" if p.bonus_credits else ""),
            price_label=format_money(p.amount, p.currency, locale),
        )
        for p in repository.active_credit_packs(session, currency=currency)
    )
    return CreditsPage(balance, _credits(balance), rows, total, page, pages, packs, page_size)
