"""GET /api/invoices/{id}/pdf and GET /api/refunds/{id}/credit-note: what the history's PDF buttons
link to.

The browser's session cookie names the user (resolved on the server); the owner check is
billing/invoice_pdfs.py's, which also draws a missing or stale PDF first. The answer is always a
redirect, never the document itself:
- allowed: to the short-lived signed download link (5 minutes);
- someone else's document, or none: to the portal's denial page (the two look alike);
- signed out: to the sign-in page, which comes back to the history;
- storage unavailable: back to the history, which says the PDF is being prepared.
"""

import logging
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse

from billing_portal.api.sessions import SESSION_COOKIE
from billing_portal.billing import accounts
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.files import StorageFailed
from billing_portal.billing.invoice_pdfs import credit_note_download_url, pdf_download_url
from billing_portal.db import session_scope
from billing_portal.ids import parse_id
from billing_portal.settings import get_settings

logger = logging.getLogger(__name__)

HISTORY = "/billing/history"
DENIED = "/denied"
LINK_SECONDS = 300
NO_STORE = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}


def invoice_pdf_path(invoice_id: int) -> str:
    return f"/api/invoices/{invoice_id}/pdf"


def credit_note_path(refund_id: int) -> str:
    return f"/api/refunds/{refund_id}/credit-note"


def _to_portal(path: str) -> RedirectResponse:
    return RedirectResponse(get_settings().public_url.rstrip("/") + path, status_code=303, headers=NO_STORE)


def _document(request: Request, link) -> RedirectResponse:
    raw = request.path_params.get("object_id", "")
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        with session_scope() as session:
            user = accounts.user_for_token(session, token) if token else None
            if user is None:
                return _to_portal(f"/login?next={quote(HISTORY, safe='/')}")
            object_id = parse_id(raw)
            if object_id is None:
                return _to_portal(DENIED)
            url = link(session, user, object_id)
    except NotFound:
        return _to_portal(DENIED)
    except StorageFailed:
        logger.warning("document %s not available from storage now", request.url.path)
        return _to_portal(f"{HISTORY}?pdf=preparing")
    except DomainError:
        return _to_portal(DENIED)
    return RedirectResponse(url, status_code=303, headers=NO_STORE)


def invoice_pdf(request: Request) -> RedirectResponse:
    return _document(request, lambda s, user, object_id: pdf_download_url(
        s, user=user, invoice_id=object_id, expires_in=LINK_SECONDS))


def credit_note(request: Request) -> RedirectResponse:
    return _document(request, lambda s, user, object_id: credit_note_download_url(
        s, user=user, refund_id=object_id, expires_in=LINK_SECONDS))
