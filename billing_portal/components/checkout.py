"""Pieces of /checkout and /checkout/success: the order summary, the card form, the receipt.

No logic beyond reading the vars of state/checkout.py.
"""

import reflex as rx

from billing_portal.billing.billing_details import countries
from billing_portal.components.forms import block_callout
from billing_portal.state.checkout import (
    CARD_ELEMENT_ID,
    NEW_CARD,
    CheckoutState,
    CheckoutSuccessState,
    SavedCardView,
    SummaryLineView,
)

MUTED = rx.color("gray", 11)


def _money_row(label, amount, *, strong: bool = False, **props) -> rx.Component:
    weight = "bold" if strong else "regular"
    size = "4" if strong else "2"
    return rx.hstack(
        rx.text(label, size=size, weight=weight, color=rx.color("gray", 12) if strong else MUTED),
        rx.spacer(),
        rx.text(amount, size=size, weight=weight, white_space="nowrap", **props),
        width="100%",
        align="baseline",
        spacing="3",
    )


def _summary_line(line: SummaryLineView) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.text(line.label, size="2", color=rx.color("gray", 12)),
            rx.spacer(),
            rx.text(line.amount_label, size="2", white_space="nowrap"),
            width="100%",
            align="baseline",
            spacing="3",
        ),
        class_name="summary-line",
        list_style="none",
    )


def _country_question() -> rx.Component:
    """Tax depends on the billing country and we know none yet: asked here, kept when paying."""
    return rx.vstack(
        rx.el.label("Billing country", html_for="checkout-country", font_size="var(--font-size-2)",
                    font_weight="500"),
        # A native select: 250 countries, type-ahead and the phone's own picker come with it.
        rx.el.select(
            rx.el.option("Choose your country", value=""),
            *[rx.el.option(name, value=code) for code, name in sorted(countries().items(), key=lambda c: c[1])],
            id="checkout-country",
            value=CheckoutState.billing_country,
            on_change=CheckoutState.set_billing_country,
            auto_complete="country",
            aria_describedby="summary-tax-rule",
            disabled=CheckoutState.paying,
            style={
                "width": "100%",
                "height": "var(--space-7)",
                "padding": "0 var(--space-3)",
                "fontSize": "var(--font-size-2)",
                "borderRadius": "var(--radius-2)",
                "border": f"1px solid {rx.color('gray', 7)}",
                "background": rx.color("gray", 1),
                "color": rx.color("gray", 12),
            },
        ),
        rx.text("Tax follows your billing country. It is saved with your billing details when you pay.",
                size="1", color=rx.color("gray", 10)),
        spacing="1",
        width="100%",
        id="country-question",
    )


def order_summary() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text("Order summary", size="1", weight="medium", color=rx.color("gray", 10),
                    text_transform="uppercase", letter_spacing="0.04em"),
            rx.vstack(
                rx.heading(CheckoutState.title, size="6", as_="h2", id="checkout-title"),
                rx.cond(
                    CheckoutState.description != "",
                    rx.text(CheckoutState.description, size="2", color=MUTED, id="checkout-description"),
                ),
                spacing="1",
                width="100%",
            ),
            rx.el.ul(
                rx.foreach(CheckoutState.lines, _summary_line),
                id="summary-lines",
                aria_label="What you buy",
                padding="0",
                margin="0",
                display="flex",
                flex_direction="column",
                gap="8px",
                width="100%",
            ),
            rx.separator(size="4"),
            rx.cond(CheckoutState.country_needed, _country_question()),
            rx.vstack(
                _money_row("Subtotal", CheckoutState.subtotal_label, id="summary-subtotal"),
                _money_row("Tax", CheckoutState.tax_label, id="summary-tax"),
                rx.cond(CheckoutState.tax_rule_label != "",
                        rx.text(CheckoutState.tax_rule_label, size="1", color=rx.color("gray", 11),
                                id="summary-tax-rule")),
                spacing="2",
                width="100%",
            ),
            rx.separator(size="4"),
            _money_row(rx.cond(CheckoutState.kind == "invoice", "Amount due", "Total due today"),
                       CheckoutState.due_today_label, strong=True, id="summary-total"),
            rx.cond(
                CheckoutState.trial_days > 0,
                _money_row(
                    rx.fragment("After your ", CheckoutState.trial_days.to_string(), "-day trial"),
                    CheckoutState.total_label,
                    id="summary-after-trial",
                ),
            ),
            rx.cond(
                CheckoutState.trial_days > 0,
                rx.callout(
                    rx.fragment(
                        "Your ", CheckoutState.trial_days.to_string(), "-day free trial starts today. ",
                        "We save your card now and charge it only when the trial ends; cancel before then ",
                        "and you pay nothing.",
                    ),
                    icon="gift",
                    color_scheme="blue",
                    size="1",
                    id="trial-note",
                    width="100%",
                ),
            ),
            spacing="4",
            width="100%",
        ),
        size="3",
        width="100%",
        id="order-summary",
    )


def card_element(ready, error, **props) -> rx.Component:
    """Where Stripe.js mounts its card element (#card-element), with its label and hint; `ready`
    and `error` are the page state's vars (the element mounted / could not load)."""
    return rx.vstack(
        rx.text("Card details", as_="div", size="2", weight="medium", id="card-label"),
        # Stripe.js mounts its card element in here (kept in the page while it is shown, so
        # React never replaces it). The inputs of a stand-in element are styled too.
        rx.box(
            id=CARD_ELEMENT_ID,
            role="group",
            aria_labelledby="card-label",
            aria_describedby="card-hint",
            aria_busy=rx.cond(ready, "false", "true"),
            class_name="card-element",
            width="100%",
            min_height="48px",
            padding="8px 10px",
            border=f"1px solid {rx.color('gray', 7)}",
            border_radius="var(--radius-3)",
            background_color="white",
            display="flex",
            flex_wrap="wrap",
            align_items="center",
            gap="8px",
            font_size="15px",
            style={
                "& > span": {"display": "none"},
                "& input": {
                    "font": "inherit",
                    "min_width": "0",
                    "padding": "6px 8px",
                    "border": f"1px solid {rx.color('gray', 6)}",
                    "border_radius": "var(--radius-2)",
                    "background": rx.color("gray", 1),
                    "color": rx.color("gray", 12),
                },
                "& input:focus": {
                    "outline": f"2px solid {rx.color('accent', 8)}",
                    "outline_offset": "0",
                },
                "& input[placeholder=number]": {"flex": "1 1 100%"},
                "& input[placeholder=exp_month], & input[placeholder=exp_year]": {"flex": "1 1 84px"},
                "& input[placeholder=cvc]": {"flex": "1 1 64px"},
                "& input[placeholder=postal_code]": {"flex": "2 1 112px"},
            },
        ),
        rx.cond(
            ready | (error != ""),
            rx.text(
                "Card number, expiry (MM / YY), security code and postal code.",
                size="1", color=rx.color("gray", 10), id="card-hint",
            ),
            rx.hstack(
                rx.spinner(size="1"),
                rx.text("Loading the secure card form…", size="1", color=rx.color("gray", 10)),
                id="card-hint",
                spacing="2",
                align="center",
            ),
        ),
        spacing="2",
        width="100%",
        **props,
    )


def _saved_card(card: SavedCardView) -> rx.Component:
    return rx.radio_cards.item(
        rx.hstack(
            rx.icon("credit_card", size=18),
            rx.vstack(
                rx.text(card.label, size="2", weight="medium"),
                rx.text(rx.cond(card.expired, "Expired ", "Expires "), card.expiry_label, size="1",
                        color=rx.cond(card.expired, rx.color("red", 11), MUTED)),
                spacing="0",
            ),
            rx.spacer(),
            rx.cond(card.is_default, rx.badge("Default", variant="soft", size="1")),
            align="center",
            spacing="3",
            width="100%",
        ),
        value=card.id,
        disabled=card.expired,
        class_name="saved-card",
    )


def _saved_cards() -> rx.Component:
    return rx.vstack(
        rx.text("Pay with", as_="div", size="2", weight="medium", id="pay-with-label"),
        rx.radio_cards.root(
            rx.foreach(CheckoutState.saved_cards, _saved_card),
            rx.radio_cards.item(
                rx.hstack(rx.icon("plus", size=18), rx.text("A new card", size="2", weight="medium"),
                          align="center", spacing="3", width="100%"),
                value=NEW_CARD,
                class_name="saved-card",
            ),
            value=CheckoutState.selected_card,
            on_value_change=CheckoutState.select_card,
            columns="1",
            gap="8px",
            width="100%",
            aria_labelledby="pay-with-label",
            id="saved-cards",
        ),
        spacing="2",
        width="100%",
    )


def _pay_button(label: rx.Component, *, on_click, disabled) -> rx.Component:
    """The one pay button of /checkout: busy with the current step while paying."""
    return rx.button(
        rx.cond(
            CheckoutState.paying,
            rx.hstack(rx.spinner(size="2"), rx.text(CheckoutState.step, as_="span"), spacing="2", align="center"),
            label,
        ),
        on_click=on_click,
        disabled=disabled,
        aria_busy=rx.cond(CheckoutState.paying, "true", "false"),
        size="3",
        width="100%",
        id="pay-button",
        type="button",
    )


def _footnote(text: str) -> rx.Component:
    return rx.hstack(
        rx.icon("lock", size=14, color=rx.color("gray", 10)),
        rx.text(text, size="1", color=rx.color("gray", 10)),
        spacing="1",
        align="center",
        justify="center",
        width="100%",
    )


def card_form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.vstack(
                rx.heading("Payment", size="5", as_="h2"),
                rx.text("Pay securely by card. Your card details go straight to Stripe, our payment processor.",
                        size="2", color=MUTED),
                spacing="1",
                width="100%",
            ),
            rx.cond(CheckoutState.saved_cards.length() > 0, _saved_cards()),
            # Hidden, not removed, while a saved card pays: Stripe.js keeps its element mounted.
            card_element(CheckoutState.card_ready, CheckoutState.card_error,
                         display=rx.cond(CheckoutState.selected_card == NEW_CARD, "flex", "none")),
            rx.cond(
                CheckoutState.card_error != "",
                rx.callout(CheckoutState.card_error, icon="triangle_alert", color_scheme="red", role="alert",
                           width="100%", id="card-error"),
            ),
            rx.cond(
                CheckoutState.pay_error != "",
                block_callout(
                    rx.vstack(
                        rx.text(CheckoutState.pay_error, size="2", weight="medium", id="pay-error-message"),
                        rx.cond(CheckoutState.pay_error_note != "", rx.text(CheckoutState.pay_error_note, size="1")),
                        spacing="1",
                    ),
                    icon="circle_x",
                    color_scheme="red",
                    role="alert",
                    width="100%",
                    id="pay-error",
                ),
            ),
            rx.cond(
                CheckoutState.pending_message != "",
                block_callout(
                    rx.vstack(
                        rx.text(CheckoutState.pending_message, size="2", id="pay-pending-message"),
                        rx.link("See your billing history", href="/billing/history", size="2", weight="medium"),
                        spacing="1",
                    ),
                    icon="clock",
                    color_scheme="amber",
                    role="status",
                    width="100%",
                    id="pay-pending",
                ),
            ),
            _pay_button(
                rx.text(CheckoutState.pay_label, as_="span"),
                on_click=CheckoutState.pay,
                disabled=(CheckoutState.paying | (CheckoutState.pending_message != "")
                          | (~CheckoutState.card_ready & (CheckoutState.selected_card == NEW_CARD))),
            ),
            _footnote("Card data never touches our servers."),
            spacing="4",
            width="100%",
        ),
        size="3",
        width="100%",
        id="payment-card",
    )


def hosted_payment() -> rx.Component:
    """CHECKOUT_MODE=hosted: one button to Stripe's own payment page, and what happened on return."""
    return rx.card(
        rx.vstack(
            rx.vstack(
                rx.heading("Payment", size="5", as_="h2"),
                rx.text("You pay on Stripe's secure checkout page, then come straight back here for your receipt.",
                        size="2", color=MUTED),
                spacing="1",
                width="100%",
            ),
            rx.cond(
                CheckoutState.came_back,
                rx.callout("You left the payment page. Nothing was charged; continue whenever you are ready.",
                           icon="info", color_scheme="gray", role="status", width="100%", id="hosted-came-back"),
            ),
            rx.cond(
                CheckoutState.pay_error != "",
                rx.callout(CheckoutState.pay_error, icon="circle_x", color_scheme="red", role="alert",
                           width="100%", id="pay-error"),
            ),
            _pay_button(
                rx.hstack(rx.text(CheckoutState.pay_label, as_="span"), rx.icon("external_link", size=16), spacing="2",
                          align="center"),
                on_click=CheckoutState.pay_hosted,
                disabled=CheckoutState.paying,
            ),
            _footnote("Payments are processed by Stripe."),
            spacing="4",
            width="100%",
        ),
        size="3",
        width="100%",
        id="payment-card",
    )


def checkout_failed(message, heading: str = "This checkout cannot continue") -> rx.Component:
    """The page-level failure state: a bad link, a plan no longer on sale, the server failing."""
    return rx.card(
        rx.vstack(
            rx.icon("circle_alert", size=32, color=rx.color("red", 9)),
            rx.heading(heading, size="5", as_="h2", align="center"),
            rx.text(message, size="3", color=MUTED, role="alert", id="checkout-error", align="center"),
            rx.hstack(
                rx.button(rx.link("See plans and pricing", href="/pricing", underline="none"), as_child=True, size="3"),
                rx.button(rx.link("Go to billing", href="/billing", underline="none"), as_child=True, size="3",
                          variant="soft", color_scheme="gray"),
                spacing="3",
                wrap="wrap",
                justify="center",
            ),
            spacing="4",
            align="center",
            width="100%",
        ),
        size="4",
        width="100%",
        max_width="560px",
        margin_x="auto",
    )


def loading_block(text: str) -> rx.Component:
    return rx.center(
        rx.hstack(rx.spinner(size="3"), rx.text(text, size="3", color=MUTED), spacing="3", align="center"),
        padding_y="64px",
        width="100%",
        aria_live="polite",
    )


def _receipt_line(line: SummaryLineView) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.text(line.label, size="2"),
            rx.spacer(),
            rx.text(line.amount_label, size="2", white_space="nowrap"),
            width="100%",
            spacing="3",
            align="baseline",
        ),
        list_style="none",
    )


def receipt_card() -> rx.Component:
    s = CheckoutSuccessState
    return rx.card(
        rx.vstack(
            rx.center(
                rx.icon("circle_check", size=44, color=rx.color("green", 9)),
                width="100%",
            ),
            rx.heading(
                rx.cond(s.trial, "Your trial has started", rx.cond(s.paid, "Payment received", "Payment not complete")),
                size="7", as_="h1", align="center", width="100%",
            ),
            rx.text(
                rx.cond(
                    s.trial,
                    "Your card is saved. We charge it when your trial ends; you can cancel any time before then.",
                    rx.cond(
                        s.paid,
                        "Thank you. The invoice is in your billing history, with its PDF.",
                        "This invoice is not paid yet. Your billing history shows where it stands.",
                    ),
                ),
                size="3", color=MUTED, align="center", width="100%",
            ),
            rx.cond(
                s.invoice_number != "",
                rx.vstack(
                    rx.separator(size="4"),
                    rx.vstack(
                        rx.text("Purchase", size="1", color=rx.color("gray", 10), weight="medium"),
                        rx.text(s.title, size="4", weight="bold", id="receipt-title"),
                        spacing="1",
                        width="100%",
                    ),
                    rx.cond(
                        s.receipt_lines.length() > 0,
                        rx.el.ul(
                            rx.foreach(s.receipt_lines, _receipt_line),
                            padding="0", margin="0", width="100%",
                            display="flex", flex_direction="column", gap="6px",
                        ),
                    ),
                    rx.separator(size="4"),
                    rx.hstack(
                        rx.text(rx.cond(s.paid, "Amount paid", "Amount due"), size="3", weight="medium"),
                        rx.spacer(),
                        rx.text(s.amount_label, size="4", weight="bold", id="receipt-amount", white_space="nowrap"),
                        width="100%",
                        align="baseline",
                    ),
                    rx.hstack(
                        rx.text("Invoice number", size="2", color=MUTED, white_space="nowrap"),
                        rx.spacer(),
                        rx.code(s.invoice_number, id="receipt-invoice-number", variant="ghost", size="2"),
                        width="100%",
                        align="baseline",
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
            rx.flex(
                rx.button(rx.link("Go to billing", href="/billing", underline="none"), as_child=True, size="3",
                          flex_grow="1"),
                rx.button(rx.link("View history", href="/billing/history", underline="none"), as_child=True,
                          size="3", variant="soft", color_scheme="gray", flex_grow="1"),
                direction=rx.breakpoints(initial="column", sm="row"),
                gap="12px",
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        size="4",
        width="100%",
        max_width="520px",
        margin_x="auto",
        id="receipt",
    )
