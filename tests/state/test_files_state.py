"""The files page's upload path without a browser: chunks as Reflex's chunked upload hands them over,
through `_FileFeed` into the files service on real storage (local disk and S3 on moto) and both
databases; and the messages for files the dropzone refuses in the browser."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from sqlmodel import Session, select

from billing_portal.billing import files
from billing_portal.db import engine_for
from billing_portal.models import StoredFile
from billing_portal.settings import get_settings
from billing_portal.state.files import (
    FileDetailsView,
    FileRowView,
    PAGE_SIZE,
    FilesState,
    _FileFeed,
    browser_refusal_message,
    details_view,
    row_view,
)
from tests.billing.test_files import all_keys, aws_env, exe, image, local_store, pdf_sample, s3_store, store  # noqa: F401
from tests.support.builders import T0, make_customer
from tests.support.event_loops import run_to_completion

CHUNK = 64 * 1024


@pytest.fixture
def customer_id(session) -> int:
    customer = make_customer(session)
    session.commit()  # the upload runs in its own transaction, in a worker thread
    return customer.id


def stream(customer_id: int, name: str, data: bytes, *, chunk: int = CHUNK, abort_after: int | None = None):
    """Feed `data` in chunks the way the upload handler does; the outcome, and how many chunks were read."""

    async def run():
        feed = _FileFeed(customer_id, name)
        for number, start in enumerate(range(0, max(len(data), 1), chunk)):
            if abort_after is not None and number == abort_after:
                feed.abort()
                try:
                    await feed._worker
                except ConnectionAbortedError:
                    return "aborted", ""
            await feed.feed(data[start:start + chunk])
        return await asyncio.wait_for(feed.finish(), timeout=30)

    return run_to_completion(run())


def rows(db_url) -> list[StoredFile]:
    with Session(engine_for(db_url)) as fresh:
        return list(fresh.exec(select(StoredFile)).all())


def test_two_files_stream_into_storage_with_their_hash(db_url, customer_id, store):
    big = image("PNG") + b"\x00" * (3 * 1024 * 1024)  # many chunks
    assert stream(customer_id, "scan.png", big) == ("stored", "scan.png")
    assert stream(customer_id, "contract.pdf", pdf_sample()) == ("stored", "contract.pdf")
    kept = {row.display_name: row for row in rows(db_url)}
    assert set(kept) == {"scan.png", "contract.pdf"}
    assert kept["scan.png"].size_bytes == len(big)
    assert kept["scan.png"].sha256 == hashlib.sha256(big).hexdigest()
    assert len(all_keys(store, "files/")) == 2


def test_a_program_renamed_pdf_is_refused_and_the_rest_of_it_is_dropped(db_url, customer_id, store):
    outcome = stream(customer_id, "invoice.pdf", exe() + b"\x00" * (2 * 1024 * 1024))
    assert outcome == ("refused", "“invoice.pdf” is not a file type we accept. "
                                  f"Upload {files.ALLOWED_LABEL} files.")
    assert rows(db_url) == [] and all_keys(store, "files/") == []


def test_a_file_over_the_limit_is_stopped_while_streaming(db_url, customer_id, local_store, monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_BYTES", str(200 * 1024))
    get_settings.cache_clear()
    outcome = stream(customer_id, "huge.png", image("PNG") + b"\x00" * (1024 * 1024))
    assert outcome == ("refused", "“huge.png” is larger than the upload limit of 200 KB.")
    assert rows(db_url) == [] and all_keys(local_store, "files/") == []


def test_a_file_over_the_quota_says_so(db_url, customer_id, local_store, monkeypatch):
    monkeypatch.setenv("FREE_STORAGE_QUOTA_BYTES", str(100 * 1024))
    get_settings.cache_clear()
    outcome, message = stream(customer_id, "photo.png", image("PNG") + b"\x00" * (300 * 1024))
    assert outcome == "refused" and message.startswith("“photo.png” does not fit in your storage (100 KB left).")
    assert rows(db_url) == [] and all_keys(local_store, "files/") == []


def test_an_upload_cut_off_midway_leaves_nothing(db_url, customer_id, store):
    assert stream(customer_id, "clip.png", image("PNG") + b"\x00" * (1024 * 1024), abort_after=3)[0] == "aborted"
    assert rows(db_url) == [] and all_keys(store, "files/") == []


def test_an_empty_file_is_refused(db_url, customer_id, local_store):
    assert stream(customer_id, "empty.pdf", b"") == ("refused", "“empty.pdf” is empty.")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"file": {"path": "./movie.mkv"}, "errors": [{"code": "file-invalid-type"}]},
         f"“movie.mkv” is not a file type we accept. Upload {files.ALLOWED_LABEL} files."),
        ({"file": {"path": "big.mp4"}, "errors": [{"code": "file-too-large"}, {"code": "file-invalid-type"}]},
         "“big.mp4” is larger than the upload limit of 50 MB."),
        ({"file": {"name": "x.png"}, "errors": [{"code": "too-many-files"}]}, "“x.png” was not uploaded. Try again."),
        ("garbage", "“A file” was not uploaded. Try again."),
    ],
)
def test_files_refused_in_the_browser_get_the_servers_wording(record, message):
    assert browser_refusal_message(record) == message


def test_rows_and_details_reach_the_page_as_display_values():
    view = files.FileView(id=3, name="사업자등록증.pdf", size_bytes=1536, size_label="1.5 KB",
                          content_type="application/pdf", kind="PDF", category="document", sha256="ab" * 32,
                          created_at=T0, expires_at=None)
    assert row_view(view) == FileRowView(3, "사업자등록증.pdf", "PDF", "document", "1.5 KB", "31 January 2026")
    assert details_view(view) == FileDetailsView(
        id=3, name="사업자등록증.pdf", kind="PDF", content_type="application/pdf", size_label="1.5 KB",
        size_bytes_label="1,536 bytes", uploaded_label="31 January 2026, 12:00 UTC", sha256="ab" * 32,
    )


def test_the_state_keeps_no_customer_ids():
    names = set(FilesState.base_vars) | set(FilesState.computed_vars)
    assert not {n for n in names if n.endswith(("customer_id", "user_id", "role", "storage_key"))}
    assert PAGE_SIZE <= files.MAX_PAGE_SIZE  # one page of rows at most
