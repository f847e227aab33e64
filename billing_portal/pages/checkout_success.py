"""/checkout/success?invoice=NUMBER (or ?session_id=cs_... back from hosted Stripe Checkout): the
receipt, read again on the server for the signed-in user."""

import reflex as rx

from billing_portal.components.checkout import checkout_failed, loading_block, receipt_card
from billing_portal.components.denial import access_denied
from billing_portal.components.layout import page_shell
from billing_portal.state.checkout import SUCCESS_ROUTE, CheckoutSuccessState

ROUTE = SUCCESS_ROUTE
TITLE = "Thank you · Billing Portal"


def checkout_success_page() -> rx.Component:
    return page_shell(
        rx.cond(
            CheckoutSuccessState.denied,
            access_denied(),
            rx.cond(
                CheckoutSuccessState.error != "",
                checkout_failed(CheckoutSuccessState.error, heading="We could not show this receipt"),
                rx.cond(CheckoutSuccessState.loaded, receipt_card(), loading_block("Loading your receipt…")),
            ),
        ),
    )
