"""The authorization matrix over real HTTP: the API routes served by granian (tests/api/conftest.py)
on the world of authz_world.py.

- Document routes (invoice PDF, credit note): the owner is redirected to a signed link that serves
  the PDF; another customer and a visitor are denied, change nothing, and get byte for byte the
  answer they get for an id that does not exist.
- Signed download and share links: they serve the file until they expire; an expired one is gone,
  and one whose key, filename, expiry or signature was changed (to extend it, or point it at
  another customer's file) is refused, as is one signed with another key.
- The usage API: no key, an unknown key and another customer's revoked key get the same 401 and
  store nothing; a key records for its own customer only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlmodel import Session, select

from billing_portal.api.documents import SESSION_COOKIE, credit_note_path, invoice_pdf_path
from billing_portal.billing import api_keys, files
from billing_portal.gateways.storage import DOWNLOAD_ROUTE, get_storage
from billing_portal.models import Customer, UsageRecord
from tests.api.conftest import start_api
from tests.billing.test_checkout import user_of
from tests.billing.test_files import pdf_sample
from tests.security.authz_world import MISSING_ID, World, snapshot

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

DOCUMENTS = {  # object → (route of an id, key of Ana's object in World.ids)
    "invoice PDF": (invoice_pdf_path, "paid_invoice"),
    "credit note": (credit_note_path, "refund"),
}


@pytest.fixture
def api(db_url, world):
    server = start_api(db_url)
    try:
        yield server
    finally:
        server.stop()


def client_for(api, world: World, actor: str) -> httpx.Client:
    client = httpx.Client(base_url=api.url, follow_redirects=False, timeout=30)
    if world.tokens[actor]:
        client.cookies.set(SESSION_COOKIE, world.tokens[actor])
    return client


def seen(response: httpx.Response) -> tuple:
    """Everything a client learns from an answer (the date and each request's own id aside)."""
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "server", "x-request-id")}
    return response.status_code, headers, response.content


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@SQLITE
@pytest.mark.parametrize("document", DOCUMENTS)
def test_documents_reach_only_their_owner(engine, world, api, document):
    route, key = DOCUMENTS[document]
    before = snapshot(engine, world.storage_dir)
    for actor in ("other", "anonymous"):
        with client_for(api, world, actor) as client:
            denied = client.get(route(world.ids[key]))
            assert denied.status_code == 303, (document, actor)
            assert "/api/files/download" not in denied.headers["location"] and b"%PDF" not in denied.content
            assert seen(denied) == seen(client.get(route(MISSING_ID))), (document, actor)
        assert snapshot(engine, world.storage_dir) == before, (document, actor)
    with client_for(api, world, "owner") as client:
        allowed = client.get(route(world.ids[key]))
        assert allowed.status_code == 303 and DOWNLOAD_ROUTE in allowed.headers["location"]
        pdf = client.get(local(allowed.headers["location"]))
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")


# ---- signed links


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _payload(token: str) -> dict:
    body = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def _with(token: str, **changes) -> str:
    """The same signature over a changed payload: what a visitor editing the link would send."""
    payload = {**_payload(token), **changes}
    return f"{_b64(json.dumps(payload, separators=(',', ':')).encode())}.{token.split('.')[1]}"


def _signed_with(token: str, secret: bytes, **changes) -> str:
    """A payload signed with a key of the visitor's own (the scheme is public, the key is not)."""
    body = _b64(json.dumps({**_payload(token), **changes}, separators=(",", ":")).encode())
    signature = hmac.new(secret, b"billing-portal/download/v1\x00" + body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(signature)}"


@SQLITE
def test_share_and_download_links_expire_and_cannot_be_forged_or_extended(engine, world, api):
    with Session(engine) as session:
        share = _token(files.share_link(session, customer_id=world.ids["customer"], file_id=world.ids["file"],
                                        hours=24))
        download = _token(files.download_link(session, customer_id=world.ids["customer"], file_id=world.ids["file"]))
        bob = files.upload(session, customer_id=world.ids["bob"], filename="bob.pdf", stream=[pdf_sample("Bob")])
        session.commit()
    before = snapshot(engine, world.storage_dir)
    with httpx.Client(base_url=api.url, timeout=30) as client:  # no cookie: links are bearer links
        def get(token: str) -> httpx.Response:
            return client.get(DOWNLOAD_ROUTE, params={"token": token})

        for token in (share, download):
            good = get(token)
            assert good.status_code == 200 and good.content.startswith(b"%PDF")
            expires = _payload(token)["e"]
            refused = [
                _with(token, e=expires + 7 * 24 * 3600),  # extended
                _with(token, e=expires + 1),
                _with(token, k=f"files/{bob.id}/x"),  # pointed at another object
                _with(token, k=_payload(token)["k"].replace(str(world.ids["customer"]), "999", 1)),
                _with(token, f="other.pdf"), _with(token, t="text/html"), _with(token, i=True),
                _signed_with(token, b"\x00" * 32, e=expires + 3600),  # forged with a guessed key
                token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature altered
                token.split(".")[0], f"{token}.x", "",
            ]
            for bad in refused:
                response = get(bad)
                assert response.status_code == 403, (bad, response.status_code)
                assert response.text == "This download link is not valid." and b"%PDF" not in response.content
        # Time runs out: a link made in the past with its own valid signature is gone.
        storage = get_storage()
        key = _payload(share)["k"]
        for lifetime in (300, 24 * 3600):
            expired = storage.make_download_token(key, filename="a.pdf", expires_in=lifetime,
                                                  now=time.time() - lifetime - 1)
            response = get(expired)
            assert response.status_code == 410 and b"%PDF" not in response.content
            assert get(_with(expired, e=int(time.time()) + 3600)).status_code == 403  # cannot be revived
    assert snapshot(engine, world.storage_dir) == before


# ---- the usage API


@SQLITE
def test_the_usage_api_tells_nothing_about_keys_and_records_only_for_the_keys_customer(engine, world, api):
    with Session(engine, expire_on_commit=False) as session:
        ana = user_of(session.get(Customer, world.ids["customer"]))
        revoked = api_keys.create(session, user=ana, name="old")
        api_keys.revoke(session, user=ana, key_id=revoked.key.id)
        session.commit()
    before = snapshot(engine, world.storage_dir)
    body = b'{"metric": "api_calls", "quantity": 1}'
    with httpx.Client(base_url=api.url, timeout=30) as client:
        answers = []
        for authorization in (None, "Bearer bpk_not_a_key", f"Bearer {revoked.token}", "Basic abc", "Bearer"):
            headers = {"Idempotency-Key": "k-1", "Content-Type": "application/json"}
            if authorization is not None:
                headers["Authorization"] = authorization
            response = client.post("/api/usage", content=body, headers=headers)
            answers.append(seen(response))
        assert {status for status, _, _ in answers} == {401}
        assert len(set((status, content) for status, _, content in answers)) == 1
        assert len({json.dumps(h, sort_keys=True) for _, h, _ in answers}) == 1
    assert snapshot(engine, world.storage_dir) == before
    with Session(engine) as session:
        owners = {r.customer_id for r in session.exec(select(UsageRecord)).all()}
    assert owners == {world.ids["customer"]}
