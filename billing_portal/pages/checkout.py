"""/checkout?price=ID[&quantity=N], /checkout?pack=SLUG or /checkout?invoice=ID (an open invoice of
the customer's, paid with a saved card or a new one; anyone else's shows the denial): the order
summary and the card form (or, with CHECKOUT_MODE=hosted, a button to Stripe Checkout's page).

Signed-out visitors are sent to /login and back here. The flow is in state/checkout.py.
"""

import reflex as rx

from billing_portal.components.checkout import (
    card_form,
    checkout_failed,
    hosted_payment,
    loading_block,
    order_summary,
)
from billing_portal.components.denial import access_denied
from billing_portal.components.layout import page_shell
from billing_portal.state.checkout import ROUTE as _ROUTE
from billing_portal.state.checkout import CheckoutState

ROUTE = _ROUTE
TITLE = "Checkout · Billing Portal"


def checkout_page() -> rx.Component:
    return page_shell(
        rx.vstack(
            rx.vstack(
                rx.link(
                    rx.hstack(rx.icon("arrow_left", size=14),
                              rx.text(rx.cond(CheckoutState.kind == "invoice", "Billing history", "Plans and pricing"),
                                      size="2"),
                              spacing="1", align="center"),
                    href=rx.cond(CheckoutState.kind == "invoice", "/billing/history", "/pricing"),
                    color_scheme="gray",
                    underline="hover",
                ),
                rx.heading("Checkout", size="8", as_="h1"),
                spacing="2",
                width="100%",
            ),
            rx.cond(
                CheckoutState.denied,
                access_denied(heading_level="h2"),
                rx.cond(
                    CheckoutState.load_error != "",
                    checkout_failed(CheckoutState.load_error),
                    rx.cond(
                        CheckoutState.loaded,
                        rx.grid(
                            order_summary(),
                            rx.cond(CheckoutState.hosted, hosted_payment(), card_form()),
                            columns=rx.breakpoints(initial="1", md="2"),
                            gap=rx.breakpoints(initial="16px", md="24px"),
                            align_items="start",
                            width="100%",
                        ),
                        loading_block("Loading your order…"),
                    ),
                ),
            ),
            spacing="5",
            width="100%",
        ),
    )
