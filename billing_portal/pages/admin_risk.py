"""/admin/risk: flagged and blocked checkout charges, why the fraud guard scored them, clear a flag."""

import reflex as rx

from billing_portal.components.admin import (
    admin_empty,
    admin_shell,
    admin_table,
    note_field,
    row_dialog,
    status_filters,
)
from billing_portal.components.billing import notice_callout, page_nav
from billing_portal.components.forms import error_callout
from billing_portal.state.admin_risk import ROUTE, AssessmentView, RiskAdminState

TITLE = "Risk · Admin · Billing Portal"
FILTERS = [("flagged", "Flagged"), ("blocked", "Blocked"), ("cleared", "Cleared"), ("all", "All checks")]


def _decision(row: AssessmentView) -> rx.Component:
    return rx.hstack(
        rx.badge(
            rx.match(row.decision, ("block", "Blocked"), ("flag", "Flagged"), "Allowed"),
            color_scheme=rx.match(row.decision, ("block", "red"), ("flag", "amber"), "green"),
            variant="soft",
            radius="full",
        ),
        rx.text(row.score, size="2", weight="bold", title="Risk score"),
        spacing="2",
        align="center",
        wrap="nowrap",
    )


def _signals(row: AssessmentView) -> rx.Component:
    return rx.cond(
        row.signals.length() > 0,
        rx.el.ul(
            rx.foreach(row.signals, lambda signal: rx.el.li(rx.text(signal, size="1"))),
            list_style_type="none",
            padding_left="0",
            margin="0",
            min_width="240px",
        ),
        rx.text("No signal", size="1", color=rx.color("gray", 10)),
    )


def _review(row: AssessmentView) -> rx.Component:
    return rx.cond(
        row.can_clear,
        rx.button("Clear flag…", size="1", variant="soft", on_click=RiskAdminState.open_clear(row.id),
                  class_name="clear-flag", data_assessment=row.id, white_space="nowrap"),
        rx.cond(
            row.cleared_label != "",
            rx.vstack(
                rx.text("Cleared ", row.cleared_label, size="1", color=rx.color("gray", 10), white_space="nowrap"),
                rx.cond(row.clear_note != "", rx.text(row.clear_note, size="1")),
                spacing="0",
            ),
        ),
    )


def _lines(first, *more, width: str | None = None) -> rx.Component:
    """A cell of one line of text and smaller grey ones under it."""
    return rx.vstack(
        first,
        *[rx.text(line, size="1", color=rx.color("gray", 10), white_space="nowrap") for line in more],
        spacing="0",
        min_width=width,
    )


def _row(row: AssessmentView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(_lines(rx.text(row.customer_label, size="2", weight="medium"), row.customer_email,
                             row.created_label, width="150px")),
        rx.table.cell(_decision(row)),
        rx.table.cell(_signals(row)),
        rx.table.cell(_lines(rx.text(row.amount_label, size="2", weight="medium", white_space="nowrap"),
                             row.payment_label, row.invoice_number)),
        rx.table.cell(_lines(rx.text(row.card_label, size="2", white_space="nowrap"),
                             f"Card {row.card_country} · billing {row.billing_country}", row.client_ip)),
        rx.table.cell(_review(row)),
        class_name="risk-row",
        data_assessment=row.id,
        data_decision=row.decision,
        align="center",
    )


def _dialog() -> rx.Component:
    row = RiskAdminState.selected_row
    return row_dialog(
        "Clear flag",
        [row.customer_label, ": ", row.amount_label, " with ", row.card_label, ", score ", row.score,
         ". Clearing it says you checked it; the payment stays as it is."],
        note_field("Note (optional)", "clear-note", "note", max_length=500),
        rx.button("Clear flag", type="submit", loading=RiskAdminState.clearing, id="confirm-clear"),
        error=RiskAdminState.dialog_error,
        is_open=RiskAdminState.selected_id != "",
        on_close=RiskAdminState.close_clear,
        on_submit=RiskAdminState.clear_flag,
    )


def _content() -> rx.Component:
    return rx.vstack(
        status_filters(FILTERS, RiskAdminState, total_id="risk-total"),
        error_callout(RiskAdminState.error),
        notice_callout(RiskAdminState.notice),
        admin_table(["Customer", "Decision", "Signals", "Amount", "Card and IP", ""],
                    RiskAdminState.rows, _row, table_id="risk-table",
                    empty=admin_empty("shield_check", "Nothing here.",
                                      "Checkout charges the fraud guard flags or blocks show up here.",
                                      card_id="risk-empty")),
        page_nav(RiskAdminState.page, RiskAdminState.pages, RiskAdminState.previous_page,
                 RiskAdminState.next_page, page_id="risk-page"),
        rx.text(
            "Every card charge at checkout is scored before Stripe is asked: attempts per customer, IP and card, "
            "declines, and a card issued outside the billing country. Flagged charges were made; blocked ones were "
            "not. Thresholds and points are the FRAUD_* settings.",
            size="1",
            color=rx.color("gray", 10),
        ),
        _dialog(),
        spacing="4",
        width="100%",
    )


def admin_risk_page() -> rx.Component:
    return admin_shell("Risk", _content(), subtitle="Checkout charges the fraud guard flagged or blocked, and why.")


__all__ = ["ROUTE", "TITLE", "admin_risk_page"]
