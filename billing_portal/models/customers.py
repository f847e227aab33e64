"""Customers: the billing identity of a user."""

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("external_id", name="uq_customers_external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", unique=True, index=True)
    # The SaaS app's own id for this customer (REST API); None for customers who signed up here.
    external_id: str | None = Field(default=None, max_length=128)
    name: str = Field(default="", max_length=200)
    company: str = Field(default="", max_length=200)
    address_line1: str = Field(default="", max_length=200)
    address_line2: str = Field(default="", max_length=200)
    city: str = Field(default="", max_length=100)
    postal_code: str = Field(default="", max_length=20)
    region: str = Field(default="", max_length=100)
    country: str = Field(default="", max_length=2)
    tax_id: str = Field(default="", max_length=50)
    invoice_email: str = Field(default="", max_length=320)
    preferred_currency: str = Field(default="USD", max_length=3)
    locale: str = Field(default="en_US", max_length=16)
    stripe_customer_id: str | None = Field(default=None, max_length=255, unique=True)
    # The saved card renewals charge: Stripe's id plus what we may show (never the number).
    default_payment_method_id: str | None = Field(default=None, max_length=255)
    card_brand: str = Field(default="", max_length=32)
    card_last4: str = Field(default="", max_length=4)
    card_exp_month: int | None = None
    card_exp_year: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
