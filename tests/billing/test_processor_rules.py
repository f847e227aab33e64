"""Stripe's rules where amounts are created: prices, invoice lines and tax, checkout, and the
minimum charge (a renewal under it is carried to the next one, never sent to Stripe)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from billing_portal.billing import catalog, checkout, invoices, usage
from billing_portal.billing.errors import DomainError, InvalidAmount
from billing_portal.billing.invoices import DraftLine
from billing_portal.billing.tax import line_tax
from billing_portal.gateways.stripe_currencies import STRIPE_CURRENCIES, quantum
from billing_portal.jobs import tasks
from billing_portal.models import Invoice, InvoiceStatus
from tests.billing.test_dunning import (  # noqa: F401  (ls is a fixture)
    _cheap_password_hashing,
    fresh,
    ls,
    payments_of,
    renewal_invoice,
    subscribed,
)
from tests.support.builders import make_customer, make_plan

FEB28 = datetime(2026, 2, 28, 12, tzinfo=UTC)
MAR31 = datetime(2026, 3, 31, 12, tzinfo=UTC)


# --- prices ---------------------------------------------------------------------------------------


@pytest.fixture
def plan(session):
    plan, _ = make_plan(session, "basic", tier=1, prices={})
    return plan


def _price(session, plan, currency, amount):
    return catalog.create_price(session, plan_id=plan.id, currency=currency, interval="month", interval_count=1,
                                unit_amount=amount)


@pytest.mark.parametrize("currency, amount, message", [
    ("KWD", 12345, "A price in KWD must be a multiple of"),  # 12.345: Stripe wants the last digit 0
    ("MGA", 150050, "A price in MGA must be a multiple of"),  # 1,500.50 ariary: Stripe takes whole ariary
    ("USD", 49, "A price under \\$0.50 cannot be charged by card in USD"),
    ("IRR", 100000, "does not take IRR"),  # a current ISO code Stripe does not list
    ("HRK", 1000, "withdrawn from ISO 4217"),
    ("XAU", 1000, "no minor unit"),
])
def test_a_price_stripe_would_refuse_cannot_be_created(session, plan, currency, amount, message):
    with pytest.raises(InvalidAmount if currency != "USD" else DomainError, match=message):
        _price(session, plan, currency, amount)


def test_free_and_chargeable_prices_are_created(session, plan):
    assert _price(session, plan, "USD", 0).unit_amount == 0
    assert _price(session, plan, "KWD", 12340).currency == "KWD"
    assert _price(session, plan, "mga", 150000).currency == "MGA"


def test_a_package_price_follows_the_divisibility_rule(session, plan):
    with pytest.raises(InvalidAmount, match="A package price in BHD"):
        catalog.create_metered_price(session, plan_id=plan.id, metric="calls", label="Calls", currency="BHD",
                                     package_size=1, package_amount=5)
    # Under the minimum is fine for a package: the invoice adds them up.
    assert catalog.create_metered_price(session, plan_id=plan.id, metric="calls", label="Calls", currency="USD",
                                        package_size=1, package_amount=1).package_amount == 1


def test_updating_a_price_checks_the_same_rules(session, plan):
    price = _price(session, plan, "KWD", 12340)
    with pytest.raises(InvalidAmount, match="multiple of"):
        catalog.update_price(session, price.id, unit_amount=12341, trial_days=0)


# --- invoice lines and tax ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(code=st.sampled_from(sorted(STRIPE_CURRENCIES)), units=st.integers(0, 10**9),
       rate=st.decimals(min_value=0, max_value=30, places=3), inclusive=st.booleans())
def test_line_tax_in_multiples_of_the_quantum_keeps_totals_chargeable(code, units, rate, inclusive):
    step = quantum(code)
    taxed = line_tax(units * step, rate, inclusive, step)
    assert taxed.tax % step == 0 and taxed.net % step == 0 and taxed.gross % step == 0
    assert taxed.net + taxed.tax == taxed.gross
    exact = Decimal(units * step) * rate / ((100 + rate) if inclusive else 100)
    assert abs(taxed.tax - exact) <= Decimal(step) / 2  # half up to the quantum: never more than half off


def test_a_kwd_invoice_rounds_tax_and_proration_to_whole_tens_of_fils(session, monkeypatch):
    monkeypatch.setenv("TAX_RATES", '{"KW": {"rate": "5"}}')
    from billing_portal.settings import get_settings

    get_settings.cache_clear()
    customer = make_customer(session, "kw@example.com", country="KW")
    draft = invoices.create_draft(session, customer_id=customer.id, currency="KWD", lines=[
        DraftLine("Plan", unit_amount=12340),  # tax 617 fils -> 620
        DraftLine("Remaining time", unit_amount=0, amount=3333, proration=True),  # -> 3330, tax 166.5 -> 170
    ])
    assert (draft.subtotal, draft.tax, draft.total) == (15670, 790, 16460)
    assert draft.total % 10 == 0
    get_settings.cache_clear()


# --- checkout under the minimum -------------------------------------------------------------------


def test_a_checkout_under_the_minimum_is_refused_with_a_message(session, engine):
    from billing_portal.billing.accounts import CurrentUser  # noqa: F401
    from billing_portal.models import CreditPack

    pack = CreditPack(slug="tiny", name="Tiny", credits=1, currency="USD", amount=30, active=True)
    session.add(pack)
    session.flush()
    with pytest.raises(DomainError, match="under the smallest amount a card can be charged in USD"):
        checkout._target(session, None, "tiny", 1)
    assert checkout._target(session, None, "tiny", 2).quantity == 2  # $0.60 is enough


# --- renewals under the minimum are carried -------------------------------------------------------


@pytest.fixture
def metered_free_plan(session):
    plan, made = make_plan(session, "metered", tier=0, prices={("USD", "month", 1): 0})
    catalog.create_metered_price(session, plan_id=plan.id, metric="calls", label="API calls", currency="USD",
                                 package_size=1, package_amount=10)
    return made[("USD", "month", 1)]


def test_a_renewal_under_the_minimum_is_not_sent_and_is_carried_to_the_next(session, engine, ls, metered_free_plan):
    sub = subscribed(session, metered_free_plan)
    usage.record_usage(session, sub.customer_id, "calls", 2, "jan-calls", FEB28.replace(day=10), now=FEB28.replace(day=10))
    session.commit()
    assert tasks.renew_due_subscriptions(FEB28) == 1
    small = renewal_invoice(engine, sub.id)
    assert (small.status, small.total, small.collection_attempts, small.next_collection_at) == ("open", 20, 0, None)
    assert payments_of(engine, small.id) == [] and ls.get("/v1/payment_intents")["data"] == []

    usage.record_usage(session, sub.customer_id, "calls", 5, "feb-calls", MAR31.replace(day=10), now=MAR31.replace(day=10))
    session.commit()
    assert tasks.renew_due_subscriptions(MAR31) == 1
    with Session(engine) as s:
        later = s.exec(Invoice.__table__.select().where(Invoice.subscription_id == sub.id,
                                                        Invoice.id > small.id)).all()
    [nxt] = [row for row in later if row.billing_reason == "subscription_cycle"]
    assert fresh(engine, Invoice, small.id).status == InvoiceStatus.VOID
    nxt = fresh(engine, Invoice, nxt.id)
    assert (nxt.total, nxt.status, nxt.amount_paid) == (70, "paid", 70)
    with Session(engine) as s:
        descriptions = [line.description for line in invoices.repository.invoice_lines(s, nxt.id)]
    assert f"Carried from {small.number} (under the minimum card charge)" in descriptions
    [intent] = ls.get("/v1/payment_intents")["data"]
    assert intent["amount"] == 70
