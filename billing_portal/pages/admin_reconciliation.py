"""/admin/reconciliation: our payments and refunds against Stripe's for a range of days."""

import reflex as rx

from billing_portal.components.admin import admin_shell, admin_table, labelled_input
from billing_portal.components.forms import error_callout
from billing_portal.state.admin_reconciliation import ROUTE, DiscrepancyView, ReconciliationAdminState

TITLE = "Reconciliation · Admin · Billing Portal"


def _outcome(row: DiscrepancyView) -> rx.Component:
    return rx.badge(
        rx.match(row.outcome, ("healed", "Healed"), ("healable", "Can be healed"), "Needs a person"),
        color_scheme=rx.match(row.outcome, ("healed", "green"), ("healable", "amber"), "red"),
        variant="soft",
        radius="full",
        white_space="nowrap",
    )


def _row(row: DiscrepancyView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.kind_label, weight="medium", white_space="nowrap")),
        rx.table.cell(rx.text(row.object_type, size="2")),
        rx.table.cell(rx.code(row.stripe_id, size="1", white_space="nowrap")),
        rx.table.cell(rx.text(row.ours, size="2", white_space="nowrap")),
        rx.table.cell(rx.text(row.theirs, size="2", white_space="nowrap")),
        rx.table.cell(_outcome(row)),
        rx.table.cell(rx.text(row.note, size="1", color=rx.color("gray", 11), min_width="200px")),
        class_name="discrepancy-row",
        data_kind=row.kind,
        data_outcome=row.outcome,
        align="center",
    )


def _form() -> rx.Component:
    def field(label: str, name: str, value) -> rx.Component:
        return labelled_input(label, f"recon-{name}", name, type="date", default_value=value, key=value)

    return rx.form(
        rx.flex(
            field("From", "from", ReconciliationAdminState.default_from),
            field("To (included)", "to", ReconciliationAdminState.default_to),
            rx.el.label(
                rx.hstack(rx.checkbox(name="heal", id="recon-heal"), rx.text("Heal what is safe", size="2"),
                          align="center", spacing="2"),
                html_for="recon-heal",
                white_space="nowrap",
                padding_bottom="6px",
            ),
            rx.button(rx.icon("scale", size=16), "Reconcile", type="submit", loading=ReconciliationAdminState.running,
                      id="run-reconciliation", white_space="nowrap"),
            direction=rx.breakpoints(initial="column", sm="row"),
            align=rx.breakpoints(initial="stretch", sm="end"),
            spacing="3",
            width="100%",
        ),
        on_submit=ReconciliationAdminState.run,
        reset_on_submit=False,
        width="100%",
    )


def _results() -> rx.Component:
    return rx.cond(
        ReconciliationAdminState.ran,
        rx.vstack(
            rx.cond(
                ReconciliationAdminState.clean,
                rx.callout("No discrepancies: our books and Stripe agree.", icon="circle_check", color_scheme="green",
                           width="100%", id="reconciliation-clean"),
                admin_table(["Discrepancy", "Object", "Stripe id", "Ours", "Stripe", "Outcome", "Note"],
                            ReconciliationAdminState.rows, _row, table_id="discrepancies-table"),
            ),
            rx.text(ReconciliationAdminState.summary, size="2", color=rx.color("gray", 11), id="reconciliation-summary"),
            spacing="3",
            width="100%",
        ),
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.card(_form(), width="100%"),
        error_callout(ReconciliationAdminState.error),
        _results(),
        rx.text(
            "Only payments made through Stripe are compared. Money Stripe has and we do not is recorded when healed; "
            "what we hold and Stripe does not is never changed automatically. Every run and every fix is in the audit log. "
            "The same check runs nightly for yesterday and today, and from the CLI: python -m billing_portal reconcile.",
            size="1",
            color=rx.color("gray", 10),
        ),
        spacing="4",
        width="100%",
    )


def admin_reconciliation_page() -> rx.Component:
    return admin_shell("Reconciliation", _content(), subtitle="Our payments and refunds against Stripe's.")


__all__ = ["ROUTE", "TITLE", "admin_reconciliation_page"]
