"""The seller API's use cases. Each runs in the caller's transaction and answers a schemas model.

Customer references in paths and filters (`{customer}`): our id as digits (`42`), or `ext_` and the
SaaS app's own external_id (`ext_user-81`). Anything else is not found. Lists are newest first and
paged by cursor: `next_cursor` is the id of the page's last object, passed back as `starting_after`.
"""

from dataclasses import asdict, fields, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from billing_portal.billing import (
    accounts,
    billing_details,
    credits,
    invoice_pdfs,
    plan_changes,
    refund_requests,
    subscriptions,
    usage,
)
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.analytics import queries as analytics_queries
from billing_portal.billing.analytics.dashboard import ONE_OFF
from billing_portal.billing.analytics.dashboard import dashboard as dashboard_figures
from billing_portal.billing.analytics.mrr import month_start
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.seller_api import repository, schemas
from billing_portal.billing.seller_keys.schemas import Caller
from billing_portal.ids import parse_id
from billing_portal.models import (
    CreditLedgerEntry, Customer, Invoice, Payment, Plan, Price, Refund, RefundRequest, Role, Subscription,
    UsageRecord, User,
)
from billing_portal.models.types import utcnow

EXTERNAL_PREFIX = "ext_"
PDF_LINK_SECONDS = 300
STATS_DEFAULT_DAYS = 30


class Invalid(DomainError):
    """Bad input about one parameter (422)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        self.param = param
        super().__init__(message)


class Conflict(DomainError):
    """The request clashes with what exists (409): a taken external_id or email."""

    def __init__(self, message: str, param: str | None = None) -> None:
        self.param = param
        super().__init__(message)


# --- lookups ------------------------------------------------------------------------------------


def customer_for(session: Session, reference: str | None) -> Customer:
    """`42` (our id) or `ext_<external_id>`; NotFound otherwise."""
    reference = reference or ""
    if reference.startswith(EXTERNAL_PREFIX):
        found = repository.customer_by_external_id(session, reference[len(EXTERNAL_PREFIX):])
    else:
        object_id = parse_id(reference)
        found = session.get(Customer, object_id) if object_id is not None else None
    if found is None:
        raise NotFound("No such customer.")
    return found


def _get(session: Session, model, reference: str, label: str):
    object_id = parse_id(reference)
    found = session.get(model, object_id) if object_id is not None else None
    if found is None:
        raise NotFound(f"No such {label}.")
    return found


def _cursor(query: schemas.ListQuery) -> int | None:
    return int(query.starting_after) if query.starting_after else None


def _page(model: type[schemas.Page], rows, has_more: bool, convert) -> schemas.Page:
    data = [convert(row) for row in rows]
    return model(data=data, has_more=has_more, next_cursor=str(data[-1].id) if has_more and data else None)


# --- customers ----------------------------------------------------------------------------------


def _customer_answer(customer: Customer, email: str) -> schemas.Customer:
    return schemas.Customer.model_validate({**customer.model_dump(), "email": email})


def get_customer(session: Session, reference: str) -> schemas.Customer:
    customer = customer_for(session, reference)
    return _customer_answer(customer, repository.email_of(session, customer))


def list_customers(session: Session, query: schemas.CustomerListQuery) -> schemas.CustomerList:
    filters = []
    if query.external_id is not None:
        filters.append(Customer.external_id == query.external_id)
    if query.email is not None:
        filters.append(User.email == query.email.strip().lower())
    rows, more = repository.customers_page(session, *filters, limit=query.limit, starting_after=_cursor(query))
    return _page(schemas.CustomerList, rows, more, lambda row: _customer_answer(*row))


def _check_external_id(session: Session, external_id: str | None, customer_id: int | None = None) -> None:
    if external_id is None:
        return
    holder = repository.customer_by_external_id(session, external_id)
    if holder is not None and holder.id != customer_id:
        raise Conflict("Another customer has this external_id.", "external_id")


def _apply_details(session: Session, customer: Customer, body: schemas.BillingDetailsFields, name: str | None) -> None:
    given = {k: v for k, v in body.model_dump(exclude_unset=True).items()
             if k in {f.name for f in fields(billing_details.BillingDetails)} and v is not None}
    if name is not None:
        given["name"] = name
    if not given:
        return
    details = replace(billing_details.billing_details(session, customer_id=customer.id), **given)
    try:
        billing_details.update_billing_details(session, customer_id=customer.id, details=details)
    except billing_details.InvalidBillingDetails as exc:
        field, message = next(iter(exc.errors.items()))
        raise Invalid(message, field) from None


def create_customer(session: Session, body: schemas.CustomerCreate) -> schemas.Customer:
    """A customer with a portal account that has no password: they sign in through the SaaS app's
    portal links (another branch builds those) or set one with a password reset."""
    _check_external_id(session, body.external_id)
    try:
        email = accounts.normalize_email(body.email)
    except DomainError as exc:
        raise Invalid(str(exc), "email") from None
    if repository.user_id_by_email(session, email) is not None:
        raise Conflict("A customer with this email exists already: find it with GET /api/v1/customers?email=.", "email")
    try:
        with session.begin_nested():
            user = accounts.create_user(session, email=email, password=None, name=body.name, role=Role.CUSTOMER)
            customer = repository.customer_of_user(session, user.id)
            customer.external_id = body.external_id
            session.add(customer)
            session.flush()
    except IntegrityError:  # the same email or external_id raced us in
        raise Conflict("Another request created this customer at the same time; read it instead.") from None
    _apply_details(session, customer, body, None)
    return _customer_answer(customer, user.email)


def update_customer(session: Session, reference: str, body: schemas.CustomerUpdate) -> schemas.Customer:
    customer = customer_for(session, reference)
    given = body.model_dump(exclude_unset=True)
    if "external_id" in given:
        _check_external_id(session, body.external_id, customer.id)
        customer.external_id = body.external_id
        session.add(customer)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            raise Conflict("Another customer has this external_id.", "external_id") from None
    _apply_details(session, customer, body, body.name)
    return _customer_answer(customer, repository.email_of(session, customer))


# --- catalog ------------------------------------------------------------------------------------


def _plans_answer(session: Session, plans) -> list[schemas.Plan]:
    ids = [plan.id for plan in plans]
    prices: dict[int, list] = {i: [] for i in ids}
    for price in repository.prices_of(session, ids):
        prices[price.plan_id].append(schemas.PlanPrice.model_validate(price))
    metered: dict[int, list] = {i: [] for i in ids}
    for price in repository.metered_prices_of(session, ids):
        metered[price.plan_id].append(schemas.MeteredPrice.model_validate(price))
    return [schemas.Plan.model_validate({**plan.model_dump(), "prices": prices[plan.id], "metered_prices": metered[plan.id]})
            for plan in plans]


def list_plans(session: Session, query: schemas.PlanListQuery) -> schemas.PlanList:
    filters = [] if query.active is None else [Plan.active == query.active]
    rows, more = repository.page(session, Plan, *filters, limit=query.limit, starting_after=_cursor(query))
    data = _plans_answer(session, rows)
    return schemas.PlanList(data=data, has_more=more, next_cursor=str(data[-1].id) if more and data else None)


def get_plan(session: Session, reference: str) -> schemas.Plan:
    return _plans_answer(session, [_get(session, Plan, reference, "plan")])[0]


def list_prices(session: Session, query: schemas.PriceListQuery) -> schemas.PriceList:
    filters = []
    if query.plan_id is not None:
        filters.append(Price.plan_id == query.plan_id)
    if query.currency is not None:
        filters.append(Price.currency == query.currency.upper())
    if query.active is not None:
        filters.append(Price.active == query.active)
    rows, more = repository.page(session, Price, *filters, limit=query.limit, starting_after=_cursor(query))
    return _page(schemas.PriceList, rows, more, schemas.PlanPrice.model_validate)


def get_price(session: Session, reference: str) -> schemas.PlanPrice:
    return schemas.PlanPrice.model_validate(_get(session, Price, reference, "price"))


# --- subscriptions ------------------------------------------------------------------------------


def _subscriptions_answer(session: Session, rows) -> list[schemas.Subscription]:
    plan_of = repository.plan_ids_of_prices(session, {row.price_id for row in rows})
    return [schemas.Subscription.model_validate({**row.model_dump(), "plan_id": plan_of[row.price_id]}) for row in rows]


def _subscription_answer(session: Session, subscription: Subscription) -> schemas.Subscription:
    return _subscriptions_answer(session, [subscription])[0]


def get_subscription(session: Session, reference: str) -> schemas.Subscription:
    return _subscription_answer(session, _get(session, Subscription, reference, "subscription"))


def list_subscriptions(session: Session, query: schemas.SubscriptionListQuery) -> schemas.SubscriptionList:
    filters = []
    if query.customer is not None:
        filters.append(Subscription.customer_id == customer_for(session, query.customer).id)
    if query.status is not None:
        filters.append(Subscription.status == query.status)
    rows, more = repository.page(session, Subscription, *filters, limit=query.limit, starting_after=_cursor(query))
    data = _subscriptions_answer(session, rows)
    return schemas.SubscriptionList(data=data, has_more=more, next_cursor=str(data[-1].id) if more and data else None)


def _preview_answer(preview: subscriptions.ChangePreview) -> schemas.ChangePreview:
    return schemas.ChangePreview(
        currency=preview.currency, lines=[schemas.ProrationLine.model_validate(line) for line in preview.lines],
        amount_due=preview.amount_due, credit_carried=preview.credit_carried, effective=preview.effective,
        effective_at=preview.effective_at, recurring_amount=preview.recurring_amount,
        next_renewal_at=preview.next_renewal_at,
    )


def preview_change(session: Session, reference: str, body: schemas.SubscriptionChange) -> schemas.ChangePreview:
    subscription = _get(session, Subscription, reference, "subscription")
    return _preview_answer(subscriptions.preview(session, subscription.id, price_id=body.price_id,
                                                 quantity=body.quantity or subscription.quantity))


def change(session: Session, reference: str, body: schemas.SubscriptionChange) -> schemas.SubscriptionChanged:
    subscription = _get(session, Subscription, reference, "subscription")
    done = plan_changes.change_plan(session, subscription.id, price_id=body.price_id,
                                    quantity=body.quantity or subscription.quantity, actor="seller_api")
    return schemas.SubscriptionChanged(subscription=_subscription_answer(session, session.get(Subscription, subscription.id)),
                                       preview=_preview_answer(done.preview),
                                       invoice_id=done.invoice.id if done.invoice else None,
                                       outcome=done.outcome, failure_message=done.failure_message)


def cancel(session: Session, reference: str, body: schemas.SubscriptionCancel) -> schemas.Subscription:
    subscription = _get(session, Subscription, reference, "subscription")
    return _subscription_answer(session, subscriptions.cancel(session, subscription.id, at_period_end=body.at_period_end,
                                                              reason=body.reason))


def resume(session: Session, reference: str) -> schemas.Subscription:
    """A paused subscription is unpaused; one set to end at the period end keeps running."""
    subscription = _get(session, Subscription, reference, "subscription")
    if subscription.status == "paused":
        subscriptions.unpause(session, subscription.id)
    else:
        subscriptions.resume(session, subscription.id)
    return _subscription_answer(session, session.get(Subscription, subscription.id))


def pause(session: Session, reference: str, body: schemas.SubscriptionPause) -> schemas.Subscription:
    subscription = _get(session, Subscription, reference, "subscription")
    resume_at = body.resume_at
    if resume_at is not None and resume_at.tzinfo is None:
        raise Invalid("resume_at needs a time zone, e.g. 2027-01-01T00:00:00Z.", "resume_at")
    return _subscription_answer(session, subscriptions.pause(session, subscription.id, resume_at=resume_at))


# --- invoices, payments, refunds, credits -------------------------------------------------------


def _invoices_answer(session: Session, rows) -> list[schemas.Invoice]:
    lines: dict[int, list] = {row.id: [] for row in rows}
    for line in repository.lines_of(session, list(lines)):
        lines[line.invoice_id].append(schemas.InvoiceLine.model_validate(line))
    return [schemas.Invoice.model_validate({**row.model_dump(), "lines": lines[row.id]}) for row in rows]


def _owned_filter(session: Session, model, customer: str | None) -> list:
    return [] if customer is None else [model.customer_id == customer_for(session, customer).id]


def list_invoices(session: Session, query: schemas.InvoiceListQuery) -> schemas.InvoiceList:
    filters = _owned_filter(session, Invoice, query.customer)
    if query.status is not None:
        filters.append(Invoice.status == query.status)
    rows, more = repository.page(session, Invoice, *filters, limit=query.limit, starting_after=_cursor(query))
    data = _invoices_answer(session, rows)
    return schemas.InvoiceList(data=data, has_more=more, next_cursor=str(data[-1].id) if more and data else None)


def get_invoice(session: Session, reference: str) -> schemas.Invoice:
    return _invoices_answer(session, [_get(session, Invoice, reference, "invoice")])[0]


def invoice_pdf_link(session: Session, reference: str, caller: Caller) -> schemas.DownloadLink:
    """The portal's signed download link (billing/invoice_pdfs.py), drawn first when missing."""
    invoice = _get(session, Invoice, reference, "invoice")
    seller = CurrentUser(user_id=0, email=caller.label, role=Role.ADMIN, customer_id=None, name=caller.name,
                         currency="", locale="en_US")
    url = invoice_pdfs.pdf_download_url(session, user=seller, invoice_id=invoice.id, expires_in=PDF_LINK_SECONDS)
    return schemas.DownloadLink(url=url, expires_in=PDF_LINK_SECONDS)


def list_payments(session: Session, query: schemas.CustomerScopedListQuery) -> schemas.PaymentList:
    rows, more = repository.page(session, Payment, *_owned_filter(session, Payment, query.customer),
                                 limit=query.limit, starting_after=_cursor(query))
    return _page(schemas.PaymentList, rows, more, schemas.Payment.model_validate)


def get_payment(session: Session, reference: str) -> schemas.Payment:
    return schemas.Payment.model_validate(_get(session, Payment, reference, "payment"))


def list_refunds(session: Session, query: schemas.CustomerScopedListQuery) -> schemas.RefundList:
    rows, more = repository.page(session, Refund, *_owned_filter(session, Refund, query.customer),
                                 limit=query.limit, starting_after=_cursor(query))
    return _page(schemas.RefundList, rows, more, schemas.Refund.model_validate)


def get_refund(session: Session, reference: str) -> schemas.Refund:
    return schemas.Refund.model_validate(_get(session, Refund, reference, "refund"))


def request_refund(session: Session, body: schemas.RefundRequestCreate) -> schemas.RefundRequest:
    """A refund REQUEST (billing/refund_requests.py): an admin decides it in the console."""
    payment = session.get(Payment, body.payment_id)
    if payment is None:
        raise NotFound("No such payment.")
    made = refund_requests.request_refund(session, customer_id=payment.customer_id, payment_id=payment.id,
                                          amount=body.amount, reason=body.reason)
    return schemas.RefundRequest.model_validate(made)


def list_refund_requests(session: Session, query: schemas.CustomerScopedListQuery) -> schemas.RefundRequestList:
    rows, more = repository.page(session, RefundRequest, *_owned_filter(session, RefundRequest, query.customer),
                                 limit=query.limit, starting_after=_cursor(query))
    return _page(schemas.RefundRequestList, rows, more, schemas.RefundRequest.model_validate)


def credit_ledger(session: Session, reference: str, query: schemas.ListQuery) -> schemas.CreditLedger:
    customer = customer_for(session, reference)
    rows, more = repository.page(session, CreditLedgerEntry, CreditLedgerEntry.customer_id == customer.id,
                                 limit=query.limit, starting_after=_cursor(query))
    data = [schemas.CreditEntry.model_validate(row) for row in rows]
    return schemas.CreditLedger(balance=credits.balance(session, customer.id), data=data, has_more=more,
                                next_cursor=str(data[-1].id) if more and data else None)


# --- usage --------------------------------------------------------------------------------------


def _usage_answer(record: UsageRecord) -> schemas.UsageRecord:
    return schemas.UsageRecord.model_validate({**record.model_dump(), "timestamp": record.recorded_at})


def record_usage(session: Session, reference: str, body: schemas.UsageRecordCreate,
                 idempotency_key: str) -> schemas.UsageRecord:
    """The same rules as POST /api/usage (billing/usage.py), for any customer of the seller."""
    customer = customer_for(session, reference)
    if body.timestamp is not None and body.timestamp.tzinfo is None:
        raise Invalid("The timestamp needs a time zone, e.g. 2026-12-03T09:00:00Z.", "timestamp")
    done = usage.record_usage(session, customer.id, body.metric, body.quantity, idempotency_key, body.timestamp)
    return _usage_answer(done.record)


def list_usage_records(session: Session, reference: str, query: schemas.ListQuery) -> schemas.UsageRecordList:
    customer = customer_for(session, reference)
    rows, more = repository.page(session, UsageRecord, UsageRecord.customer_id == customer.id,
                                 limit=query.limit, starting_after=_cursor(query))
    return _page(schemas.UsageRecordList, rows, more, _usage_answer)


# --- stats --------------------------------------------------------------------------------------


def _day(text: str, param: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{param} is a day, YYYY-MM-DD.", param) from None


def stats(session: Session, query: schemas.StatsQuery, *, now: datetime | None = None) -> schemas.Stats:
    """The admin dashboard's figures (billing/analytics rollups), per currency."""
    today = (now or utcnow()).astimezone(UTC).date()
    end = _day(query.end, "end") if query.end else today
    start = _day(query.start, "start") if query.start else end - timedelta(days=STATS_DEFAULT_DAYS)
    try:
        figures = dashboard_figures(session, start=start, end=end)
    except DomainError as exc:
        raise Invalid(str(exc), "start") from None
    subscribers = analytics_queries.subscribers_by_plan(session, month_start(end))
    names = analytics_queries.plan_names(session, {plan_id for _, plan_id, _, _ in subscribers if plan_id})
    return schemas.Stats(
        start=start.isoformat(), end=end.isoformat(),
        currencies=[schemas.CurrencyStats.model_validate(asdict(c)) for c in figures.currencies],
        revenue_by_plan=[schemas.PlanRevenue.model_validate(asdict(p)) for p in figures.by_plan],
        subscribers_by_plan=[schemas.PlanSubscribers(currency=currency, plan_id=plan_id,
                                                     plan=names.get(plan_id, ONE_OFF), subscribers=count, mrr=mrr)
                             for currency, plan_id, count, mrr in subscribers],
    )

