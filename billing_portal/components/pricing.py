"""Pricing cards and the interval / currency toggles."""

import reflex as rx

from billing_portal.state.pricing import PlanCardView, PricingState


def interval_toggle() -> rx.Component:
    return rx.segmented_control.root(
        rx.foreach(
            PricingState.interval_options,
            lambda option: rx.segmented_control.item(option[1], value=option[0]),
        ),
        value=PricingState.interval,
        on_change=PricingState.set_interval,
        # Four intervals at size 2 are wider than a 390 px phone; size 1 fits them.
        size=rx.breakpoints(initial="1", sm="2"),
        radius="full",
        aria_label="Billing interval",
        id="interval-toggle",
    )


def currency_toggle() -> rx.Component:
    return rx.segmented_control.root(
        rx.foreach(
            PricingState.currencies,
            lambda code: rx.segmented_control.item(code, value=code),
        ),
        value=PricingState.currency,
        on_change=PricingState.set_currency,
        size="2",
        radius="full",
        aria_label="Currency",
        id="currency-toggle",
    )


def _feature(text: rx.Var[str]) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.icon("check", size=16, color=rx.color("accent", 10), flex_shrink="0", margin_top="3px"),
            rx.text(text, size="2", color=rx.color("gray", 12)),
            spacing="2",
            align="start",
        ),
    )


def _card_action(card: PlanCardView) -> rx.Component:
    return rx.cond(
        card.is_current,
        rx.button("Current plan", disabled=True, variant="soft", size="3", width="100%"),
        rx.cond(
            card.checkout_href != "",
            rx.button(
                rx.link("Choose plan", href=card.checkout_href, underline="none"),
                as_child=True,
                size="3",
                width="100%",
                variant=rx.cond(card.is_free, "outline", "solid"),
                aria_label="Choose plan " + card.name,
            ),
            rx.button("Not available", disabled=True, variant="soft", size="3", width="100%"),
        ),
    )


def plan_card(card: PlanCardView) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(card.name, size="5", as_="h2"),
                rx.spacer(),
                rx.cond(
                    card.is_current,
                    rx.badge("Current plan", color_scheme="green", variant="soft", size="1"),
                    rx.cond(
                        card.savings_label != "",
                        rx.badge(card.savings_label, variant="soft", size="1"),
                    ),
                ),
                width="100%",
                align="center",
                spacing="2",
                min_height="28px",
            ),
            rx.text(card.description, size="2", color=rx.color("gray", 11), min_height=["0", "0", "40px"]),
            # Price, then period and monthly equivalent on their own lines, so long KRW amounts
            # never push the period onto a line of its own in some cards and not others.
            rx.vstack(
                rx.text(card.price_label, size="7", weight="bold", class_name="plan-price", white_space="nowrap"),
                rx.text(
                    card.period_label,
                    rx.cond(card.monthly_label != "", " · " + card.monthly_label, ""),
                    size="2",
                    color=rx.color("gray", 11),
                    class_name="plan-period",
                ),
                spacing="1",
            ),
            _card_action(card),
            rx.el.ul(
                rx.foreach(card.features, _feature),
                style={"listStyle": "none", "padding": 0, "margin": 0, "display": "grid", "gap": "8px"},
                aria_label="Features of " + card.name,
            ),
            spacing="4",
            width="100%",
        ),
        size="3",
        width="100%",
        class_name="plan-card",
        data_plan=card.slug,
        style=rx.cond(
            card.is_current,
            {"boxShadow": f"0 0 0 2px {rx.color('green', 8)}"},
            {},
        ),
    )


def pricing_grid() -> rx.Component:
    return rx.grid(
        rx.foreach(PricingState.cards, plan_card),
        columns=rx.breakpoints(initial="1", sm="2", lg="4"),
        spacing="4",
        width="100%",
        opacity=rx.cond(PricingState.loading, "0.6", "1"),
        aria_busy=PricingState.loading,
        id="pricing-grid",
    )
