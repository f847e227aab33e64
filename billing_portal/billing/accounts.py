"""Sign-up, sign-in and sessions.

Passwords are hashed with Argon2id (argon2-cffi). A wrong password earns a growing delay per email:
after the n-th failure in a row the email is locked for 2**(n-1) seconds, at most 5 minutes, and
while locked even the right password is refused, so guessing stays slow. Unknown emails are
throttled and timed the same way, so neither tells whether an account exists.
"""

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select

from billing_portal.billing import outgoing_webhooks
from billing_portal.billing.errors import DomainError
from billing_portal.models import AuthSession, Customer, LoginThrottle, Role, User
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
MAX_LOCK_SECONDS = 300
# Not an argon2 hash: no password matches it (sign_in treats it as a wrong password).
NO_PASSWORD = "!no-password"

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both paths cost one Argon2 verification.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class SignInFailed(DomainError):
    def __init__(self) -> None:
        super().__init__("Wrong email or password.")


class SignInThrottled(DomainError):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"Too many failed attempts. Try again in {retry_after} seconds.")


@dataclass(frozen=True)
class CurrentUser:
    user_id: int
    email: str
    role: str
    customer_id: int | None
    name: str
    currency: str  # the customer's preferred currency: what pages show first
    locale: str  # how money and dates are formatted for them

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def normalize_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise DomainError("Enter a valid email address.") from exc


def hash_password(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise DomainError(
            f"Password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long."
        )
    return _hasher.hash(password)


def create_user(session: Session, *, email: str, password: str | None, name: str, role: Role) -> User:
    """A user with a customer record (admins get one too, so they can try the portal).

    password None: an account no password opens (created by the seller's API; its owner arrives
    through a portal link or sets a password by reset)."""
    email = normalize_email(email)
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise DomainError("Enter your name (at most 200 characters).")
    password_hash = NO_PASSWORD if password is None else hash_password(password)
    if session.exec(select(User).where(User.email == email)).first():
        raise DomainError("An account with this email already exists. Sign in instead.")
    user = User(email=email, password_hash=password_hash, role=role)
    session.add(user)
    session.flush()
    settings = get_settings()
    customer = Customer(
        user_id=user.id,
        name=name,
        invoice_email=email,
        preferred_currency=settings.default_currency,
        locale=settings.default_locale,
    )
    session.add(customer)
    session.flush()
    outgoing_webhooks.service.emit(session, "customer.created", customer)
    return user


def sign_up(session: Session, *, email: str, password: str, name: str) -> str:
    user = create_user(session, email=email, password=password, name=name, role=Role.CUSTOMER)
    return _open_session(session, user)


def sign_in(session: Session, *, email: str, password: str, now: datetime | None = None) -> str:
    now = now or utcnow()
    try:
        email = normalize_email(email)
    except DomainError:
        raise SignInFailed() from None
    throttle = session.get(LoginThrottle, email)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        raise SignInThrottled(math.ceil((throttle.locked_until - now).total_seconds()))

    user = session.exec(select(User).where(User.email == email)).first()
    if not _password_matches(user.password_hash if user else _DUMMY_HASH, password) or not user:
        throttle = throttle or LoginThrottle(email=email)
        throttle.failures += 1
        lock = min(2 ** (throttle.failures - 1), MAX_LOCK_SECONDS)
        throttle.locked_until = now + timedelta(seconds=lock)
        session.add(throttle)
        # The failure must be remembered although the caller sees an exception.
        session.commit()
        raise SignInFailed()
    if throttle:
        session.delete(throttle)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.add(user)
    return _open_session(session, user, now)


def user_for_token(session: Session, token: str, now: datetime | None = None) -> CurrentUser | None:
    if not token:
        return None
    # Columns, not entities: every event of every page passes here, and loading three ORM objects
    # was most of its cost.
    row = session.exec(
        select(AuthSession.expires_at, User.id, User.email, User.role, Customer.id, Customer.name,
               Customer.preferred_currency, Customer.locale)
        .join(User, User.id == AuthSession.user_id)
        .join(Customer, Customer.user_id == User.id, isouter=True)
        .where(AuthSession.token_hash == _token_hash(token))
    ).first()
    if row is None:
        return None
    expires_at, user_id, email, role, customer_id, name, currency, locale = row
    if expires_at <= (now or utcnow()):
        return None
    settings = get_settings()
    return CurrentUser(
        user_id=user_id,
        email=email,
        role=role,
        customer_id=customer_id,
        name=name or "",
        currency=currency or settings.default_currency,
        locale=locale or settings.default_locale,
    )


def sign_out(session: Session, token: str) -> None:
    auth = session.exec(select(AuthSession).where(AuthSession.token_hash == _token_hash(token))).first()
    if auth:
        session.delete(auth)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def _open_session(session: Session, user: User, now: datetime | None = None) -> str:
    token = secrets.token_urlsafe(32)
    expires = (now or utcnow()) + timedelta(days=get_settings().session_days)
    session.add(AuthSession(token_hash=_token_hash(token), user_id=user.id, expires_at=expires))
    session.flush()
    return token


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
