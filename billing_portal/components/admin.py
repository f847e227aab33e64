"""The admin console's frame: section tabs, a heading, and the body only once the server has said
the signed-in user is an admin (a customer sees the denial, never the body)."""

import reflex as rx

from billing_portal.components.billing import labelled, loading_block
from billing_portal.components.layout import page_shell, section_tabs
from billing_portal.state.admin import AdminState

ADMIN_TABS = [
    ("Dashboard", "/admin"),
    ("Customers", "/admin/customers"),
    ("Refunds", "/admin/refunds"),
    ("Reconciliation", "/admin/reconciliation"),
    ("Webhooks", "/admin/webhooks"),
    ("Catalog", "/admin/catalog"),
    ("Audit", "/admin/audit"),
    ("Alerts", "/admin/alerts"),
    ("Risk", "/admin/risk"),
]


def admin_denied() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.icon("shield_x", size=28, color=rx.color("red", 10)),
            rx.heading("Admins only", size="5", as_="h1"),
            rx.text(
                "This part of the portal is for administrators, and your account is not one. "
                "If you need access, ask an administrator.",
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.button(rx.link("Go to your billing", href="/billing", underline="none"), as_child=True, size="2"),
            spacing="3",
            align="start",
        ),
        size="3",
        width="100%",
        max_width="560px",
        id="admin-denied",
    )


def admin_shell(title: str, content: rx.Component, *, subtitle: str = "", active: str | None = None) -> rx.Component:
    """An admin page: `active` names the tab to highlight (default: the title)."""
    body = rx.vstack(
        section_tabs(ADMIN_TABS, active or title, "Admin sections"),
        rx.vstack(
            rx.heading(title, size="7", as_="h1"),
            rx.text(subtitle, size="2", color=rx.color("gray", 11)) if subtitle else rx.fragment(),
            spacing="1",
        ),
        content,
        spacing="5",
        width="100%",
    )
    return page_shell(
        rx.cond(
            AdminState.admin_access == "ok",
            body,
            rx.cond(AdminState.admin_denied, admin_denied(), loading_block()),
        ),
        max_width="1280px",
    )


def admin_table(headers: list[str], rows, render_row, *, table_id: str) -> rx.Component:
    """One page of rows in a table that scrolls sideways on a phone rather than squeezing."""
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h, white_space="nowrap") for h in headers])),
            rx.table.body(rx.foreach(rows, render_row)),
            variant="surface",
            size="2",
            width="100%",
            id=table_id,
        ),
        width="100%",
        overflow_x="auto",
    )


def labelled_input(label: str, field_id: str, name: str, **props) -> rx.Component:
    return labelled(label, field_id, rx.input(id=field_id, name=name, size="2", width="100%", **props))
