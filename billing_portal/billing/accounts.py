"""Sign-up, sign-in and sessions.

A checked password never yields the session token itself: it yields a one-time grant (a minute,
single use, stored hashed) that the browser trades at POST /api/session/start (api/sessions.py)
for an httpOnly cookie, so page scripts never hold the session. Trading a grant rotates: the
browser's previous session, if any, ends.

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
from sqlmodel import Session, delete, select, update

from billing_portal.billing import outgoing_webhooks
from billing_portal.billing.errors import DomainError
from billing_portal.models import AuthSession, Customer, LoginThrottle, Role, SessionGrant, User
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
MAX_LOCK_SECONDS = 300
GRANT_SECONDS = 60
# last_seen_at is written at most once per this fraction of the idle lifetime: not on every event.
_IDLE_TOUCH_FRACTION = 20
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
    return_url: str | None = None  # signed in by a portal link: the seller's app to go back to

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
    """The new customer's sign-in grant (see start_session)."""
    user = create_user(session, email=email, password=password, name=name, role=Role.CUSTOMER)
    return grant_sign_in(session, user.id)


def sign_in(session: Session, *, email: str, password: str, now: datetime | None = None) -> str:
    """Check the password; the sign-in grant (see start_session)."""
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
    return grant_sign_in(session, user.id, now)


def grant_sign_in(session: Session, user_id: int, now: datetime | None = None) -> str:
    """A one-time code that start_session trades for a session of `user_id` within GRANT_SECONDS."""
    grant = secrets.token_urlsafe(32)
    now = now or utcnow()
    # Grants never traded (a browser closed, no JavaScript) go here, so the table stays small.
    session.exec(delete(SessionGrant).where(SessionGrant.expires_at <= now))
    session.add(SessionGrant(token_hash=_token_hash(grant), user_id=user_id, created_at=now,
                             expires_at=now + timedelta(seconds=GRANT_SECONDS)))
    session.flush()
    return grant


def start_session(session: Session, grant: str, *, replacing: str = "", now: datetime | None = None) -> str | None:
    """Trade a grant, once, for a new session token; None for an unknown, used or expired grant.
    The session of `replacing` (the browser's current token) ends: a sign-in always rotates."""
    now = now or utcnow()
    # Deleted as it is traded: a second try (a replay, a racing tab) finds nothing.
    claimed = session.exec(
        delete(SessionGrant)
        .where(SessionGrant.token_hash == _token_hash(grant), SessionGrant.expires_at > now)
        .returning(SessionGrant.user_id)
    ).first() if grant else None
    if claimed is None:
        return None
    user = session.get(User, claimed[0])
    if replacing:
        sign_out(session, replacing)
    return open_session(session, user, now=now)


def user_for_token(session: Session, token: str, now: datetime | None = None) -> CurrentUser | None:
    if not token:
        return None
    # Columns, not entities: every event of every page passes here, and loading three ORM objects
    # was most of its cost.
    token_hash = _token_hash(token)
    row = session.exec(
        select(AuthSession.expires_at, AuthSession.last_seen_at, AuthSession.role, AuthSession.return_url, User.id,
               User.email, User.role, Customer.id, Customer.name, Customer.preferred_currency, Customer.locale)
        .join(User, User.id == AuthSession.user_id)
        .join(Customer, Customer.user_id == User.id, isouter=True)
        .where(AuthSession.token_hash == token_hash)
    ).first()
    if row is None:
        return None
    expires_at, last_seen_at, session_role, return_url, user_id, email, role, customer_id, name, currency, locale = row
    now = now or utcnow()
    settings = get_settings()
    idle = timedelta(minutes=settings.session_idle_minutes)
    if expires_at <= now or last_seen_at + idle <= now or session_role != role:
        return None
    if now - last_seen_at >= idle / _IDLE_TOUCH_FRACTION:
        session.exec(update(AuthSession).where(AuthSession.token_hash == token_hash).values(last_seen_at=now))
    return CurrentUser(
        user_id=user_id,
        email=email,
        role=role,
        customer_id=customer_id,
        name=name or "",
        currency=currency or settings.default_currency,
        locale=locale or settings.default_locale,
        return_url=return_url,
    )


def sign_out(session: Session, token: str) -> None:
    session.exec(delete(AuthSession).where(AuthSession.token_hash == _token_hash(token)))


def sign_out_everywhere(session: Session, token: str) -> int:
    """End every session of the user signed in with `token` (this one too); how many ended."""
    owner = session.exec(select(AuthSession.user_id).where(AuthSession.token_hash == _token_hash(token))).first()
    if owner is None:
        return 0
    return session.exec(delete(AuthSession).where(AuthSession.user_id == owner)).rowcount


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def open_session(session: Session, user: User, *, now: datetime | None = None, return_url: str | None = None) -> str:
    """A new session token of `user` (give it to the browser only as the httpOnly cookie)."""
    token = secrets.token_urlsafe(32)
    now = now or utcnow()
    session.exec(delete(AuthSession).where(AuthSession.user_id == user.id, AuthSession.expires_at <= now))
    session.add(AuthSession(token_hash=_token_hash(token), user_id=user.id, role=user.role, created_at=now,
                            last_seen_at=now, expires_at=now + timedelta(days=get_settings().session_days),
                            return_url=return_url))
    session.flush()
    return token


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
