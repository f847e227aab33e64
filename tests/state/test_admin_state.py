"""The admin role check, on the server: admins pass, customers are denied, strangers sign in."""

import pytest
import reflex as rx
from sqlmodel import Session

from billing_portal.billing import accounts
from billing_portal.db import session_scope
from billing_portal.models import Role
from billing_portal.state.admin import DENIED, OK, AdminState


def state_of(cls, token: str = ""):
    """A state instance as the server builds it for one browser, carrying its session cookie."""
    root = rx.State(_reflex_internal_init=True)
    state = root.get_substate(cls.get_full_name().split("."))
    state.session_token = token
    return state


def sign_in_as(engine, role: Role, email: str) -> str:
    with Session(engine, expire_on_commit=False) as session:
        accounts.create_user(session, email=email, password="correct horse battery", name="Someone", role=role)
        token = accounts.sign_in(session, email=email, password="correct horse battery")
        session.commit()
    return token


@pytest.fixture
def tokens(engine):
    return {
        "admin": sign_in_as(engine, Role.ADMIN, "root@example.com"),
        "customer": sign_in_as(engine, Role.CUSTOMER, "ana@example.com"),
    }


def test_an_admin_passes_and_the_nav_shows_the_admin_link(engine, tokens):
    state = state_of(AdminState, tokens["admin"])
    with session_scope() as session:
        admin = state._admin(session)
    assert admin is not None and admin.is_admin
    assert state.admin_access == OK and state.user_is_admin


def test_a_customer_is_denied_and_sees_no_admin_link(engine, tokens):
    state = state_of(AdminState, tokens["customer"])
    with session_scope() as session:
        assert state._admin(session) is None
    assert state.admin_access == DENIED and state.admin_denied and not state.user_is_admin
    assert state._turn_away("/admin/refunds") is None  # the page shows the denial, no redirect


def test_a_signed_out_visitor_is_sent_to_sign_in(engine):
    state = state_of(AdminState, "not-a-token")
    with session_scope() as session:
        assert state._admin(session) is None
    assert state.admin_access == ""
    assert "/login?next=/admin/refunds" in str(state._turn_away("/admin/refunds"))
