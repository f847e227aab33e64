"""The pages a portal sign-in link shows (GET /api/portal/{token}, api/sessions.py): "Opening your
billing portal…", which posts the token on at once with its one inline script (allowed by its hash,
nothing else) or with its button without JavaScript; and, for a used, expired or unknown link, a
page saying so, with the way back to the seller's app when the link was ours.
"""

import base64
import hashlib
from html import escape

from urllib.parse import urlsplit

from starlette.responses import HTMLResponse

from billing_portal.billing.portal_sessions import service as portal_sessions
from billing_portal.settings import get_settings

_SCRIPT = "document.getElementById('continue').submit();"
_STYLE = ("body{font-family:system-ui,sans-serif;background:#f8f9fb;color:#1c2024;margin:0;display:flex;"
          "min-height:100vh;align-items:center;justify-content:center}main{background:#fff;border:1px solid #e0e1e6;"
          "border-radius:12px;padding:32px;max-width:420px;margin:16px}h1{font-size:20px;margin:0 0 8px}"
          "p{color:#60646c;line-height:1.5}button,a.back{font:inherit;font-size:15px;border-radius:8px;padding:10px 16px;"
          "display:inline-block;text-decoration:none}button{background:#3e63dd;color:#fff;border:0;cursor:pointer}"
          "a.back{color:#3e63dd;border:1px solid #c1d0ff;margin-top:8px}")


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def _headers() -> dict[str, str]:
    # form-action also covers the redirect after the post, to the portal's pages (PUBLIC_URL).
    public = urlsplit(get_settings().public_url)
    csp = (f"default-src 'none'; script-src {_sha256(_SCRIPT)}; style-src {_sha256(_STYLE)}; "
           f"form-action 'self' {public.scheme}://{public.netloc}; frame-ancestors 'none'; base-uri 'none'")
    return {"Content-Security-Policy": csp, "Cache-Control": "no-store",
            # Not no-referrer: under it the form's post would carry `Origin: null`.
            "Referrer-Policy": "same-origin"}

MESSAGES = {
    "used": "This sign-in link was already used. Links work once: go back and open the billing portal again.",
    "expired": "This sign-in link has expired. Go back and open the billing portal again for a new one.",
    "unknown": "This sign-in link is not valid. Go back and open the billing portal again.",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
            f"content='width=device-width,initial-scale=1'><title>{escape(title)} · Billing Portal</title>"
            f"<style>{_STYLE}</style></head><body><main>{body}</main></body></html>")
    return HTMLResponse(html, status_code=status, headers=_headers())


def unusable_page(exc: portal_sessions.LinkUnusable) -> HTMLResponse:
    back = (f"<a class=back href='{escape(exc.return_url, quote=True)}'>"
            f"{escape(portal_sessions.back_label(exc.return_url))}</a>") if exc.return_url else ""
    return _page("Link not valid", f"<h1>This link can’t sign you in</h1><p id=reason>{escape(MESSAGES[exc.reason])}</p>{back}",
                 status=410)


def continue_page(action: str, token: str) -> HTMLResponse:
    return _page("Opening your billing portal", (
        f"<h1>Opening your billing portal…</h1><form id=continue method=post action='{escape(action, quote=True)}'>"
        f"<input type=hidden name=link value='{escape(token, quote=True)}'><button type=submit>Continue</button>"
        f"</form><script>{_SCRIPT}</script>"))
