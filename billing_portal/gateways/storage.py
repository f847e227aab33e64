"""File storage: local disk (the embedded default) or S3 through boto3.

This is the only module of the portal that imports boto3/botocore (tests/test_architecture.py).

    storage = get_storage()                      # backend chosen by STORAGE_BACKEND
    stored = storage.put_stream(key, upload, content_type="application/pdf", max_bytes=50 * MB)
    stored.size, stored.sha256                   # counted and hashed while streaming
    for chunk in storage.open_stream(key): ...   # chunked read
    storage.download_url(key, filename="인보이스 2026.pdf", expires_in=3600)

Rules every backend keeps:

- Keys are made by the server and checked by `validate_key` (`ValueError` otherwise): segments of
  `[A-Za-z0-9._-]` joined by `/`, no segment starting with `.` (so no `..`, no hidden files), no
  leading, trailing or doubled `/`, at most 1024 bytes.
- Writes stream: memory does not grow with the size of the file. The sha256 is computed while
  streaming. When `max_bytes` is exceeded the write is abandoned, nothing is left behind, and
  `ObjectTooLarge` is raised. A failing source stream (client gone) also leaves nothing behind.
- Failures of the storage itself (S3 endpoint down, 5xx, access denied, missing bucket, disk
  full) become `StorageUnavailable`, whose message is fit to show to a person and never carries
  credentials; `.detail` holds the operation and error code for the log.

S3 writes use an explicit multipart upload (`create_multipart_upload` / `upload_part` with 8 MiB
parts / `complete_multipart_upload`), and a single `put_object` when the whole stream fits in one
part. Chosen over `upload_fileobj` because:
  * memory is bounded by exactly one part buffer (s3transfer reads ahead up to `max_concurrency`
    parts from a non-seekable stream, i.e. up to ~80 MiB per upload with the defaults);
  * hashing, counting and the `max_bytes` check happen in our own loop, in order, before a byte
    beyond the limit is sent; on any failure we call `abort_multipart_upload` ourselves instead of
    relying on how s3transfer wraps an exception raised inside a wrapped `read()`;
  * most uploads are smaller than one part and cost one request.
Uploads orphaned by a crash between the first part and the abort are removed by
`purge_incomplete()` (call it from the cleanup job; an S3 lifecycle rule
"AbortIncompleteMultipartUpload" does the same).

Local writes go to a temp file in `<STORAGE_DIR>/.incoming/` (same filesystem as the final path,
so `os.replace` is atomic), fsynced, then renamed into place. Keeping temp files in one directory
(not beside the final file) means a rejected upload never creates the final directory, and
`purge_incomplete()` finds crash leftovers without walking the tree.

Downloads:
- S3: a presigned GET (SigV4, at most 7 days) carrying `response-content-disposition` and
  `response-content-type`. With `CDN_DOMAIN` set, the URL's scheme and host are replaced by the
  CDN's (https unless the setting names a scheme). Assumption: the CDN forwards the path and the
  whole query string unchanged to the S3 endpoint and presents the S3 host to it (CloudFront with
  the bucket as origin and "all query strings" forwarded does), since the SigV4 signature covers
  the host it was computed for, the path and the query.
- Local: `{API_URL}/api/files/download?token=...`, the token being an HMAC-SHA256-signed (stdlib
  `hmac`) payload of key, filename, disposition, content type and expiry.
  `verify_download_token(token)` returns the key and filename or raises `InvalidDownloadToken`
  (`ExpiredDownloadToken` when only the time is up). The route reuses `content_disposition()`.
  itsdangerous is in the venv only as a test dependency (Flask, through moto[server]), so the
  stdlib is used.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import mimetypes
import os
import re
import secrets
import tempfile
import threading
import time
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit, urlunsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pydantic import SecretStr

from billing_portal.settings import PROJECT_ROOT, Settings, get_settings

logger = logging.getLogger(__name__)

__all__ = [
    "DOWNLOAD_ROUTE",
    "ExpiredDownloadToken",
    "InvalidDownloadToken",
    "LocalStorage",
    "ObjectNotFound",
    "ObjectTooLarge",
    "S3Storage",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "StoredObject",
    "DownloadGrant",
    "content_disposition",
    "get_storage",
    "validate_key",
    "verify_download_token",
]

MiB = 1024 * 1024
PART_SIZE = 8 * MiB  # S3 multipart part size (S3's minimum is 5 MiB for all but the last part)
READ_CHUNK = 1 * MiB  # how much is read at a time from a file-like source
STREAM_CHUNK = 256 * 1024  # chunk size of open_stream()
MAX_KEY_BYTES = 1024  # S3's limit
MAX_EXPIRES_IN = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days
MAX_PAGE_SIZE = 1000  # S3 list_objects_v2 returns at most 1000 keys
DOWNLOAD_ROUTE = "/api/files/download"
INCOMING_DIR = ".incoming"
SIGNING_KEY_FILE = ".download-signing-key"

WRITE_UNAVAILABLE = "File storage is not answering; nothing was saved."
READ_UNAVAILABLE = "File storage is not answering; please try again in a moment."
DELETE_UNAVAILABLE = "File storage is not answering; nothing was deleted."


# --------------------------------------------------------------------------------------------
# Errors and results


class StorageError(Exception):
    """Base class of the storage errors."""


class StorageUnavailable(StorageError):
    """The storage did not do what was asked (down, 5xx, access denied, disk full...).

    `str(error)` is for people; `detail` (operation and error code, never credentials) for logs.
    """

    def __init__(self, message: str = WRITE_UNAVAILABLE, *, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail


class ObjectTooLarge(StorageError):
    """The stream went over `max_bytes`; nothing was stored."""

    def __init__(self, max_bytes: int):
        super().__init__(f"The file is larger than the limit of {_human_size(max_bytes)}; nothing was saved.")
        self.max_bytes = max_bytes


class ObjectNotFound(StorageError, LookupError):
    """No object under this key."""

    def __init__(self, key: str):
        super().__init__(f"No stored file under {key!r}.")
        self.key = key


class InvalidDownloadToken(Exception):
    """A local download token that is forged, altered, malformed or expired."""


class ExpiredDownloadToken(InvalidDownloadToken):
    """A genuine local download token whose time is up."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    sha256: str  # hex
    content_type: str


class DownloadGrant(tuple):
    """What a verified local download token grants: unpacks as `(key, filename)`.

    Also carries `.inline` (bool), `.content_type` (str) and `.expires_at` (unix seconds), which the
    download route needs for `Content-Disposition` and `Content-Type`.
    """

    key: str
    filename: str
    inline: bool
    content_type: str
    expires_at: int

    def __new__(cls, key: str, filename: str, *, inline: bool, content_type: str, expires_at: int):
        grant = super().__new__(cls, (key, filename))
        grant.key, grant.filename = key, filename
        grant.inline, grant.content_type, grant.expires_at = inline, content_type, expires_at
        return grant


# --------------------------------------------------------------------------------------------
# Keys, filenames, headers

_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*\Z")
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[\x21-\x7e]+)*\Z")


def validate_key(key: str) -> str:
    """Return `key` when it is a safe object key, else raise ValueError."""
    if not isinstance(key, str) or not key:
        raise ValueError("storage key must be a non-empty string")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ValueError(f"storage key longer than {MAX_KEY_BYTES} bytes")
    if ".." in key or key.startswith("/"):
        raise ValueError(f"unsafe storage key: {key!r}")
    if not all(_SEGMENT.match(segment) for segment in key.split("/")):
        raise ValueError(f"unsafe storage key: {key!r} (segments of A-Z a-z 0-9 . _ - joined by /)")
    return key


def _validate_prefix(prefix: str) -> str:
    if prefix == "":
        return prefix
    if not isinstance(prefix, str):
        raise ValueError("prefix must be a string")
    try:
        validate_key(prefix + "x")  # "invoices/" and "inv" are fine prefixes; "/", "../" are not
    except ValueError:
        raise ValueError(f"unsafe storage prefix: {prefix!r}") from None
    return prefix


def _validate_page_size(page_size: int) -> int:
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    return page_size


def _validate_expires_in(expires_in: int) -> int:
    if not isinstance(expires_in, int) or not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise ValueError(f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds")
    return expires_in


def _validate_content_type(content_type: str) -> str:
    if not isinstance(content_type, str) or not _CONTENT_TYPE.match(content_type):
        raise ValueError(f"invalid content type: {content_type!r}")
    return content_type


def _guess_content_type(filename: str) -> str:
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


def _clean_filename(filename: str) -> str:
    """A display filename fit for a header: last path component, no control characters."""
    name = unicodedata.normalize("NFC", str(filename))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    name = name.strip().strip(".").strip()
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and 0 < len(ext) <= 16 else name[:200]
    return name or "download"


def _ascii_fallback(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    chars = []
    for ch in decomposed:
        if unicodedata.combining(ch):
            continue
        chars.append(ch if " " <= ch <= "~" and ch not in '"\\%' else "_")
    fallback = re.sub(r"_+", "_", "".join(chars)).strip()
    stem, dot, ext = fallback.rpartition(".")
    if not dot:
        stem, ext = fallback, ""
    if not re.search(r"[A-Za-z0-9]", stem):
        fallback = "download" + (f".{ext}" if dot and re.fullmatch(r"[A-Za-z0-9]{1,16}", ext) else "")
    return fallback


def content_disposition(filename: str, inline: bool = False) -> str:
    """`attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266 / RFC 5987).

    The filename is reduced to its last path component without control characters; the ASCII
    fallback replaces what is not printable ASCII (and `"`, `\\`, `%`) with `_`.
    """
    name = _clean_filename(filename)
    fallback = _ascii_fallback(name)
    encoded = quote(name, safe="!#$&+-.^_`|~")  # RFC 5987 attr-char, everything else %-encoded
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _human_size(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", MiB), ("KB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


# --------------------------------------------------------------------------------------------
# Streaming helpers


def _chunks(stream: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    read = getattr(stream, "read", None)
    if callable(read):
        while True:
            chunk = read(READ_CHUNK)
            if not chunk:
                return
            yield chunk
    else:
        for chunk in stream:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(f"stream yielded {type(chunk).__name__}, not bytes")
            if chunk:
                yield chunk


class _Meter:
    """Counts and hashes what passes, and stops the write as soon as it goes over max_bytes."""

    def __init__(self, max_bytes: int | None):
        if max_bytes is not None and (not isinstance(max_bytes, int) or max_bytes < 0):
            raise ValueError("max_bytes must be a non-negative int or None")
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise ObjectTooLarge(self.max_bytes)
        self._hash.update(chunk)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


# --------------------------------------------------------------------------------------------
# The interface


class Storage(ABC):
    """Where customer files and invoice PDFs live. See the module docstring for the rules."""

    backend: str

    @abstractmethod
    def put_stream(self, key: str, stream: BinaryIO | Iterable[bytes], *, content_type: str,
                   max_bytes: int | None = None) -> StoredObject:
        """Store `stream` under `key` (replacing any object there); see the module docstring."""

    @abstractmethod
    def open_stream(self, key: str, *, chunk_size: int = STREAM_CHUNK) -> Iterator[bytes]:
        """The object's bytes in chunks. Raises ObjectNotFound at once when the key is missing."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""

    @abstractmethod
    def size(self, key: str) -> int:
        """The object's size in bytes (ObjectNotFound when missing)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; a missing key is fine."""

    @abstractmethod
    def list(self, prefix: str = "", *, page_size: int = 100,
             cursor: str | None = None) -> tuple[list[str], str | None]:
        """One page of keys starting with `prefix`, in key order, and the cursor of the next page
        (None on the last page). Cursors are opaque: pass back what you got."""

    @abstractmethod
    def download_url(self, key: str, *, filename: str, expires_in: int, inline: bool = False,
                     content_type: str | None = None) -> str:
        """A link that downloads the object as `filename` for `expires_in` seconds (1 s to 7 days).
        `content_type` defaults to a guess from the filename."""

    @abstractmethod
    def purge_incomplete(self, older_than: float = 24 * 3600) -> int:
        """Remove writes abandoned by a crash more than `older_than` seconds ago; returns how many."""

    @abstractmethod
    def health_check(self) -> None:
        """Raise StorageUnavailable when the storage cannot be used."""


# --------------------------------------------------------------------------------------------
# Local disk


class LocalStorage(Storage):
    """Files under `root` (STORAGE_DIR, outside any web root), served through the signed route."""

    backend = "local"

    def __init__(self, root: Path | str, *, api_url: str, signing_secret: bytes | None = None):
        self.root = Path(root)
        self.api_url = api_url.rstrip("/")
        self._signing_secret = signing_secret
        self._secret_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<LocalStorage {self.root}>"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    # ---- writes

    def put_stream(self, key, stream, *, content_type, max_bytes=None):
        path = self._path(key)
        _validate_content_type(content_type)
        meter = _Meter(max_bytes)
        incoming = self.root / INCOMING_DIR
        try:
            incoming.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=incoming, prefix="upload-", suffix=".part")
        except OSError as error:
            raise _unavailable(WRITE_UNAVAILABLE, "create temp file", error) from None
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in _chunks(stream):
                    meter.feed(chunk)
                    try:
                        out.write(chunk)
                    except OSError as error:
                        raise _unavailable(WRITE_UNAVAILABLE, "write", error) from None
                try:
                    out.flush()
                    os.fsync(out.fileno())
                except OSError as error:
                    raise _unavailable(WRITE_UNAVAILABLE, "fsync", error) from None
            self._commit(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return StoredObject(key=key, size=meter.size, sha256=meter.sha256, content_type=content_type)

    def _commit(self, tmp: Path, path: Path) -> None:
        # A concurrent delete() may prune the parent directory between mkdir and replace: retry.
        for attempt in range(3):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, path)
                return
            except FileNotFoundError as error:
                if attempt == 2 or not tmp.exists():
                    raise _unavailable(WRITE_UNAVAILABLE, "rename", error) from None
            except OSError as error:
                raise _unavailable(WRITE_UNAVAILABLE, "rename", error) from None

    def delete(self, key):
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except IsADirectoryError:
            return
        except OSError as error:
            raise _unavailable(DELETE_UNAVAILABLE, "delete", error) from None
        self._prune_empty_dirs(path.parent)

    def _prune_empty_dirs(self, directory: Path) -> None:
        root = self.root
        while directory != root and root in directory.parents:
            try:
                directory.rmdir()
            except OSError:  # not empty (or already gone / racing a writer): stop
                return
            directory = directory.parent

    def purge_incomplete(self, older_than=24 * 3600):
        cutoff = time.time() - older_than
        removed = 0
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.root / INCOMING_DIR):
                with contextlib.suppress(OSError):
                    if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
        return removed

    # ---- reads

    def open_stream(self, key, *, chunk_size=STREAM_CHUNK):
        path = self._path(key)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by the generator
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as error:
            raise _unavailable(READ_UNAVAILABLE, "open", error) from None
        return self._read_chunks(handle, chunk_size)

    @staticmethod
    def _read_chunks(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
        with handle:
            while True:
                try:
                    chunk = handle.read(chunk_size)
                except OSError as error:
                    raise _unavailable(READ_UNAVAILABLE, "read", error) from None
                if not chunk:
                    return
                yield chunk

    def exists(self, key):
        return self._path(key).is_file()

    def size(self, key):
        path = self._path(key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as error:
            raise _unavailable(READ_UNAVAILABLE, "stat", error) from None
        if not path.is_file():
            raise ObjectNotFound(key)
        return stat.st_size

    def list(self, prefix="", *, page_size=100, cursor=None):
        _validate_prefix(prefix)
        _validate_page_size(page_size)
        after = None
        if cursor is not None:
            try:
                after = validate_key(cursor)
            except ValueError:
                raise ValueError("invalid cursor") from None
        keys: list[str] = []
        base = prefix.rpartition("/")[0]
        start = self.root.joinpath(*base.split("/")) if base else self.root
        try:
            for key in self._walk(start, base + "/" if base else "", prefix, after):
                keys.append(key)
                if len(keys) > page_size:
                    break
        except OSError as error:
            raise _unavailable(READ_UNAVAILABLE, "list", error) from None
        if len(keys) > page_size:
            return keys[:page_size], keys[page_size - 1]
        return keys, None

    def _walk(self, directory: Path | str, rel: str, prefix: str, after: str | None) -> Iterator[str]:
        """Keys under `directory` in key (byte) order, skipping whole subtrees that cannot match.

        Sorting directories by `name + "/"` makes depth-first order equal to the order of the full
        keys ("a-b" < "a/x" < "a0"), so pages never need the whole tree in memory.
        """
        try:
            with os.scandir(directory) as scan:
                entries = []
                for entry in scan:
                    if entry.name.startswith(".") or not _SEGMENT.match(entry.name):
                        continue  # .incoming, the signing key, anything that is not a key
                    if entry.is_dir(follow_symlinks=False):
                        entries.append((rel + entry.name + "/", entry.path, True))
                    elif entry.is_file(follow_symlinks=False):
                        entries.append((rel + entry.name, entry.path, False))
        except (FileNotFoundError, NotADirectoryError):
            return
        entries.sort()
        for name, path, is_dir in entries:
            if is_dir:
                if not (name.startswith(prefix) or prefix.startswith(name)):
                    continue
                if after is not None and name < after and not after.startswith(name):
                    continue  # every key below sorts before the cursor
                yield from self._walk(path, name, prefix, after)
            elif name.startswith(prefix) and (after is None or name > after):
                yield name

    # ---- downloads

    def download_url(self, key, *, filename, expires_in, inline=False, content_type=None):
        validate_key(key)
        _validate_expires_in(expires_in)
        token = self.make_download_token(key, filename=filename, expires_in=expires_in, inline=inline,
                                         content_type=content_type)
        return f"{self.api_url}{DOWNLOAD_ROUTE}?token={quote(token, safe='')}"

    def make_download_token(self, key: str, *, filename: str, expires_in: int, inline: bool = False,
                            content_type: str | None = None, now: float | None = None) -> str:
        validate_key(key)
        _validate_expires_in(expires_in)
        name = _clean_filename(filename)
        content_type = _validate_content_type(content_type or _guess_content_type(name))
        issued = time.time() if now is None else now
        payload = {"v": 1, "k": key, "f": name, "i": bool(inline), "t": content_type,
                   "e": int(issued) + expires_in}
        body = _b64encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        return f"{body}.{_b64encode(self._sign(body))}"

    def verify_download_token(self, token: str, now: float | None = None) -> DownloadGrant:
        """The grant of a token made by `download_url`; InvalidDownloadToken when forged, altered,
        malformed, or (ExpiredDownloadToken) expired."""
        if not isinstance(token, str) or len(token) > 4096 or token.count(".") != 1 or not token.isascii():
            raise InvalidDownloadToken("This download link is not valid.")
        body, signature = token.split(".")
        try:
            given = _b64decode(signature)
        except ValueError:
            raise InvalidDownloadToken("This download link is not valid.") from None
        if not hmac.compare_digest(given, self._sign(body)):
            raise InvalidDownloadToken("This download link is not valid.")
        try:
            payload = json.loads(_b64decode(body).decode("utf-8"))
            if payload.get("v") != 1:
                raise ValueError("version")
            key, name, inline = payload["k"], payload["f"], payload["i"]
            content_type, expires_at = payload["t"], payload["e"]
            if not (isinstance(name, str) and isinstance(inline, bool) and isinstance(content_type, str)
                    and isinstance(expires_at, int)):
                raise ValueError("types")
            validate_key(key)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InvalidDownloadToken("This download link is not valid.") from None
        if (time.time() if now is None else now) >= expires_at:
            raise ExpiredDownloadToken("This download link has expired.")
        return DownloadGrant(key, name, inline=inline, content_type=content_type, expires_at=expires_at)

    def _sign(self, body: str) -> bytes:
        return hmac.new(self._secret(), b"billing-portal/download/v1\x00" + body.encode("ascii"),
                        hashlib.sha256).digest()

    def _secret(self) -> bytes:
        """DOWNLOAD_SIGNING_SECRET when set, else a random key generated once in STORAGE_DIR and
        shared by every worker and restart that uses the same directory."""
        if self._signing_secret is not None:
            return self._signing_secret
        with self._secret_lock:
            if self._signing_secret is None:
                self._signing_secret = self._load_or_create_key_file()
            return self._signing_secret

    def _load_or_create_key_file(self) -> bytes:
        path = self.root / SIGNING_KEY_FILE
        try:
            with contextlib.suppress(FileNotFoundError):
                secret = path.read_bytes()
                if len(secret) >= 32:
                    return secret
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".signing-", suffix=".tmp")  # mode 0600
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(secrets.token_bytes(32))
                    out.flush()
                    os.fsync(out.fileno())
                with contextlib.suppress(FileExistsError):  # another worker won the race: use theirs
                    os.link(tmp_name, path)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
            return path.read_bytes()
        except OSError as error:
            raise _unavailable(READ_UNAVAILABLE, "signing key", error) from None

    def health_check(self):
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise _unavailable(READ_UNAVAILABLE, "health", error) from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageUnavailable(READ_UNAVAILABLE, detail=f"health: {self.root} not writable")


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as error:
        raise ValueError("not base64url") from error


def _unavailable(message: str, operation: str, error: OSError) -> StorageUnavailable:
    name = os.strerror(error.errno) if error.errno else type(error).__name__
    logger.warning("local storage %s failed: %s", operation, name)
    return StorageUnavailable(message, detail=f"{operation}: {name}")


# --------------------------------------------------------------------------------------------
# S3


def _error_code(error: ClientError) -> tuple[str, int | None]:
    response = getattr(error, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", "") or "")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code, status


@contextlib.contextmanager
def _translate(operation: str, message: str) -> Iterator[None]:
    """botocore failures -> StorageUnavailable(message) with a credential-free detail."""
    try:
        yield
    except ClientError as error:
        code, status = _error_code(error)
        detail = f"{operation}: {code or 'error'} (HTTP {status})"
        logger.warning("S3 %s", detail)
        raise StorageUnavailable(message, detail=detail) from None
    except BotoCoreError as error:  # connection refused/timeouts, no credentials, bad responses
        detail = f"{operation}: {type(error).__name__}"
        logger.warning("S3 %s", detail)
        raise StorageUnavailable(message, detail=detail) from None


class S3Storage(Storage):
    """Objects in one S3 bucket (AWS or an S3-compatible endpoint such as moto/MinIO)."""

    backend = "s3"

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str = "us-east-1",
                 cdn_domain: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None, connect_timeout: float = 2.0,
                 read_timeout: float = 20.0, max_attempts: int = 3,
                 part_size: int = PART_SIZE):
        if part_size < 5 * MiB:
            raise ValueError("S3 parts must be at least 5 MiB")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.cdn_domain = cdn_domain
        self.part_size = part_size
        config = Config(
            region_name=region,
            signature_version="s3v4",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            # Custom endpoints (moto, MinIO, ...) rarely resolve bucket subdomains: use paths there.
            s3={"addressing_style": "path" if endpoint_url else "virtual"},
        )
        session = boto3.session.Session(aws_access_key_id=access_key_id or None,
                                        aws_secret_access_key=secret_access_key or None,
                                        region_name=region)
        self._client = session.client("s3", endpoint_url=endpoint_url or None, config=config)

    def __repr__(self) -> str:
        return f"<S3Storage bucket={self.bucket} endpoint={self.endpoint_url or 'aws'}>"

    # ---- writes

    def put_stream(self, key, stream, *, content_type, max_bytes=None):
        validate_key(key)
        _validate_content_type(content_type)
        meter = _Meter(max_bytes)
        part_size = self.part_size
        buffer = bytearray()
        upload: dict[str, Any] | None = None  # {"UploadId", "ChecksumAlgorithm"?}
        parts: list[dict[str, Any]] = []
        try:
            for chunk in _chunks(stream):
                meter.feed(chunk)  # raises ObjectTooLarge before any byte past the limit is sent
                view = memoryview(chunk)
                while view:
                    if len(buffer) == part_size:  # a full part and more to come: send it
                        if upload is None:
                            upload = self._create_upload(key, content_type)
                        parts.append(self._upload_part(key, upload, len(parts) + 1, buffer))
                        buffer = bytearray()
                    take = min(len(view), part_size - len(buffer))
                    buffer += view[:take]
                    view = view[take:]
            if upload is None:
                with _translate("PutObject", WRITE_UNAVAILABLE):
                    self._client.put_object(Bucket=self.bucket, Key=key, Body=buffer, ContentType=content_type)
            else:
                parts.append(self._upload_part(key, upload, len(parts) + 1, buffer))
                buffer = bytearray()
                with _translate("CompleteMultipartUpload", WRITE_UNAVAILABLE):
                    self._client.complete_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=upload["UploadId"],
                        MultipartUpload={"Parts": parts},
                    )
        except BaseException:
            if upload is not None:
                self._abort(key, upload["UploadId"])
            raise
        return StoredObject(key=key, size=meter.size, sha256=meter.sha256, content_type=content_type)

    def _create_upload(self, key: str, content_type: str) -> dict[str, Any]:
        with _translate("CreateMultipartUpload", WRITE_UNAVAILABLE):
            response = self._client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)
        return {"UploadId": response["UploadId"], "ChecksumAlgorithm": response.get("ChecksumAlgorithm")}

    def _upload_part(self, key: str, upload: dict[str, Any], number: int, body: bytearray) -> dict[str, Any]:
        with _translate("UploadPart", WRITE_UNAVAILABLE):
            response = self._client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload["UploadId"],
                                                PartNumber=number, Body=body)
        part = {"ETag": response["ETag"], "PartNumber": number}
        algorithm = upload.get("ChecksumAlgorithm")
        if algorithm and response.get(f"Checksum{algorithm}"):  # declared at create: S3 wants it back
            part[f"Checksum{algorithm}"] = response[f"Checksum{algorithm}"]
        return part

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (ClientError, BotoCoreError) as error:  # purge_incomplete() will get it later
            logger.warning("S3 AbortMultipartUpload of %s failed: %s", key, type(error).__name__)

    def delete(self, key):
        validate_key(key)
        with _translate("DeleteObject", DELETE_UNAVAILABLE):
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def purge_incomplete(self, older_than=24 * 3600):
        cutoff = time.time() - older_than
        removed = 0
        with _translate("ListMultipartUploads", READ_UNAVAILABLE):
            paginator = self._client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"].timestamp() < cutoff:
                        self._abort(upload["Key"], upload["UploadId"])
                        removed += 1
        return removed

    # ---- reads

    def open_stream(self, key, *, chunk_size=STREAM_CHUNK):
        validate_key(key)
        with _translate("GetObject", READ_UNAVAILABLE):
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if _error_code(error)[0] in ("NoSuchKey", "404", "NotFound"):
                    raise ObjectNotFound(key) from None
                raise
        return self._read_body(response["Body"], chunk_size)

    @staticmethod
    def _read_body(body: Any, chunk_size: int) -> Iterator[bytes]:
        try:
            with _translate("GetObject(body)", READ_UNAVAILABLE):
                yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def _head(self, key: str) -> dict[str, Any] | None:
        validate_key(key)
        with _translate("HeadObject", READ_UNAVAILABLE):
            try:
                return self._client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if _error_code(error)[0] in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise

    def exists(self, key):
        return self._head(key) is not None

    def size(self, key):
        head = self._head(key)
        if head is None:
            raise ObjectNotFound(key)
        return int(head["ContentLength"])

    def list(self, prefix="", *, page_size=100, cursor=None):
        _validate_prefix(prefix)
        _validate_page_size(page_size)
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": page_size}
        if cursor is not None:
            params["ContinuationToken"] = cursor
        with _translate("ListObjectsV2", READ_UNAVAILABLE):
            response = self._client.list_objects_v2(**params)
        keys = [item["Key"] for item in response.get("Contents", [])]
        return keys, (response.get("NextContinuationToken") if response.get("IsTruncated") else None)

    # ---- downloads

    def download_url(self, key, *, filename, expires_in, inline=False, content_type=None):
        validate_key(key)
        _validate_expires_in(expires_in)
        name = _clean_filename(filename)
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "ResponseContentDisposition": content_disposition(name, inline),
            "ResponseContentType": _validate_content_type(content_type or _guess_content_type(name)),
        }
        with _translate("PresignGetObject", READ_UNAVAILABLE):
            url = self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        if self.cdn_domain:
            url = _on_cdn(url, self.cdn_domain)
        return url

    def health_check(self):
        with _translate("HeadBucket", READ_UNAVAILABLE):
            self._client.head_bucket(Bucket=self.bucket)

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (sandbox and tests; production buckets are
        provisioned outside the app)."""
        with _translate("CreateBucket", WRITE_UNAVAILABLE):
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except ClientError as error:
                if _error_code(error)[0] not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                self._client.create_bucket(Bucket=self.bucket)


def _on_cdn(url: str, cdn_domain: str) -> str:
    """The presigned `url` with the CDN's scheme and host; path and query kept as signed."""
    cdn = urlsplit(cdn_domain if "://" in cdn_domain else f"https://{cdn_domain}")
    signed = urlsplit(url)
    return urlunsplit((cdn.scheme, cdn.netloc, signed.path, signed.query, ""))


# --------------------------------------------------------------------------------------------
# From settings

_STORAGES: dict[tuple, Storage] = {}
_STORAGES_LOCK = threading.Lock()


def _secret_value(value: SecretStr | None) -> str | None:
    return value.get_secret_value() or None if value is not None else None


def _download_secret(settings: Settings) -> bytes | None:
    secret = _secret_value(settings.download_signing_secret)  # settings enforce 32+ characters
    return secret.encode("utf-8") if secret else None


def _identity(settings: Settings) -> tuple:
    return (
        settings.storage_backend, str(settings.storage_dir), settings.api_url,
        _secret_value(settings.download_signing_secret),
        settings.s3_bucket, settings.s3_endpoint_url, settings.s3_region, settings.cdn_domain,
        settings.s3_access_key_id, _secret_value(settings.s3_secret_access_key),
        settings.s3_connect_timeout, settings.s3_read_timeout, settings.s3_max_attempts,
    )


def _build(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        return S3Storage(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            cdn_domain=settings.cdn_domain,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=_secret_value(settings.s3_secret_access_key),
            connect_timeout=settings.s3_connect_timeout,
            read_timeout=settings.s3_read_timeout,
            max_attempts=settings.s3_max_attempts,
        )
    _refuse_public_dir(settings.storage_dir)
    return LocalStorage(settings.storage_dir, api_url=settings.api_url,
                        signing_secret=_download_secret(settings))


def get_storage(settings: Settings | None = None) -> Storage:
    """The storage the settings choose; one shared instance per distinct configuration
    (boto3 clients are thread-safe and costly to build)."""
    settings = settings or get_settings()
    identity = _identity(settings)
    with _STORAGES_LOCK:
        storage = _STORAGES.get(identity)
        if storage is None:
            storage = _STORAGES[identity] = _build(settings)
            while len(_STORAGES) > 8:  # settings change only in tests: keep the cache small
                _STORAGES.pop(next(iter(_STORAGES)))
        return storage


def _refuse_public_dir(storage_dir: Path) -> None:
    """STORAGE_DIR must not be a directory the web server publishes (assets, Reflex uploads)."""
    here = storage_dir.resolve()
    public = [PROJECT_ROOT / "assets", PROJECT_ROOT / "uploaded_files", PROJECT_ROOT / ".web"]
    if os.environ.get("REFLEX_UPLOADED_FILES_DIR"):
        public.append(Path(os.environ["REFLEX_UPLOADED_FILES_DIR"]))
    for directory in public:
        directory = directory.resolve()
        if here == directory or directory in here.parents:
            raise ValueError(f"STORAGE_DIR {storage_dir} is inside the public directory {directory}")


def verify_download_token(token: str, now: float | None = None) -> DownloadGrant:
    """For the local download route: the `(key, filename)` grant of a token (with `.inline`,
    `.content_type`, `.expires_at`), or InvalidDownloadToken / ExpiredDownloadToken.
    Tokens are refused outright when the S3 backend is configured."""
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        raise InvalidDownloadToken("This download link is not valid.")
    return storage.verify_download_token(token, now)
