"""GET /api/files/download?token=...: the local storage backend's signed, expiring download links.

The token (gateways/storage.py, `download_url` of LocalStorage) is the authorisation: it was
handed out by a service that checked ownership, names the key, the filename, inline/attachment, the
content type and the expiry, and is HMAC-signed. A forged or altered token answers 403, an expired
one 410, a missing object 404, storage trouble 503. With the S3 backend every token is refused
(links are presigned S3 URLs there).

The body is streamed in chunks (a sync iterator: Starlette reads it in a worker thread), with
`Content-Disposition`, `Content-Type`, `Content-Length`, and headers that keep it out of caches,
stop browsers from sniffing another type, and sandbox it if it is ever shown inline.
"""

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from billing_portal.gateways.storage import (
    ExpiredDownloadToken,
    InvalidDownloadToken,
    ObjectNotFound,
    StorageUnavailable,
    content_disposition,
    get_storage,
    verify_download_token,
)

SECURITY_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def _plain(status: int, text: str) -> Response:
    return PlainTextResponse(text, status_code=status, headers=SECURITY_HEADERS)


def download(request: Request) -> Response:
    token = request.query_params.get("token", "")
    try:
        grant = verify_download_token(token)
    except ExpiredDownloadToken:
        return _plain(410, "This download link has expired. Ask for a new one.")
    except InvalidDownloadToken:
        return _plain(403, "This download link is not valid.")
    storage = get_storage()
    try:
        size = storage.size(grant.key)
        body = storage.open_stream(grant.key)
    except ObjectNotFound:
        return _plain(404, "This file is no longer available.")
    except StorageUnavailable as error:
        return _plain(503, str(error))
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": content_disposition(grant.filename, grant.inline),
        "Content-Length": str(size),
    }
    return StreamingResponse(body, media_type=grant.content_type, headers=headers)
