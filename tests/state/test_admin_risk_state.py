"""/admin/risk's state as an admin: flagged and blocked charges with their signals, paging, clearing a
flag (audited); a customer gets nothing (also covered for every handler by test_admin_state.py)."""

import pytest
from sqlmodel import Session, select

from billing_portal.billing import fraud
from billing_portal.db import session_scope
from billing_portal.models import AuditEntry, RiskAssessment, Role
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings
from billing_portal.state.admin_risk import PER_PAGE, RiskAdminState
from tests.state.test_admin_state import run_handler, sign_in_as, state_of
from tests.support.builders import make_customer


@pytest.fixture
def checks(engine, monkeypatch):
    """A US customer's charges with French cards: flagged (20 ≥ FRAUD_FLAG_SCORE), and one blocked."""
    monkeypatch.setenv("FRAUD_FLAG_SCORE", "20")
    monkeypatch.setenv("FRAUD_BLOCK_SCORE", "50")
    get_settings.cache_clear()
    with Session(engine, expire_on_commit=False) as session:
        ana = make_customer(session, "ana@example.com", country="US")
        made = [fraud.assess(session, fraud.Attempt(
            customer_id=ana.id, amount=1500, currency="USD", client_ip="203.0.113.9", card_fingerprint=f"fp{i}",
            card_country="FR", billing_country="US", card_brand="visa", card_last4="4242"), now=utcnow())
            for i in range(PER_PAGE + 6)]  # from the 6th, the customer's attempts add 30: blocked
        session.commit()
    return made


@pytest.fixture
def admin_token(engine):
    return sign_in_as(engine, Role.ADMIN, "root@example.com")


def test_the_admin_sees_flags_with_their_signals_one_page_at_a_time(engine, admin_token, checks):
    state = state_of(RiskAdminState, admin_token)
    state.on_load()
    assert state.admin_access == "ok" and state.error == ""
    assert (state.total, len(state.rows), state.pages) == (5, 5, 1)
    row = state.rows[0]
    assert (row.decision, row.score, row.card_country, row.billing_country, row.can_clear) == ("flag", 20, "FR", "US",
                                                                                                True)
    assert row.signals == ["+20 country_mismatch: Card issued in FR, billing country US"]
    assert row.customer_email == "ana@example.com" and row.amount_label == "$15.00"

    state.set_status_filter("blocked")
    assert (state.total, len(state.rows), state.pages) == (PER_PAGE + 1, PER_PAGE, 2)
    assert {r.decision for r in state.rows} == {"block"} and not any(r.can_clear for r in state.rows)
    assert state.rows[0].payment_label == "not charged"
    state.next_page()
    assert (state.page, len(state.rows)) == (2, 1)
    state.previous_page()
    assert state.page == 1
    state.set_status_filter("whatever")
    assert state.status_filter == "flagged" and state.total == 5


def test_the_admin_clears_a_flag_through_the_dialog(engine, admin_token, checks):
    state = state_of(RiskAdminState, admin_token)
    state.on_load()
    target = state.rows[0].id
    state.open_clear("999999")  # not a row of the page: nothing opens
    assert state.selected_id == ""
    state.open_clear(target)
    assert state.selected_id == target and state.selected_row.id == target
    for _ in RiskAdminState.event_handlers["clear_flag"].fn(state, {"note": "Lives in Lyon"}):
        pass
    assert state.dialog_error == "" and state.selected_id == ""
    assert state.notice == f"Flag {target} cleared." and state.total == 4
    assert target not in {r.id for r in state.rows}
    with session_scope() as session:
        row = session.get(RiskAssessment, int(target))
        assert row.cleared_at is not None and row.clear_note == "Lives in Lyon"
        [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "risk.flag_cleared")).all()
        assert entry.subject_id == target and entry.actor_label == "root@example.com"
    state.set_status_filter("cleared")
    assert [r.id for r in state.rows] == [target] and state.rows[0].clear_note == "Lives in Lyon"


def test_a_customer_sees_no_row_and_clears_nothing(engine, checks):
    token = sign_in_as(engine, Role.CUSTOMER, "eve@example.com")
    state = state_of(RiskAdminState, token)
    state.on_load()
    assert state.admin_access == "denied" and state.rows == [] and state.total == 0
    state.selected_id = str(checks[0].id)  # a tampered browser
    run_handler(state, "clear_flag")
    with session_scope() as session:
        assert session.get(RiskAssessment, checks[0].id).cleared_at is None
        assert session.exec(select(AuditEntry)).all() == []
