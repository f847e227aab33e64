"""Repository queries whose answers the engine's jobs depend on."""

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from billing_portal.billing import accounts, payments, repository, subscriptions
from tests.support.builders import T0, make_customer, make_plan


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def test_due_subscriptions_are_exactly_those_renew_has_work_for(session):
    _, basic = make_plan(session, "basic", tier=1, prices={("USD", "month", 1): 1000})
    _, team = make_plan(session, "team", tier=2, prices={("USD", "month", 1): 5000}, trial_days=14)
    monthly, trial = basic[("USD", "month", 1)], team[("USD", "month", 1)]
    feb20, feb28 = datetime(2026, 2, 20, 12, tzinfo=UTC), datetime(2026, 2, 28, 12, tzinfo=UTC)

    def subscribe(name, price):
        customer = make_customer(session, f"{name}@example.com")
        subscribed = subscriptions.subscribe(session, customer_id=customer.id, price_id=price.id, now=T0)
        if subscribed.invoice:
            payments.record_payment(
                session, invoice_id=subscribed.invoice.id, idempotency_key=f"first:{name}", succeeded=True, now=T0
            )
        return subscribed.subscription

    active = subscribe("active", monthly)  # period ends 28 Feb
    trialing = subscribe("trialing", trial)  # trial ends 14 Feb
    incomplete = subscriptions.subscribe(
        session, customer_id=make_customer(session, "incomplete@example.com").id, price_id=monthly.id, now=T0
    ).subscription
    canceled = subscribe("canceled", monthly)
    subscriptions.cancel(session, canceled.id, at_period_end=False, reason="", now=T0 + timedelta(days=1))
    paused = subscribe("paused", monthly)
    subscriptions.pause(session, paused.id, now=T0 + timedelta(days=1))
    resuming = subscribe("resuming", monthly)
    subscriptions.pause(session, resuming.id, resume_at=feb20, now=T0 + timedelta(days=1))

    assert repository.due_subscription_ids(session, T0) == []
    assert set(repository.due_subscription_ids(session, feb20)) == {trialing.id, resuming.id}
    # An open-ended pause, an incomplete and a canceled subscription are never due.
    assert set(repository.due_subscription_ids(session, feb28)) == {trialing.id, resuming.id, active.id}
    assert {incomplete.id, canceled.id, paused.id}.isdisjoint(repository.due_subscription_ids(session, feb28))
    assert repository.due_subscription_ids(session, feb28, limit=1) == [trialing.id]  # the oldest end first
