"""Portal sign-in links, the way Stripe's customer portal sessions work.

The seller's app asks for a link for one of its customers (`create_portal_link`, or
`create_checkout_link` for the checkout of one price) and sends the customer's browser to it. The
link signs that customer in with no password, once, within PORTAL_LINK_MINUTES, straight on the
flow asked for, and the portal then shows a "Back to <app>" link to `return_url`, whose origin must
be one of PORTAL_RETURN_URL_ALLOWLIST (else anyone with a key could make us link anywhere). Only
the token's SHA-256 is stored; the token itself exists in the answer and the browser's address bar.
A link names one customer by its row: nothing in the browser can point it at another.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlmodel import Session

from billing_portal.billing import accounts
from billing_portal.billing.portal_sessions import repository
from billing_portal.billing.portal_sessions.schemas import CheckoutSessionCreate, Flow, PortalSession, PortalSessionCreate
from billing_portal.billing.seller_api.service import Invalid, customer_for
from billing_portal.billing.seller_keys.schemas import Caller
from billing_portal.models import Invoice, InvoiceStatus, Price
from billing_portal.models import PortalSession as PortalSessionRow
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

LINK_ROUTE = "/api/portal/{token}"
DESTINATIONS = {None: "/billing", Flow.PLAN: "/billing/plan", Flow.PAYMENT_METHOD: "/billing/payment-methods"}


class LinkUnusable(Exception):
    """Why a link signs no one in: "used", "expired" or "unknown"; `return_url` when the link was ours."""

    def __init__(self, reason: str, return_url: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.return_url = reason, return_url


@dataclass(frozen=True)
class SignedIn:
    session_token: str  # for the httpOnly cookie only
    destination: str


def link_path(token: str) -> str:
    return LINK_ROUTE.format(token=token)


def create_portal_link(session: Session, caller: Caller, body: PortalSessionCreate, now: datetime | None = None) -> PortalSession:
    customer = customer_for(session, body.customer)
    if body.flow == Flow.PAY_INVOICE:
        invoice = session.get(Invoice, body.invoice) if body.invoice else None
        if invoice is None or invoice.customer_id != customer.id or invoice.status != InvoiceStatus.OPEN:
            raise Invalid("pay_invoice needs `invoice`: an open invoice of this customer.", "invoice")
        destination = f"/checkout?invoice={invoice.id}"
    elif body.invoice is not None:
        raise Invalid("`invoice` goes only with the flow pay_invoice.", "invoice")
    else:
        destination = DESTINATIONS[body.flow]
    return _create(session, caller, "portal", customer.id, body.flow, destination, body.return_url, now)


def create_checkout_link(session: Session, caller: Caller, body: CheckoutSessionCreate,
                         now: datetime | None = None) -> PortalSession:
    customer = customer_for(session, body.customer)
    price = session.get(Price, body.price)
    if price is None or not price.active:
        raise Invalid("No such active price.", "price")
    return _create(session, caller, "checkout", customer.id, None, f"/checkout?price={price.id}", body.return_url, now)


def sign_in_with_link(session: Session, token: str, *, replacing: str = "", now: datetime | None = None) -> SignedIn:
    """Spend the link and open a session of its customer (the browser's previous one ends);
    LinkUnusable, and nothing opened, when it was used, has expired or never existed."""
    now = now or utcnow()
    token_hash = _hash(token)
    link = repository.spend(session, token_hash, now) if token else None
    if link is None:
        raise _why(session, token_hash, now)
    user = repository.user_of_customer(session, link.customer_id)
    if user is None:
        raise LinkUnusable("unknown")
    if replacing:
        accounts.sign_out(session, replacing)
    return SignedIn(accounts.open_session(session, user, now=now, return_url=link.return_url), link.destination)


def check_link(session: Session, token: str, now: datetime | None = None) -> None:
    """LinkUnusable when the link can no longer sign anyone in (read only: opening changes nothing)."""
    now = now or utcnow()
    link = repository.by_token_hash(session, _hash(token)) if token else None
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise _why(session, _hash(token), now)


def allowed_return_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return False
    return f"{parts.scheme}://{parts.netloc}".lower() in {o.lower() for o in get_settings().portal_return_url_allowlist}


def back_label(return_url: str) -> str:
    """"Back to app.example.com": the host the customer will land on, so the label cannot mislead."""
    return f"Back to {urlsplit(return_url).hostname or 'your app'}"


def _create(session: Session, caller: Caller, kind: str, customer_id: int, flow: Flow | None, destination: str,
            return_url: str, now: datetime | None) -> PortalSession:
    if not allowed_return_url(return_url):
        raise Invalid("return_url must be an http(s) URL on an origin of PORTAL_RETURN_URL_ALLOWLIST.", "return_url")
    now = now or utcnow()
    settings = get_settings()
    token = secrets.token_urlsafe(32)
    row = PortalSessionRow(token_hash=_hash(token), customer_id=customer_id, kind=kind, flow=flow,
                           destination=destination, return_url=return_url, created_by_key_id=caller.key_id,
                           created_at=now, expires_at=now + timedelta(minutes=settings.portal_link_minutes))
    session.add(row)
    session.flush()
    return PortalSession(object=f"{kind}_session", id=row.id, customer=customer_id,
                         url=settings.api_url.rstrip("/") + link_path(token), destination=destination, flow=flow,
                         return_url=return_url, expires_at=row.expires_at)


def _why(session: Session, token_hash: str, now: datetime) -> LinkUnusable:
    link = repository.by_token_hash(session, token_hash)
    if link is None:
        return LinkUnusable("unknown")
    return LinkUnusable("used" if link.used_at is not None else "expired", link.return_url)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
