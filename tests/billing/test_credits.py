"""The credit ledger: running balance, idempotent entries, no overdraft, clawback never below zero."""

import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from billing_portal.billing import accounts, credits
from billing_portal.billing.errors import DomainError
from billing_portal.models import CreditLedgerEntry
from tests.support.builders import make_customer


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def customer_id(session) -> int:
    return make_customer(session).id


def entries(session, customer_id):
    rows = session.exec(select(CreditLedgerEntry).where(CreditLedgerEntry.customer_id == customer_id)
                        .order_by(CreditLedgerEntry.id))
    return [(e.delta, e.balance_after) for e in rows]


def test_each_entry_carries_the_balance_after_it(session, customer_id):
    assert credits.balance(session, customer_id) == 0
    credits.grant(session, customer_id=customer_id, amount=1000, reason="pack", idempotency_key="g1")
    credits.spend(session, customer_id=customer_id, amount=300, reason="export", idempotency_key="s1")
    credits.grant(session, customer_id=customer_id, amount=50, reason="goodwill", idempotency_key="g2")
    assert entries(session, customer_id) == [(1000, 1000), (-300, 700), (50, 750)]
    assert credits.balance(session, customer_id) == 750


def test_the_same_key_counts_once(session, customer_id):
    first = credits.grant(session, customer_id=customer_id, amount=1000, reason="pack", idempotency_key="pack:1")
    again = credits.grant(session, customer_id=customer_id, amount=1000, reason="pack", idempotency_key="pack:1")
    assert again.id == first.id
    credits.spend(session, customer_id=customer_id, amount=10, reason="x", idempotency_key="use:1")
    credits.spend(session, customer_id=customer_id, amount=10, reason="x", idempotency_key="use:1")
    assert credits.balance(session, customer_id) == 990


def test_spending_more_than_the_balance_is_refused_and_changes_nothing(session, customer_id):
    credits.grant(session, customer_id=customer_id, amount=100, reason="pack", idempotency_key="g")
    with pytest.raises(DomainError, match="Not enough credits: 101 needed, 100 left"):
        credits.spend(session, customer_id=customer_id, amount=101, reason="x", idempotency_key="s")
    assert entries(session, customer_id) == [(100, 100)]


@pytest.mark.parametrize("amount", [0, -5])
def test_amounts_are_positive(session, customer_id, amount):
    with pytest.raises(DomainError):
        credits.grant(session, customer_id=customer_id, amount=amount, reason="x", idempotency_key="k")
    with pytest.raises(TypeError):
        credits.grant(session, customer_id=customer_id, amount=1.5, reason="x", idempotency_key="k")


def test_clawback_takes_what_is_left_and_never_goes_below_zero(session, customer_id):
    credits.grant(session, customer_id=customer_id, amount=1000, reason="pack", idempotency_key="g")
    credits.spend(session, customer_id=customer_id, amount=800, reason="use", idempotency_key="s")
    taken = credits.clawback(session, customer_id=customer_id, amount=1000, reason="refund", idempotency_key="c1")
    assert taken.delta == -200 and credits.balance(session, customer_id) == 0
    assert credits.clawback(session, customer_id=customer_id, amount=5, reason="r", idempotency_key="c2") is None
    # The same clawback again is the entry already made.
    assert credits.clawback(session, customer_id=customer_id, amount=1000, reason="r", idempotency_key="c1").id == taken.id
    assert entries(session, customer_id) == [(1000, 1000), (-800, 200), (-200, 0)]


def test_balances_are_per_customer(session, customer_id):
    other = make_customer(session, "bob@example.com").id
    credits.grant(session, customer_id=customer_id, amount=5, reason="a", idempotency_key="a")
    credits.grant(session, customer_id=other, amount=7, reason="b", idempotency_key="b")
    assert (credits.balance(session, customer_id), credits.balance(session, other)) == (5, 7)
