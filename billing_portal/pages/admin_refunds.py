"""/admin/refunds: waiting refund requests first; approve all or part, or reject with a reason."""

import reflex as rx

from billing_portal.components.admin import (
    admin_empty,
    admin_shell,
    admin_table,
    note_field,
    row_dialog,
    status_filters,
)
from billing_portal.components.forms import error_callout
from billing_portal.components.billing import notice_callout, page_nav
from billing_portal.state.admin_refunds import ROUTE, RefundsAdminState, RequestView

TITLE = "Refunds · Admin · Billing Portal"
FILTERS = [("requested", "Waiting"), ("approved", "Approved"), ("rejected", "Rejected"), ("all", "All")]


def _status(row: RequestView) -> rx.Component:
    return rx.badge(
        row.status,
        color_scheme=rx.match(row.status, ("approved", "green"), ("rejected", "red"), "amber"),
        variant="soft",
        radius="full",
    )


def _actions(row: RequestView) -> rx.Component:
    return rx.cond(
        row.status == "requested",
        rx.hstack(
            rx.button("Approve…", size="1", on_click=RefundsAdminState.open_decision(row.id, "approve"),
                      class_name="approve-request", data_request=row.id),
            rx.button("Reject…", size="1", variant="soft", color_scheme="red",
                      on_click=RefundsAdminState.open_decision(row.id, "reject"),
                      class_name="reject-request", data_request=row.id),
            spacing="2",
            wrap="nowrap",
        ),
        rx.vstack(
            rx.text(row.decided_label, size="1", color=rx.color("gray", 10), white_space="nowrap"),
            rx.cond(row.decision_reason != "", rx.text(row.decision_reason, size="1")),
            spacing="0",
        ),
    )


def _row(row: RequestView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.created_label, white_space="nowrap", size="2")),
        rx.table.cell(
            rx.vstack(
                rx.text(row.customer_label, size="2", weight="medium"),
                rx.text(row.customer_email, size="1", color=rx.color("gray", 10)),
                spacing="0",
            )
        ),
        rx.table.cell(rx.text(row.invoice_number, white_space="nowrap", size="2")),
        rx.table.cell(rx.text(row.amount_label, weight="medium", white_space="nowrap"), justify="end"),
        rx.table.cell(
            rx.vstack(
                rx.text(row.paid_label, size="2", white_space="nowrap"),
                rx.text("left ", row.refundable_label, size="1", color=rx.color("gray", 10), white_space="nowrap"),
                spacing="0",
            ),
        ),
        rx.table.cell(rx.text(row.reason, size="2", min_width="160px")),
        rx.table.cell(_status(row)),
        rx.table.cell(_actions(row)),
        class_name="refund-request-row",
        data_request=row.id,
        data_status=row.status,
        align="center",
    )


def _dialog() -> rx.Component:
    row = RefundsAdminState.deciding_row
    approving = RefundsAdminState.decision == "approve"
    return row_dialog(
        rx.cond(approving, "Approve refund", "Reject refund request"),
        [row.customer_label, " asked for ", row.amount_label, " on ", row.invoice_number,
         " (", row.refundable_label, " left to refund): “", row.reason, "”"],
        rx.fragment(
            rx.cond(
                approving,
                rx.vstack(
                    rx.el.label(rx.text("Amount to refund", size="2", weight="medium"), html_for="decision-amount"),
                    rx.input(id="decision-amount", name="amount", default_value=row.amount_label, width="100%"),
                    rx.text("Lower it for a partial refund. The money goes back to the card at Stripe.",
                            size="1", color=rx.color("gray", 10)),
                    spacing="1",
                    width="100%",
                ),
            ),
            note_field(rx.cond(approving, "Note (optional)", "Reason, shown to the customer"), "decision-reason",
                       "reason", required=RefundsAdminState.decision == "reject"),
        ),
        rx.button(
            rx.cond(approving, "Refund", "Reject"),
            type="submit",
            color_scheme=rx.cond(approving, "indigo", "red"),
            loading=RefundsAdminState.deciding,
            id="confirm-decision",
        ),
        error=RefundsAdminState.dialog_error,
        is_open=RefundsAdminState.deciding_id != "",
        on_close=RefundsAdminState.close_decision,
        on_submit=RefundsAdminState.decide,
    )


def _content() -> rx.Component:
    return rx.vstack(
        status_filters(FILTERS, RefundsAdminState, total_id="refunds-total"),
        error_callout(RefundsAdminState.error),
        notice_callout(RefundsAdminState.notice),
        admin_table(["Requested", "Customer", "Invoice", "Asked", "Paid", "Reason", "Status", ""],
                    RefundsAdminState.rows, _row, table_id="refunds-table",
                    empty=admin_empty("inbox", "No refund requests here.",
                                      "Requests customers make from their billing history show up here.",
                                      card_id="refunds-empty")),
        page_nav(RefundsAdminState.page, RefundsAdminState.pages, RefundsAdminState.previous_page,
              RefundsAdminState.next_page, page_id="refunds-page"),
        _dialog(),
        spacing="4",
        width="100%",
    )


def admin_refunds_page() -> rx.Component:
    return admin_shell("Refunds", _content(), subtitle="Customers' refund requests: approve all or part, or reject with a reason.")


__all__ = ["ROUTE", "TITLE", "admin_refunds_page"]
