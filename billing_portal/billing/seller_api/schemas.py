"""Request and response models of /api/v1. Pydantic: one declaration validates the input, shapes the
answer and becomes the OpenAPI document's schema (model_json_schema), so the three cannot drift.

Money is an integer in the currency's minor unit; every moment is an ISO 8601 UTC timestamp.
Requests refuse unknown fields (a typo is an error, not silently ignored).
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,128}$"
ExternalId = Annotated[str, StringConstraints(pattern=EXTERNAL_ID_PATTERN)]
Cursor = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Empty(Request):
    """No fields (an empty body or {})."""


class Answer(BaseModel):
    # Every field of an answer is always present: the document says so (required), and checks it.
    model_config = ConfigDict(from_attributes=True, json_schema_serialization_defaults_required=True)


# --- errors and lists ---------------------------------------------------------------------------


class ErrorDetail(Answer):
    type: Literal["invalid_request_error", "authentication_error", "permission_error", "not_found_error",
                  "conflict_error", "idempotency_error", "rate_limit_error", "api_error"]
    code: str = Field(description="A stable machine-readable code, e.g. `validation_error`.")
    message: str = Field(description="For the developer reading the log; may change between versions.")
    param: str | None = Field(description="The field, query or path parameter at fault, when one is.")
    request_id: str | None = Field(description="Our id of this request (also its `X-Request-Id` header); "
                                               "quote it when asking us about an error.")


class Error(Answer):
    error: ErrorDetail


class ListQuery(Request):
    limit: int = Field(10, ge=1, le=100, description="How many objects a page holds (1–100).")
    starting_after: Cursor | None = Field(None, description="The `next_cursor` of the previous page.")


class Page(Answer):
    object: Literal["list"] = "list"
    has_more: bool
    next_cursor: str | None = Field(description="Pass as `starting_after` for the next page; null on the last.")


# --- service ------------------------------------------------------------------------------------


class Info(Answer):
    version: str
    api_version: str
    build: str


# --- customers ----------------------------------------------------------------------------------


class BillingDetailsFields(Request):
    company: str | None = Field(None, max_length=200)
    address_line1: str | None = Field(None, max_length=200)
    address_line2: str | None = Field(None, max_length=200)
    city: str | None = Field(None, max_length=100)
    postal_code: str | None = Field(None, max_length=20)
    region: str | None = Field(None, max_length=100)
    country: str | None = Field(None, max_length=2, description="ISO 3166-1 alpha-2, e.g. KR.")
    tax_id: str | None = Field(None, max_length=50)
    invoice_email: str | None = Field(None, max_length=320)
    preferred_currency: Currency | None = None
    locale: str | None = Field(None, max_length=16, description="e.g. ko_KR")


class CustomerCreate(BillingDetailsFields):
    external_id: ExternalId | None = Field(None, description="Your app's id for this customer; unique.")
    email: str = Field(max_length=320, description="The customer's email (their portal sign-in); unique.")
    name: str = Field(min_length=1, max_length=200)


class CustomerUpdate(BillingDetailsFields):
    external_id: ExternalId | None = None
    name: str | None = Field(None, min_length=1, max_length=200)


class CustomerListQuery(ListQuery):
    external_id: ExternalId | None = None
    email: str | None = Field(None, max_length=320)


class Customer(Answer):
    object: Literal["customer"] = "customer"
    id: int
    external_id: str | None
    email: str
    name: str
    company: str
    address_line1: str
    address_line2: str
    city: str
    postal_code: str
    region: str
    country: str
    tax_id: str
    invoice_email: str
    preferred_currency: str
    locale: str
    created_at: datetime


class CustomerList(Page):
    data: list[Customer]


# --- catalog ------------------------------------------------------------------------------------


class PlanPrice(Answer):
    object: Literal["price"] = "price"
    id: int
    plan_id: int
    currency: str
    interval: str
    interval_count: int
    unit_amount: int
    trial_days: int
    active: bool


class MeteredPrice(Answer):
    object: Literal["metered_price"] = "metered_price"
    id: int
    plan_id: int
    metric: str
    label: str
    currency: str
    package_size: int
    package_amount: int
    included_units: int


class Plan(Answer):
    object: Literal["plan"] = "plan"
    id: int
    slug: str
    name: str
    tier: int
    description: str
    features: list[str]
    max_projects: int | None = Field(description="null: unlimited")
    max_users: int | None = Field(description="null: unlimited")
    storage_quota_bytes: int | None = Field(description="null: unlimited")
    active: bool
    prices: list[PlanPrice]
    metered_prices: list[MeteredPrice]


class PlanList(Page):
    data: list[Plan]


class PlanListQuery(ListQuery):
    active: bool | None = Field(None, description="true: only what is sold now (the public catalog).")


class PriceList(Page):
    data: list[PlanPrice]


class PriceListQuery(ListQuery):
    plan_id: int | None = Field(None, ge=1, le=10**18)
    currency: Currency | None = None
    active: bool | None = None


# --- subscriptions ------------------------------------------------------------------------------


class Subscription(Answer):
    object: Literal["subscription"] = "subscription"
    id: int
    customer_id: int
    price_id: int
    plan_id: int
    status: Literal["incomplete", "trialing", "active", "past_due", "paused", "canceled"]
    quantity: int
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool
    canceled_at: datetime | None
    cancel_reason: str
    paused_at: datetime | None
    resume_at: datetime | None
    trial_end: datetime | None
    scheduled_price_id: int | None
    scheduled_quantity: int | None
    created_at: datetime


class SubscriptionList(Page):
    data: list[Subscription]


class SubscriptionListQuery(ListQuery):
    customer: str | None = Field(None, max_length=140, description="Our id, or ext_ + your external_id.")
    status: Literal["incomplete", "trialing", "active", "past_due", "paused", "canceled"] | None = None


class SubscriptionChange(Request):
    price_id: int = Field(ge=1, le=10**18, description="The price to move to (plan and/or interval).")
    quantity: int | None = Field(None, ge=1, le=10_000, description="Default: the current quantity.")


class ProrationLine(Answer):
    description: str
    amount: int
    period_start: datetime
    period_end: datetime


class ChangePreview(Answer):
    object: Literal["subscription_change_preview"] = "subscription_change_preview"
    currency: str
    lines: list[ProrationLine]
    amount_due: int
    credit_carried: int
    effective: Literal["now", "period_end"]
    effective_at: datetime
    recurring_amount: int
    next_renewal_at: datetime


class SubscriptionChanged(Answer):
    object: Literal["subscription_change"] = "subscription_change"
    subscription: Subscription
    preview: ChangePreview
    invoice_id: int | None = Field(description="The proration invoice, when the change applies now.")
    outcome: Literal["applied", "paid", "failed", "refused", "waiting", "scheduled"] = Field(
        description="applied: in force, nothing to pay. paid: in force, its invoice charged to the default card. "
                    "failed: in force, the charge failed and dunning retries it (UPGRADE_APPLY=at_once). "
                    "refused: nothing changed, the charge failed (UPGRADE_APPLY=when_paid). "
                    "waiting: in force, the invoice is collected later. scheduled: applies at the period end.")
    failure_message: str = Field("", description="Why the charge failed, when it did.")


class SubscriptionCancel(Request):
    at_period_end: bool = Field(True, description="false: end it now.")
    reason: str = Field("", max_length=500)


class SubscriptionPause(Request):
    resume_at: datetime | None = Field(None, description="When it resumes by itself (within a year).")


# --- invoices, payments, refunds, credits, usage -------------------------------------------------


class InvoiceLine(Answer):
    description: str
    quantity: int
    unit_amount: int
    amount: int
    tax_amount: int
    period_start: datetime | None
    period_end: datetime | None


class Invoice(Answer):
    object: Literal["invoice"] = "invoice"
    id: int
    customer_id: int
    subscription_id: int | None
    number: str | None
    status: Literal["draft", "open", "paid", "void", "uncollectible"]
    currency: str
    subtotal: int
    tax: int
    total: int
    amount_paid: int
    amount_refunded: int
    billing_reason: str
    created_at: datetime
    finalized_at: datetime | None
    due_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    lines: list[InvoiceLine]


class InvoiceList(Page):
    data: list[Invoice]


class CustomerScopedListQuery(ListQuery):
    customer: str | None = Field(None, max_length=140, description="Our id, or ext_ + your external_id.")


class InvoiceListQuery(CustomerScopedListQuery):
    status: Literal["draft", "open", "paid", "void", "uncollectible"] | None = None


class DownloadLink(Answer):
    object: Literal["download_link"] = "download_link"
    url: str = Field(description="A signed link to the PDF, valid for `expires_in` seconds.")
    expires_in: int


class Payment(Answer):
    object: Literal["payment"] = "payment"
    id: int
    customer_id: int
    invoice_id: int | None
    amount: int
    currency: str
    status: str
    method_type: str
    card_brand: str
    card_last4: str
    failure_code: str
    failure_message: str
    created_at: datetime


class PaymentList(Page):
    data: list[Payment]


class Refund(Answer):
    object: Literal["refund"] = "refund"
    id: int
    payment_id: int
    customer_id: int
    amount: int
    currency: str
    reason: str
    status: str
    created_at: datetime
    decided_at: datetime | None


class RefundList(Page):
    data: list[Refund]


class RefundRequestCreate(Request):
    payment_id: int = Field(ge=1, le=10**18)
    amount: int = Field(ge=1, le=10**15, description="Minor units; at most what is still refundable.")
    reason: str = Field(min_length=1, max_length=500)


class RefundRequest(Answer):
    object: Literal["refund_request"] = "refund_request"
    id: int
    payment_id: int
    customer_id: int
    amount: int
    currency: str
    reason: str
    status: str
    created_at: datetime
    decided_at: datetime | None
    decision_reason: str
    refund_id: int | None


class RefundRequestList(Page):
    data: list[RefundRequest]


class CreditEntry(Answer):
    object: Literal["credit_ledger_entry"] = "credit_ledger_entry"
    id: int
    customer_id: int
    delta: int
    balance_after: int
    reason: str
    payment_id: int | None
    created_at: datetime


class CreditLedger(Page):
    balance: int
    data: list[CreditEntry]


class UsageRecordCreate(Request):
    metric: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=1_000_000_000)
    timestamp: datetime | None = Field(None, description="When it happened, with a zone (default now).")


class UsageRecord(Answer):
    object: Literal["usage_record"] = "usage_record"
    id: int
    customer_id: int
    subscription_id: int
    metric: str
    quantity: int
    timestamp: datetime
    idempotency_key: str


class UsageRecordList(Page):
    data: list[UsageRecord]


# --- stats --------------------------------------------------------------------------------------


class StatsQuery(Request):
    start: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="First day (default: 30 days ago).")
    end: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="Last day, included (default: today).")


class CurrencyStats(Answer):
    currency: str
    mrr: int
    arr: int
    subscribers: int
    revenue: int = Field(description="Payments minus refunds in the range.")
    payments_amount: int
    refunds_amount: int
    payments_succeeded: int
    payments_failed: int


class PlanRevenue(Answer):
    currency: str
    plan: str
    revenue: int


class PlanSubscribers(Answer):
    currency: str
    plan_id: int | None
    plan: str
    subscribers: int
    mrr: int


class Stats(Answer):
    object: Literal["stats"] = "stats"
    start: str
    end: str
    currencies: list[CurrencyStats]
    revenue_by_plan: list[PlanRevenue]
    subscribers_by_plan: list[PlanSubscribers] = Field(description="At the end of the range (the MRR rollup).")
