"""A customer's billing details: what future invoices show as the buyer, checked before anything changes.

- Country: ISO 3166-1 alpha-2, from Babel's (CLDR) territory list without CLDR's groupings and
  reserved codes ("EU", "UN", "ZZ", ...). Kosovo's "XK" is accepted, as Stripe does.
- Tax ID, checked by the rules of the country with python-stdnum, check digits included
  (billing/taxation/tax_ids.py): EU VAT numbers kept with their prefix (DE136695976; Greece: EL),
  Korea's business registration number as 123-45-67890, a US EIN as 12-3456789, UK VAT, and every
  other country's VAT or business number stdnum knows.
- Invoice email: email-validator's syntax rules and normalisation (no DNS lookups).
- Preferred currency: one the catalog sells in (or the customer's current one).
- Locale: one Babel knows, kept in its canonical form (ko_KR).

`save_billing_details` is the details page's save: the form's fields over the stored ones, and the
customer at Stripe (when there is one) updated first, so a refusal there changes nothing here.
`update_billing_details` validates everything first and raises `InvalidBillingDetails` (with one
message per field in `.errors`) before touching the row, so bad input changes nothing. On success
every open (unpaid) invoice takes the new details and its PDF is drawn again
(billing/invoice_pdfs.py); paid and void invoices keep the details they were issued with.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from functools import cache

from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session

from billing_portal.billing import repository
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.checkout import ensure_stripe_customer
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.invoice_pdfs import refresh_open_invoices
from billing_portal.billing.taxation import normalize_tax_id
from billing_portal.gateways import stripe_gateway
from billing_portal.gateways.storage import Storage
from billing_portal.models import Customer
from billing_portal.settings import get_settings


class InvalidBillingDetails(DomainError):
    """Some fields are not acceptable; `.errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()))


@dataclass(frozen=True)
class BillingDetails:
    name: str
    company: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    postal_code: str = ""
    region: str = ""
    country: str = ""
    tax_id: str = ""
    invoice_email: str = ""
    preferred_currency: str = ""
    locale: str = ""


@dataclass(frozen=True)
class Updated:
    details: BillingDetails
    refreshed_invoice_ids: tuple[int, ...]


FIELD_LIMITS = {
    "name": 200, "company": 200, "address_line1": 200, "address_line2": 200, "city": 100,
    "postal_code": 20, "region": 100, "tax_id": 50, "invoice_email": 320,
}
LABELS = {
    "name": "Name", "company": "Company", "address_line1": "Address", "address_line2": "Address line 2",
    "city": "City", "postal_code": "Postal code", "region": "State or region", "country": "Country",
    "tax_id": "Tax ID", "invoice_email": "Invoice email", "preferred_currency": "Currency", "locale": "Language",
}
# What the details page edits; currency and language keep their stored values there.
FORM_FIELDS = ("name", "company", "address_line1", "address_line2", "city", "postal_code", "region", "country",
               "tax_id", "invoice_email")

# CLDR territories that are not ISO 3166-1 countries: groupings, reserved and private-use codes.
_NOT_COUNTRIES = frozenset({"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"})

_POSTAL_CODES = {"US": (r"\d{5}(-\d{4})?", "5 digits, or 5+4 like 94105-1234"), "KR": (r"\d{5}", "5 digits")}
_POSTAL_CHARS = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]*\Z")


@cache
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English name."""
    territories = Locale("en").territories
    return {code: name for code, name in sorted(territories.items())
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES}


def validate(session: Session, details: BillingDetails, *, current_currency: str = "") -> BillingDetails:
    """The details in their kept form, or InvalidBillingDetails naming every field that is wrong."""
    errors: dict[str, str] = {}
    values = {f.name: _clean(getattr(details, f.name)) for f in fields(BillingDetails)}
    for field, limit in FIELD_LIMITS.items():
        if len(values[field]) > limit:
            errors[field] = f"{LABELS[field]} is at most {limit} characters."
    if not values["name"]:
        errors["name"] = "Enter the name to bill."

    country = values["country"].upper()
    if country and country not in countries():
        errors["country"] = "Choose a country from the list."
    values["country"] = country

    postal = values["postal_code"]
    if postal and "postal_code" not in errors:
        pattern = _POSTAL_CODES.get(country)
        if pattern and not re.fullmatch(pattern[0], postal):
            errors["postal_code"] = f"Enter the postal code as {pattern[1]}."
        elif not _POSTAL_CHARS.match(postal):
            errors["postal_code"] = "A postal code has letters, digits, spaces and hyphens only."
        values["postal_code"] = postal.upper()

    if values["tax_id"] and "tax_id" not in errors:
        if not country and "country" not in errors:
            errors["tax_id"] = "Choose the country of the tax ID."
        elif "country" not in errors:
            try:
                values["tax_id"] = normalize_tax_id(values["tax_id"], country)
            except DomainError as error:
                errors["tax_id"] = str(error)

    email = values["invoice_email"]
    if not email:
        errors["invoice_email"] = "Enter the email address invoices go to."
    elif "invoice_email" not in errors:
        try:
            values["invoice_email"] = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            errors["invoice_email"] = "Enter a valid email address for invoices."

    currency = values["preferred_currency"].upper()
    sold = set(repository.active_currencies(session)) or {get_settings().default_currency}
    if currency not in sold | ({current_currency} if current_currency else set()):
        errors["preferred_currency"] = f"Choose one of the currencies we sell in: {', '.join(sorted(sold))}."
    values["preferred_currency"] = currency

    try:
        values["locale"] = str(Locale.parse(values["locale"].replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        errors["locale"] = "Choose a language from the list."

    if errors:
        raise InvalidBillingDetails(errors)
    return BillingDetails(**values)


def billing_details(session: Session, *, customer_id: int) -> BillingDetails:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("No such customer.")
    return BillingDetails(**{f.name: getattr(customer, f.name) for f in fields(BillingDetails)})


def update_billing_details(
    session: Session,
    *,
    customer_id: int,
    details: BillingDetails,
    now: datetime | None = None,
    storage: Storage | None = None,
) -> Updated:
    """Check, then save the customer's details; open invoices take them and are drawn again."""
    customer = repository.lock_customer(session, customer_id)
    if customer is None:
        raise NotFound("No such customer.")
    clean = validate(session, details, current_currency=customer.preferred_currency)
    for name, value in asdict(clean).items():
        setattr(customer, name, value)
    session.add(customer)
    session.flush()
    refreshed = refresh_open_invoices(session, customer, now=now, storage=storage)
    return Updated(details=clean, refreshed_invoice_ids=tuple(refreshed))


def save_billing_details(
    session: Session,
    *,
    user: CurrentUser,
    form: dict[str, object],
    now: datetime | None = None,
    storage: Storage | None = None,
) -> Updated:
    """The signed-in customer's details page: `form`'s FORM_FIELDS (anything else is ignored) over
    the stored details, checked; the Stripe customer, when one exists, takes them before we do, so
    a Stripe refusal (DomainError with its message) leaves everything as it was."""
    customer = repository.lock_customer(session, user.customer_id) if user.customer_id else None
    if customer is None:
        raise NotFound("No such customer.")
    stored = billing_details(session, customer_id=customer.id)
    wanted = replace(stored, **{name: str(form.get(name) or "") for name in FORM_FIELDS})
    clean = validate(session, wanted, current_currency=customer.preferred_currency)
    if customer.stripe_customer_id:
        for name, value in asdict(clean).items():
            setattr(customer, name, value)
        ensure_stripe_customer(session, stripe_gateway.gateway(), customer, user)
    return update_billing_details(session, customer_id=customer.id, details=clean, now=now, storage=storage)


def _clean(value: object) -> str:
    """One line of text: no control or format characters, whitespace collapsed, NFC."""
    text = unicodedata.normalize("NFC", str(value or ""))
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
                   for ch in text if unicodedata.category(ch) not in ("Cf", "Co", "Cs"))
    return " ".join(text.split())
