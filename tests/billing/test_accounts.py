"""Sign-up, sign-in with a growing delay, sessions."""

from datetime import timedelta

import pytest
from sqlmodel import select

from billing_portal.billing import accounts
from billing_portal.billing.accounts import SignInFailed, SignInThrottled
from billing_portal.billing.errors import DomainError
from billing_portal.models import AuthSession, Customer, LoginThrottle, User
from tests.support.builders import T0

PASSWORD = "correct horse battery"


def test_sign_up_creates_user_customer_and_a_session(session):
    token = accounts.sign_up(session, email="  Ana@Example.COM ", password=PASSWORD, name=" Ana   Lima ")
    user = session.exec(select(User)).one()
    assert user.email == "ana@example.com"
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    customer = session.exec(select(Customer)).one()
    assert (customer.name, customer.invoice_email) == ("Ana Lima", "ana@example.com")
    current = accounts.user_for_token(session, token)
    assert (current.email, current.role, current.customer_id) == ("ana@example.com", "customer", customer.id)
    stored = session.exec(select(AuthSession)).one()
    assert stored.token_hash != token  # only the hash is kept


@pytest.mark.parametrize(
    "email, password, name, message",
    [
        ("not-an-email", PASSWORD, "Ana", "valid email"),
        ("ana@example.com", "short", "Ana", "at least|10 to"),
        ("ana@example.com", PASSWORD, "   ", "Enter your name"),
        ("ana@example.com", "x" * 300, "Ana", "10 to 256"),
    ],
)
def test_bad_sign_up_gets_a_clear_message_and_changes_nothing(session, email, password, name, message):
    with pytest.raises(DomainError, match=message):
        accounts.sign_up(session, email=email, password=password, name=name)
    assert session.exec(select(User)).all() == []


def test_duplicate_email_is_refused(session):
    accounts.sign_up(session, email="ana@example.com", password=PASSWORD, name="Ana")
    with pytest.raises(DomainError, match="already exists"):
        accounts.sign_up(session, email="ANA@example.com", password=PASSWORD, name="Ana")


def test_sign_in_and_out(session):
    accounts.sign_up(session, email="ana@example.com", password=PASSWORD, name="Ana")
    token = accounts.sign_in(session, email="ana@example.com", password=PASSWORD)
    assert accounts.user_for_token(session, token).email == "ana@example.com"
    accounts.sign_out(session, token)
    assert accounts.user_for_token(session, token) is None
    assert accounts.user_for_token(session, "") is None
    assert accounts.user_for_token(session, "forged") is None


def test_session_expires(session):
    accounts.sign_up(session, email="ana@example.com", password=PASSWORD, name="Ana")
    token = accounts.sign_in(session, email="ana@example.com", password=PASSWORD, now=T0)
    assert accounts.user_for_token(session, token, now=T0 + timedelta(days=13)) is not None
    assert accounts.user_for_token(session, token, now=T0 + timedelta(days=14)) is None


def test_wrong_password_earns_a_growing_delay_even_for_the_right_password(session):
    accounts.sign_up(session, email="ana@example.com", password=PASSWORD, name="Ana")
    now = T0
    delays = []
    for _ in range(4):
        with pytest.raises(SignInFailed, match="Wrong email or password."):
            accounts.sign_in(session, email="ana@example.com", password="wrong password!", now=now)
        with pytest.raises(SignInThrottled) as throttled:
            accounts.sign_in(session, email="ana@example.com", password=PASSWORD, now=now)
        delays.append(throttled.value.retry_after)
        assert f"{throttled.value.retry_after} seconds" in str(throttled.value)
        now += timedelta(seconds=throttled.value.retry_after)
    assert delays == [1, 2, 4, 8]
    # After waiting, the right password works and clears the counter.
    assert accounts.sign_in(session, email="ana@example.com", password=PASSWORD, now=now)
    assert session.get(LoginThrottle, "ana@example.com") is None


def test_unknown_email_is_answered_like_a_wrong_password(session):
    with pytest.raises(SignInFailed, match="Wrong email or password."):
        accounts.sign_in(session, email="nobody@example.com", password=PASSWORD, now=T0)
    with pytest.raises(SignInThrottled):
        accounts.sign_in(session, email="nobody@example.com", password=PASSWORD, now=T0)


def test_delay_is_capped(session):
    session.add(LoginThrottle(email="ana@example.com", failures=30))
    session.flush()
    with pytest.raises(SignInFailed):
        accounts.sign_in(session, email="ana@example.com", password="wrong password!", now=T0)
    assert session.get(LoginThrottle, "ana@example.com").locked_until == T0 + timedelta(seconds=300)
