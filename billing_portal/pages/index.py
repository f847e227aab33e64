"""/: the pricing page is the front door."""

import reflex as rx

from billing_portal.components.layout import page_shell

ROUTE = "/"
TITLE = "Billing Portal"


def index_page() -> rx.Component:
    # Shown only for the moment before the on_load redirect runs.
    return page_shell(rx.center(rx.link("Go to pricing", href="/pricing")))
