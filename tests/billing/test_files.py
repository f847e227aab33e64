"""Customer files on real storage (local disk and S3 on moto over HTTP) and both databases.

Samples are made here: real images by Pillow, a real PDF by ReportLab, real DOCX/XLSX zips, and the
minimal headers of MP4/MOV/AVI/XLS that identify them.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import urllib.request
import zipfile
from datetime import timedelta

import boto3
import pytest
from PIL import Image
from reportlab.pdfgen.canvas import Canvas
from sqlmodel import func, select

from billing_portal.billing import files
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.files import FileRejected
from billing_portal.gateways.storage import get_storage
from billing_portal.jobs.runner import run_once
from billing_portal.models import StoredFile
from billing_portal.settings import get_settings
from tests.support.builders import T0, make_customer

BUCKET = "test-files"
MiB = 1024 * 1024

# ---------------------------------------------------------------------------------------------
# Samples


def image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def pdf_sample(text: str = "Hello") -> bytes:
    out = io.BytesIO()
    canvas = Canvas(out)
    canvas.drawString(72, 720, text)
    canvas.save()
    return out.getvalue()


def ooxml(part: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        archive.writestr("docProps/app.xml", '<?xml version="1.0"?><Properties/>')
        archive.writestr("docProps/core.xml", '<?xml version="1.0"?><coreProperties/>')
        archive.writestr("docProps/custom.xml", '<?xml version="1.0"?><Properties/>')
        archive.writestr(part, '<?xml version="1.0"?><document/>')
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "not an office document")
    return out.getvalue()


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4() -> bytes:
    return box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41") + box(b"mdat", b"\x00" * 64)


def mov() -> bytes:
    return box(b"ftyp", b"qt  " + struct.pack(">I", 0) + b"qt  ") + box(b"mdat", b"\x00" * 64)


def avi() -> bytes:
    body = b"AVI LIST" + struct.pack("<I", 4) + b"hdrl"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def xls() -> bytes:
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * (512 - 8)
    return header + b"\x09\x08\x10\x00\x00\x06\x05\x00" + b"\x00" * 600


def exe() -> bytes:
    return b"MZ\x90\x00" + b"\x00" * 60 + b"PE\x00\x00" + b"\x00" * 200


SAMPLES = {
    "photo.jpg": (lambda: image("JPEG"), "image", "image/jpeg"),
    "photo.jpeg": (lambda: image("JPEG"), "image", "image/jpeg"),
    "logo.png": (lambda: image("PNG"), "image", "image/png"),
    "banner.webp": (lambda: image("WEBP"), "image", "image/webp"),
    "anim.gif": (lambda: image("GIF"), "image", "image/gif"),
    "clip.mp4": (mp4, "video", "video/mp4"),
    "clip.mov": (mov, "video", "video/quicktime"),
    "clip.avi": (avi, "video", "video/x-msvideo"),
    "contract.pdf": (pdf_sample, "document", "application/pdf"),
    "letter.docx": (lambda: ooxml("word/document.xml"), "document",
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "sheet.xlsx": (lambda: ooxml("xl/workbook.xml"), "document",
                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "old.xls": (xls, "document", "application/vnd.ms-excel"),
}


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def s3_store(moto_clean, aws_env, monkeypatch):
    boto3.client("s3", endpoint_url=moto_clean.url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("STORAGE_BACKEND", "s3")
    monkeypatch.setenv("S3_ENDPOINT_URL", moto_clean.url)
    monkeypatch.setenv("S3_BUCKET", BUCKET)
    monkeypatch.setenv("S3_REGION", "us-east-1")
    monkeypatch.delenv("CDN_DOMAIN", raising=False)
    get_settings.cache_clear()
    return get_storage()


@pytest.fixture
def local_store(tmp_path, monkeypatch):
    monkeypatch.setenv("STORAGE_BACKEND", "local")
    monkeypatch.setenv("STORAGE_DIR", str(tmp_path / "files"))
    monkeypatch.setenv("API_URL", "http://api.test:8000")
    get_settings.cache_clear()
    return get_storage()


@pytest.fixture(params=["local", "s3"])
def store(request):
    return request.getfixturevalue(f"{request.param}_store")


def all_keys(storage, prefix: str = "") -> list[str]:
    keys, cursor = [], None
    while True:
        page, cursor = storage.list(prefix, page_size=1000, cursor=cursor)
        keys += page
        if cursor is None:
            return keys


def read(storage, key: str) -> bytes:
    return b"".join(storage.open_stream(key))


def row_count(session) -> int:
    return session.exec(select(func.count()).select_from(StoredFile)).one()


def put(session, customer, name: str, data: bytes, **kwargs):
    return files.upload(session, customer_id=customer.id, filename=name, stream=io.BytesIO(data),
                        now=kwargs.pop("now", T0), **kwargs)


def assert_nothing_left(session, storage):
    assert all_keys(storage, "files/") == []
    assert row_count(session) == 0
    if storage.backend == "local":  # no half-written temp file either
        incoming = storage.root / ".incoming"
        assert not incoming.exists() or list(incoming.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Upload


def test_every_whitelisted_type_is_stored_with_its_category_and_hash(session, store):
    customer = make_customer(session)
    for name, (make, category, mime) in SAMPLES.items():
        data = make()
        view = put(session, customer, name, data)
        assert (view.name, view.category, view.content_type) == (name, category, mime), name
        assert view.size_bytes == len(data) and view.sha256 == hashlib.sha256(data).hexdigest()
        row = session.get(StoredFile, view.id)
        assert row.storage_key.startswith(f"files/{customer.id}/") and name not in row.storage_key
        assert read(store, row.storage_key) == data
    assert row_count(session) == len(SAMPLES)
    assert len(all_keys(store, "files/")) == len(SAMPLES)


@pytest.mark.parametrize("name, data, message", [
    ("invoice.pdf", exe(), "not a file type we accept"),
    ("setup.exe", exe(), "not a file type we accept"),
    ("archive.docx", plain_zip(), "not a file type we accept"),
    ("script.png", b"#!/bin/sh\nrm -rf /\n", "not a file type we accept"),
    ("photo.png", image("JPEG"), "is a file of type JPG but its name has .png: name it .jpg"),
    ("sheet.docx", ooxml("xl/workbook.xml"), "is a file of type XLSX but its name has .docx"),
    ("photo", image("PNG"), "its name has no extension"),
    ("empty.png", b"", "is empty"),
    ("../..", image("PNG"), "needs a name"),
])
def test_refused_uploads_leave_nothing_behind(session, store, name, data, message):
    customer = make_customer(session)
    with pytest.raises(FileRejected, match=message):
        put(session, customer, name, data)
    assert_nothing_left(session, store)


def endless_png(total: int, consumed: list[int], chunk: int = 64 * 1024):
    head = image("PNG")
    yield head
    consumed[0] += len(head)
    while consumed[0] < total:
        consumed[0] += chunk
        yield b"\x00" * chunk


def test_over_the_size_limit_is_refused_mid_stream(session, store, monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_BYTES", str(9 * MiB))  # over one 8 MiB S3 part: a multipart upload aborted
    get_settings.cache_clear()
    customer = make_customer(session)
    consumed = [0]
    with pytest.raises(FileRejected, match="larger than the upload limit of 9 MB"):
        files.upload(session, customer_id=customer.id, filename="big.png", stream=endless_png(40 * MiB, consumed),
                     now=T0)
    assert consumed[0] <= 9 * MiB + 128 * 1024  # stopped at the limit, not at the end of the stream
    assert_nothing_left(session, store)
    assert store.purge_incomplete(older_than=-60) == 0  # no multipart upload or temp file left open

    consumed = [0]
    with pytest.raises(FileRejected, match="larger than the upload limit"):  # the browser's size: not read at all
        files.upload(session, customer_id=customer.id, filename="big.png", stream=endless_png(20 * MiB, consumed),
                     declared_size=20 * MiB, now=T0)
    assert consumed[0] == 0


def test_over_the_quota_is_refused_mid_stream(session, store, monkeypatch):
    monkeypatch.setenv("FREE_STORAGE_QUOTA_BYTES", str(300_000))
    get_settings.cache_clear()
    customer = make_customer(session)
    kept = put(session, customer, "first.png", image("PNG") + b"\x00" * 200_000)
    consumed = [0]
    with pytest.raises(FileRejected, match=r"does not fit in your storage \(97\.\d KB left\)"):
        files.upload(session, customer_id=customer.id, filename="second.png",
                     stream=endless_png(5 * MiB, consumed), now=T0)
    assert consumed[0] < 400_000
    assert [k for k in all_keys(store, "files/")] == [session.get(StoredFile, kept.id).storage_key]
    assert row_count(session) == 1
    usage = files.storage_usage(session, customer_id=customer.id, now=T0)
    assert (usage.used_bytes, usage.quota_bytes) == (kept.size_bytes, 300_000)

    files.delete(session, customer_id=customer.id, file_id=kept.id)  # room again
    assert put(session, customer, "second.png", image("PNG") + b"\x00" * 200_000).size_bytes > 200_000


def test_the_plan_of_a_live_subscription_sets_the_quota(session, local_store):
    from billing_portal.billing import subscriptions
    from tests.support.builders import make_plan

    plan, prices = make_plan(session, "team", tier=2, prices={("USD", "month", 1): 2000}, trial_days=14)
    plan.storage_quota_bytes = 50_000
    session.add(plan)
    customer = make_customer(session)
    assert files.storage_quota(session, customer.id) == get_settings().free_storage_quota_bytes
    subscriptions.subscribe(session, customer_id=customer.id, price_id=prices["USD", "month", 1].id, now=T0)
    assert files.storage_quota(session, customer.id) == 50_000
    with pytest.raises(FileRejected, match="does not fit"):
        put(session, customer, "big.png", image("PNG") + b"\x00" * 60_000)
    plan.storage_quota_bytes = None  # a plan without a quota is unlimited (bounded per file only)
    session.add(plan)
    assert put(session, customer, "big.png", image("PNG") + b"\x00" * 60_000).size_bytes > 60_000


@pytest.mark.parametrize("given, shown", [
    ("../../etc/passwd.png", "passwd.png"),
    ("C:\\Users\\ana\\report.pdf", "report.pdf"),
    ("in\x00voice\x1b[31m.pdf", "invoice[31m.pdf"),
    ("evil\u202egnp.exe.png", "evilgnp.exe.png"),
    ("  lots   of\tspace .png ", "lots of space .png"),
    ("Cafe\u0301.png", "Café.png"),
    ("..hidden.png", "hidden.png"),
    ("인보이스 2026.pdf", "인보이스 2026.pdf"),
])
def test_display_names_are_sanitized(given, shown):
    assert files.sanitize_display_name(given) == shown


def test_long_names_are_capped_keeping_the_extension(session, local_store):
    customer = make_customer(session)
    view = put(session, customer, "a" * 500 + ".png", image("PNG"))
    assert len(view.name) == 200 and view.name.endswith("a.png")


# ---------------------------------------------------------------------------------------------
# Listing


def test_list_paginates_filters_searches_and_sorts_in_sql(session, local_store):
    customer = make_customer(session)
    other = make_customer(session, "bo@example.com")
    put(session, other, "Other Report.pdf", pdf_sample())
    made = []
    for i in range(25):
        name, data = (f"Report {i:02d}.pdf", pdf_sample()) if i % 2 else (f"photo_{i:02d}.png", image("PNG") + b"\0" * i)
        made.append(put(session, customer, name, data, now=T0 + timedelta(minutes=i)))
    put(session, customer, "100%_done.png", image("PNG"), now=T0 - timedelta(days=1))

    first = files.list_files(session, customer_id=customer.id, page=1, page_size=10)
    assert (first.total, first.pages, first.page, len(first.rows)) == (26, 3, 1, 10)
    assert [r.name for r in first.rows[:2]] == ["photo_24.png", "Report 23.pdf"]  # newest first
    last = files.list_files(session, customer_id=customer.id, page=3, page_size=10)
    assert len(last.rows) == 6 and last.rows[-1].name == "100%_done.png"
    beyond = files.list_files(session, customer_id=customer.id, page=9, page_size=10)
    assert beyond.page == 3

    documents = files.list_files(session, customer_id=customer.id, category="document", page_size=100)
    assert documents.total == 12 and {r.category for r in documents.rows} == {"document"}
    found = files.list_files(session, customer_id=customer.id, search="  rEPort 1 ")
    assert sorted(r.name for r in found.rows) == [f"Report {i}.pdf" for i in (11, 13, 15, 17, 19)]
    assert [r.name for r in files.list_files(session, customer_id=customer.id, search="100%").rows] == ["100%_done.png"]
    assert files.list_files(session, customer_id=customer.id, search="%").total == 1  # % is literal

    by_name = files.list_files(session, customer_id=customer.id, sort="name", page_size=3)
    assert [r.name for r in by_name.rows] == ["100%_done.png", "photo_00.png", "photo_02.png"]
    by_size = files.list_files(session, customer_id=customer.id, sort="size", category="image", page_size=2)
    assert [r.name for r in by_size.rows] == ["photo_24.png", "photo_22.png"]
    oldest = files.list_files(session, customer_id=customer.id, sort="oldest", page_size=1)
    assert oldest.rows[0].name == "100%_done.png"

    for bad in ({"sort": "random"}, {"category": "audio"}, {"page_size": 101}, {"page": 0}):
        with pytest.raises(DomainError):
            files.list_files(session, customer_id=customer.id, **bad)


# ---------------------------------------------------------------------------------------------
# Details, links, ownership, delete


def test_share_links_last_24_to_168_hours_and_download_with_disposition(session, s3_store):
    customer = make_customer(session)
    data = pdf_sample("Shared")
    view = put(session, customer, "계약서 final.pdf", data)
    for hours in (23, 169, 0, -24, 24.5, True, "48"):
        with pytest.raises(DomainError, match="24 to 168 hours"):
            files.share_link(session, customer_id=customer.id, file_id=view.id, hours=hours)
    for hours in (24, 168):
        url = files.share_link(session, customer_id=customer.id, file_id=view.id, hours=hours)
        assert f"X-Amz-Expires={hours * 3600}" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == data
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;") and "%EA%B3%84%EC%95%BD%EC%84%9C%20final.pdf" in disposition
        assert response.headers["Content-Type"] == "application/pdf"


def test_share_link_on_local_storage_is_a_signed_route(session, local_store):
    from billing_portal.gateways.storage import verify_download_token
    import urllib.parse

    customer = make_customer(session)
    view = put(session, customer, "photo.png", image("PNG"))
    url = files.share_link(session, customer_id=customer.id, file_id=view.id, hours=48)
    assert url.startswith("http://api.test:8000/api/files/download?token=")
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]
    grant = verify_download_token(token)
    assert grant.filename == "photo.png" and grant.content_type == "image/png"
    assert grant.key == session.get(StoredFile, view.id).storage_key


def test_another_customers_file_answers_like_a_missing_one(session, store):
    owner = make_customer(session)
    stranger = make_customer(session, "eve@example.com")
    view = put(session, owner, "private.pdf", pdf_sample())
    attempts = [
        lambda cid, fid: files.file_details(session, customer_id=cid, file_id=fid),
        lambda cid, fid: files.share_link(session, customer_id=cid, file_id=fid, hours=24),
        lambda cid, fid: files.download_link(session, customer_id=cid, file_id=fid),
        lambda cid, fid: files.delete(session, customer_id=cid, file_id=fid),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound) as denied:
            attempt(stranger.id, view.id)
        with pytest.raises(NotFound) as missing:
            attempt(owner.id, 999_999)
        assert str(denied.value) == str(missing.value) == "No such file."
    assert files.list_files(session, customer_id=stranger.id).total == 0
    assert files.file_details(session, customer_id=owner.id, file_id=view.id).name == "private.pdf"
    assert row_count(session) == 1 and len(all_keys(store, "files/")) == 1


def test_delete_removes_row_and_object(session, store):
    customer = make_customer(session)
    view = put(session, customer, "photo.png", image("PNG"))
    key = session.get(StoredFile, view.id).storage_key
    files.delete(session, customer_id=customer.id, file_id=view.id)
    assert session.get(StoredFile, view.id) is None and not store.exists(key)
    with pytest.raises(NotFound):
        files.delete(session, customer_id=customer.id, file_id=view.id)


# ---------------------------------------------------------------------------------------------
# Cleanup job


def test_cleanup_job_removes_expired_files_and_orphans_and_marks_missing_objects(session, store):
    customer = make_customer(session)
    now = T0 + timedelta(days=1)
    expired = put(session, customer, "old.png", image("PNG"), expires_at=now - timedelta(minutes=1))
    kept = put(session, customer, "kept.png", image("PNG"), expires_at=now + timedelta(days=1))
    lost = put(session, customer, "lost.png", image("PNG"), now=now - timedelta(hours=2))
    lost_key = session.get(StoredFile, lost.id).storage_key
    store.delete(lost_key)  # its object vanished
    old_orphan = f"files/{customer.id}/{files.new_object_id(now - timedelta(hours=2))}"
    fresh_orphan = f"files/{customer.id}/{files.new_object_id(now - timedelta(minutes=5))}"  # upload in flight
    for key in (old_orphan, fresh_orphan):
        store.put_stream(key, [b"orphan"], content_type="image/png")
    session.commit()  # the job works in its own transactions

    done = run_once(now=now, only={"file-cleanup"})
    assert done == {"file-cleanup": 3}
    session.expire_all()
    assert session.get(StoredFile, expired.id) is None
    assert session.get(StoredFile, lost.id).deleted_at == now
    assert sorted(all_keys(store, "files/")) == sorted([session.get(StoredFile, kept.id).storage_key, fresh_orphan])
    assert files.list_files(session, customer_id=customer.id, now=now).total == 1
    assert run_once(now=now, only={"file-cleanup"}) == {"file-cleanup": 0}  # idempotent
