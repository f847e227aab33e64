"""GET /api/files/download: the local backend's signed links, through the real Starlette app."""

from __future__ import annotations

import time
import urllib.parse

import pytest
from starlette.testclient import TestClient

from billing_portal.api import build_api
from billing_portal.billing import files
from billing_portal.gateways.storage import DOWNLOAD_ROUTE, get_storage
from billing_portal.settings import get_settings
from tests.billing.test_files import aws_env, image, local_store, pdf_sample, s3_store  # noqa: F401
from tests.support.builders import T0, make_customer

SECURITY = {"cache-control": "private, no-store", "x-content-type-options": "nosniff"}


@pytest.fixture
def client():
    return TestClient(build_api())


def path_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_a_valid_link_streams_the_object_with_its_headers(local_store, client):
    data = pdf_sample("Downloaded") * 3
    local_store.put_stream("invoices/1/INV-2026-000001.pdf", [data], content_type="application/pdf")
    url = local_store.download_url("invoices/1/INV-2026-000001.pdf", filename="인보이스 2026.pdf", expires_in=60)
    response = client.get(path_of(url))
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"_ 2026.pdf\"; filename*=UTF-8''%EC%9D%B8%EB%B3%B4%EC%9D%B4%EC%8A%A4%202026.pdf")
    for name, value in SECURITY.items():
        assert response.headers[name] == value


def test_inline_links_say_inline(local_store, client):
    local_store.put_stream("files/1/a", [image("PNG")], content_type="image/png")
    url = local_store.download_url("files/1/a", filename="photo.png", expires_in=60, inline=True)
    response = client.get(path_of(url))
    assert response.headers["content-disposition"].startswith('inline; filename="photo.png"')
    assert response.headers["content-type"] == "image/png"


def test_forged_altered_or_missing_tokens_are_forbidden(local_store, client):
    local_store.put_stream("files/1/a", [b"secret"], content_type="application/pdf")
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(
        local_store.download_url("files/1/a", filename="a.pdf", expires_in=60)).query)["token"][0]
    body, signature = token.split(".")
    other = local_store.make_download_token("files/1/b", filename="b.pdf", expires_in=60)
    for bad in ("", "garbage", f"{body}.{signature[:-2]}AA", f"{other.split('.')[0]}.{signature}", "\x80.",
                f"{body}é.{signature}"):
        response = client.get(DOWNLOAD_ROUTE, params={"token": bad})
        assert response.status_code == 403, bad
        assert response.text == "This download link is not valid." and b"secret" not in response.content
        assert response.headers["cache-control"] == "private, no-store"
    assert client.get(DOWNLOAD_ROUTE).status_code == 403


def test_an_expired_link_is_gone(local_store, client):
    local_store.put_stream("files/1/a", [b"data"], content_type="application/pdf")
    token = local_store.make_download_token("files/1/a", filename="a.pdf", expires_in=60, now=time.time() - 120)
    response = client.get(DOWNLOAD_ROUTE, params={"token": token})
    assert response.status_code == 410 and "expired" in response.text


def test_a_deleted_object_is_not_found(local_store, client):
    url = local_store.download_url("files/1/gone", filename="a.pdf", expires_in=60)
    assert client.get(path_of(url)).status_code == 404


def test_tokens_are_refused_when_storage_is_s3(local_store, client, request, monkeypatch):
    local_store.put_stream("files/1/a", [b"data"], content_type="application/pdf")
    url = local_store.download_url("files/1/a", filename="a.pdf", expires_in=60)
    request.getfixturevalue("s3_store")
    assert get_storage().backend == "s3"
    assert client.get(path_of(url)).status_code == 403


def test_a_customers_share_link_downloads_through_the_route(session, local_store, client):
    customer = make_customer(session)
    data = image("PNG")
    view = files.upload(session, customer_id=customer.id, filename="사진.png", stream=[data], now=T0)
    url = files.share_link(session, customer_id=customer.id, file_id=view.id, hours=24)
    assert url.startswith(get_settings().api_url + DOWNLOAD_ROUTE)
    response = client.get(path_of(url))
    assert response.status_code == 200 and response.content == data
    assert response.headers["content-type"] == "image/png"
    assert "filename*=UTF-8''%EC%82%AC%EC%A7%84.png" in response.headers["content-disposition"]
