"""/admin/customers: search by email, name or company (paged on the server); a customer's
subscriptions, invoices, payments, files and audit trail; change plan, cancel, grant credits,
record a manual payment, resend an invoice by email (its PDF attached)."""

import reflex as rx

from billing_portal.components.admin import admin_empty, admin_shell, admin_table, labelled_input
from billing_portal.components.billing import notice_callout, page_nav
from billing_portal.components.forms import error_callout
from billing_portal.state.admin_console import CustomersAdminState as S, CustomerView

ROUTE = "/admin/customers"
TITLE = "Customers · Admin · Billing Portal"


def _row(row: CustomerView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(row.name, weight="medium", size="2"),
                                rx.text(row.company, size="1", color=rx.color("gray", 10)), spacing="0")),
        rx.table.cell(rx.text(row.email, size="2")),
        rx.table.cell(rx.text(row.plan, size="2")),
        rx.table.cell(rx.cond(row.status != "", rx.badge(row.status, variant="soft", radius="full"))),
        rx.table.cell(rx.text(row.created_label, size="2", white_space="nowrap")),
        rx.table.cell(rx.button("Open", size="1", variant="soft", on_click=S.open_customer(row.id),
                                class_name="open-customer")),
        class_name="customer-row",
        align="center",
    )


def _list() -> rx.Component:
    return rx.vstack(
        rx.form(
            rx.hstack(
                rx.input(name="query", id="customer-query", placeholder="Email, name or company", default_value=S.query,
                         size="2", width="100%", aria_label="Search customers"),
                rx.button(rx.icon("search", size=16), "Search", type="submit"),
                spacing="2",
                width="100%",
            ),
            on_submit=S.search,
            reset_on_submit=False,
            width="100%",
            max_width="560px",
        ),
        rx.text(S.total_label, size="2", color=rx.color("gray", 11), id="customers-total"),
        admin_table(["Customer", "Email", "Plan", "Status", "Since", ""], S.rows, _row, table_id="customers-table",
                    empty=admin_empty("users", "No customers found.", "Search by part of an email, a name or a company.",
                                      card_id="customers-empty")),
        page_nav(S.page, S.pages, S.previous_page, S.next_page, page_id="customers-page"),
        spacing="3",
        width="100%",
    )


def _lines(title: str, items, empty: str) -> rx.Component:
    return rx.card(rx.vstack(
        rx.heading(title, size="3", as_="h3"),
        rx.cond(items.length() > 0,
                rx.vstack(rx.foreach(items, lambda line: rx.text(line, size="2")), spacing="1"),
                rx.text(empty, size="2", color=rx.color("gray", 10))),
        spacing="2",
    ), width="100%")


def _field(label: str, name: str, **props) -> rx.Component:
    return labelled_input(label, f"cu-{name}", name, **props)


def _action(title: str, handler, button: str, *fields: rx.Component) -> rx.Component:
    return rx.card(rx.form(
        rx.vstack(rx.heading(title, size="3", as_="h3"), *fields, rx.button(button, type="submit", size="2"),
                  spacing="2", width="100%"),
        on_submit=handler,
    ), width="100%")


def _actions() -> rx.Component:
    return rx.grid(
        rx.cond(S.d_has_subscription, _action(
            "Change plan", S.change_plan, "Change plan",
            rx.select.root(rx.select.trigger(placeholder="New plan and price", width="100%", aria_label="New price"),
                           rx.select.content(rx.foreach(S.d_price_options, lambda o: rx.select.item(o.label, value=o.value))),
                           name="price_id", size="2"),
            rx.text("Upgrades apply now with a proration invoice; downgrades at the period end.", size="1",
                    color=rx.color("gray", 10)),
        )),
        rx.cond(S.d_has_subscription, _action(
            "Cancel subscription", S.cancel, "Cancel subscription",
            rx.radio_group.root(
                rx.hstack(rx.radio_group.item(value="period_end"), rx.text("At the period end", size="2"), align="center"),
                rx.hstack(rx.radio_group.item(value="now"), rx.text("Now", size="2"), align="center"),
                name="when", default_value="period_end", direction="row", spacing="4",
            ),
            _field("Reason", "cancel-reason", required=True),
        )),
        _action("Grant credits", S.grant_credits, "Grant credits",
                _field("Credits", "amount", placeholder="500", required=True),
                _field("Why", "reason", required=True)),
        _action("Record a manual payment", S.record_payment, "Record payment",
                _field("Open invoice number", "invoice_number", placeholder="INV-2026-000012", required=True),
                _field("Received from (who, how, when)", "received_from", required=True),
                _field("Why by hand", "payment-reason", required=True)),
        _action("Resend an invoice", S.resend_invoice, "Resend invoice",
                rx.select.root(rx.select.trigger(placeholder="Invoice", width="100%", aria_label="Invoice to resend",
                                                 id="cu-resend-invoice"),
                               rx.select.content(rx.foreach(S.d_invoice_options,
                                                            lambda o: rx.select.item(o.label, value=o.value))),
                               name="invoice_id", size="2"),
                rx.text("Sent to ", rx.cond(S.d_email != "", S.d_email, "the customer's sign-in address"),
                        " with the PDF attached.", size="1", color=rx.color("gray", 10))),
        columns=rx.breakpoints(initial="1", md="2"),
        spacing="3",
        width="100%",
    )


def _detail() -> rx.Component:
    return rx.vstack(
        rx.button(rx.icon("arrow_left", size=16), "All customers", variant="ghost", on_click=S.back_to_list),
        rx.card(rx.flex(
            rx.vstack(rx.heading(S.d_name, size="5", as_="h2", id="customer-name"),
                      rx.text(S.d_company, size="2", color=rx.color("gray", 11)),
                      rx.text(S.d_email, rx.cond(S.d_country != "", " · " + S.d_country, ""), size="2",
                              color=rx.color("gray", 11)), spacing="1"),
            rx.vstack(rx.text("Plan: ", rx.cond(S.d_plan != "", S.d_plan, "none"), " ", S.d_status, size="2",
                              weight="medium"),
                      rx.text(S.d_period, rx.cond(S.d_cancel_at_period_end, " · ends at period end", ""), size="2"),
                      rx.text("Credits: ", S.d_credits, size="2"), spacing="1"),
            justify="between", wrap="wrap", spacing="4", width="100%",
        ), width="100%"),
        _actions(),
        rx.grid(
            _lines("Subscriptions", S.d_subscriptions, "None."),
            _lines("Invoices (latest 20)", S.d_invoices, "None."),
            _lines("Payments (latest 20)", S.d_payments, "None."),
            _lines("Files (latest 20)", S.d_files, "None."),
            _lines("Audit trail", S.d_audit, "No admin actions yet."),
            _lines("Emails (latest 20)", S.d_emails, "None yet."),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="3",
            width="100%",
        ),
        spacing="4",
        width="100%",
    )


def _content() -> rx.Component:
    return rx.vstack(
        error_callout(S.error),
        notice_callout(S.notice),
        rx.cond(S.detail_id != "", _detail(), _list()),
        spacing="4",
        width="100%",
    )


def admin_customers_page() -> rx.Component:
    return admin_shell("Customers", _content(), subtitle="Find a customer, see their billing, act on it.")
