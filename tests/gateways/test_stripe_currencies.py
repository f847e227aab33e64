"""Stripe's currency rules (gateways/stripe_currencies.py): property tests over every currency the
table holds, and charges read back from localstripe in KRW, USD, KWD, MGA and UGX."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_portal.billing.errors import InvalidAmount
from billing_portal.billing.money import current_currencies, exponent, format_money, parse_money, to_major
from billing_portal.gateways import stripe_currencies
from billing_portal.gateways.stripe_currencies import (
    STRIPE_CURRENCIES,
    NotChargeable,
    UnsupportedCurrency,
    below_minimum,
    check_chargeable,
    from_stripe_amount,
    quantum,
    round_to_chargeable,
    to_stripe_amount,
)
from billing_portal.gateways.stripe_gateway import RefundRejected
from tests.gateways.test_stripe_gateway import VISA, charge

CODES = sorted(STRIPE_CURRENCIES)


def test_the_table_holds_stripes_lists():
    assert len(CODES) >= 130  # "more than 135" on Stripe's page, less ANG and STD (withdrawn by ISO)
    decimals = {code: row.decimals for code, row in STRIPE_CURRENCIES.items()}
    zero = {c for c, d in decimals.items() if d == 0}
    assert zero == set("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF VND VUV XAF XOF XPF".split())
    assert {c for c, d in decimals.items() if d == 3} == set("BHD JOD KWD OMR TND".split())
    assert {c for c, row in STRIPE_CURRENCIES.items() if row.step == 100} == {"ISK", "UGX"}
    assert not {"ANG", "STD", "HRK", "SLL"} & set(CODES)


def test_every_code_is_on_iso_4217s_current_list():
    assert set(CODES) <= current_currencies()


@pytest.mark.parametrize("code, ours, theirs", [
    ("MGA", 100000, 1000),  # 1,000 ariary: ISO counts hundredths, Stripe whole ariary (was sent as 100000)
    ("UGX", 5, 500),  # 5 shillings: ISO 0 decimals, Stripe hundredths (was sent as 5)
    ("ISK", 49, 4900),
    ("KRW", 15000, 15000),
    ("JPY", 500, 500),
    ("USD", 1999, 1999),
    ("KWD", 1230, 1230),
    ("HUF", 17550, 17550),  # HUF/TWD: two-decimal charges; only payouts are whole forints
])
def test_conversion_examples(code, ours, theirs):
    assert to_stripe_amount(ours, code) == theirs
    assert from_stripe_amount(theirs, code) == ours


@pytest.mark.parametrize("code, amount", [("KWD", 1235), ("BHD", 1), ("MGA", 150), ("TND", 9999)])
def test_amounts_stripe_would_refuse_are_refused_with_a_message(code, amount):
    with pytest.raises(NotChargeable, match=f"in {code} must be a multiple of"):
        to_stripe_amount(amount, code)


def test_a_currency_stripe_does_not_take_is_refused():
    with pytest.raises(UnsupportedCurrency, match="does not take IRR"):
        check_chargeable(100, "IRR")
    with pytest.raises(InvalidAmount, match="withdrawn"):
        to_stripe_amount(100, "HRK")


def test_minimums_are_stripes_table():
    assert STRIPE_CURRENCIES["USD"].minimum == 50
    assert STRIPE_CURRENCIES["GBP"].minimum == 30
    assert STRIPE_CURRENCIES["JPY"].minimum == 50
    assert STRIPE_CURRENCIES["HUF"].minimum == 17500
    assert STRIPE_CURRENCIES["KRW"].minimum is None  # "$0.50 or equivalent": no fixed figure
    assert below_minimum(49, "USD") and not below_minimum(50, "USD") and not below_minimum(0, "USD")
    assert not below_minimum(1, "KRW")


@settings(max_examples=40, deadline=None)
@given(code=st.sampled_from(CODES), units=st.integers(min_value=0, max_value=10**12))
def test_stored_shown_charged_and_refunded_agree(code, units):
    """For a chargeable amount in any currency Stripe takes: what we store, show (format_money),
    send to Stripe and read back from Stripe are one and the same amount of money."""
    row = STRIPE_CURRENCIES[code]
    stored = units * row.quantum
    sent = to_stripe_amount(stored, code)
    assert sent % row.step == 0  # Stripe's divisibility rule (ISK/UGX 100, three-decimal 10)
    assert Decimal(sent).scaleb(-row.decimals) == to_major(stored, code)  # the same money
    assert from_stripe_amount(sent, code) == stored  # a refund or webhook amount reads back
    assert parse_money(format_money(stored, code, "en_US"), code, "en_US") == stored  # shown = stored
    check_chargeable(stored, code, "A refund")  # a refund of it is accepted


@settings(max_examples=40, deadline=None)
@given(code=st.sampled_from(CODES), amount=st.integers(min_value=-10**12, max_value=10**12))
def test_rounding_to_chargeable_is_half_up_to_the_quantum(code, amount):
    step = quantum(code)
    rounded = round_to_chargeable(amount, code)
    assert rounded % step == 0 and abs(rounded - amount) * 2 <= step
    assert round_to_chargeable(-amount, code) == -rounded  # symmetric, like round_half_up
    if amount % step:
        with pytest.raises(NotChargeable):
            to_stripe_amount(amount, code)
    else:
        assert rounded == amount


def test_quantum_per_rule():
    assert (quantum("KWD"), quantum("MGA"), quantum("ISK"), quantum("USD"), quantum("JPY")) == (10, 100, 1, 1, 1)
    assert exponent("MGA") == 2 and stripe_currencies.stripe_currency("MGA").decimals == 0


# --- localstripe: the PaymentIntent Stripe holds has exactly the right amount --------------------


@pytest.mark.parametrize("amount, currency, sent", [
    (15000, "KRW", 15000),
    (1999, "USD", 1999),
    (12340, "KWD", 12340),  # 12.340 KWD, last digit 0
    (250000, "MGA", 2500),  # 2,500 ariary
    (5000, "UGX", 500000),  # 5,000 shillings
])
def test_charge_reads_back_from_localstripe(gw, ls, save_card, customer_id, amount, currency, sent):
    result = charge(gw, customer_id, save_card(VISA), amount=amount, currency=currency,
                    key=f"invoice:{currency}:attempt:1")
    stored = ls.get(f"/v1/payment_intents/{result.payment_intent_id}")
    assert (stored["amount"], stored["currency"]) == (sent, currency.lower())
    assert (result.amount, result.currency, result.status) == (amount, currency, "succeeded")


def test_a_three_decimal_charge_and_refund_not_ending_in_0_never_reach_stripe(gw, ls, save_card, customer_id):
    with pytest.raises(NotChargeable):
        charge(gw, customer_id, save_card(VISA), amount=12345, currency="KWD")
    paid = charge(gw, customer_id, save_card(VISA), amount=12340, currency="KWD", key="invoice:kwd:2")
    with pytest.raises(RefundRejected, match="multiple of") as refused:
        gw.refund(payment_intent_id=paid.payment_intent_id, amount=1005, idempotency_key="refund:kwd:1")
    assert refused.value.code == "amount_not_chargeable"
    refund = gw.refund(payment_intent_id=paid.payment_intent_id, amount=1000, idempotency_key="refund:kwd:2")
    assert (refund.amount, refund.currency) == (1000, "KWD")
    assert ls.get(f"/v1/refunds/{refund.id}")["amount"] == 1000
