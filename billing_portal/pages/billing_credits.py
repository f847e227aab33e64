"""/billing/credits: the credit balance, the packs on sale (each a link to the credit-pack checkout)
and the ledger, newest first, paged on the server."""

import reflex as rx

from billing_portal.components.billing import guarded, page_header, page_nav
from billing_portal.components.forms import error_callout
from billing_portal.components.layout import page_shell
from billing_portal.state.billing import CreditsState, LedgerRowView, PackView

ROUTE = "/billing/credits"
TITLE = "Credits · Billing Portal"
NUMBERS = {"fontVariantNumeric": "tabular-nums"}


def _balance() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text("Balance", size="2", color=rx.color("gray", 11)),
            rx.hstack(
                rx.heading(CreditsState.balance_label, size="8", id="credit-balance", style=NUMBERS),
                rx.text("credits", size="3", color=rx.color("gray", 11)),
                align="baseline",
                spacing="2",
            ),
            spacing="1",
        ),
        size="3",
        width="100%",
    )


def _pack(pack: PackView) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(pack.name, weight="bold", size="3"),
            rx.text(pack.credits_label, size="2", color=rx.color("gray", 11)),
            rx.text(pack.price_label, size="5", weight="bold", style=NUMBERS),
            rx.button(
                rx.link("Buy", href=pack.href, underline="none", aria_label="Buy " + pack.name),
                as_child=True,
                size="2",
                width="100%",
            ),
            spacing="2",
            align="start",
            width="100%",
        ),
        size="2",
        width="100%",
        class_name="credit-pack",
    )


def _packs() -> rx.Component:
    return rx.vstack(
        rx.heading("Buy credits", size="4", as_="h2"),
        rx.cond(
            CreditsState.packs.length() > 0,
            rx.grid(rx.foreach(CreditsState.packs, _pack), columns=rx.breakpoints(initial="1", sm="2", md="3"),
                    spacing="3", width="100%", id="credit-packs"),
            rx.text("No credit packs are on sale in your currency right now.", size="2", color=rx.color("gray", 11)),
        ),
        spacing="3",
        width="100%",
    )


def _entry(row: LedgerRowView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.date_label, white_space="nowrap")),
        rx.table.cell(row.reason),
        rx.table.cell(
            rx.text(row.delta_label, weight="medium", color=rx.cond(row.grant, rx.color("green", 11), rx.color("gray", 12)),
                    style=NUMBERS, white_space="nowrap"),
            justify="end",
        ),
        rx.table.cell(rx.text(row.balance_label, style=NUMBERS), justify="end"),
        class_name="ledger-row",
    )


def _entry_card(row: LedgerRowView) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(row.reason, size="2", weight="medium"),
            rx.text(row.date_label, size="1", color=rx.color("gray", 10)),
            spacing="1",
            min_width="0",
            flex="1",
        ),
        rx.vstack(
            rx.text(row.delta_label, weight="medium", color=rx.cond(row.grant, rx.color("green", 11), rx.color("gray", 12)),
                    style=NUMBERS, white_space="nowrap"),
            rx.text("Balance ", row.balance_label, size="1", color=rx.color("gray", 10), style=NUMBERS,
                    white_space="nowrap"),
            align="end",
            spacing="1",
        ),
        justify="between",
        align="start",
        spacing="3",
        width="100%",
        padding="12px",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        class_name="ledger-card",
    )


def _ledger() -> rx.Component:
    return rx.vstack(
        rx.heading("Activity", size="4", as_="h2"),
        rx.cond(
            CreditsState.rows.length() > 0,
            rx.box(
                rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell("Date"),
                        rx.table.column_header_cell("What"),
                        rx.table.column_header_cell("Credits", justify="end"),
                        rx.table.column_header_cell("Balance", justify="end"),
                    )),
                    rx.table.body(rx.foreach(CreditsState.rows, _entry)),
                    variant="surface",
                    size="2",
                    width="100%",
                    id="ledger-table",
                    display=["none", "none", "table"],
                ),
                # Phones get one card per entry: four columns do not fit 390 px.
                rx.card(rx.foreach(CreditsState.rows, _entry_card), size="1", padding="0", width="100%",
                        id="ledger-cards", display=["block", "block", "none"]),
                width="100%",
                opacity=rx.cond(CreditsState.loading, "0.55", "1"),
            ),
            rx.card(
                rx.text("No credits yet. Buy a pack above; what you get and spend shows up here.", size="2",
                        color=rx.color("gray", 11)),
                width="100%",
                id="ledger-empty",
            ),
        ),
        page_nav(CreditsState.page, CreditsState.pages, CreditsState.previous_page, CreditsState.next_page,
                 page_id="ledger-page"),
        spacing="3",
        width="100%",
    )


def billing_credits_page() -> rx.Component:
    return page_shell(
        rx.vstack(
            page_header("Credits", "Your balance, packs to buy, and every credit in and out.", "Credits"),
            error_callout(CreditsState.error),
            guarded(rx.vstack(_balance(), _packs(), _ledger(), spacing="5", width="100%"), loaded=CreditsState.loaded),
            spacing="5",
            width="100%",
        ),
    )
