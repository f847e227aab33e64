"""The fraud guard's engine, on SQLite and PostgreSQL: each signal, the thresholds, the window, the
admins' page and clearing a flag. Charges are recorded through the payment services; the checkout
wiring against localstripe is tested in test_checkout.py."""

from datetime import timedelta
from itertools import count

import pytest
from sqlmodel import select

from billing_portal.billing import fraud, invoices, payments
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.invoices import DraftLine
from billing_portal.models import AuditEntry, RiskAssessment, Role
from billing_portal.models.types import utcnow
from tests.support.builders import make_customer

NOW = utcnow().replace(microsecond=0)
_keys = count(1)


@pytest.fixture
def ana(session):
    return make_customer(session, "ana@example.com", country="KR", currency="KRW")


@pytest.fixture
def ben(session):
    return make_customer(session, "ben@example.com", country="US")


@pytest.fixture
def admin(session) -> CurrentUser:
    customer = make_customer(session, "root@example.com")
    return CurrentUser(user_id=customer.user_id, email="root@example.com", role=Role.ADMIN, customer_id=None,
                       name="Root", currency="USD", locale="en_US")


def attempt(customer, *, ip="203.0.113.7", card="fp-ana", card_country="KR", **extra) -> fraud.Attempt:
    return fraud.Attempt(customer_id=customer.id, amount=15000, currency="KRW", client_ip=ip, card_fingerprint=card,
                         card_country=card_country, billing_country=customer.country, card_brand="visa",
                         card_last4="4242", **extra)


def charge(session, customer, outcome: str, *, at=NOW, **attempt_fields) -> RiskAssessment:
    """One checkout charge: assessed, then the bank's answer recorded as its payment."""
    draft = invoices.create_draft(session, customer_id=customer.id, currency="KRW", lines=[DraftLine("Pro", 15000)])
    invoice = invoices.finalize(session, draft.id)
    row = fraud.assess(session, attempt(customer, invoice_id=invoice.id, **attempt_fields), now=at)
    if row.decision != "block":
        payment = payments.record_payment(session, invoice_id=invoice.id, idempotency_key=f"k{next(_keys)}",
                                          succeeded=outcome == "succeeded", now=at)
        fraud.link_payment(session, row, payment.id)
    return row


def codes(row: RiskAssessment) -> dict[str, int]:
    return {s["code"]: s["points"] for s in row.signals}


def test_a_first_charge_from_home_has_no_signal(session, ana):
    row = fraud.assess(session, attempt(ana), now=NOW)
    assert (row.score, row.decision, row.signals) == (0, "allow", [])
    assert (row.client_ip, row.card_fingerprint, row.card_country, row.billing_country) == (
        "203.0.113.7", "fp-ana", "KR", "KR")


def test_a_card_from_another_country_scores_but_is_not_flagged(session, ana):
    row = fraud.assess(session, attempt(ana, card_country="fr"), now=NOW)
    assert codes(row) == {"country_mismatch": 20} and row.decision == "allow"
    assert row.signals[0]["detail"] == "Card issued in FR, billing country KR"
    # Unknown on either side: no signal.
    assert fraud.assess(session, attempt(ana, card_country=""), now=NOW).signals == []


def test_declines_beyond_the_allowed_one_add_points_each(session, ana):
    scores = [charge(session, ana, "failed", ip="", card=f"fp-{i}", card_country="KR").score for i in range(4)]
    assert scores == [0, 0, 25, 50]  # the 3rd attempt sees 2 declines (1 allowed), the 4th sees 3
    row = fraud.assess(session, attempt(ana, ip="", card="fp-new"), now=NOW)
    assert codes(row) == {"declines": 75} and row.decision == "flag"  # 4 declines by this customer


def test_declines_count_by_ip_and_by_card_across_customers(session, ana, ben):
    for _ in range(3):
        charge(session, ana, "failed", ip="198.51.100.9", card="fp-stolen")
    by_ip = fraud.assess(session, attempt(ben, ip="198.51.100.9", card="fp-ben", card_country="US"), now=NOW)
    by_card = fraud.assess(session, attempt(ben, ip="192.0.2.1", card="fp-stolen", card_country="US"), now=NOW)
    assert codes(by_ip) == {"declines": 50} and codes(by_card) == {"declines": 50}
    # Succeeded charges are not declines.
    clean = make_customer(session, "cleo@example.com", country="US")
    for _ in range(3):
        charge(session, clean, "succeeded", ip="192.0.2.200", card="fp-cleo", card_country="US")
    assert "declines" not in codes(fraud.assess(session, attempt(clean, ip="192.0.2.200", card="fp-cleo",
                                                                 card_country="US"), now=NOW))


def test_attempts_per_customer_ip_and_card_fire_at_their_limits(session, ana, ben, monkeypatch):
    monkeypatch.setenv("FRAUD_CUSTOMER_ATTEMPTS", "3")
    monkeypatch.setenv("FRAUD_IP_ATTEMPTS", "4")
    monkeypatch.setenv("FRAUD_CARD_ATTEMPTS", "2")
    from billing_portal.settings import get_settings
    get_settings.cache_clear()
    for i in range(2):
        charge(session, ana, "succeeded", ip="203.0.113.50", card="fp-shared")
    third = fraud.assess(session, attempt(ana, ip="203.0.113.51", card="fp-other"), now=NOW)
    assert codes(third) == {}  # 2 earlier by the customer (< 3), other IP and card
    # Ben, same card (2 earlier ≥ 2) from the same IP (2 earlier < 4).
    by_ben = fraud.assess(session, attempt(ben, ip="203.0.113.50", card="fp-shared", card_country="US"), now=NOW)
    assert codes(by_ben) == {"card_attempts": 30}
    fourth = fraud.assess(session, attempt(ana, ip="203.0.113.50", card="fp-x"), now=NOW)
    # Ana: 3 earlier (an assessment without a charge counts too) ≥ 3; the IP: 3 earlier < 4.
    assert codes(fourth) == {"customer_attempts": 30}
    fifth = fraud.assess(session, attempt(ben, ip="203.0.113.50", card="fp-y", card_country="US"), now=NOW)
    assert codes(fifth) == {"ip_attempts": 30}
    assert "4 earlier attempts from 203.0.113.50 in the last 60 min (signal from 4)" == fifth.signals[0]["detail"]


def test_the_thresholds_flag_and_block(session, ana, monkeypatch):
    monkeypatch.setenv("FRAUD_FLAG_SCORE", "20")
    monkeypatch.setenv("FRAUD_BLOCK_SCORE", "40")
    monkeypatch.setenv("FRAUD_DECLINES_ALLOWED", "0")
    monkeypatch.setenv("FRAUD_DECLINE_POINTS", "20")
    from billing_portal.settings import get_settings
    get_settings.cache_clear()
    assert fraud.assess(session, attempt(ana), now=NOW).decision == "allow"
    assert fraud.assess(session, attempt(ana, card_country="FR"), now=NOW).decision == "flag"  # 20
    charge(session, ana, "failed")
    assert fraud.assess(session, attempt(ana, card_country="FR"), now=NOW).decision == "block"  # 20 + 20
    assert [fraud.decision_for(s) for s in (19, 20, 39, 40)] == ["allow", "flag", "flag", "block"]


def test_block_below_flag_is_refused(monkeypatch):
    monkeypatch.setenv("FRAUD_FLAG_SCORE", "80")
    monkeypatch.setenv("FRAUD_BLOCK_SCORE", "50")
    from billing_portal.settings import Settings
    with pytest.raises(ValueError, match="FRAUD_BLOCK_SCORE"):
        Settings()


def test_the_defaults_never_block_an_ordinary_customer(session, ana):
    # A card from abroad, two declines, then a good card: at most 45 points, never flagged.
    for _ in range(2):
        assert charge(session, ana, "failed", card_country="US").decision == "allow"
    last = charge(session, ana, "succeeded", card="fp-good", card_country="US")
    assert (last.score, last.decision) == (45, "allow")


def test_only_attempts_inside_the_window_count(session, ana):
    hour_ago = [charge(session, ana, "failed", at=NOW - timedelta(minutes=61)).decision for _ in range(6)]
    assert hour_ago == ["allow", "allow", "allow", "flag", "flag", "block"]  # 5 declines, then blocked
    assert codes(fraud.assess(session, attempt(ana), now=NOW - timedelta(minutes=30))) == {
        "customer_attempts": 30, "card_attempts": 30, "declines": 100}
    assert fraud.assess(session, attempt(ana), now=NOW).signals == []  # one earlier attempt in the window


def test_admins_page_flags_and_blocks_with_their_signals(session, ana, admin, monkeypatch):
    monkeypatch.setenv("FRAUD_FLAG_SCORE", "20")
    monkeypatch.setenv("FRAUD_BLOCK_SCORE", "60")
    from billing_portal.settings import get_settings
    get_settings.cache_clear()
    charge(session, ana, "succeeded")  # allowed: only in "all"
    flagged = charge(session, ana, "succeeded", card_country="FR", at=NOW + timedelta(seconds=1))
    for i in range(3):
        charge(session, ana, "failed", at=NOW + timedelta(seconds=2 + i))
    blocked = fraud.assess(session, attempt(ana, card_country="FR"), now=NOW + timedelta(seconds=9))
    assert blocked.decision == "block" and blocked.payment_id is None

    rows, total = fraud.assessment_page(session, admin=admin, status="flagged", page=1, per_page=20)
    assert total == len(rows) and flagged.id in {r.id for r in rows}
    row = next(r for r in rows if r.id == flagged.id)
    assert (row.decision, row.score, row.card_country, row.billing_country, row.can_clear) == ("flag", 20, "FR", "KR",
                                                                                                True)
    assert row.signals == ("+20 country_mismatch: Card issued in FR, billing country KR",)
    assert row.payment_label == "succeeded" and row.invoice_number.startswith("INV-") and row.amount_label == "₩15,000"
    assert (row.customer_email, row.card_label, row.client_ip) == ("ana@example.com", "visa •••• 4242", "203.0.113.7")
    [block_row], one = fraud.assessment_page(session, admin=admin, status="blocked", page=1, per_page=20)
    assert (one, block_row.id, block_row.payment_label, block_row.can_clear) == (1, blocked.id, "not charged", False)
    every, all_total = fraud.assessment_page(session, admin=admin, status="all", page=1, per_page=2)
    assert all_total == 6 and [r.id for r in every] == [blocked.id, blocked.id - 1]  # newest first, paged
    customer = CurrentUser(user_id=ana.user_id, email="ana@example.com", role=Role.CUSTOMER, customer_id=ana.id,
                           name="Ana", currency="KRW", locale="ko_KR")
    with pytest.raises(NotFound):
        fraud.assessment_page(session, admin=customer, status="flagged", page=1, per_page=20)
    with pytest.raises(DomainError):
        fraud.assessment_page(session, admin=admin, status="everything", page=1, per_page=20)


def test_an_admin_clears_a_flag_once_with_an_audit_entry(session, ana, admin, monkeypatch):
    monkeypatch.setenv("FRAUD_FLAG_SCORE", "20")
    from billing_portal.settings import get_settings
    get_settings.cache_clear()
    flagged = charge(session, ana, "succeeded", card_country="FR")
    allowed = charge(session, ana, "succeeded")
    customer = CurrentUser(user_id=ana.user_id, email="ana@example.com", role=Role.CUSTOMER, customer_id=ana.id,
                           name="Ana", currency="KRW", locale="ko_KR")
    with pytest.raises(NotFound):
        fraud.clear_flag(session, admin=customer, assessment_id=flagged.id)
    for wrong in (allowed.id, 10_000, "1", True):
        with pytest.raises(NotFound):
            fraud.clear_flag(session, admin=admin, assessment_id=wrong)
    cleared_entries = select(AuditEntry).where(AuditEntry.action == "risk.flag_cleared")
    assert session.exec(cleared_entries).all() == []

    fraud.clear_flag(session, admin=admin, assessment_id=flagged.id, note="  Customer lives in France  ")
    assert (flagged.cleared_by, flagged.clear_note) == (admin.user_id, "Customer lives in France")
    [entry] = session.exec(cleared_entries).all()
    assert (entry.action, entry.subject_type, entry.subject_id, entry.actor_label) == (
        "risk.flag_cleared", "risk_assessment", str(flagged.id), "root@example.com")
    assert entry.after["note"] == "Customer lives in France" and entry.after["payment_id"] == flagged.payment_id
    with pytest.raises(DomainError, match="cleared already"):
        fraud.clear_flag(session, admin=admin, assessment_id=flagged.id)
    assert fraud.assessment_page(session, admin=admin, status="flagged", page=1, per_page=20) == ([], 0)
    [cleared], _ = fraud.assessment_page(session, admin=admin, status="cleared", page=1, per_page=20)
    assert cleared.id == flagged.id and cleared.cleared_label and not cleared.can_clear
