"""The history's PDF links: the owner gets a redirect to a short-lived signed link of a real PDF;
anyone else is sent to the denial page and gets nothing of the document."""

import urllib.parse

import pytest
from argon2 import PasswordHasher
from sqlmodel import Session, select
from starlette.testclient import TestClient

from billing_portal.api import build_api
from billing_portal.api.documents import DENIED, SESSION_COOKIE, credit_note_path, invoice_pdf_path
from billing_portal.billing import accounts, invoices, payments
from billing_portal.billing.invoices import DraftLine
from billing_portal.models import Customer, User
from billing_portal.pages import denied
from billing_portal.settings import get_settings
from billing_portal.state.auth import SESSION_COOKIE as STATE_COOKIE
from tests.billing.test_files import local_store  # noqa: F401
from tests.support.builders import T0


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def world(engine, local_store, monkeypatch):  # noqa: F811
    monkeypatch.setenv("PUBLIC_URL", "http://portal.test")
    get_settings.cache_clear()
    with Session(engine, expire_on_commit=False) as session:
        tokens = {}
        for email in ("ana@example.com", "bob@example.com"):
            tokens[email] = accounts.start_session(
                session, accounts.sign_up(session, email=email, password="correct horse battery", name="A B"))
        ana = session.exec(select(Customer).join(User, User.id == Customer.user_id)
                           .where(User.email == "ana@example.com")).one()
        draft = invoices.create_draft(session, customer_id=ana.id, currency="KRW",
                                      lines=[DraftLine("Starter", 15000)], now=T0)
        invoice = invoices.finalize(session, draft.id, now=T0)
        payment = payments.record_payment(session, invoice_id=invoice.id, idempotency_key="p", succeeded=True, now=T0)
        refund = payments.record_refund(session, payment_id=payment.id, amount=5000, reason="outage", now=T0)
        session.commit()
    return tokens, invoice, refund


def client_for(token: str | None) -> TestClient:
    client = TestClient(build_api(), follow_redirects=False)
    if token:
        client.cookies.set(SESSION_COOKIE, token)
    return client


def path_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_the_cookie_and_the_denial_route_are_the_portals():
    assert SESSION_COOKIE == STATE_COOKIE
    assert DENIED == denied.ROUTE


def test_the_owner_is_sent_to_a_signed_link_of_the_rendered_pdf(world):
    tokens, invoice, refund = world
    client = client_for(tokens["ana@example.com"])
    response = client.get(invoice_pdf_path(invoice.id))
    assert response.status_code == 303 and response.headers["cache-control"] == "private, no-store"
    pdf = client.get(path_of(response.headers["location"]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert invoice.number in pdf.headers["content-disposition"]

    response = client.get(credit_note_path(refund.id))
    assert response.status_code == 303
    note = client.get(path_of(response.headers["location"]))
    assert note.status_code == 200 and note.content.startswith(b"%PDF-")


@pytest.mark.parametrize("target", ["invoice", "refund", "missing", "junk", "superscript", "too-long"])
def test_anyone_else_gets_the_denial_page_and_nothing_of_the_document(world, target):
    tokens, invoice, refund = world
    path = {
        "invoice": invoice_pdf_path(invoice.id),
        "refund": credit_note_path(refund.id),
        "missing": invoice_pdf_path(999_999),
        "junk": "/api/invoices/1%20or%201=1/pdf",
        "superscript": "/api/invoices/%C2%B2/pdf",  # "²".isdigit() is true, int("²") fails
        "too-long": invoice_pdf_path(2**63),
    }[target]
    response = client_for(tokens["bob@example.com"]).get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "http://portal.test/denied"
    assert b"%PDF" not in response.content and b"token=" not in response.content


def test_signed_out_visitors_are_sent_to_sign_in(world):
    _, invoice, _ = world
    for token in (None, "forged-token"):
        response = client_for(token).get(invoice_pdf_path(invoice.id))
        assert response.status_code == 303
        assert response.headers["location"] == "http://portal.test/login?next=/billing/history"


def test_storage_down_sends_the_owner_back_to_the_history_which_says_the_pdf_is_being_prepared(
        world, tmp_path, monkeypatch):
    tokens, invoice, _ = world
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the storage folder should be")
    monkeypatch.setenv("STORAGE_DIR", str(blocked))
    get_settings.cache_clear()
    response = client_for(tokens["ana@example.com"]).get(invoice_pdf_path(invoice.id))
    assert response.status_code == 303
    assert response.headers["location"] == "http://portal.test/billing/history?pdf=preparing"
