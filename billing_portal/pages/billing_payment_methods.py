"""/billing/payment-methods: saved cards (brand, last digits, expiry, the default), set the default,
remove one after a confirmation, add a card with the secure card form. The flow is in
state/payment_methods.py."""

import reflex as rx

from billing_portal.components.billing import guarded, notice_callout, page_header
from billing_portal.components.checkout import card_element
from billing_portal.components.forms import error_callout
from billing_portal.components.layout import page_shell
from billing_portal.state.payment_methods import ROUTE as _ROUTE
from billing_portal.state.payment_methods import CardRowView, PaymentMethodsState

ROUTE = _ROUTE
TITLE = "Payment methods · Billing Portal"
MUTED = rx.color("gray", 11)
S = PaymentMethodsState


def _card_row(card: CardRowView) -> rx.Component:
    return rx.box(
        rx.flex(
            rx.hstack(
                rx.center(
                    rx.icon("credit_card", size=20),
                    width="44px", height="32px", flex_shrink="0",
                    border_radius="var(--radius-2)",
                    background_color=rx.color("gray", 3),
                    color=rx.color("gray", 11),
                ),
                rx.vstack(
                    rx.hstack(
                        rx.text(card.brand, " •••• ", card.last4, size="3", weight="medium", white_space="nowrap",
                                class_name="card-label"),
                        rx.cond(card.is_default,
                                rx.badge("Default", color_scheme="green", variant="soft", radius="full",
                                         class_name="default-badge")),
                        spacing="2",
                        align="center",
                        wrap="wrap",
                    ),
                    rx.text(
                        rx.cond(card.expiry_status == "expired", "Expired ", "Expires "), card.expiry_label,
                        size="1",
                        color=rx.cond(card.expiry_status == "", MUTED, rx.color("red", 11)),
                    ),
                    spacing="1",
                    min_width="0",
                ),
                spacing="3",
                align="center",
                flex="1",
                min_width="0",
            ),
            rx.hstack(
                rx.cond(
                    ~card.is_default,
                    rx.button("Set default", on_click=S.set_default(card.id), disabled=S.busy, size="2",
                              variant="soft", aria_label="Set default: " + card.brand + " •••• " + card.last4),
                ),
                rx.button("Remove", on_click=S.ask_remove(card.id), disabled=S.busy, size="2", variant="soft",
                          color_scheme="red", aria_label="Remove: " + card.brand + " •••• " + card.last4),
                spacing="2",
                flex_shrink="0",
            ),
            direction=rx.breakpoints(initial="column", sm="row"),
            align=rx.breakpoints(initial="start", sm="center"),
            justify="between",
            gap="12px",
            width="100%",
        ),
        rx.cond(
            card.expiry_message != "",
            rx.callout(card.expiry_message, icon="calendar_x", color_scheme="amber", size="1", margin_top="10px",
                       class_name="expiry-warning"),
        ),
        padding="14px 16px",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        class_name="saved-card-row",
        data_default=rx.cond(card.is_default, "true", "false"),
    )


def _card_list() -> rx.Component:
    return rx.card(
        rx.cond(
            S.has_cards,
            rx.el.div(rx.foreach(S.cards, _card_row), id="card-list", role="list", aria_label="Saved cards"),
            rx.vstack(
                rx.icon("wallet_cards", size=32, color=rx.color("gray", 9)),
                rx.heading("No saved cards", size="4", as_="h2"),
                rx.text("Add a card to pay renewals and open invoices without typing it again.", size="2",
                        color=MUTED, align="center"),
                align="center",
                spacing="2",
                padding="32px 16px",
                width="100%",
                id="no-cards",
            ),
        ),
        size="1",
        width="100%",
        padding="0",
    )


def _add_form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Add a card", size="4", as_="h2"),
                rx.spacer(),
                rx.button("Cancel", on_click=S.close_form, disabled=S.saving, size="2", variant="ghost",
                          color_scheme="gray"),
                width="100%",
                align="center",
            ),
            rx.text("Your card details go straight to Stripe, our payment processor. Nothing is charged now.",
                    size="2", color=MUTED),
            card_element(S.card_ready, S.card_error),
            error_callout(S.card_error),
            error_callout(S.save_error),
            rx.button(
                rx.cond(S.saving, rx.hstack(rx.spinner(size="2"), rx.text("Saving…"), spacing="2", align="center"),
                        rx.text("Save card")),
                on_click=S.save,
                disabled=S.saving | ~S.card_ready,
                size="3",
                width=rx.breakpoints(initial="100%", sm="auto"),
                id="save-card",
                type="button",
            ),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
        id="add-card-form",
    )


def _remove_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Remove this card?"),
            rx.alert_dialog.description(
                "Remove ", rx.text.strong(S.confirm_remove_label),
                " from your account? It is deleted at Stripe too; you can add it again later.",
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Keep card", variant="soft", color_scheme="gray",
                                                 on_click=S.cancel_remove)),
                rx.alert_dialog.action(rx.button("Remove card", color_scheme="red", on_click=S.confirm_remove,
                                                 id="confirm-remove")),
                spacing="3",
                justify="end",
                margin_top="16px",
            ),
            max_width="440px",
        ),
        open=S.confirm_remove_id != "",
        on_open_change=lambda _open: S.cancel_remove(),
    )


def billing_payment_methods_page() -> rx.Component:
    body = rx.vstack(
        _card_list(),
        rx.cond(
            S.adding,
            _add_form(),
            rx.button(rx.icon("plus", size=16), "Add card", on_click=S.open_form, disabled=S.busy, size="3",
                      id="add-card"),
        ),
        rx.cond(S.busy, rx.hstack(rx.spinner(size="2"), rx.text("Updating your cards…", size="2", color=MUTED),
                                  spacing="2", align="center", role="status")),
        _remove_dialog(),
        spacing="4",
        width="100%",
        align="start",
    )
    return page_shell(
        rx.vstack(
            page_header("Payment methods", "The cards on your account. Renewals are charged to the default card.",
                        "Payment methods"),
            error_callout(S.error),
            notice_callout(S.notice),
            guarded(body, loaded=S.loaded),
            spacing="5",
            width="100%",
        ),
    )
