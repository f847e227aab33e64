"""UsageState's handlers run against a real database: they act only for the signed-in customer,
show a new key's token once, and revoke only that customer's keys after a confirmation step."""

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from billing_portal.billing import accounts, api_keys, catalog, payments, subscriptions, usage
from billing_portal.db import session_scope
from billing_portal.billing.usage_portal import KeyRow
from billing_portal.state.usage import UsageState
from tests.support.browser_state import router_for
from tests.support.builders import make_customer, make_plan


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def fresh_state() -> UsageState:
    root = UsageState.get_root_state()(_reflex_internal_init=True)
    return root.get_substate(UsageState.get_full_name().split(".")[1:])


def run(handler, state, *args):
    result = handler.fn(state, *args)
    return list(result) if result is not None and hasattr(result, "__iter__") else result


@pytest.fixture
def signed_in(engine):
    """Two customers; Ana on Basic with a meter and 12,000 calls, signed in to the state."""
    start = datetime.now(UTC) - timedelta(days=1)
    with session_scope() as session:
        ana, bo = make_customer(session), make_customer(session, "bo@example.com")
        plan, prices = make_plan(session, "basic", tier=1, prices={("USD", "month", 1): 1000})
        catalog.create_metered_price(session, plan_id=plan.id, metric="api_calls", label="API calls",
                                     currency="USD", package_size=1000, package_amount=250, included_units=10_000)
        first = subscriptions.subscribe(session, customer_id=ana.id, price_id=prices[("USD", "month", 1)].id, now=start)
        payments.record_payment(session, invoice_id=first.invoice.id, idempotency_key="p", succeeded=True, now=start)
        usage.record_usage(session, ana.id, "api_calls", 12_000, "k1", start + timedelta(hours=1))
        bo_user = accounts.user_for_token(session, accounts.start_session(
            session, accounts.sign_in(session, email="bo@example.com", password="correct horse battery")))
        bo_key = api_keys.create(session, user=bo_user, name="bo's").key.id
        token = accounts.start_session(
            session, accounts.sign_in(session, email="ana@example.com", password="correct horse battery"))
    state = fresh_state()
    state.router = router_for(token)
    return state, bo_key


def test_the_page_shows_usage_and_creates_a_key_shown_once(signed_in):
    state, _ = signed_in
    run(UsageState.on_load, state)
    assert (state.access, state.loaded, state.has_subscription) == ("ok", True, True)
    [meter] = state.meters
    # 12,000 used: 2,000 past the 10,000 included = 2 packages of 1,000 at $2.50.
    assert (meter.used_label, meter.included_label, meter.amount_label, meter.percent, meter.over) == (
        "12,000", "10,000", "$5.00", 100, True)
    assert state.total_label == "$5.00"

    run(UsageState.create_key, state, {"name": "ci"})
    assert state.error == "" and state.new_token.startswith("bpk_") and state.new_key_name == "ci"
    assert [(k.name, k.prefix) for k in state.keys] == [("ci", state.new_token[:12])]
    run(UsageState.dismiss_token, state)
    assert state.new_token == ""
    run(UsageState.create_key, state, {"name": "  "})
    assert "name of 1–100" in state.error and len(state.keys) == 1


def test_revoking_needs_a_key_from_the_page_and_a_confirmation(signed_in):
    state, bo_key = signed_in
    run(UsageState.on_load, state)
    run(UsageState.create_key, state, {"name": "laptop"})
    token, key = state.new_token, state.keys[0]

    run(UsageState.ask_revoke, state, bo_key)  # not on this page: ignored
    assert state.revoke_id == 0
    run(UsageState.ask_revoke, state, key.id)
    assert (state.revoke_id, state.revoke_name) == (key.id, "laptop")
    run(UsageState.cancel_revoke, state)
    assert state.revoke_id == 0 and len(state.keys) == 1

    state.revoke_id = bo_key  # a forged id reaches the server's ownership check
    run(UsageState.confirm_revoke, state)
    assert state.error == "No such API key."
    run(UsageState.ask_revoke, state, key.id)
    run(UsageState.confirm_revoke, state)
    assert state.keys == [] and "revoked" in state.notice
    with session_scope() as session:
        assert api_keys.authenticate(session, token) is None
        assert api_keys.list_keys(session, 2)[0].id == bo_key  # Bo's key still works


def test_signed_out_visitors_are_sent_to_sign_in_and_handlers_do_nothing(engine):
    state = fresh_state()
    spec = run(UsageState.on_load, state)
    assert "/login?next=/billing/usage" in str(spec)
    run(UsageState.create_key, state, {"name": "x"})
    assert state.new_token == "" and state.keys == []
    state.keys = [KeyRow(1, "x", "bpk_", "", "")]
    state.revoke_id = 1
    run(UsageState.confirm_revoke, state)
    assert state.notice == ""


def test_the_state_keeps_no_customer_ids_or_roles():
    names = set(UsageState.base_vars) | set(UsageState.computed_vars)
    assert not {n for n in names if n.endswith(("customer_id", "subscription_id", "user_id", "role"))}
