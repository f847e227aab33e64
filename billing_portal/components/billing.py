"""Pieces of the customer billing pages: section tabs, status badges, banners, the history table.

No state logic here beyond reading the vars given; handlers live in state/billing.py.
"""

import reflex as rx

from billing_portal.components.layout import BILLING_TABS, section_tabs
from billing_portal.state.billing import ALL, BannerView, BillingState, HistoryRowView

# Read by screen readers, not shown (a column header whose cells explain themselves).
SR_ONLY = {"position": "absolute", "width": "1px", "height": "1px", "overflow": "hidden",
           "clip": "rect(0 0 0 0)", "whiteSpace": "nowrap"}


def status_color(group) -> rx.Var:
    """paid green, open/pending amber, failed red, refunded and void grey."""
    return rx.match(group, ("paid", "green"), ("open", "amber"), ("failed", "red"), "gray")


def status_badge(label, group) -> rx.Component:
    return rx.badge(
        label,
        color_scheme=status_color(group),
        variant="soft",
        size="2",
        radius="full",
        class_name="status-badge",
        data_group=group,
        white_space="nowrap",
    )


def subscription_badge(status, label) -> rx.Component:
    color = rx.match(
        status,
        ("active", "green"),
        ("trialing", "blue"),
        ("past_due", "red"),
        ("paused", "amber"),
        ("incomplete", "amber"),
        "gray",
    )
    return rx.badge(label, color_scheme=color, variant="soft", size="2", radius="full", id="subscription-status")


def billing_tabs(active: str) -> rx.Component:
    """The billing section's own navigation: visible at every width (the top bar hides it on phones)."""
    return section_tabs(BILLING_TABS, active, "Billing sections")


def page_header(title: str, subtitle: str, active: str) -> rx.Component:
    return rx.vstack(
        billing_tabs(active),
        rx.vstack(
            rx.heading(title, size="7", as_="h1"),
            rx.text(subtitle, size="2", color=rx.color("gray", 11)),
            spacing="1",
        ),
        spacing="4",
        width="100%",
    )


def notice_callout(message) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="circle_check", color_scheme="green", role="status", width="100%"),
    )


def banner(item: BannerView, action: rx.Component | None = None) -> rx.Component:
    """A coloured notice with a title, a sentence and an optional action on the right (below on phones)."""
    color = rx.match(item.tone, ("red", "red"), ("amber", "amber"), "blue")
    return rx.flex(
        rx.hstack(
            rx.icon(
                rx.match(item.tone, ("red", "circle_alert"), ("amber", "clock"), "info"),
                size=18,
                flex_shrink="0",
                margin_top="2px",
            ),
            rx.vstack(
                rx.text(item.title, weight="bold", size="2"),
                rx.text(item.message, size="2"),
                spacing="1",
            ),
            spacing="3",
            align="start",
            flex="1",
            min_width="0",
        ),
        action if action is not None else rx.fragment(),
        direction=rx.breakpoints(initial="column", sm="row"),
        justify="between",
        align=rx.breakpoints(initial="start", sm="center"),
        spacing="3",
        width="100%",
        padding="14px 16px",
        border_radius="var(--radius-4)",
        background_color=rx.match(item.tone, ("red", rx.color("red", 3)), ("amber", rx.color("amber", 3)), rx.color("blue", 3)),
        color=rx.match(item.tone, ("red", rx.color("red", 11)), ("amber", rx.color("amber", 11)), rx.color("blue", 11)),
        role=rx.cond(item.tone == "red", "alert", "status"),
        class_name="billing-banner",
        data_kind=item.kind,
        data_tone=color,
    )


def page_nav(page, pages, on_previous, on_next, *, page_id: str) -> rx.Component:
    """Previous / "Page n of m" / Next under a list paged on the server (hidden with one page)."""
    return rx.cond(
        pages > 1,
        rx.el.nav(
            rx.hstack(
                rx.button(rx.icon("chevron_left", size=16), "Previous", on_click=on_previous, disabled=page <= 1,
                          variant="soft", size="2"),
                rx.text("Page ", page, " of ", pages, size="2", id=page_id),
                rx.button("Next", rx.icon("chevron_right", size=16), on_click=on_next, disabled=page >= pages,
                          variant="soft", size="2"),
                align="center",
                justify="center",
                spacing="3",
                width="100%",
            ),
            aria_label="Pages",
        ),
    )


def empty_list(icon: str, *, filtered, on_clear, nothing_matches: str, none_yet: str, hint: str,
               list_id: str) -> rx.Component:
    """The card a paged list shows with no rows: "nothing matches" and Clear filters when filtered,
    otherwise "none yet" and a hint."""
    return rx.card(
        rx.vstack(
            rx.icon(icon, size=28, color=rx.color("gray", 9)),
            rx.cond(
                filtered,
                rx.text(nothing_matches, size="3", weight="medium"),
                rx.text(none_yet, size="3", weight="medium"),
            ),
            rx.cond(
                filtered,
                rx.button("Clear filters", on_click=on_clear, variant="soft", size="2"),
                rx.text(hint, size="2", color=rx.color("gray", 11)),
            ),
            align="center",
            spacing="2",
            padding_y="24px",
        ),
        size="3",
        width="100%",
        id=list_id,
    )


def loading_block(label: str = "Loading…") -> rx.Component:
    return rx.center(
        rx.hstack(rx.spinner(size="3"), rx.text(label, size="2", color=rx.color("gray", 11)), align="center", spacing="2"),
        padding_y="48px",
        width="100%",
        role="status",
    )


def guarded(content: rx.Component, *, loaded) -> rx.Component:
    """The page body once the server has said who is signed in and what they may see."""
    return rx.cond(
        BillingState.access == "no_customer",
        rx.callout(
            "This account has no customer record, so it has no plan, invoices or payments. "
            "Sign in with a customer account to see billing.",
            icon="info",
            color_scheme="blue",
            width="100%",
            id="no-customer",
        ),
        rx.cond(loaded, content, loading_block()),
    )


def no_subscription() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("No plan yet", size="4", as_="h2"),
            rx.text("You are not subscribed to a plan. Pick one to get started.", size="2", color=rx.color("gray", 11)),
            rx.button(rx.link("See plans and pricing", href="/pricing", underline="none"), as_child=True, size="2"),
            spacing="3",
            align="start",
        ),
        size="3",
        width="100%",
        id="no-subscription",
    )


def labelled(label: str, field_id: str, control: rx.Component) -> rx.Component:
    """A small label above a filter control."""
    return rx.vstack(
        rx.el.label(rx.text(label, size="1", weight="medium", color=rx.color("gray", 11)), html_for=field_id),
        control,
        spacing="1",
        min_width="0",
        width="100%",
    )


def filter_select(label: str, field_id: str, options, value, on_change, all_label: str | None = None) -> rx.Component:
    """A labelled select of (key, text) options, with an "all" choice first when `all_label` is given."""
    items = ([rx.select.item(all_label, value=ALL)] if all_label else []) + [
        rx.select.item(text, value=key) for key, text in options
    ]
    return labelled(
        label,
        field_id,
        rx.select.root(
            rx.select.trigger(id=field_id, aria_label=label, width="100%"),
            rx.select.content(*items),
            value=value,
            on_change=on_change,
            size="2",
        ),
    )


# --- history --------------------------------------------------------------------------------------


def _amount(row: HistoryRowView) -> rx.Component:
    return rx.text(
        row.amount_label,
        weight="medium",
        white_space="nowrap",
        color=rx.cond(row.kind == "refund", rx.color("gray", 11), rx.color("gray", 12)),
        style={"fontVariantNumeric": "tabular-nums"},
    )


def _pdf_link(row: HistoryRowView) -> rx.Component:
    """A real request, not a client-side route (reload_document): the server checks the owner and
    redirects to a short-lived signed link, whose attachment header keeps the browser on this page."""
    return rx.button(
        rx.el.a(
            rx.icon("file_down", size=14),
            "PDF",
            href=row.pdf_url,
            reload_document=True,
            aria_label=rx.cond(row.kind == "invoice", "Download invoice PDF ", "Download credit note PDF ") + row.reference,
            class_name="pdf-link",
        ),
        as_child=True,
        variant="soft",
        color_scheme="gray",
        size="1",
    )


def _row_actions(row: HistoryRowView, on_refund) -> rx.Component:
    return rx.hstack(
        rx.cond(
            row.pay_url != "",
            rx.button(rx.link("Pay", href=row.pay_url, underline="none", aria_label="Pay invoice " + row.reference),
                      as_child=True, size="1", class_name="pay-invoice"),
        ),
        rx.cond(row.pdf_url != "", _pdf_link(row)),
        rx.cond(
            row.refund_requested_label != "",
            rx.badge(
                "Refund requested",
                color_scheme="amber",
                variant="soft",
                size="1",
                radius="full",
                white_space="nowrap",
                title=row.refund_requested_label,
                class_name="refund-requested",
            ),
        ),
        rx.cond(
            row.can_request_refund,
            rx.button(
                "Request refund",
                on_click=on_refund(row.object_id),
                variant="ghost",
                size="1",
                white_space="nowrap",
                class_name="request-refund",
            ),
        ),
        spacing="2",
        align="center",
        justify="end",
        wrap="wrap",
    )


def _history_table_row(row: HistoryRowView, on_refund) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.date_label, white_space="nowrap")),
        rx.table.cell(row.kind_label),
        rx.table.cell(
            rx.vstack(
                rx.text(row.description, size="2"),
                rx.cond(row.reference != "", rx.text(row.reference, size="1", color=rx.color("gray", 10),
                                                     white_space="nowrap", class_name="history-reference")),
                spacing="0",
            )
        ),
        rx.table.cell(status_badge(row.status_label, row.status_group)),
        rx.table.cell(_amount(row), justify="end"),
        rx.table.cell(_row_actions(row, on_refund), justify="end"),
        class_name="history-row",
        data_kind=row.kind,
        data_group=row.status_group,
        align="center",
    )


def history_table(rows, on_refund) -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Date"),
                rx.table.column_header_cell("Type"),
                rx.table.column_header_cell("Description"),
                rx.table.column_header_cell("Status"),
                rx.table.column_header_cell("Amount", justify="end"),
                rx.table.column_header_cell(rx.el.span("Actions", style=SR_ONLY)),
            )
        ),
        rx.table.body(rx.foreach(rows, lambda row: _history_table_row(row, on_refund))),
        variant="surface",
        size="2",
        width="100%",
        id="history-table",
        display=["none", "none", "table"],
    )


def _history_card(row: HistoryRowView, on_refund) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.vstack(
                rx.text(row.description, size="2", weight="medium"),
                rx.text(
                    row.date_label, " · ", row.kind_label,
                    # An invoice number never breaks at its hyphens: INV-2026-000013 stays on one line.
                    rx.cond(row.reference != "", rx.el.span(" · ", rx.el.span(row.reference, white_space="nowrap",
                                                                              class_name="history-reference"))),
                    size="1",
                    color=rx.color("gray", 10),
                ),
                spacing="1",
                min_width="0",
                flex="1",
            ),
            rx.vstack(
                _amount(row),
                status_badge(row.status_label, row.status_group),
                align="end",
                spacing="1",
            ),
            justify="between",
            align="start",
            width="100%",
            spacing="3",
        ),
        rx.cond(
            (row.pdf_url != "") | (row.pay_url != "") | row.can_request_refund | (row.refund_requested_label != ""),
            rx.box(_row_actions(row, on_refund), padding_top="8px"),
        ),
        padding="12px",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        class_name="history-card",
        data_kind=row.kind,
        data_group=row.status_group,
    )


def history_cards(rows, on_refund) -> rx.Component:
    return rx.card(
        rx.foreach(rows, lambda row: _history_card(row, on_refund)),
        size="1",
        width="100%",
        padding="0",
        id="history-cards",
        display=["block", "block", "none"],
    )
