"""The storage gateway on both backends: local disk in tmp_path, S3 against moto's server over HTTP.

Fixtures live here (not in tests/gateways/conftest.py, which the Stripe gateway tests may own).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import tracemalloc
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from billing_portal.gateways.storage import (
    DOWNLOAD_ROUTE,
    ExpiredDownloadToken,
    InvalidDownloadToken,
    LocalStorage,
    ObjectNotFound,
    ObjectTooLarge,
    S3Storage,
    StorageUnavailable,
    content_disposition,
    get_storage,
    validate_key,
    verify_download_token,
)
from billing_portal.settings import get_settings
from tests.support.stand_ins import free_port

MiB = 1024 * 1024
BUCKET = "test-files"
AWS_SECRET = "s3cr3t-DO-NOT-LEAK-4b1d"
KOREAN_NAME = "인보이스 2026.pdf"

# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def aws_env(monkeypatch):
    """Fake credentials, no profile/config files, loopback never through a proxy."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def _s3_env(monkeypatch, endpoint: str, **extra: str) -> None:
    monkeypatch.setenv("STORAGE_BACKEND", "s3")
    monkeypatch.setenv("S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("S3_BUCKET", BUCKET)
    monkeypatch.setenv("S3_REGION", "us-east-1")
    monkeypatch.delenv("CDN_DOMAIN", raising=False)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


@pytest.fixture
def s3_client(moto_clean, aws_env):
    """A raw boto3 client on the emptied moto server, with the bucket created."""
    client = boto3.client("s3", endpoint_url=moto_clean.url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def s3_storage(moto_clean, s3_client, monkeypatch) -> S3Storage:
    _s3_env(monkeypatch, moto_clean.url)
    storage = get_storage()
    assert isinstance(storage, S3Storage)
    return storage


@pytest.fixture
def local_storage(tmp_path, monkeypatch) -> LocalStorage:
    monkeypatch.setenv("STORAGE_BACKEND", "local")
    monkeypatch.setenv("STORAGE_DIR", str(tmp_path / "files"))
    monkeypatch.setenv("API_URL", "http://api.test:8000")
    get_settings.cache_clear()
    storage = get_storage()
    assert isinstance(storage, LocalStorage)
    return storage


@pytest.fixture(params=["local", "s3"])
def storage(request):
    return request.getfixturevalue(f"{request.param}_storage")


def leftovers(storage) -> list[str]:
    """Everything the backend holds: objects, temp files, unfinished multipart uploads."""
    if isinstance(storage, LocalStorage):
        if not storage.root.exists():
            return []
        return sorted(str(p.relative_to(storage.root)) for p in storage.root.rglob("*") if not p.is_dir())
    client = storage._client
    objects = [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    uploads = [f"upload:{u['Key']}" for u in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]
    return sorted(objects + uploads)


def generated(total: int, chunk: int = 64 * 1024, hasher=None, consumed: list[int] | None = None) -> Iterator[bytes]:
    """`total` pseudo-random bytes in chunks, never all in memory; optionally hashed/counted."""
    sent = 0
    block = hashlib.sha256(b"seed").digest() * (chunk // 32)
    counter = 0
    while sent < total:
        counter += 1
        piece = (counter.to_bytes(8, "big") + block)[: min(chunk, total - sent)]
        if hasher is not None:
            hasher.update(piece)
        sent += len(piece)
        if consumed is not None:
            consumed[0] = sent
        yield piece


def read_all(storage, key: str) -> bytes:
    return b"".join(storage.open_stream(key))


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str):
    """(status, headers (case-insensitive lookup), body), without any proxy."""
    try:
        with _OPENER.open(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


# ---------------------------------------------------------------------------------------------
# Round trip, streaming, limits


def test_put_and_read_back_with_sha256_of_the_bytes(storage):
    data = os.urandom(300_000)
    stored = storage.put_stream("files/c_1/abc.bin", iter([data[:1000], data[1000:]]),
                                content_type="application/octet-stream")
    assert (stored.key, stored.size, stored.content_type) == ("files/c_1/abc.bin", len(data), "application/octet-stream")
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert read_all(storage, "files/c_1/abc.bin") == data
    assert storage.exists("files/c_1/abc.bin") and storage.size("files/c_1/abc.bin") == len(data)
    # a file-like source works as well, and an empty one gives an empty object
    import io
    again = storage.put_stream("files/c_1/abc.bin", io.BytesIO(b"v2"), content_type="text/plain")
    assert read_all(storage, "files/c_1/abc.bin") == b"v2" and again.sha256 == hashlib.sha256(b"v2").hexdigest()
    empty = storage.put_stream("files/empty", iter([]), content_type="text/plain")
    assert empty.size == 0 and read_all(storage, "files/empty") == b""
    assert leftovers(storage) == ["files/c_1/abc.bin", "files/empty"]


def test_missing_objects(storage):
    assert storage.exists("nope/x.pdf") is False
    with pytest.raises(ObjectNotFound):
        storage.open_stream("nope/x.pdf")
    with pytest.raises(ObjectNotFound):
        storage.size("nope/x.pdf")
    storage.delete("nope/x.pdf")  # fine


def test_delete_removes_the_object(storage):
    storage.put_stream("a/b/c.txt", iter([b"x"]), content_type="text/plain")
    storage.delete("a/b/c.txt")
    assert not storage.exists("a/b/c.txt")
    assert leftovers(storage) == []
    if isinstance(storage, LocalStorage):  # empty directories are pruned, the root stays
        assert not (storage.root / "a").exists() and storage.root.is_dir()


def test_30_mb_stream_uses_bounded_memory(storage, record_property):
    hasher = hashlib.sha256()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        stored = storage.put_stream("big/30mb.bin", generated(30 * MiB, hasher=hasher),
                                    content_type="application/octet-stream", max_bytes=50 * MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    growth = peak - baseline
    record_property("peak_growth_bytes", growth)
    print(f"\n{storage.backend}: peak traced memory growth {growth / MiB:.2f} MiB for a 30 MiB stream")
    limit = 12 * MiB if storage.backend == "s3" else 2 * MiB  # one 8 MiB part (+ overhead) / one chunk
    assert growth < limit
    assert stored.size == 30 * MiB and stored.sha256 == hasher.hexdigest()
    assert storage.size("big/30mb.bin") == 30 * MiB
    read_back = hashlib.sha256()
    for chunk in storage.open_stream("big/30mb.bin"):
        read_back.update(chunk)
    assert read_back.hexdigest() == stored.sha256
    if storage.backend == "s3":  # went through multipart: 8 + 8 + 8 + 6 MiB
        etag = storage._client.head_object(Bucket=BUCKET, Key="big/30mb.bin")["ETag"]
        assert etag.strip('"').endswith("-4")


@pytest.mark.parametrize("total, limit", [(12 * MiB, 10 * MiB), (1000, 100)], ids=["multipart", "small"])
def test_over_max_bytes_leaves_nothing(storage, total, limit):
    consumed = [0]
    with pytest.raises(ObjectTooLarge) as raised:
        storage.put_stream("up/too-big.bin", generated(total, consumed=consumed),
                           content_type="application/octet-stream", max_bytes=limit)
    assert raised.value.max_bytes == limit and "nothing was saved" in str(raised.value)
    assert consumed[0] <= limit + 64 * 1024  # reading stopped at the limit, not at the end
    assert leftovers(storage) == []
    assert not storage.exists("up/too-big.bin")
    if isinstance(storage, LocalStorage):
        assert not (storage.root / "up").exists()


def test_exactly_max_bytes_is_accepted(storage):
    stored = storage.put_stream("up/exact.bin", iter([b"x" * 100]), content_type="text/plain", max_bytes=100)
    assert stored.size == 100


def test_failing_source_stream_leaves_nothing(storage):
    def broken():
        yield from generated(9 * MiB)  # past the first S3 part: a multipart upload is open
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        storage.put_stream("up/broken.bin", broken(), content_type="application/octet-stream")
    assert leftovers(storage) == []


# ---------------------------------------------------------------------------------------------
# Keys and listing

BAD_KEYS = ["", "/abs/key", "../etc/passwd", "a/../b", "a/./b", "a//b", "a/", ".hidden", "a/.env", "a..b",
            "a b", "a\\b", "ä.pdf", "a\x00b", "a\nb", "k" * 1025]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_unsafe_keys_are_refused(key):
    with pytest.raises(ValueError):
        validate_key(key)


def test_every_operation_validates_keys(storage):
    for key in ("../x", "/x", "a/../../b"):
        with pytest.raises(ValueError):
            storage.put_stream(key, iter([b"x"]), content_type="text/plain")
        for call in (storage.open_stream, storage.exists, storage.delete, storage.size):
            with pytest.raises(ValueError):
                call(key)
        with pytest.raises(ValueError):
            storage.download_url(key, filename="x.pdf", expires_in=60)
    with pytest.raises(ValueError):
        storage.list("../", page_size=10)
    assert leftovers(storage) == []


@pytest.mark.parametrize("public", ["assets", "assets/files", "uploaded_files/x"])
def test_storage_dir_inside_a_public_dir_is_refused(public, monkeypatch):
    from billing_portal.settings import PROJECT_ROOT

    monkeypatch.setenv("STORAGE_BACKEND", "local")
    monkeypatch.setenv("STORAGE_DIR", str(PROJECT_ROOT / public))
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="public"):
        get_storage()


def test_good_keys():
    for key in ("invoices/2026/INV-0001.pdf", "files/c_12/01HZX-abc.DEF_9", "a", "a.b/c-d"):
        assert validate_key(key) == key


def test_list_paginates_in_key_order(storage):
    keys = ["p/a-1", "p/a/b", "p/a/c/d", "p/a0", "p/b", "p/c/x.pdf", "p/z"]  # '-' < '/' < '0'
    for key in keys + ["pa/other", "q/other"]:
        storage.put_stream(key, iter([b"."]), content_type="text/plain")
    pages, cursor = [], None
    while True:
        page, cursor = storage.list("p/", page_size=3, cursor=cursor)
        pages.append(page)
        if cursor is None:
            break
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [key for page in pages for key in page] == sorted(keys)
    assert storage.list("p", page_size=100) == (sorted(keys + ["pa/other"]), None)
    assert storage.list("p/a/", page_size=100) == (["p/a/b", "p/a/c/d"], None)
    assert storage.list("nothing/", page_size=10) == ([], None)
    everything, _ = storage.list(page_size=1000)
    assert everything == sorted(keys + ["pa/other", "q/other"])


# ---------------------------------------------------------------------------------------------
# Download links


def test_content_disposition():
    assert content_disposition("invoice.pdf") == "attachment; filename=\"invoice.pdf\"; filename*=UTF-8''invoice.pdf"
    assert content_disposition(KOREAN_NAME, inline=True) == (
        "inline; filename=\"_ 2026.pdf\"; filename*=UTF-8''"
        "%EC%9D%B8%EB%B3%B4%EC%9D%B4%EC%8A%A4%202026.pdf"
    )
    assert content_disposition("Café résumé.pdf").startswith('attachment; filename="Cafe resume.pdf"')
    # path parts go, control characters go, quotes and % are replaced in the fallback only
    assert content_disposition("../../etc/passwd") == "attachment; filename=\"passwd\"; filename*=UTF-8''passwd"
    assert content_disposition('C:\\Users\\x\\a.pdf').split(";")[1] == ' filename="a.pdf"'
    assert content_disposition('evil"na%me\r\nX: 1.pdf') == (
        "attachment; filename=\"evil_na_meX: 1.pdf\"; filename*=UTF-8''evil%22na%25meX%3A%201.pdf"
    )
    assert content_disposition("인보이스.pdf").split(";")[1] == ' filename="download.pdf"'
    assert content_disposition("") .split(";")[1] == ' filename="download"'


def test_presigned_url_downloads_from_moto_with_disposition(s3_storage):
    data = b"%PDF-1.7\n" + os.urandom(2000)
    s3_storage.put_stream("invoices/INV-1.pdf", iter([data]), content_type="application/pdf")
    url = s3_storage.download_url("invoices/INV-1.pdf", filename=KOREAN_NAME, expires_in=600)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["600"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    status, headers, body = http_get(url)
    assert status == 200 and body == data
    assert headers["Content-Disposition"] == content_disposition(KOREAN_NAME)
    assert "filename*=UTF-8''%EC%9D%B8%EB%B3%B4%EC%9D%B4%EC%8A%A4%202026.pdf" in headers["Content-Disposition"]
    assert headers["Content-Type"] == "application/pdf"
    inline = s3_storage.download_url("invoices/INV-1.pdf", filename="a.png", expires_in=60, inline=True,
                                     content_type="image/png")
    status, headers, _ = http_get(inline)
    assert headers["Content-Disposition"].startswith("inline;") and headers["Content-Type"] == "image/png"


def test_presigned_url_uses_the_cdn_host(s3_client, moto_clean, monkeypatch):
    _s3_env(monkeypatch, moto_clean.url, CDN_DOMAIN="cdn.example.test")
    storage = get_storage()
    storage.put_stream("f/x.txt", iter([b"hello"]), content_type="text/plain")
    url = storage.download_url("f/x.txt", filename="x.txt", expires_in=60)
    parts = urllib.parse.urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "cdn.example.test")
    assert parts.path == f"/{BUCKET}/f/x.txt" and "X-Amz-Signature=" in parts.query
    # the CDN forwards path and query to S3 unchanged: the same URL on the S3 host works
    status, _, body = http_get(urllib.parse.urlunsplit(("http", urllib.parse.urlsplit(moto_clean.url).netloc,
                                                        parts.path, parts.query, "")))
    assert (status, body) == (200, b"hello")
    monkeypatch.setenv("CDN_DOMAIN", "http://cdn.local:8080")
    get_settings.cache_clear()
    assert get_storage().download_url("f/x.txt", filename="x.txt", expires_in=60).startswith("http://cdn.local:8080/")


@pytest.mark.parametrize("expires_in", [0, -1, 7 * 24 * 3600 + 1])
def test_expiry_outside_limits_is_refused(storage, expires_in):
    with pytest.raises(ValueError):
        storage.download_url("a/b.pdf", filename="b.pdf", expires_in=expires_in)


def _token_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    assert parts.path == DOWNLOAD_ROUTE
    return urllib.parse.parse_qs(parts.query)["token"][0]


def test_local_download_token_round_trip(local_storage):
    local_storage.put_stream("invoices/INV-1.pdf", iter([b"%PDF"]), content_type="application/pdf")
    url = local_storage.download_url("invoices/INV-1.pdf", filename=KOREAN_NAME, expires_in=300)
    assert url.startswith(f"http://api.test:8000{DOWNLOAD_ROUTE}?token=")
    now = time.time()
    grant = verify_download_token(_token_of(url), now + 299)
    key, filename = grant
    assert (key, filename) == ("invoices/INV-1.pdf", KOREAN_NAME)
    assert grant.inline is False and grant.content_type == "application/pdf"
    assert now + 299 < grant.expires_at <= now + 301
    assert content_disposition(grant.filename, grant.inline) == content_disposition(KOREAN_NAME)
    # the signing key is generated once in STORAGE_DIR (shared by workers), private, and not a key
    key_file = local_storage.root / ".download-signing-key"
    assert key_file.stat().st_mode & 0o077 == 0
    assert local_storage.list(page_size=10) == (["invoices/INV-1.pdf"], None)
    other_worker = LocalStorage(local_storage.root, api_url="http://api.test:8000")
    assert tuple(other_worker.verify_download_token(_token_of(url))) == ("invoices/INV-1.pdf", KOREAN_NAME)


def test_local_download_tokens_forged_altered_or_expired_are_refused(local_storage):
    token = _token_of(local_storage.download_url("a/mine.pdf", filename="mine.pdf", expires_in=60))
    body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))

    def encode(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    altered_key = encode({**payload, "k": "a/someone-elses.pdf"}) + "." + signature
    altered_expiry = encode({**payload, "e": payload["e"] + 86400}) + "." + signature
    forged = LocalStorage(local_storage.root, api_url="x", signing_secret=b"k" * 32).make_download_token(
        "a/mine.pdf", filename="mine.pdf", expires_in=60)
    flipped = body + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    for bad in (altered_key, altered_expiry, forged, flipped, body, body + ".", "." + signature,
                token + ".x", "", "not a token", "a.b", "x" * 5000, token.replace(".", "%2E")):
        with pytest.raises(InvalidDownloadToken):
            verify_download_token(bad)
    with pytest.raises(ExpiredDownloadToken):
        verify_download_token(token, payload["e"])
    with pytest.raises(ExpiredDownloadToken):
        verify_download_token(token, time.time() + 3600)
    assert verify_download_token(token, payload["e"] - 1).key == "a/mine.pdf"


def test_explicit_signing_secret(tmp_path):
    one = LocalStorage(tmp_path, api_url="http://api", signing_secret=b"1" * 32)
    token = one.make_download_token("k/x", filename="x", expires_in=60, inline=True, content_type="image/png")
    grant = LocalStorage(tmp_path, api_url="http://api", signing_secret=b"1" * 32).verify_download_token(token)
    assert (grant.key, grant.inline, grant.content_type) == ("k/x", True, "image/png")
    with pytest.raises(InvalidDownloadToken):
        LocalStorage(tmp_path, api_url="http://api", signing_secret=b"2" * 32).verify_download_token(token)
    assert not (tmp_path / ".download-signing-key").exists()


def test_local_tokens_are_refused_when_s3_is_the_backend(local_storage, s3_client, moto_clean, monkeypatch):
    token = _token_of(local_storage.download_url("a/b.pdf", filename="b.pdf", expires_in=60))
    _s3_env(monkeypatch, moto_clean.url)
    with pytest.raises(InvalidDownloadToken):
        verify_download_token(token)


# ---------------------------------------------------------------------------------------------
# Storage down


def _assert_no_secret(error: BaseException) -> None:
    text = "".join(traceback.format_exception(error)) + repr(error) + error.detail
    assert AWS_SECRET not in text


def test_endpoint_down_is_storage_unavailable_quickly(aws_env, monkeypatch):
    _s3_env(monkeypatch, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    storage = get_storage()
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as raised:
        storage.put_stream("up/x.pdf", iter([b"%PDF"]), content_type="application/pdf")
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"took {elapsed:.1f} s with the default retry settings"
    assert str(raised.value) == "File storage is not answering; nothing was saved."
    _assert_no_secret(raised.value)

    quick = S3Storage(BUCKET, endpoint_url=storage.endpoint_url, max_attempts=1, connect_timeout=0.5)
    started = time.monotonic()
    for call in (lambda: quick.exists("a/b"), lambda: quick.open_stream("a/b"), lambda: quick.delete("a/b"),
                 lambda: quick.list("a/", page_size=10), lambda: quick.size("a/b"), quick.health_check,
                 lambda: quick.put_stream("a/b", generated(9 * MiB), content_type="text/plain")):
        with pytest.raises(StorageUnavailable) as raised:
            call()
        _assert_no_secret(raised.value)
    assert time.monotonic() - started < 5


def test_missing_bucket_is_storage_unavailable(moto_clean, aws_env, monkeypatch):
    _s3_env(monkeypatch, moto_clean.url)  # bucket never created
    storage = get_storage()
    with pytest.raises(StorageUnavailable) as raised:
        storage.put_stream("up/x.pdf", iter([b"%PDF"]), content_type="application/pdf")
    assert "NoSuchBucket" in raised.value.detail
    _assert_no_secret(raised.value)
    with pytest.raises(StorageUnavailable):
        storage.health_check()


def test_purge_incomplete(storage):
    if isinstance(storage, LocalStorage):
        incoming = storage.root / ".incoming"
        incoming.mkdir(parents=True)
        stale = incoming / "upload-crashed.part"
        stale.write_bytes(b"half")
        os.utime(stale, (time.time() - 7200, time.time() - 7200))
    else:
        storage._client.create_multipart_upload(Bucket=BUCKET, Key="up/crashed.bin")
    assert storage.purge_incomplete(older_than=3600 if storage.backend == "local" else -60) == 1
    assert leftovers(storage) == []
