"""Checkout against localstripe over HTTP, on SQLite and PostgreSQL.

Cards are saved the way the page's Stripe.js does it (SetupIntent confirmed with the publishable
key, tests/gateways/conftest.py), then the server charges them.
"""

import inspect

import pytest
from argon2 import PasswordHasher
from sqlmodel import func, select

from billing_portal.billing import accounts, catalog, checkout, credits, fraud, invoices, payment_methods
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.invoices import DraftLine
from billing_portal.models import (
    CreditLedgerEntry, CreditPack, Customer, Invoice, Payment, PaymentMethod, RiskAssessment, Subscription,
)
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings
from tests.gateways.conftest import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET, LocalStripeHelper
from tests.support.builders import make_customer, make_plan

VISA = "4242424242424242"
DECLINED_AT_CHARGE = "4000000000000341"
THREE_DS = "4000002500003155"


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def ls(localstripe_clean, monkeypatch, engine) -> LocalStripeHelper:
    monkeypatch.setenv("STRIPE_API_BASE", localstripe_clean.url)
    monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("STRIPE_PUBLISHABLE_KEY", PUBLISHABLE_KEY)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    get_settings.cache_clear()
    return LocalStripeHelper(localstripe_clean.url)


def user_of(customer: Customer) -> CurrentUser:
    return CurrentUser(user_id=customer.user_id, email=customer.invoice_email, role="customer",
                       customer_id=customer.id, name=customer.name, currency="USD", locale="en_US")


@pytest.fixture
def user(session) -> CurrentUser:
    return user_of(make_customer(session))


@pytest.fixture
def price(session):
    _plan, prices = make_plan(session, "pro", tier=2, prices={("USD", "month", 1): 1500})
    return prices[("USD", "month", 1)]


@pytest.fixture
def pack(session) -> CreditPack:
    pack = CreditPack(slug="credits-1000", name="1,000 credits", currency="USD", amount=1000, credits=1000,
                      bonus_credits=100)
    session.add(pack)
    session.flush()
    return pack


def save_card(session, ls, user, number):
    """The page: begin_card_setup, then Stripe.js confirmCardSetup with the card element."""
    setup = checkout.begin_card_setup(session, user=user)
    ls.confirm_card_setup(setup.client_secret, number)
    return setup.setup_intent_id


def count(session, model, *where) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def test_a_good_card_activates_the_subscription_and_pays_a_numbered_invoice(session, ls, user, price):
    seti = save_card(session, ls, user, VISA)
    outcome = checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id)

    assert outcome.status == "succeeded", outcome
    assert outcome.message == "Payment of $15.00 received. Your Pro plan is active."
    assert outcome.invoice_number and outcome.invoice_number.startswith("INV-")
    assert outcome.amount_label == "$15.00" and outcome.client_secret is None
    assert outcome.receipt_lines[-1].label == "Paid with Visa •••• 4242"
    subscription = session.exec(select(Subscription)).one()
    invoice = session.exec(select(Invoice)).one()
    payment = session.exec(select(Payment)).one()
    assert subscription.status == "active"
    assert (invoice.status, invoice.number, invoice.amount_paid) == ("paid", outcome.invoice_number, 1500)
    assert (payment.status, payment.amount, payment.card_brand, payment.card_last4) == ("succeeded", 1500, "visa", "4242")
    assert payment.stripe_payment_intent_id == outcome.payment_intent_id
    # Stripe charged what the catalog says, for this customer, with our key in its metadata.
    pi = ls.get(f"/v1/payment_intents/{payment.stripe_payment_intent_id}")
    customer = session.get(Customer, user.customer_id)
    assert (pi["amount"], pi["currency"], pi["customer"], pi["status"]) == (1500, "usd", customer.stripe_customer_id,
                                                                           "succeeded")
    assert pi["metadata"]["idempotency_key"] == payment.idempotency_key
    # The card is the customer's default for renewals, here and at Stripe.
    assert (customer.card_brand, customer.card_last4, customer.card_exp_year) == ("visa", "4242", 2030)
    stripe_customer = ls.get(f"/v1/customers/{customer.stripe_customer_id}")
    assert stripe_customer["invoice_settings"]["default_payment_method"] == customer.default_payment_method_id


def test_a_declined_card_leaves_it_incomplete_and_another_card_pays_the_same_invoice(session, ls, user, price):
    declined = checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, DECLINED_AT_CHARGE),
                            price_id=price.id)
    assert declined.status == "failed"
    assert "Your card was declined." in declined.message
    subscription = session.exec(select(Subscription)).one()
    invoice = session.exec(select(Invoice)).one()
    assert (subscription.status, invoice.status, invoice.amount_paid) == ("incomplete", "open", 0)

    paid = checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, VISA), price_id=price.id)
    assert paid.status == "succeeded"
    assert paid.invoice_number == declined.invoice_number == invoice.number
    assert count(session, Invoice) == 1 and count(session, Subscription) == 1
    assert session.get(Invoice, invoice.id).status == "paid"
    assert session.get(Subscription, subscription.id).status == "active"
    statuses = [(p.status, p.card_last4) for p in session.exec(select(Payment).order_by(Payment.id))]
    assert statuses == [("failed", "0341"), ("succeeded", "4242")]
    assert session.exec(select(Payment).where(Payment.status == "failed")).one().failure_message


def test_a_3ds_card_needs_action_then_confirms_after_authentication(session, ls, user, price):
    seti = save_card(session, ls, user, THREE_DS)
    outcome = checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id)
    assert outcome.status == "requires_action", outcome
    assert outcome.client_secret and outcome.client_secret.startswith(outcome.payment_intent_id)
    assert session.exec(select(Payment)).one().status == "requires_action"
    assert session.exec(select(Subscription)).one().status == "incomplete"

    # Before the customer finishes the modal, asking again changes nothing and hands back the secret.
    again = checkout.confirm_after_action(session, user=user, payment_intent_id=outcome.payment_intent_id)
    assert again.status == "requires_action" and again.client_secret == outcome.client_secret

    ls.authenticate_payment(outcome.client_secret, success=True)  # stripe.confirmCardPayment + modal
    done = checkout.confirm_after_action(session, user=user, payment_intent_id=outcome.payment_intent_id)
    assert done.status == "succeeded", done
    assert session.exec(select(Subscription)).one().status == "active"
    assert session.exec(select(Invoice)).one().status == "paid"
    assert count(session, Payment) == 1


def test_a_failed_3ds_authentication_is_a_failed_payment(session, ls, user, price):
    outcome = checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, THREE_DS),
                           price_id=price.id)
    ls.authenticate_payment(outcome.client_secret, success=False)
    done = checkout.confirm_after_action(session, user=user, payment_intent_id=outcome.payment_intent_id)
    assert done.status == "failed", done
    assert session.exec(select(Invoice)).one().status == "open"
    assert session.exec(select(Subscription)).one().status == "incomplete"


def test_the_amount_comes_from_the_catalog_only(session, ls, user, price):
    for function in (checkout.checkout_summary, checkout.pay, checkout.begin_card_setup, checkout.confirm_after_action):
        assert not {"amount", "total", "unit_amount", "currency"} & set(inspect.signature(function).parameters)
    seti = save_card(session, ls, user, VISA)
    catalog.archive_price(session, price.id)
    with pytest.raises(DomainError, match="not available"):
        checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id)
    with pytest.raises(DomainError, match="not available"):
        checkout.checkout_summary(session, user=user, price_id=price.id)
    with pytest.raises(DomainError, match="Pick a plan or a credit pack"):
        checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id, pack_slug="x")
    assert count(session, Payment) == 0 and count(session, Invoice) == 0


def test_a_setup_intent_of_another_customer_is_refused(session, ls, user, price):
    other = user_of(make_customer(session, "bob@example.com"))
    seti = save_card(session, ls, other, VISA)
    checkout.begin_card_setup(session, user=user)
    with pytest.raises(DomainError, match="not saved for your account"):
        checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id)
    with pytest.raises(DomainError):
        checkout.pay(session, user=user, setup_intent_id="seti_doesnotexist", price_id=price.id)
    assert count(session, Payment) == 0


def test_paying_twice_with_the_same_setup_intent_charges_once(session, ls, user, price):
    seti = save_card(session, ls, user, VISA)
    first = checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id)
    second = checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id)
    assert first.status == second.status == "succeeded"
    assert first.payment_intent_id == second.payment_intent_id
    assert count(session, Payment) == 1 and count(session, Invoice) == 1
    customer = session.get(Customer, user.customer_id)
    intents = [pi for pi in ls.get("/v1/payment_intents?limit=100")["data"] if pi["customer"] == customer.stripe_customer_id]
    assert len(intents) == 1


def test_paying_twice_while_declined_does_not_charge_the_same_card_again(session, ls, user, price):
    seti = save_card(session, ls, user, DECLINED_AT_CHARGE)
    first = checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id)
    second = checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id)
    assert first.status == second.status == "failed"
    assert count(session, Payment) == 1


def test_a_credit_pack_grants_its_credits_and_bonus_once(session, ls, user, pack):
    summary = checkout.checkout_summary(session, user=user, pack_slug=pack.slug, quantity=2)
    assert (summary.kind, summary.total_amount, summary.total_label) == ("credit_pack", 2000, "$20.00")
    assert summary.lines[-1] == checkout.SummaryLine("Bonus: 200 credits", "Free")

    seti = save_card(session, ls, user, VISA)
    outcome = checkout.pay(session, user=user, setup_intent_id=seti, pack_slug=pack.slug, quantity=2)
    assert outcome.status == "succeeded", outcome
    assert outcome.message == "Payment of $20.00 received. 2,200 credits were added to your balance."
    assert credits.balance(session, user.customer_id) == 2200
    assert [e.delta for e in session.exec(select(CreditLedgerEntry).order_by(CreditLedgerEntry.id))] == [2000, 200]

    again = checkout.pay(session, user=user, setup_intent_id=seti, pack_slug=pack.slug, quantity=2)
    assert again.payment_intent_id == outcome.payment_intent_id
    assert credits.balance(session, user.customer_id) == 2200
    assert count(session, Payment) == 1 and count(session, CreditLedgerEntry) == 2

    # Another purchase is another invoice and another grant.
    checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, VISA), pack_slug=pack.slug)
    assert credits.balance(session, user.customer_id) == 3300


def test_a_declined_pack_grants_nothing_and_the_next_attempt_voids_the_abandoned_invoice(session, ls, user, pack):
    failed = checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, DECLINED_AT_CHARGE),
                          pack_slug=pack.slug)
    assert failed.status == "failed" and credits.balance(session, user.customer_id) == 0
    paid = checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, VISA), pack_slug=pack.slug)
    assert paid.status == "succeeded" and credits.balance(session, user.customer_id) == 1100
    statuses = [i.status for i in session.exec(select(Invoice).order_by(Invoice.id))]
    assert statuses == ["void", "paid"]


def test_a_trial_saves_the_card_and_charges_nothing(session, ls, user):
    _plan, prices = make_plan(session, "team", tier=3, prices={("USD", "month", 1): 4900}, trial_days=14)
    price = prices[("USD", "month", 1)]
    summary = checkout.checkout_summary(session, user=user, price_id=price.id)
    assert summary.trial_days == 14 and "Free for 14 days" in summary.description

    seti = save_card(session, ls, user, VISA)
    outcome = checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id)
    assert outcome.status == "trialing", outcome
    assert "Visa •••• 4242" in outcome.message and "$49.00" in outcome.message
    assert session.exec(select(Subscription)).one().status == "trialing"
    assert count(session, Invoice) == 0 and count(session, Payment) == 0
    customer = session.get(Customer, user.customer_id)
    assert customer.default_payment_method_id and customer.card_last4 == "4242"
    # Again (a reload): the same answer, nothing new.
    assert checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id).status == "trialing"
    assert count(session, Subscription) == 1
    # A second trial is not offered.
    assert checkout.checkout_summary(session, user=user, price_id=price.id).trial_days == 0


def test_the_summary_is_taxed_like_the_invoice(session, ls, monkeypatch):
    monkeypatch.setenv("TAX_RATES", '{"KR": {"rate": "10", "inclusive": true}, "DE": {"rate": "19"}}')
    get_settings.cache_clear()
    _plan, prices = make_plan(session, "pro", tier=2, prices={("USD", "month", 1): 1500})
    price = prices[("USD", "month", 1)]
    german = user_of(make_customer(session, "de@example.com", country="DE"))
    summary = checkout.checkout_summary(session, user=german, price_id=price.id, quantity=3)
    assert (summary.subtotal_label, summary.tax_label, summary.total_label) == ("$45.00", "$8.55", "$53.55")
    assert summary.tax_rule_label == "19 % for DE, added to the price"  # which rule applied, under the tax line
    assert summary.lines == (checkout.SummaryLine("Pro × 3 (per month)", "$45.00"),)
    assert summary.publishable_key == PUBLISHABLE_KEY and summary.stripe_js_url

    outcome = checkout.pay(session, user=german, setup_intent_id=save_card(session, ls, german, VISA),
                           price_id=price.id, quantity=3)
    assert outcome.status == "succeeded" and outcome.amount_label == "$53.55"
    assert session.exec(select(Invoice)).one().total == summary.total_amount == 5355


def test_confirming_someone_elses_payment_is_not_found(session, ls, user, price):
    outcome = checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, THREE_DS),
                           price_id=price.id)
    other = user_of(make_customer(session, "eve@example.com"))
    with pytest.raises(NotFound):
        checkout.confirm_after_action(session, user=other, payment_intent_id=outcome.payment_intent_id)


# ---- the fraud guard (billing/fraud.py) before each charge


def intents_of(ls, session, user) -> list[dict]:
    customer = session.get(Customer, user.customer_id)
    return [pi for pi in ls.get("/v1/payment_intents?limit=100")["data"] if pi["customer"] == customer.stripe_customer_id]


def test_repeated_declines_are_blocked_before_stripe_is_asked(session, ls, user, price):
    """Default settings: five declines in a row (localstripe's card declined at charge), then the
    sixth attempt is refused without a PaymentIntent, whatever card comes next."""
    outcomes = [checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, DECLINED_AT_CHARGE),
                             price_id=price.id, client_ip="198.51.100.23") for _ in range(6)]
    assert [o.status for o in outcomes] == ["failed"] * 5 + ["blocked"]
    blocked = outcomes[-1]
    assert blocked.message == fraud.BLOCKED_MESSAGE and "could not accept this payment" in blocked.message
    assert blocked.payment_intent_id is None and blocked.client_secret is None
    assert len(intents_of(ls, session, user)) == 5 and count(session, Payment) == 5

    good = checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, VISA), price_id=price.id,
                        client_ip="198.51.100.23")
    assert good.status == "blocked"
    assert len(intents_of(ls, session, user)) == 5 and count(session, Payment) == 5
    assert session.exec(select(Subscription)).one().status == "incomplete"
    assert session.exec(select(Invoice)).one().status == "open"

    rows = session.exec(select(RiskAssessment).order_by(RiskAssessment.id)).all()
    assert [r.decision for r in rows] == ["allow", "allow", "allow", "flag", "flag", "block", "block"]
    assert [r.payment_id is None for r in rows] == [False] * 5 + [True] * 2
    assert {r.client_ip for r in rows} == {"198.51.100.23"} and rows[0].card_last4 == "0341"
    assert {s["code"] for s in rows[5].signals} == {"customer_attempts", "card_attempts", "declines"}


def test_a_flagged_charge_is_made_and_marked_for_admins(session, ls, monkeypatch, price):
    """localstripe issues every card in FR: a US customer's charge scores the country mismatch."""
    monkeypatch.setenv("FRAUD_FLAG_SCORE", "20")
    get_settings.cache_clear()
    american = user_of(make_customer(session, "us@example.com", country="US"))
    outcome = checkout.pay(session, user=american, setup_intent_id=save_card(session, ls, american, VISA),
                           price_id=price.id, client_ip="203.0.113.80")
    assert outcome.status == "succeeded", outcome
    payment = session.exec(select(Payment)).one()
    risk = session.exec(select(RiskAssessment)).one()
    assert (risk.decision, risk.score, risk.payment_id, risk.invoice_id) == ("flag", 20, payment.id, payment.invoice_id)
    assert (risk.card_country, risk.billing_country, risk.client_ip, risk.amount) == ("FR", "US", "203.0.113.80", 1500)
    assert risk.card_fingerprint and risk.cleared_at is None
    assert session.exec(select(PaymentMethod)).one().country == "FR"  # kept for charges with the saved card


def test_paying_an_open_invoice_with_a_saved_card_is_scored_with_its_stored_country(session, ls, monkeypatch, price):
    american = user_of(make_customer(session, "us@example.com", country="US"))
    first = checkout.pay(session, user=american, setup_intent_id=save_card(session, ls, american, VISA),
                         price_id=price.id)
    assert first.status == "succeeded"  # 20 points for the French card: below the default flag
    draft = invoices.create_draft(session, customer_id=american.customer_id, currency="USD",
                                  lines=[DraftLine("Extra seats", 3000)])
    invoice = invoices.finalize(session, draft.id)
    monkeypatch.setenv("FRAUD_FLAG_SCORE", "20")
    monkeypatch.setenv("FRAUD_BLOCK_SCORE", "20")
    get_settings.cache_clear()

    card = payment_methods.list_cards(session, user=american, now=utcnow())[0]
    outcome = checkout.pay_invoice(session, user=american, invoice_id=invoice.id, card_id=card.id,
                                   client_ip="192.0.2.44")
    assert outcome.status == "blocked" and outcome.invoice_number == invoice.number
    risk = session.exec(select(RiskAssessment).where(RiskAssessment.invoice_id == invoice.id)).one()
    assert (risk.card_country, risk.client_ip, risk.amount, risk.payment_id) == ("FR", "192.0.2.44", 3000, None)
    assert session.get(Invoice, invoice.id).status == "open" and count(session, Payment) == 1
    assert len(intents_of(ls, session, american)) == 1
