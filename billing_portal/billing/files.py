"""Customers' files: streamed uploads checked on the server, listing, share links, delete, cleanup.

Rules (ARCHITECTURE.md, "Files"):

- **Type by content.** The first bytes of the stream (`PEEK_BYTES`) are sniffed with the `filetype`
  library against the whitelist JPG, PNG, WebP, GIF, MP4, MOV, AVI, PDF, DOCX, XLSX, XLS. DOCX and
  XLSX are zip containers: they are recognised by walking the zip's local file headers in the
  peeked bytes and finding `[Content_Types].xml` plus a `word/` (DOCX) or `xl/` (XLSX) entry; any
  other zip is refused. The name's extension must agree with the detected type (`.jpg`/`.jpeg` for
  JPEG). A renamed program or archive is refused whatever its name says.
- **Size and quota while streaming.** The rest of the stream goes straight to the storage gateway
  with `max_bytes = min(MAX_UPLOAD_BYTES, quota left)`, so an upload that goes over stops at the
  first byte too many; nothing is kept. The quota is the storage quota of the plan of the customer's
  live subscription (a plan without one is unlimited); a customer without a live subscription
  (none, or only an `incomplete` one whose first payment is pending) gets `FREE_STORAGE_QUOTA_BYTES`
  (1 GiB by default, the Free plan's quota). The quota is checked again under a lock on the
  customer row before the row is written, so two concurrent uploads cannot both squeeze in.
- **Names and keys.** The display name is reduced to its last path component, NFC-normalised,
  stripped of control and format characters (bidi overrides included), whitespace collapsed and
  capped at 200 characters keeping the extension. Keys are made by the server:
  `files/{customer_id}/{uuid7}`; the UUIDv7 carries its creation time, which the cleanup uses to
  leave uploads in progress alone.
- **Nothing left behind.** A refused upload raises `FileRejected` (a `DomainError` whose message is
  for the person) and leaves no object and no row. If the row cannot be written after the object was
  stored, the object is deleted again; if the caller's transaction is lost after that, the object is
  an orphan that `cleanup_files` removes an hour later.
- **Ownership.** Every function takes the customer id of the signed-in user; another customer's
  file answers `NotFound` exactly like a missing one.

Storage failures become `StorageFailed` (a `DomainError` carrying the gateway's message for people).
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import secrets
import struct
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import filetype
from sqlmodel import Session

from billing_portal.billing import repository
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.gateways.storage import (
    ObjectTooLarge,
    Storage,
    StorageError,
    StorageUnavailable,
    get_storage,
)
from billing_portal.models import Customer, Plan, Price, StoredFile, SubscriptionStatus
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

logger = logging.getLogger(__name__)

PEEK_BYTES = 64 * 1024  # sniffed before anything is stored (filetype itself reads 8 KiB)
READ_CHUNK = 1024 * 1024
MAX_NAME_CHARS = 200
MAX_SEARCH_CHARS = 100
MAX_PAGE_SIZE = 100
SHARE_HOURS = (24, 168)
ORPHAN_GRACE = timedelta(hours=1)
CATEGORIES = ("image", "video", "document")
SORTS = tuple(repository.FILE_SORTS)
FILE_PREFIX = "files/"


class FileRejected(DomainError):
    """An upload the rules refuse; nothing was stored."""


class StorageFailed(DomainError):
    """The storage did not answer; the message is the gateway's, fit for people."""


# --------------------------------------------------------------------------------------------
# The whitelist


@dataclass(frozen=True)
class FileKind:
    label: str  # what people read: "PNG"
    mime: str
    category: str
    extensions: tuple[str, ...]  # the first is the canonical one


KINDS: dict[str, FileKind] = {
    kind.extensions[0]: kind
    for kind in (
        FileKind("JPG", "image/jpeg", "image", ("jpg", "jpeg")),
        FileKind("PNG", "image/png", "image", ("png",)),
        FileKind("WebP", "image/webp", "image", ("webp",)),
        FileKind("GIF", "image/gif", "image", ("gif",)),
        FileKind("MP4", "video/mp4", "video", ("mp4",)),
        FileKind("MOV", "video/quicktime", "video", ("mov",)),
        FileKind("AVI", "video/x-msvideo", "video", ("avi",)),
        FileKind("PDF", "application/pdf", "document", ("pdf",)),
        FileKind("DOCX", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                 "document", ("docx",)),
        FileKind("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "document", ("xlsx",)),
        FileKind("XLS", "application/vnd.ms-excel", "document", ("xls",)),
    )
}
# filetype's answers that are one of ours under another name (an animated PNG is a PNG).
_FILETYPE_ALIASES = {"apng": "png"}
ALLOWED_LABEL = "JPG, PNG, WebP, GIF, MP4, MOV, AVI, PDF, DOCX, XLSX or XLS"

_ZIP_LOCAL_HEADER = b"PK\x03\x04"


def _zip_entry_names(head: bytes) -> list[str]:
    """Names of the zip entries whose local headers lie within `head` (the start of a zip).

    Walks header to header using the compressed size; when an entry defers its sizes to a data
    descriptor (flag bit 3, as streaming writers do), the next header is searched for instead.
    """
    names: list[str] = []
    offset = 0
    while offset + 30 <= len(head) and head[offset:offset + 4] == _ZIP_LOCAL_HEADER and len(names) < 1000:
        flags, = struct.unpack_from("<H", head, offset + 6)
        compressed, = struct.unpack_from("<I", head, offset + 18)
        name_len, extra_len = struct.unpack_from("<HH", head, offset + 26)
        raw = head[offset + 30:offset + 30 + name_len]
        if len(raw) < name_len:
            break
        names.append(raw.decode("utf-8" if flags & 0x800 else "cp437", errors="replace"))
        data_start = offset + 30 + name_len + extra_len
        if flags & 0x08 and compressed == 0:
            offset = head.find(_ZIP_LOCAL_HEADER, data_start)
            if offset < 0:
                break
        else:
            offset = data_start + compressed
    return names


def detect_kind(head: bytes) -> FileKind | None:
    """The whitelisted kind the first bytes of a file show, or None."""
    if head.startswith(_ZIP_LOCAL_HEADER):
        names = _zip_entry_names(head)
        if "[Content_Types].xml" in names:
            if any(name.startswith("word/") for name in names):
                return KINDS["docx"]
            if any(name.startswith("xl/") for name in names):
                return KINDS["xlsx"]
        return None  # any other zip (including .jar, .apk, .odt) is not on the list
    guess = filetype.guess(head)
    if guess is None:
        return None
    return KINDS.get(_FILETYPE_ALIASES.get(guess.extension, guess.extension))


# --------------------------------------------------------------------------------------------
# Names


def sanitize_display_name(filename: str) -> str:
    """What a file is called in the portal: see the module docstring. Empty when nothing is left."""
    name = unicodedata.normalize("NFC", str(filename or ""))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        " " if unicodedata.category(ch) in ("Zs", "Zl", "Zp") or ch in "\t\n\r" else ch
        for ch in name
        if unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cs", "Cn") or ch in "\t\n\r"
    )
    name = " ".join(name.split()).strip(". ")
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_NAME_CHARS - len(ext) - 1].rstrip(". ") + "." + ext
        else:
            name = name[:MAX_NAME_CHARS].rstrip(". ")
    return name


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def human_size(size: int) -> str:
    """1.5 MB, 200 KB, 12 bytes (binary units, as the limits are set)."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value >= 100 or value == int(value) else f"{value:.1f} {unit}"
    return f"{size} byte" + ("" if size == 1 else "s")


# --------------------------------------------------------------------------------------------
# Views


@dataclass(frozen=True)
class FileView:
    id: int
    name: str
    size_bytes: int
    size_label: str
    content_type: str
    kind: str  # "PNG"
    category: str
    sha256: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class Page:
    rows: tuple[FileView, ...]
    total: int
    page: int
    pages: int
    page_size: int


@dataclass(frozen=True)
class StorageUsage:
    used_bytes: int
    quota_bytes: int | None  # None: unlimited

    @property
    def left_bytes(self) -> int | None:
        return None if self.quota_bytes is None else max(self.quota_bytes - self.used_bytes, 0)


def _view(row: StoredFile) -> FileView:
    kind = next((k for k in KINDS.values() if k.mime == row.content_type), None)
    return FileView(
        id=row.id,
        name=row.display_name,
        size_bytes=row.size_bytes,
        size_label=human_size(row.size_bytes),
        content_type=row.content_type,
        kind=kind.label if kind else row.content_type,
        category=row.category,
        sha256=row.sha256,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


# --------------------------------------------------------------------------------------------
# Quota


def storage_quota(session: Session, customer_id: int) -> int | None:
    """Bytes the customer may keep: their live plan's quota (None: unlimited), else the free quota."""
    subscription = repository.live_subscription(session, customer_id)
    if subscription is None or subscription.status == SubscriptionStatus.INCOMPLETE:
        return get_settings().free_storage_quota_bytes
    price = session.get(Price, subscription.price_id)
    plan = session.get(Plan, price.plan_id) if price else None
    return plan.storage_quota_bytes if plan else get_settings().free_storage_quota_bytes


def storage_usage(session: Session, *, customer_id: int, now: datetime | None = None) -> StorageUsage:
    _customer(session, customer_id)
    return StorageUsage(repository.storage_used(session, customer_id, now or utcnow()),
                        storage_quota(session, customer_id))


def type_refused_message(name: str) -> str:
    return f"“{name}” is not a file type we accept. Upload {ALLOWED_LABEL} files."


def too_large_message(name: str) -> str:
    return f"“{name}” is larger than the upload limit of {human_size(get_settings().max_upload_bytes)}."


def _quota_message(name: str, left: int) -> str:
    return (f"“{name}” does not fit in your storage ({human_size(left)} left). "
            "Delete some files or move to a plan with more storage.")


# --------------------------------------------------------------------------------------------
# Upload


def _chunks(stream: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    read = getattr(stream, "read", None)
    if callable(read):
        while chunk := read(READ_CHUNK):
            yield bytes(chunk)
        return
    for chunk in stream:
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise TypeError(f"upload stream yielded {type(chunk).__name__}, not bytes")
        if chunk:
            yield bytes(chunk)


def _peek(chunks: Iterator[bytes], size: int) -> tuple[bytes, Iterator[bytes]]:
    """The first `size` bytes (fewer when the stream is shorter) and an iterator of everything."""
    taken: list[bytes] = []
    have = 0
    for chunk in chunks:
        taken.append(chunk)
        have += len(chunk)
        if have >= size:
            break
    head = b"".join(taken)

    def everything() -> Iterator[bytes]:
        if head:
            yield head
        yield from chunks

    return head[:size], everything()


def new_object_id(now: datetime) -> str:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits."""
    millis = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    value = (millis << 80) | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def _key_time(key: str) -> datetime | None:
    """When the object under a server-made key was created (from its UUIDv7), else None."""
    try:
        value = uuid.UUID(key.rsplit("/", 1)[-1])
    except ValueError:
        return None
    if value.version != 7:
        return None
    return datetime.fromtimestamp((value.int >> 80) / 1000, tz=UTC)


def upload(
    session: Session,
    *,
    customer_id: int,
    filename: str,
    stream: BinaryIO | Iterable[bytes],
    declared_size: int | None = None,
    now: datetime | None = None,
    expires_at: datetime | None = None,
    storage: Storage | None = None,
) -> FileView:
    """Check and store one uploaded file for the customer; see the module docstring for the rules.

    `stream` is a binary file object or an iterable of byte chunks, read once. `declared_size`
    (what the browser says) only lets an obviously too large upload be refused before reading.
    """
    now = now or utcnow()
    storage = storage or get_storage()
    _customer(session, customer_id)
    name = sanitize_display_name(filename)
    if not name:
        raise FileRejected("The file needs a name.")
    limit = get_settings().max_upload_bytes
    quota = storage_quota(session, customer_id)
    left = None if quota is None else max(quota - repository.storage_used(session, customer_id, now), 0)
    too_large = too_large_message(name)
    if declared_size is not None:
        if declared_size > limit:
            raise FileRejected(too_large)
        if left is not None and declared_size > left:
            raise FileRejected(_quota_message(name, left))

    head, everything = _peek(_chunks(stream), PEEK_BYTES)
    if not head:
        raise FileRejected(f"“{name}” is empty.")
    kind = detect_kind(head)
    if kind is None:
        raise FileRejected(type_refused_message(name))
    extension = _extension(name)
    if extension not in kind.extensions:
        shown = f".{extension}" if extension else "no extension"
        raise FileRejected(
            f"“{name}” is a file of type {kind.label} but its name has {shown}: "
            f"name it .{kind.extensions[0]} and upload it again."
        )
    if left is not None and left == 0:
        raise FileRejected(_quota_message(name, 0))
    max_bytes = limit if left is None else min(limit, left)

    key = f"{FILE_PREFIX}{customer_id}/{new_object_id(now)}"
    try:
        stored = storage.put_stream(key, everything, content_type=kind.mime, max_bytes=max_bytes)
    except ObjectTooLarge:
        raise FileRejected(too_large if max_bytes == limit else _quota_message(name, left or 0)) from None
    except StorageUnavailable as error:
        raise StorageFailed(str(error)) from None

    try:
        # Checked again under the customer's row lock: a concurrent upload may have used the room.
        repository.lock_customer(session, customer_id)
        if quota is not None:
            used = repository.storage_used(session, customer_id, now)
            if used + stored.size > quota:
                raise FileRejected(_quota_message(name, max(quota - used, 0)))
        row = StoredFile(
            owner_id=customer_id,
            storage_key=key,
            display_name=name,
            size_bytes=stored.size,
            content_type=kind.mime,
            category=kind.category,
            sha256=stored.sha256,
            created_at=now,
            expires_at=expires_at,
        )
        session.add(row)
        session.flush()
    except BaseException:
        with contextlib.suppress(StorageError):
            storage.delete(key)
        raise
    logger.info("customer %s uploaded file %s (%s, %d bytes)", customer_id, row.id, kind.label, stored.size)
    return _view(row)


# --------------------------------------------------------------------------------------------
# Reading, links, delete


def list_files(
    session: Session,
    *,
    customer_id: int,
    category: str | None = None,
    search: str | None = None,
    sort: str = "newest",
    page: int = 1,
    page_size: int = 20,
    now: datetime | None = None,
) -> Page:
    """One page of the customer's files, filtered, searched by name and sorted in SQL."""
    if category not in (None, "", *CATEGORIES):
        raise DomainError("Choose images, videos or documents.")
    if sort not in SORTS:
        raise DomainError(f"Sort by one of: {', '.join(SORTS)}.")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise DomainError(f"A page shows 1 to {MAX_PAGE_SIZE} files.")
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise DomainError("Pages are numbered from 1.")
    search = " ".join((search or "").split())[:MAX_SEARCH_CHARS]
    now = now or utcnow()
    rows, total = repository.files_page(
        session, customer_id, now=now, category=category or None, search=search or None, sort=sort,
        limit=page_size, offset=(page - 1) * page_size,
    )
    pages = max(1, math.ceil(total / page_size))
    if page > pages and total:  # past the end (a file was deleted meanwhile): show the last page
        return list_files(session, customer_id=customer_id, category=category, search=search, sort=sort,
                          page=pages, page_size=page_size, now=now)
    return Page(rows=tuple(_view(row) for row in rows), total=total, page=page, pages=pages, page_size=page_size)


def file_details(session: Session, *, customer_id: int, file_id: int, now: datetime | None = None) -> FileView:
    return _view(_owned(session, customer_id, file_id, now))


def share_link(
    session: Session,
    *,
    customer_id: int,
    file_id: int,
    hours: int,
    now: datetime | None = None,
    storage: Storage | None = None,
) -> str:
    """A presigned link anyone holding it can download the file with, for 24 to 168 hours."""
    low, high = SHARE_HOURS
    if isinstance(hours, bool) or not isinstance(hours, int) or not low <= hours <= high:
        raise DomainError(f"A share link lasts {low} to {high} hours (1 to 7 days).")
    row = _owned(session, customer_id, file_id, now)
    return _link(storage, row, hours * 3600)


def download_link(
    session: Session,
    *,
    customer_id: int,
    file_id: int,
    expires_in: int = 300,
    now: datetime | None = None,
    storage: Storage | None = None,
) -> str:
    """A short-lived link for the owner's own download."""
    row = _owned(session, customer_id, file_id, now)
    return _link(storage, row, expires_in)


def delete(session: Session, *, customer_id: int, file_id: int, storage: Storage | None = None) -> None:
    """Remove the file's row and its object (the row goes first, in the caller's transaction:
    if the storage fails, the exception rolls the row back and nothing changed)."""
    row = _owned(session, customer_id, file_id, None)
    key = row.storage_key
    session.delete(row)
    session.flush()
    try:
        (storage or get_storage()).delete(key)
    except StorageUnavailable as error:
        raise StorageFailed(str(error)) from None


def _link(storage: Storage | None, row: StoredFile, expires_in: int) -> str:
    try:
        return (storage or get_storage()).download_url(
            row.storage_key, filename=row.display_name, expires_in=expires_in, content_type=row.content_type
        )
    except StorageUnavailable as error:
        raise StorageFailed(str(error)) from None


def _owned(session: Session, customer_id: int, file_id: int, now: datetime | None) -> StoredFile:
    if isinstance(file_id, bool) or not isinstance(file_id, int):
        raise NotFound("No such file.")
    row = repository.live_file(session, customer_id, file_id, now or utcnow())
    if row is None:
        raise NotFound("No such file.")
    return row


def _customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("No such customer.")
    return customer


# --------------------------------------------------------------------------------------------
# Cleanup (jobs/tasks.py: cleanup_files)


@dataclass(frozen=True)
class CleanupReport:
    expired: int = 0  # expired files removed (row and object)
    orphans: int = 0  # objects under files/ with no live row, removed
    missing: int = 0  # rows whose object is gone, marked deleted
    incomplete: int = 0  # abandoned partial writes purged by the storage

    @property
    def total(self) -> int:
        return self.expired + self.orphans + self.missing + self.incomplete


def cleanup_files(
    now: datetime,
    *,
    session_scope: Callable[[], AbstractContextManager[Session]],
    storage: Storage | None = None,
    batch: int = 500,
) -> CleanupReport:
    """Remove expired files and orphans, mark rows whose object is missing, purge partial writes.

    Idempotent; safe beside uploads in progress: an object younger than an hour (by its UUIDv7) is
    never an orphan, and only rows created more than an hour before are checked for their object.
    Memory: the keys under `files/` are held in a set while rows are checked (about 100 bytes each).
    """
    storage = storage or get_storage()
    started = time.monotonic()

    expired = 0
    while True:
        with session_scope() as session:
            rows = repository.expired_files(session, now, limit=batch)
            for row in rows:
                storage.delete(row.storage_key)
                session.delete(row)
            expired += len(rows)
        if len(rows) < batch:
            break

    orphans, listed = 0, set()
    cutoff = now - ORPHAN_GRACE
    cursor = None
    while True:
        keys, cursor = storage.list(FILE_PREFIX, page_size=min(max(batch, 1), 1000), cursor=cursor)
        listed.update(keys)
        with session_scope() as session:
            live = repository.live_keys_among(session, keys)
        for key in keys:
            created = _key_time(key)
            if key not in live and (created is None or created < cutoff):
                storage.delete(key)
                listed.discard(key)
                orphans += 1
        if cursor is None:
            break

    missing, after_id = 0, 0
    while True:
        with session_scope() as session:
            rows = repository.live_files_after(session, after_id=after_id, created_before=cutoff, limit=batch)
            for row in rows:
                if row.storage_key not in listed and not storage.exists(row.storage_key):
                    row.deleted_at = now
                    session.add(row)
                    missing += 1
            after_id = rows[-1].id if rows else after_id
        if len(rows) < batch:
            break

    incomplete = storage.purge_incomplete()
    report = CleanupReport(expired=expired, orphans=orphans, missing=missing, incomplete=incomplete)
    logger.info("file cleanup: %s in %.1f s", report, time.monotonic() - started)
    return report
