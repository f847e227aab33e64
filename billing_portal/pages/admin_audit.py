"""/admin/audit: the audit log, filtered in the database, newest first, with a CSV export."""

import reflex as rx

from billing_portal.components.admin import admin_empty, admin_shell, admin_table, labelled_input
from billing_portal.components.billing import page_nav
from billing_portal.components.forms import error_callout
from billing_portal.state.admin_console import AuditAdminState as S, AuditView

ROUTE = "/admin/audit"
TITLE = "Audit log · Admin · Billing Portal"


def _row(row: AuditView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.at_label, size="2", white_space="nowrap")),
        rx.table.cell(rx.text(row.actor, size="2", white_space="nowrap")),
        rx.table.cell(rx.code(row.action, size="1", white_space="nowrap")),
        rx.table.cell(rx.text(row.subject, size="2", white_space="nowrap")),
        rx.table.cell(rx.text(row.change, size="1", color=rx.color("gray", 11), min_width="240px")),
        class_name="audit-row",
        align="center",
    )


def _field(label: str, name: str, value, type_: str = "text", placeholder: str = "") -> rx.Component:
    return labelled_input(label, f"audit-{name}", name, type=type_, default_value=value, key=value,
                          placeholder=placeholder)


def _filters() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.grid(
                _field("Who", "actor", S.f_actor, placeholder="email, system, stripe"),
                _field("Action starts with", "action", S.f_action, placeholder="refund_request."),
                _field("Subject type", "subject_type", S.f_subject_type, placeholder="customer"),
                _field("Subject id", "subject_id", S.f_subject_id),
                _field("From", "from", S.f_from, "date"),
                _field("To", "to", S.f_to, "date"),
                columns=rx.breakpoints(initial="2", md="3", lg="6"),
                spacing="3",
                width="100%",
            ),
            rx.flex(
                rx.text(S.total_label, size="2", color=rx.color("gray", 11), id="audit-total"),
                rx.hstack(
                    rx.cond(S.filtered, rx.button("Clear", type="button", variant="ghost", color_scheme="gray",
                                                  on_click=S.clear_filters)),
                    rx.button("Filter", type="submit", variant="soft"),
                    rx.button(rx.icon("download", size=16), "Export CSV", type="button", on_click=S.export_csv,
                              loading=S.exporting, disabled=S.total == 0),
                    spacing="2",
                ),
                justify="between",
                align="center",
                wrap="wrap",
                spacing="3",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=S.apply_filters,
        reset_on_submit=False,
        width="100%",
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.card(_filters(), width="100%"),
        error_callout(S.error),
        admin_table(["When", "Who", "Action", "Subject", "Change"], S.rows, _row, table_id="audit-table",
                    empty=admin_empty("scroll_text", "No entries.", "Admin actions and money changes are logged here.",
                                      card_id="audit-empty")),
        page_nav(S.page, S.pages, S.previous_page, S.next_page, page_id="audit-page"),
        spacing="4",
        width="100%",
    )


def admin_audit_page() -> rx.Component:
    return admin_shell("Audit", _content(), subtitle="Every admin action and every money change, newest first.")
