"""/billing/history: invoices, payments and refunds, newest first, filtered and paged on the server,
with a CSV export of the filtered rows, PDF links (invoices, credit notes) and refund requests on
paid payments (a dialog prefilled with what is refundable)."""

import reflex as rx

from billing_portal.billing.portal import CSV_MAX_ROWS, KIND_FILTERS, STATUS_FILTERS
from billing_portal.components.billing import (
    empty_list,
    filter_select,
    guarded,
    history_cards,
    history_table,
    labelled,
    notice_callout,
    page_header,
    page_nav,
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
    return empty_list("receipt", filtered=HistoryState.filtered, on_clear=HistoryState.clear_filters,
                      nothing_matches="Nothing matches these filters.", none_yet="No invoices yet",
                      hint="Invoices, payments and refunds show up here once you subscribe.",
                      list_id="history-empty")


def _refund_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Request a refund"),
            rx.dialog.description(HistoryState.refund_title, size="2", color=rx.color("gray", 11), margin_bottom="16px"),
            rx.form(
                rx.vstack(
                    labelled(
                        "Amount",
                        "refund-amount",
                        rx.input(
                            id="refund-amount",
                            name="amount",
                            value=HistoryState.refund_amount,
                            on_change=HistoryState.set_refund_amount,
                            input_mode="decimal",
                            size="3",
                            width="100%",
                        ),
                    ),
                    rx.text("At most ", HistoryState.refund_max_label, ".", size="1", color=rx.color("gray", 11),
                            id="refund-max"),
                    labelled(
                        "Why are you asking for a refund?",
                        "refund-reason",
                        rx.text_area(id="refund-reason", name="reason", required=True, max_length=500, rows="3",
                                     width="100%"),
                    ),
                    rx.cond(
                        HistoryState.refund_error != "",
                        rx.callout(HistoryState.refund_error, icon="circle_alert", color_scheme="red", role="alert",
                                   width="100%", id="refund-error"),
                    ),
                    rx.text("An admin reviews each request; nothing is refunded until it is approved.", size="1",
                            color=rx.color("gray", 10)),
                    rx.flex(
                        rx.dialog.close(rx.button("Keep payment", type="button", variant="soft", color_scheme="gray")),
                        rx.button("Send request", type="submit", loading=HistoryState.refund_sending, id="send-refund"),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=HistoryState.submit_refund,
                reset_on_submit=False,
            ),
            max_width="440px",
        ),
        open=HistoryState.refund_open,
        on_open_change=HistoryState.set_refund_open,
    )


def billing_history_page() -> rx.Component:
    results = rx.box(
        rx.cond(
            HistoryState.rows.length() > 0,
            rx.box(
                history_table(HistoryState.rows, HistoryState.open_refund),
                history_cards(HistoryState.rows, HistoryState.open_refund),
                width="100%",
            ),
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
        page_nav(HistoryState.page, HistoryState.pages, HistoryState.previous_page, HistoryState.next_page,
                 page_id="history-page"),
        rx.text(
            "Amounts are in the currency you were billed in. PDF links are checked and expire after 5 minutes.",
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
            notice_callout(HistoryState.notice),
            rx.cond(
                HistoryState.pdf_note != "",
                rx.callout(HistoryState.pdf_note, icon="clock", color_scheme="blue", role="status", width="100%",
                           id="pdf-preparing"),
            ),
            guarded(body, loaded=HistoryState.loaded),
            _refund_dialog(),
            spacing="5",
            width="100%",
        ),
    )
