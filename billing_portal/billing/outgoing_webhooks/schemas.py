"""What the SaaS app receives: one envelope, one data shape per object (pydantic, so the README's
example and the wire format come from the same models), and what an admin types for an endpoint."""

from datetime import date, datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, field_validator

# Every event type, by the object it carries. An endpoint filters on these names.
EVENT_TYPES: dict[str, str] = {
    "customer.created": "customer",
    "subscription.created": "subscription",
    "subscription.updated": "subscription",
    "subscription.canceled": "subscription",
    "subscription.past_due": "subscription",
    "entitlements.updated": "entitlements",
    "invoice.finalized": "invoice",
    "invoice.paid": "invoice",
    "payment.succeeded": "payment",
    "payment.failed": "payment",
    "refund.succeeded": "refund",
    "alert.raised": "alert",
    "endpoint.disabled": "endpoint",
}


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True)


class CustomerData(_Data):
    object: Literal["customer"] = "customer"
    id: int
    external_id: str | None  # the SaaS app's own id for the customer, when it gave one
    email: str
    name: str
    company: str
    country: str
    created_at: datetime


class SubscriptionData(_Data):
    object: Literal["subscription"] = "subscription"
    id: int
    customer_id: int
    customer_external_id: str | None
    status: str
    plan: str  # the plan's slug
    price_id: int
    currency: str
    quantity: int
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool
    canceled_at: datetime | None
    trial_end: datetime | None


class EntitlementsData(_Data):
    """What the customer may use now: the plan of its live subscription (None: no plan)."""

    object: Literal["entitlements"] = "entitlements"
    customer_id: int
    customer_external_id: str | None
    subscription_id: int
    status: str
    plan: str | None
    features: list[str]
    max_projects: int | None
    max_users: int | None
    storage_quota_bytes: int | None


class InvoiceData(_Data):
    object: Literal["invoice"] = "invoice"
    id: int
    number: str | None
    customer_id: int
    customer_external_id: str | None
    subscription_id: int | None
    status: str
    currency: str
    total: int  # minor units
    amount_paid: int
    amount_due: int
    billing_reason: str
    finalized_at: datetime | None
    paid_at: datetime | None


class PaymentData(_Data):
    object: Literal["payment"] = "payment"
    id: int
    customer_id: int
    customer_external_id: str | None
    invoice_id: int | None
    status: str
    amount: int
    currency: str
    failure_code: str
    failure_message: str


class RefundData(_Data):
    object: Literal["refund"] = "refund"
    id: int
    payment_id: int
    customer_id: int
    customer_external_id: str | None
    status: str
    amount: int
    currency: str
    reason: str


class AlertData(_Data):
    object: Literal["alert"] = "alert"
    id: int
    kind: str
    currency: str
    month: date
    value: str  # a percent (or a count for "reconciliation"), as text: never a float
    threshold: str
    message: str


class EndpointData(_Data):
    object: Literal["endpoint"] = "endpoint"
    id: int
    url: str
    reason: str


EventData = (CustomerData | SubscriptionData | EntitlementsData | InvoiceData | PaymentData | RefundData
             | AlertData | EndpointData)


class Event(BaseModel):
    """The body of every POST. `id` is the webhook-id header too; a receiver keeps, per
    (data.object, data.id), the highest `version` it handled and drops what is older."""

    id: str
    type: str
    created: datetime
    version: int
    data: EventData


class EndpointInput(BaseModel):
    """An endpoint as an admin types it: checked here so bad input changes nothing."""

    url: str
    description: str = ""
    event_types: list[str] = []
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError("Enter a valid URL.") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or len(value) > 2000:
            raise ValueError("Enter an http:// or https:// URL of at most 2000 characters.")
        if parts.username or parts.password:
            raise ValueError("Put no user name or password in the URL: the signature authenticates us.")
        return value

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        value = " ".join(value.split())
        if len(value) > 200:
            raise ValueError("Keep the description under 200 characters.")
        return value

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"Unknown event type: {', '.join(unknown)[:200]}.")
        return sorted(set(value))
