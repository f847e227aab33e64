"""/admin/webhooks: Stripe events by type and status, the stored payload, and replay."""

import reflex as rx

from billing_portal.billing.webhooks import STATUSES
from billing_portal.components.admin import admin_empty, admin_shell, admin_table
from billing_portal.components.billing import labelled, notice_callout, page_nav
from billing_portal.components.forms import error_callout
from billing_portal.state.admin_console import ALL, EventView, TypeCountView, WebhooksAdminState as S

ROUTE = "/admin/webhooks"
TITLE = "Webhooks · Admin · Billing Portal"


def _status(status) -> rx.Component:
    return rx.badge(status, variant="soft", radius="full", color_scheme=rx.match(
        status, ("processed", "green"), ("ignored", "gray"), ("failed", "red"), ("retrying", "amber"), "blue"))


def _row(row: EventView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.received_label, size="2", white_space="nowrap")),
        rx.table.cell(rx.text(row.type, size="2", weight="medium", white_space="nowrap")),
        rx.table.cell(rx.code(row.stripe_event_id, size="1", white_space="nowrap")),
        rx.table.cell(_status(row.status)),
        rx.table.cell(rx.text(row.attempts, size="2"), justify="end"),
        rx.table.cell(rx.text(row.last_error, size="1", color=rx.color("red", 11), min_width="160px")),
        rx.table.cell(rx.hstack(
            rx.button("Payload", size="1", variant="soft", on_click=S.show_payload(row.id), class_name="show-payload"),
            rx.button("Replay", size="1", on_click=S.replay(row.id), loading=S.replaying, class_name="replay-event"),
            spacing="2",
        )),
        class_name="webhook-row",
        data_event=row.stripe_event_id,
        data_status=row.status,
        align="center",
    )


def _select(label: str, field_id: str, value, on_change, items) -> rx.Component:
    return labelled(label, field_id, rx.select.root(
        rx.select.trigger(id=field_id, aria_label=label, width="100%"), rx.select.content(*items),
        value=value, on_change=on_change, size="2"))


def _type_count(item: TypeCountView) -> rx.Component:
    return rx.hstack(rx.text(item.type, size="1", weight="medium"), rx.text(item.counts, size="1",
                     color=rx.color("gray", 11)), spacing="2", wrap="wrap")


def _payload_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Event payload"),
            rx.box(rx.el.pre(S.payload, font_size="12px", white_space="pre", margin="0"), max_height="60vh",
                   overflow="auto", padding="12px", border_radius="var(--radius-3)", background_color=rx.color("gray", 3),
                   id="payload"),
            rx.hstack(rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")), justify="end",
                      margin_top="12px"),
            max_width="760px",
        ),
        open=S.payload_id != "",
        on_open_change=S.close_payload,
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.grid(
            _select("Type", "filter-type", S.type_filter, S.set_type_filter,
                    [rx.select.item("All types", value=ALL), rx.foreach(S.types, lambda t: rx.select.item(t.type, value=t.type))]),
            _select("Status", "filter-status", S.status_filter, S.set_status_filter,
                    [rx.select.item("All statuses", value=ALL), *[rx.select.item(s, value=s) for s in STATUSES]]),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="3",
            width="100%",
            max_width="640px",
        ),
        rx.card(rx.vstack(rx.text("Events by type", size="2", weight="bold"), rx.foreach(S.types, _type_count),
                          spacing="1"), width="100%"),
        error_callout(S.error),
        notice_callout(S.notice),
        rx.text(S.total_label, size="2", color=rx.color("gray", 11), id="webhooks-total"),
        admin_table(["Received", "Type", "Event", "Status", "Tries", "Last error", ""], S.rows, _row,
                    table_id="webhooks-table",
                    empty=admin_empty("webhook", "No events.", "Events Stripe sends to /api/webhooks/stripe show up here.",
                                      card_id="webhooks-empty")),
        page_nav(S.page, S.pages, S.previous_page, S.next_page, page_id="webhooks-page"),
        _payload_dialog(),
        spacing="4",
        width="100%",
    )


def admin_webhooks_page() -> rx.Component:
    return admin_shell("Webhooks", _content(), subtitle="Every Stripe event received, with its attempts; replay runs it again.")
