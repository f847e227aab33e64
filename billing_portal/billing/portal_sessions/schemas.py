"""Requests and answers of POST /api/v1/portal_sessions and /api/v1/checkout_sessions (pydantic:
they validate the body, shape the answer and are the OpenAPI document's schemas)."""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from billing_portal.billing.seller_api.schemas import Answer, Request

CustomerRef = Field(min_length=1, max_length=140, description="Our id (digits) or `ext_` + your external_id.")
ReturnUrl = Field(min_length=1, max_length=2000,
                  description="Where the portal's “Back to …” link goes; its origin must be in PORTAL_RETURN_URL_ALLOWLIST.")


class Flow(StrEnum):
    PLAN = "plan"  # pick or change a plan: /billing/plan
    PAYMENT_METHOD = "payment_method"  # add or change the card: /billing/payment-methods
    PAY_INVOICE = "pay_invoice"  # pay one open invoice: /checkout?invoice=ID


class PortalSessionCreate(Request):
    customer: str = CustomerRef
    return_url: str = ReturnUrl
    flow: Flow | None = Field(None, description="Open the portal straight on this flow; none: the billing overview.")
    invoice: int | None = Field(None, ge=1, le=2**53, description="`pay_invoice` only: the customer's open invoice.")


class CheckoutSessionCreate(Request):
    customer: str = CustomerRef
    price: int = Field(ge=1, le=2**53, description="An active price of the catalog.")
    return_url: str = ReturnUrl


class PortalSession(Answer):
    object: Literal["portal_session", "checkout_session"]
    id: int
    customer: int
    url: str = Field(description="Open it in the customer's browser. It works once, until `expires_at`.")
    destination: str = Field(description="The portal page the link opens.")
    flow: Flow | None
    return_url: str
    expires_at: datetime
