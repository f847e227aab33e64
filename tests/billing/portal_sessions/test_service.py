"""Portal sign-in links: one customer, one use, a few minutes, an allowed return URL, the flow asked for."""

from datetime import timedelta

import pytest
from sqlmodel import select

from billing_portal.billing import accounts, invoices
from billing_portal.billing.invoices import DraftLine
from billing_portal.billing.portal_sessions import service
from billing_portal.billing.portal_sessions.schemas import CheckoutSessionCreate, Flow, PortalSessionCreate
from billing_portal.billing.portal_sessions.service import LinkUnusable
from billing_portal.billing.seller_api.service import Invalid
from billing_portal.billing.seller_keys.schemas import Caller
from billing_portal.billing.errors import NotFound
from billing_portal.models import AuthSession, PortalSession
from billing_portal.settings import get_settings
from tests.support.builders import T0, make_customer, make_plan

APP = "https://app.example.com"
CALLER = Caller(key_id=None, name="app server", scope="write")


@pytest.fixture(autouse=True)
def _allow_app(monkeypatch):
    monkeypatch.setenv("PORTAL_RETURN_URL_ALLOWLIST", f'["{APP}"]')
    monkeypatch.setenv("API_URL", "https://billing.example.com")
    get_settings.cache_clear()


@pytest.fixture
def people(session):
    ana, bob = make_customer(session), make_customer(session, "bob@example.com")
    ana.external_id = "user-1"
    session.add(ana)
    session.flush()
    return ana, bob


def token_of(link) -> str:
    return link.url.rsplit("/", 1)[1]


def link(session, customer: str, flow=None, invoice=None, return_url=f"{APP}/settings", now=T0):
    return service.create_portal_link(session, CALLER, PortalSessionCreate(
        customer=customer, return_url=return_url, flow=flow, invoice=invoice), now=now)


def test_a_link_signs_its_customer_in_once_on_the_flow_with_the_way_back(session, people):
    ana, _ = people
    made = link(session, "ext_user-1", Flow.PLAN)
    assert made.url.startswith("https://billing.example.com/api/portal/") and made.customer == ana.id
    assert made.expires_at == T0 + timedelta(minutes=get_settings().portal_link_minutes)
    assert token_of(made) not in {row.token_hash for row in session.exec(select(PortalSession))}  # hashed
    service.check_link(session, token_of(made), now=T0)  # opening it changes nothing
    signed_in = service.sign_in_with_link(session, token_of(made), now=T0 + timedelta(minutes=1))
    assert signed_in.destination == "/billing/plan"
    user = accounts.user_for_token(session, signed_in.session_token, now=T0 + timedelta(minutes=1))
    assert (user.customer_id, user.return_url) == (ana.id, f"{APP}/settings")
    with pytest.raises(LinkUnusable) as replay:
        service.sign_in_with_link(session, token_of(made), now=T0 + timedelta(minutes=1))
    assert (replay.value.reason, replay.value.return_url) == ("used", f"{APP}/settings")
    with pytest.raises(LinkUnusable):
        service.check_link(session, token_of(made), now=T0 + timedelta(minutes=1))
    assert len(session.exec(select(AuthSession)).all()) == 1


def test_an_expired_or_made_up_link_opens_nothing(session, people):
    made = link(session, str(people[0].id))
    late = T0 + timedelta(minutes=get_settings().portal_link_minutes)
    with pytest.raises(LinkUnusable) as expired:
        service.sign_in_with_link(session, token_of(made), now=late)
    assert expired.value.reason == "expired"
    for token in ("made-up", ""):
        with pytest.raises(LinkUnusable) as unknown:
            service.sign_in_with_link(session, token, now=T0)
        assert (unknown.value.reason, unknown.value.return_url) == ("unknown", None)
    assert session.exec(select(AuthSession)).all() == []


def test_a_link_for_ana_never_signs_in_bob(session, people):
    ana, bob = people
    for_bob = service.sign_in_with_link(session, token_of(link(session, str(bob.id))), now=T0)
    for_ana = service.sign_in_with_link(session, token_of(link(session, "ext_user-1")), now=T0)
    assert accounts.user_for_token(session, for_bob.session_token, now=T0).customer_id == bob.id
    assert accounts.user_for_token(session, for_ana.session_token, now=T0).customer_id == ana.id


def test_opening_a_link_in_a_signed_in_browser_replaces_its_session(session, people):
    old = accounts.start_session(session, accounts.sign_in(session, email="bob@example.com",
                                                           password="correct horse battery", now=T0), now=T0)
    signed_in = service.sign_in_with_link(session, token_of(link(session, "ext_user-1")), replacing=old, now=T0)
    assert accounts.user_for_token(session, old, now=T0) is None
    assert accounts.user_for_token(session, signed_in.session_token, now=T0).email == "ana@example.com"


@pytest.mark.parametrize("return_url", ["https://evil.example/x", "http://app.example.com/", "javascript:alert(1)",
                                        "https://app.example.com.evil.example/", "https://user:pw@app.example.com/",
                                        "/relative"])
def test_a_return_url_off_the_allowlist_is_refused_and_nothing_stored(session, people, return_url):
    with pytest.raises(Invalid) as refused:
        link(session, "ext_user-1", return_url=return_url)
    assert refused.value.param == "return_url"
    assert session.exec(select(PortalSession)).all() == []


def test_pay_invoice_needs_an_open_invoice_of_that_customer(session, people):
    ana, bob = people
    open_one = invoices.finalize(session, invoices.create_draft(session, customer_id=ana.id, currency="USD",
                                                                lines=[DraftLine("Seats", 500)]).id)
    bobs = invoices.finalize(session, invoices.create_draft(session, customer_id=bob.id, currency="USD",
                                                            lines=[DraftLine("Seats", 500)]).id)
    made = link(session, "ext_user-1", Flow.PAY_INVOICE, invoice=open_one.id)
    assert made.destination == f"/checkout?invoice={open_one.id}"
    for invoice in (bobs.id, None, 987654):
        with pytest.raises(Invalid, match="open invoice"):
            link(session, "ext_user-1", Flow.PAY_INVOICE, invoice=invoice)
    with pytest.raises(Invalid, match="only with the flow"):
        link(session, "ext_user-1", Flow.PLAN, invoice=open_one.id)
    assert link(session, "ext_user-1", Flow.PAYMENT_METHOD).destination == "/billing/payment-methods"
    assert link(session, "ext_user-1").destination == "/billing"


def test_a_checkout_link_opens_the_checkout_of_an_active_price(session, people):
    _, prices = make_plan(session, "basic", tier=1, prices={("USD", "month", 1): 1000})
    price = prices[("USD", "month", 1)]
    made = service.create_checkout_link(session, CALLER, CheckoutSessionCreate(
        customer="ext_user-1", price=price.id, return_url=APP), now=T0)
    assert (made.object, made.destination) == ("checkout_session", f"/checkout?price={price.id}")
    price.active = False
    session.add(price)
    with pytest.raises(Invalid, match="active price"):
        service.create_checkout_link(session, CALLER, CheckoutSessionCreate(customer="ext_user-1", price=price.id,
                                                                            return_url=APP))
    with pytest.raises(NotFound):
        link(session, "ext_nobody")
