"""/billing/files: the customer's files: streamed upload, one page of the list, details, share, delete.

Every handler resolves the signed-in customer on the server (`BillingState._customer`); a file id
from the page is only ever looked up among that customer's files (billing/files.py answers NotFound
for anyone else's). The state keeps display strings and one page of rows.

Uploads use Reflex's chunked upload (`rx.upload_files_chunk`): the background handler receives the
request body chunk by chunk and hands each file's chunks, through a small bounded queue, to
`files.upload` running in a worker thread (sync SQL and storage), so memory stays a few chunks per
upload whatever the file size. A file the rules refuse stops its worker early; the rest of that
file's chunks are read and dropped (Reflex needs the whole body consumed), and nothing is kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import reflex as rx

from billing_portal.billing import files
from billing_portal.billing.errors import DomainError
from billing_portal.billing.portal import format_day
from billing_portal.db import session_scope
from billing_portal.ids import parse_id
from billing_portal.state.billing import ALL, UNEXPECTED, BillingState, PagedState, login_redirect

logger = logging.getLogger(__name__)

ROUTE = "/billing/files"
UPLOAD_ID = "files-upload"
PAGE_SIZE = 20
CATEGORY_FILTERS = [("image", "Images"), ("video", "Videos"), ("document", "Documents")]
SORT_OPTIONS = [("newest", "Newest first"), ("oldest", "Oldest first"), ("name", "Name A–Z"), ("size", "Largest first")]
DEFAULT_SHARE_HOURS = "72"
_QUEUE_CHUNKS = 4  # blocks waiting for the worker thread, per upload
# Chunks are handed to the worker in blocks of this size: one thread hop per 64 KiB chunk cost a
# fifth of the upload's throughput. Memory stays (_QUEUE_CHUNKS + 1) blocks per upload.
_BLOCK_BYTES = 1024 * 1024
_END, _ABORT = object(), object()


@dataclasses.dataclass(frozen=True)
class FileRowView:
    id: int = 0
    name: str = ""
    kind: str = ""
    category: str = ""
    size_label: str = ""
    uploaded_label: str = ""


@dataclasses.dataclass(frozen=True)
class FileDetailsView:
    id: int = 0
    name: str = ""
    kind: str = ""
    content_type: str = ""
    size_label: str = ""
    size_bytes_label: str = ""
    uploaded_label: str = ""
    sha256: str = ""


def uploaded_label(view: files.FileView) -> str:
    return f"{format_day(view.created_at)}, {view.created_at:%H:%M} UTC"


def row_view(view: files.FileView) -> FileRowView:
    return FileRowView(view.id, view.name, view.kind, view.category, view.size_label, format_day(view.created_at))


def details_view(view: files.FileView) -> FileDetailsView:
    return FileDetailsView(
        id=view.id, name=view.name, kind=view.kind, content_type=view.content_type, size_label=view.size_label,
        size_bytes_label=f"{view.size_bytes:,} bytes", uploaded_label=uploaded_label(view), sha256=view.sha256,
    )


def browser_refusal_message(record: Any) -> str:
    """What to say about a file the dropzone refused before sending it (react-dropzone's record)."""
    record = record if isinstance(record, dict) else {}
    file = record.get("file") if isinstance(record.get("file"), dict) else {}
    name = files.sanitize_display_name(str(file.get("path") or file.get("name") or "")) or "A file"
    codes = {str(e.get("code")) for e in record.get("errors") or [] if isinstance(e, dict)}
    if "file-too-large" in codes:
        return files.too_large_message(name)
    if "file-invalid-type" in codes:
        return files.type_refused_message(name)
    return f"“{name}” was not uploaded. Try again."


class _FileFeed:
    """One file of an upload: chunks go from the event loop to `files.upload` in a worker thread."""

    def __init__(self, customer_id: int, filename: str):
        self.filename = filename
        self.received = 0
        self._block = bytearray()
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=_QUEUE_CHUNKS)
        self._worker = asyncio.ensure_future(asyncio.to_thread(self._store, customer_id, filename))

    def _chunks(self) -> Iterator[bytes]:
        while True:
            item = asyncio.run_coroutine_threadsafe(self._queue.get(), self._loop).result()
            if item is _END:
                return
            if item is _ABORT:
                raise ConnectionAbortedError("the upload was cut off")
            yield item

    def _store(self, customer_id: int, filename: str) -> files.FileView:
        with session_scope() as session:
            return files.upload(session, customer_id=customer_id, filename=filename, stream=self._chunks())

    async def _put(self, item: object) -> None:
        """Queue `item` unless the worker has already finished (a refused file stops reading)."""
        if self._worker.done():
            return
        put = asyncio.ensure_future(self._queue.put(item))
        await asyncio.wait({put, self._worker}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()

    async def feed(self, data: bytes) -> None:
        self.received += len(data)
        self._block += data
        if len(self._block) >= _BLOCK_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        if self._block:
            block, self._block = bytes(self._block), bytearray()
            await self._put(block)

    async def finish(self) -> tuple[str, str]:
        """("stored", name) or ("refused", message) once the worker is done."""
        await self._flush()
        await self._put(_END)
        try:
            view = await self._worker
        except DomainError as exc:
            return "refused", str(exc)
        except Exception:
            logger.exception("upload of %r failed", self.filename)
            name = files.sanitize_display_name(self.filename) or "The file"
            return "refused", f"“{name}” could not be stored. Try again."
        return "stored", view.name

    def abort(self) -> None:
        """The request is gone: make the worker's stream fail, so the storage keeps nothing."""
        self._block = bytearray()
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_ABORT)


class FilesState(PagedState, BillingState):
    loaded: bool = False
    loading: bool = False
    error: str = ""
    notice: str = ""

    used_label: str = ""
    quota_label: str = ""
    used_percent: int = 0
    unlimited: bool = False

    category: str = ALL
    sort: str = "newest"
    search: str = ""
    rows: list[FileRowView] = []

    uploading: bool = False
    progress: int = 0
    upload_count: int = 0
    refusals: list[str] = []

    details_open: bool = False
    details: FileDetailsView = FileDetailsView()
    details_error: str = ""
    share_hours: str = DEFAULT_SHARE_HOURS
    share_url: str = ""
    share_note: str = ""
    sharing: bool = False

    delete_open: bool = False
    delete_id: int = 0
    delete_name: str = ""
    deleting: bool = False

    @rx.var
    def filtered(self) -> bool:
        return self.category != ALL or self.search != ""

    @rx.var
    def summary(self) -> str:
        if self.total == 0:
            return ""
        noun = "file" if self.total == 1 else "files"
        return f"{self.total:,} {noun} · page {self.page} of {self.pages}"

    # --- loading ---------------------------------------------------------------------------------

    def _show(self, session, customer_id: int, page: int) -> None:
        result = files.list_files(
            session, customer_id=customer_id, category=None if self.category == ALL else self.category,
            search=self.search, sort=self.sort, page=page, page_size=PAGE_SIZE,
        )
        usage = files.storage_usage(session, customer_id=customer_id)
        self.rows = [row_view(view) for view in result.rows]
        self.page, self.pages, self.total = result.page, result.pages, result.total
        self.used_label = files.human_size(usage.used_bytes)
        self.unlimited = usage.quota_bytes is None
        self.quota_label = "unlimited" if usage.quota_bytes is None else files.human_size(usage.quota_bytes)
        self.used_percent = 0 if not usage.quota_bytes else min(100, usage.used_bytes * 100 // usage.quota_bytes)
        self.loaded = True

    def _refresh(self, page: int) -> bool:
        """Show `page` of the signed-in customer's files; False when nobody is signed in."""
        self.error = ""
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return False
                self._show(session, user.customer_id, page)
        except DomainError as exc:
            self.error = str(exc)
        except Exception:
            logger.exception("files page failed")
            self.error = UNEXPECTED
            self.loaded = True  # show the error, not an endless spinner
        return True

    def _load(self, page: int):
        self.loading = True
        yield
        try:
            if not self._refresh(page) and not self.access:
                yield login_redirect(ROUTE)
        finally:
            self.loading = False

    @rx.event
    def on_load(self):
        self.loaded = False
        self.rows, self.refusals = [], []
        self.category, self.sort, self.search = ALL, "newest", ""
        self.notice = ""
        self.uploading, self.progress = False, 0
        self.details_open = self.delete_open = False
        yield from self._load(1)

    @rx.event
    def set_category(self, value: str):
        self.category = value if value in files.CATEGORIES else ALL
        yield from self._load(1)

    @rx.event
    def set_sort(self, value: str):
        self.sort = value if value in files.SORTS else "newest"
        yield from self._load(1)

    @rx.event
    def set_search(self, value: str):
        self.search = " ".join(str(value).split())[: files.MAX_SEARCH_CHARS]
        yield from self._load(1)

    @rx.event
    def clear_filters(self):
        self.category, self.search = ALL, ""
        yield from self._load(1)

    # --- upload ----------------------------------------------------------------------------------

    @rx.event
    def set_progress(self, progress: dict):
        try:
            fraction = float(progress.get("progress", 0))
        except (AttributeError, TypeError, ValueError):
            return
        self.progress = max(0, min(100, int(fraction * 100)))

    @rx.event
    def refuse_in_browser(self, rejected: list[dict]):
        """Files the dropzone did not send (type or size checked in the browser first)."""
        self.notice = ""
        self.refusals = [browser_refusal_message(record) for record in (rejected or [])][:50]

    @rx.event(background=True)
    async def upload(self, chunks: rx.UploadChunkIterator):
        async with self:
            self.error = self.notice = ""
            self.refusals = []
            self.uploading, self.progress, self.upload_count = True, 0, 0
            with session_scope() as session:
                user = self._customer(session)
            customer_id = user.customer_id if user else None
        stored: list[str] = []
        refused: list[str] = []
        feed: _FileFeed | None = None
        try:
            async for chunk in chunks:
                if customer_id is None:
                    continue  # nobody signed in: read the body, keep nothing
                # A new part starts at offset 0 (an empty file arrives as one empty chunk).
                if chunk.offset == 0 and (feed is None or feed.received or feed.filename != chunk.filename):
                    if feed is not None:
                        outcome, text = await feed.finish()
                        (stored if outcome == "stored" else refused).append(text)
                    feed = _FileFeed(customer_id, chunk.filename)
                    async with self:
                        self.upload_count += 1
                if chunk.data:
                    await feed.feed(chunk.data)
            if feed is not None:
                outcome, text = await feed.finish()
                (stored if outcome == "stored" else refused).append(text)
                feed = None
        except Exception:
            logger.exception("upload stream failed")
            refused.append("The upload was interrupted. Try again.")
        finally:
            if feed is not None:
                feed.abort()
        async with self:
            self.uploading = False
            self.refusals = refused
            if stored:
                self.notice = (f"Uploaded “{stored[0]}”." if len(stored) == 1
                               else f"Uploaded {len(stored)} files: " + ", ".join(f"“{n}”" for n in stored) + ".")
            if customer_id is not None:
                self._refresh(1 if stored else self.page)
        if customer_id is None:
            return login_redirect(ROUTE)

    # --- details and share -----------------------------------------------------------------------

    @rx.event
    def open_details(self, file_id: int):
        self.details_error = self.share_url = self.share_note = ""
        self.share_hours = DEFAULT_SHARE_HOURS
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return
                view = files.file_details(session, customer_id=user.customer_id, file_id=parse_id(file_id))
            self.details = details_view(view)
            self.details_open = True
        except (DomainError, TypeError, ValueError) as exc:
            self.error = str(exc) if isinstance(exc, DomainError) else "No such file."
        except Exception:
            logger.exception("file details failed")
            self.error = UNEXPECTED

    @rx.event
    def set_details_open(self, value: bool):
        self.details_open = bool(value)

    @rx.event
    def set_share_hours(self, value: str):
        self.share_hours = str(value)[:6]
        self.share_url = self.share_note = self.details_error = ""

    @rx.event
    def create_share_link(self, form: dict | None = None):
        # The submitted field wins: the input's change event is debounced and may arrive after the click.
        if form and "hours" in form:
            self.share_hours = str(form["hours"])[:6]
        self.details_error = self.share_url = self.share_note = ""
        low, high = files.SHARE_HOURS
        try:
            hours = int(self.share_hours.strip())
        except ValueError:
            self.details_error = f"Enter the hours as a whole number from {low} to {high}."
            return
        self.sharing = True
        yield
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return
                url = files.share_link(session, customer_id=user.customer_id, file_id=self.details.id, hours=hours)
            self.share_url = url
            days = f" ({hours // 24} days)" if hours % 24 == 0 and hours > 24 else (" (1 day)" if hours == 24 else "")
            self.share_note = f"Anyone with this link can download the file for {hours} hours{days}."
        except DomainError as exc:
            self.details_error = str(exc)
        except Exception:
            logger.exception("share link failed")
            self.details_error = UNEXPECTED
        finally:
            self.sharing = False

    @rx.event
    def download(self, file_id: int):
        """The owner's own download: a link valid for five minutes, opened at once."""
        self.error = ""
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return None
                url = files.download_link(session, customer_id=user.customer_id, file_id=parse_id(file_id))
            return rx.redirect(url, is_external=True)
        except DomainError as exc:
            self.error = str(exc)
        except Exception:
            logger.exception("download link failed")
            self.error = UNEXPECTED
        return None

    # --- delete ----------------------------------------------------------------------------------

    @rx.event
    def ask_delete(self, file_id: int):
        self.error = self.notice = ""
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return
                view = files.file_details(session, customer_id=user.customer_id, file_id=parse_id(file_id))
        except (DomainError, TypeError, ValueError):
            self.error = "No such file."
            return
        self.delete_id, self.delete_name = view.id, view.name
        self.delete_open = True

    @rx.event
    def set_delete_open(self, value: bool):
        self.delete_open = bool(value)

    @rx.event
    def confirm_delete(self):
        self.error = self.notice = ""
        self.deleting = True
        yield
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return
                files.delete(session, customer_id=user.customer_id, file_id=self.delete_id)
                self._show(session, user.customer_id, self.page)
            self.notice = f"Deleted “{self.delete_name}”."
            self.delete_open = self.details_open = False
        except DomainError as exc:
            self.error = str(exc)
            self.delete_open = False
        except Exception:
            logger.exception("delete failed")
            self.error = UNEXPECTED
            self.delete_open = False
        finally:
            self.deleting = False
