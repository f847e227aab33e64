"""/pricing: the plans from the database, per interval and currency. Public."""

import reflex as rx

from billing_portal.components.forms import error_callout
from billing_portal.components.layout import page_shell
from billing_portal.components.pricing import currency_toggle, interval_toggle, pricing_grid
from billing_portal.state.pricing import PricingState

ROUTE = "/pricing"
TITLE = "Pricing · Billing Portal"


def pricing_page() -> rx.Component:
    return page_shell(
        rx.vstack(
            rx.vstack(
                rx.heading("Plans and pricing", size="8", as_="h1", align="center"),
                rx.text(
                    "Pick the plan that fits. Pay monthly, or save with quarterly and annual billing.",
                    size="3",
                    color=rx.color("gray", 11),
                    align="center",
                ),
                align="center",
                spacing="2",
                max_width="640px",
            ),
            rx.flex(
                interval_toggle(),
                currency_toggle(),
                direction=rx.breakpoints(initial="column", sm="row"),
                align="center",
                justify="center",
                spacing="3",
                wrap="wrap",
            ),
            error_callout(PricingState.error),
            rx.cond(
                PricingState.loaded & (PricingState.cards.length() == 0) & (PricingState.error == ""),
                rx.callout(
                    "No plans are on sale in this currency and interval yet.",
                    icon="info",
                    width="100%",
                ),
            ),
            pricing_grid(),
            rx.text(
                "Tax follows your billing country and is shown at checkout before you pay.",
                size="1",
                color=rx.color("gray", 10),
                align="center",
            ),
            spacing="6",
            align="center",
            width="100%",
        )
    )
