"""/billing/history: invoices, payments and refunds, newest first, filtered and paged on the server,
with a CSV export of the filtered rows. PDF download and refund requests come with later slices."""

import reflex as rx

from billing_portal.billing.portal import CSV_MAX_ROWS, KIND_FILTERS, STATUS_FILTERS
from billing_portal.components.billing import (
    filter_select,
    guarded,
    history_cards,
    history_table,
    labelled,
    page_header,
    pager,
)
from billing_portal.components.forms import error_callout
from billing_portal.components.layout import page_shell
from billing_portal.state.billing import HistoryState

ROUTE = "/billing/history"
TITLE = "Billing history · Billing Portal"


def _filters() -> rx.Component:
    return rx.grid(
        filter_select("Status", "filter-status", STATUS_FILTERS, HistoryState.status_filter,
                      HistoryState.set_status_filter, "All statuses"),
        filter_select("Type", "filter-kind", KIND_FILTERS, HistoryState.kind_filter, HistoryState.set_kind_filter,
                      "All types"),
        labelled(
            "From",
            "filter-from",
            rx.input(id="filter-from", type="date", value=HistoryState.date_from, on_change=HistoryState.set_date_from, size="2", width="100%"),
        ),
        labelled(
            "To",
            "filter-to",
            rx.input(id="filter-to", type="date", value=HistoryState.date_to, on_change=HistoryState.set_date_to, size="2", width="100%"),
        ),
        columns=rx.breakpoints(initial="2", md="4"),
        spacing="3",
        width="100%",
        aria_label="Filters",
        role="group",
    )


def _toolbar() -> rx.Component:
    return rx.flex(
        rx.text(HistoryState.summary, size="2", color=rx.color("gray", 11), id="history-summary"),
        rx.flex(
            rx.cond(
                HistoryState.filtered,
                rx.button("Clear filters", on_click=HistoryState.clear_filters, variant="ghost", size="2", color_scheme="gray"),
            ),
            rx.button(
                rx.icon("download", size=16),
                "Export CSV",
                on_click=HistoryState.export_csv,
                loading=HistoryState.exporting,
                disabled=HistoryState.total == 0,
                variant="soft",
                size="2",
                title=f"The filtered rows, newest first (at most {CSV_MAX_ROWS:,} rows)",
            ),
            spacing="3",
            align="center",
        ),
        justify="between",
        align="center",
        spacing="3",
        wrap="wrap",
        width="100%",
    )


def _empty() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.icon("receipt", size=28, color=rx.color("gray", 9)),
            rx.cond(
                HistoryState.filtered,
                rx.text("Nothing matches these filters.", size="3", weight="medium"),
                rx.text("No invoices yet", size="3", weight="medium"),
            ),
            rx.cond(
                HistoryState.filtered,
                rx.button("Clear filters", on_click=HistoryState.clear_filters, variant="soft", size="2"),
                rx.text("Invoices, payments and refunds show up here once you subscribe.", size="2", color=rx.color("gray", 11)),
            ),
            align="center",
            spacing="2",
            padding_y="24px",
        ),
        size="3",
        width="100%",
        id="history-empty",
    )


def billing_history_page() -> rx.Component:
    results = rx.box(
        rx.cond(
            HistoryState.rows.length() > 0,
            rx.box(history_table(HistoryState.rows), history_cards(HistoryState.rows), width="100%"),
            _empty(),
        ),
        opacity=rx.cond(HistoryState.loading, "0.55", "1"),
        aria_busy=HistoryState.loading,
        width="100%",
    )
    body = rx.vstack(
        _filters(),
        _toolbar(),
        results,
        pager(HistoryState.page, HistoryState.pages, HistoryState.previous_page, HistoryState.next_page,
              "history-page"),
        rx.text(
            "Invoice PDFs and refund requests are coming soon. Amounts are in the currency you were billed in.",
            size="1",
            color=rx.color("gray", 10),
        ),
        spacing="4",
        width="100%",
    )
    return page_shell(
        rx.vstack(
            page_header("Billing history", "Invoices, payments and refunds, newest first.", "History"),
            error_callout(HistoryState.error),
            guarded(body, loaded=HistoryState.loaded),
            spacing="5",
            width="100%",
        ),
        max_width="1120px",
    )
