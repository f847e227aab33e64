"""S3 failing under uploads, deletes and the cleanup job, on SQLite and PostgreSQL.

moto's server stands in for S3 behind the fault proxy (tests/support/fault_proxy.py): S3 down (503
or refused connections), an upload whose connection breaks in the middle of a part, a delete that
fails. Uploads go through the files page's path (`_FileFeed`, as the upload handler streams them).
What S3 really holds is read from moto directly.

Guarantees: a clear message and nothing kept when S3 fails; after the cleanup job, no live row
without its object and no object without its live row (objects younger than the grace period are
left alone: they may be uploads in flight).
"""

from datetime import timedelta

import boto3
import pytest
from sqlmodel import Session, select

from billing_portal.billing import files
from billing_portal.billing.errors import DomainError
from billing_portal.db import session_scope
from billing_portal.gateways.storage import DELETE_UNAVAILABLE, WRITE_UNAVAILABLE, get_storage
from billing_portal.jobs.runner import run_once
from billing_portal.models import StoredFile
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings
from tests.billing.test_files import BUCKET, MiB, aws_env, image  # noqa: F401
from tests.state.test_files_state import stream
from tests.support.builders import make_customer
from tests.support.fault_proxy import FaultProxy

OBJECTS = rf"/{BUCKET}/files/.*"


@pytest.fixture
def s3(moto_clean, aws_env):  # noqa: F811
    """moto itself, behind no proxy: what S3 really holds."""
    client = boto3.client("s3", endpoint_url=moto_clean.url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def proxy(moto_clean, s3, engine, monkeypatch):
    with FaultProxy(moto_clean.url) as fault_proxy:
        for name, value in {"STORAGE_BACKEND": "s3", "S3_ENDPOINT_URL": fault_proxy.url, "S3_BUCKET": BUCKET,
                            "S3_REGION": "us-east-1", "S3_MAX_ATTEMPTS": "2", "S3_CONNECT_TIMEOUT": "1",
                            "S3_READ_TIMEOUT": "2"}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("CDN_DOMAIN", raising=False)
        get_settings.cache_clear()
        yield fault_proxy


@pytest.fixture
def customer_id(engine) -> int:
    with session_scope(engine) as session:
        return make_customer(session).id


def objects(s3) -> set[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="files/")
    return {item["Key"] for item in listed.get("Contents", [])}


def multipart_uploads(s3) -> list:
    return s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])


def live_rows(engine) -> dict[str, StoredFile]:
    with Session(engine) as session:
        return {row.storage_key: row for row in session.exec(select(StoredFile).where(StoredFile.deleted_at.is_(None)))}


S3_DOWN = {
    "503": dict(method="*", path=".*", fault="error", status=503),
    "connection dropped": dict(method="*", path=".*", fault="drop"),
    "cut mid-body": dict(method="PUT", path=OBJECTS, fault="fail_after_bytes", after_bytes=64 * 1024),
}


@pytest.mark.parametrize("fault", S3_DOWN.values(), ids=S3_DOWN.keys())
def test_an_upload_while_s3_fails_says_so_keeps_nothing_and_works_once_s3_is_back(engine, proxy, s3, customer_id,
                                                                                 fault):
    picture = image("PNG") + b"\x00" * (512 * 1024)
    proxy.add(**fault)

    assert stream(customer_id, "scan.png", picture) == ("refused", WRITE_UNAVAILABLE)

    assert live_rows(engine) == {} and objects(s3) == set() and multipart_uploads(s3) == []
    proxy.clear()
    assert stream(customer_id, "scan.png", picture) == ("stored", "scan.png")
    assert set(live_rows(engine)) == objects(s3) and len(objects(s3)) == 1


def test_an_upload_failing_between_its_parts_is_aborted_and_leaves_nothing(engine, proxy, s3, customer_id):
    video = image("PNG") + b"\x00" * (9 * MiB)  # two 8 MiB parts: a multipart upload
    proxy.add("PUT", rf"{OBJECTS}\?.*partNumber=2.*", "fail_after_bytes", after_bytes=MiB)

    assert stream(customer_id, "clip.png", video) == ("refused", WRITE_UNAVAILABLE)

    assert live_rows(engine) == {} and objects(s3) == set()
    assert multipart_uploads(s3) == []  # the first part was aborted with the upload


def test_an_upload_whose_abort_also_fails_leaves_a_partial_write_only_the_purge_removes(engine, proxy, s3,
                                                                                       customer_id):
    video = image("PNG") + b"\x00" * (9 * MiB)
    proxy.add("PUT", rf"{OBJECTS}\?.*partNumber=2.*", "fail_after_bytes", after_bytes=MiB)
    proxy.add("DELETE", rf"{OBJECTS}\?.*uploadId=.*", "error", status=503)

    assert stream(customer_id, "clip.png", video) == ("refused", WRITE_UNAVAILABLE)

    assert live_rows(engine) == {} and objects(s3) == set()  # a partial write is no object
    assert len(multipart_uploads(s3)) == 1
    proxy.clear()
    assert get_storage().purge_incomplete(older_than=0) == 1  # the cleanup job's purge, once a day old
    assert multipart_uploads(s3) == []


def test_after_the_cleanup_job_every_live_row_has_its_object_and_every_object_its_row(engine, proxy, s3,
                                                                                     customer_id):
    now = utcnow()
    old = now - timedelta(hours=2)
    with session_scope(engine) as session:
        kept = files.upload(session, customer_id=customer_id, filename="kept.png", stream=[image("PNG")], now=old)
        lost = files.upload(session, customer_id=customer_id, filename="lost.png", stream=[image("PNG")], now=old)
    # S3 lost one object; a process died after storing another, before its row was committed; and
    # an upload is in flight right now (object stored, row not yet written).
    with Session(engine) as session:
        s3.delete_object(Bucket=BUCKET, Key=session.get(StoredFile, lost.id).storage_key)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        files.upload(session, customer_id=customer_id, filename="orphan.png", stream=[image("PNG")], now=old)
        raise RuntimeError("the process died before committing")
    in_flight = f"files/{customer_id}/{files.new_object_id(now - timedelta(minutes=5))}"
    s3.put_object(Bucket=BUCKET, Key=in_flight, Body=image("PNG"))
    assert len(objects(s3)) == 3 and len(live_rows(engine)) == 2

    # S3 fails while the job deletes: the job fails, and what it had not done is still to do.
    proxy.add("DELETE", OBJECTS, "error", status=503)
    assert run_once(now=now, only={"file-cleanup"}) == {"file-cleanup": -1}
    assert len(objects(s3)) == 3

    proxy.clear()
    assert run_once(now=now, only={"file-cleanup"}) == {"file-cleanup": 2}  # the orphan, the lost row

    with Session(engine) as session:
        kept_key = session.get(StoredFile, kept.id).storage_key
        assert session.get(StoredFile, lost.id).deleted_at is not None
    assert set(live_rows(engine)) == {kept_key}
    assert objects(s3) == {kept_key, in_flight}  # the upload in flight is left alone
    assert run_once(now=now, only={"file-cleanup"}) == {"file-cleanup": 0}


def test_a_delete_while_s3_is_down_says_so_and_changes_nothing(engine, proxy, s3, customer_id):
    with session_scope(engine) as session:
        stored = files.upload(session, customer_id=customer_id, filename="kept.png", stream=[image("PNG")])
    proxy.add("*", ".*", "error", status=503)

    with pytest.raises(DomainError) as raised, session_scope(engine) as session:
        files.delete(session, customer_id=customer_id, file_id=stored.id)

    assert str(raised.value) == DELETE_UNAVAILABLE
    assert set(live_rows(engine)) == objects(s3) and len(objects(s3)) == 1
    proxy.clear()
    with session_scope(engine) as session:
        files.delete(session, customer_id=customer_id, file_id=stored.id)
    assert live_rows(engine) == {} and objects(s3) == set()
