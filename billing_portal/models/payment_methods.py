"""Saved cards: what we may show of each (never the number). The default one is the customer's
`default_payment_method_id` (models/customers.py), which renewals charge."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class PaymentMethod(SQLModel, table=True):
    __tablename__ = "payment_methods"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    stripe_payment_method_id: str = Field(max_length=255, unique=True)
    brand: str = Field(default="", max_length=32)
    last4: str = Field(default="", max_length=4)
    exp_month: int | None = None
    exp_year: int | None = None
    # Stripe's fingerprint of the card number: the same card saved twice has the same one.
    fingerprint: str = Field(default="", max_length=64)
    # Where the card was issued (ISO 3166 alpha-2, from Stripe): the fraud guard compares it.
    country: str = Field(default="", max_length=2)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
