"""/denied: where a refused link lands (api/documents.py sends someone else's PDF link here)."""

import reflex as rx

from billing_portal.components.denial import access_denied
from billing_portal.components.layout import page_shell

ROUTE = "/denied"
TITLE = "No access · Billing Portal"


def denied_page() -> rx.Component:
    return page_shell(access_denied())
