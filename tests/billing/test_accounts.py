"""Sign-up, sign-in with a growing delay, one-time sign-in grants, sessions and their lifetimes."""

from datetime import timedelta

import pytest
from sqlmodel import select

from billing_portal.billing import accounts
from billing_portal.billing.accounts import SignInFailed, SignInThrottled
from billing_portal.billing.errors import DomainError
from billing_portal.models import AuthSession, Customer, LoginThrottle, Role, SessionGrant, User
from billing_portal.settings import get_settings
from tests.support.builders import T0

PASSWORD = "correct horse battery"


def signed_in(session, email="ana@example.com", now=None) -> str:
    """A session token as the browser's cookie gets it: sign in, then trade the grant."""
    return accounts.start_session(session, accounts.sign_in(session, email=email, password=PASSWORD, now=now), now=now)


def test_sign_up_creates_user_customer_and_a_session(session):
    grant = accounts.sign_up(session, email="  Ana@Example.COM ", password=PASSWORD, name=" Ana   Lima ")
    assert accounts.user_for_token(session, grant) is None  # a grant is not a session
    token = accounts.start_session(session, grant)
    user = session.exec(select(User)).one()
    assert user.email == "ana@example.com"
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    customer = session.exec(select(Customer)).one()
    assert (customer.name, customer.invoice_email) == ("Ana Lima", "ana@example.com")
    current = accounts.user_for_token(session, token)
    assert (current.email, current.role, current.customer_id) == ("ana@example.com", "customer", customer.id)
    stored = session.exec(select(AuthSession)).one()
    assert stored.token_hash != token  # only the hash is kept
    assert session.exec(select(SessionGrant)).all() == []  # the grant is gone once traded


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
    token = signed_in(session)
    assert accounts.user_for_token(session, token).email == "ana@example.com"
    accounts.sign_out(session, token)
    assert accounts.user_for_token(session, token) is None
    assert accounts.user_for_token(session, "") is None
    assert accounts.user_for_token(session, "forged") is None


def test_a_grant_is_good_once_and_for_a_minute(session):
    accounts.sign_up(session, email="ana@example.com", password=PASSWORD, name="Ana")
    grant = accounts.sign_in(session, email="ana@example.com", password=PASSWORD, now=T0)
    assert grant not in {g.token_hash for g in session.exec(select(SessionGrant))}  # only the hash is kept
    assert accounts.start_session(session, grant, now=T0 + timedelta(seconds=59))
    assert accounts.start_session(session, grant, now=T0 + timedelta(seconds=59)) is None  # replayed
    late = accounts.sign_in(session, email="ana@example.com", password=PASSWORD, now=T0)
    assert accounts.start_session(session, late, now=T0 + timedelta(seconds=60)) is None
    assert accounts.start_session(session, "") is None
    assert accounts.start_session(session, "made-up") is None
    assert len(session.exec(select(AuthSession)).all()) == 1


def test_signing_in_again_rotates_the_session(session):
    accounts.sign_up(session, email="ana@example.com", password=PASSWORD, name="Ana")
    first = signed_in(session)
    second = accounts.start_session(session, accounts.sign_in(session, email="ana@example.com", password=PASSWORD),
                                    replacing=first)
    assert second != first
    assert accounts.user_for_token(session, first) is None
    assert accounts.user_for_token(session, second).email == "ana@example.com"


def test_session_ends_at_its_absolute_lifetime_even_in_use(session):
    accounts.sign_up(session, email="ana@example.com", password=PASSWORD, name="Ana")
    token = signed_in(session, now=T0)
    for hours in range(0, 14 * 24, 3):  # used every 3 hours: never idle
        assert accounts.user_for_token(session, token, now=T0 + timedelta(hours=hours)) is not None
    assert accounts.user_for_token(session, token, now=T0 + timedelta(days=14)) is None


def test_session_ends_after_the_idle_lifetime_and_use_keeps_it_going(session):
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    accounts.sign_up(session, email="ana@example.com", password=PASSWORD, name="Ana")
    token = signed_in(session, now=T0)
    assert accounts.user_for_token(session, token, now=T0 + idle / 2) is not None  # used: idle from here
    assert accounts.user_for_token(session, token, now=T0 + idle) is not None
    assert accounts.user_for_token(session, token, now=T0 + idle * 2 + timedelta(seconds=1)) is None
    other = signed_in(session, now=T0)
    assert accounts.user_for_token(session, other, now=T0 + idle) is None


def test_an_idle_check_writes_at_most_once_per_twentieth_of_the_idle_lifetime(session):
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    accounts.sign_up(session, email="ana@example.com", password=PASSWORD, name="Ana")
    token = signed_in(session, now=T0)
    stored = session.exec(select(AuthSession)).one()
    accounts.user_for_token(session, token, now=T0 + idle / 40)
    session.refresh(stored)
    assert stored.last_seen_at == T0
    accounts.user_for_token(session, token, now=T0 + idle / 20)
    session.refresh(stored)
    assert stored.last_seen_at == T0 + idle / 20


def test_a_role_change_ends_the_sessions_opened_before_it(session):
    accounts.sign_up(session, email="ana@example.com", password=PASSWORD, name="Ana")
    before = signed_in(session)
    user = session.exec(select(User)).one()
    user.role = Role.ADMIN  # promoted (or demoted): her old session no longer speaks for her
    session.add(user)
    session.flush()
    assert accounts.user_for_token(session, before) is None
    assert accounts.user_for_token(session, signed_in(session)).is_admin


def test_sign_out_everywhere_ends_every_session_of_that_user_only(session):
    accounts.sign_up(session, email="ana@example.com", password=PASSWORD, name="Ana")
    accounts.sign_up(session, email="bo@example.com", password=PASSWORD, name="Bo")
    laptop, phone, bo = signed_in(session), signed_in(session), signed_in(session, "bo@example.com")
    assert accounts.sign_out_everywhere(session, phone) == 2
    assert accounts.user_for_token(session, laptop) is None and accounts.user_for_token(session, phone) is None
    assert accounts.user_for_token(session, bo).email == "bo@example.com"
    assert accounts.sign_out_everywhere(session, phone) == 0


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
