"""/admin/webhook-endpoints: where outgoing webhooks go: add (the signing secret shown once),
enable/disable, delete, and one endpoint's delivery log with redelivery."""

import reflex as rx

from billing_portal.billing.outgoing_webhooks.schemas import EVENT_TYPES
from billing_portal.components.admin import (
    admin_empty,
    admin_shell,
    admin_table,
    confirm_dialog,
    labelled_input,
    row_dialog,
    shown_once,
)
from billing_portal.components.billing import notice_callout, page_nav
from billing_portal.components.forms import error_callout
from billing_portal.state.admin_integrations import ENDPOINTS_ROUTE as ROUTE
from billing_portal.state.admin_integrations import DeliveryView, EndpointView
from billing_portal.state.admin_integrations import EndpointsAdminState as S

TITLE = "Webhook endpoints · Admin · Billing Portal"


def _tick(name: str, label: str, field_id: str) -> rx.Component:
    return rx.el.label(
        rx.hstack(rx.el.input(type="checkbox", name=name, id=field_id), rx.text(label, size="2"),
                  spacing="2", align="center"),
        html_for=field_id,
    )


def _form_fields() -> rx.Component:
    return rx.vstack(
        labelled_input("URL", "endpoint-url", "url", placeholder="https://app.example.com/webhooks/billing",
                       required=True),
        labelled_input("Description (optional)", "endpoint-description", "description", max_length=200),
        rx.text("Event types", size="1", weight="medium", color=rx.color("gray", 11)),
        _tick("every", "All events, including types added later", "event-every"),
        rx.grid(*[_tick(f"event:{name}", name, f"event-{name.replace('.', '-')}") for name in EVENT_TYPES],
                columns=rx.breakpoints(initial="1", sm="2"), spacing="1", width="100%"),
        spacing="2",
        width="100%",
    )


def _status(status) -> rx.Component:
    return rx.badge(status, variant="soft", radius="full",
                    color_scheme=rx.match(status, ("enabled", "green"), ("succeeded", "green"), ("failed", "red"),
                                          ("pending", "amber"), "gray"))


def _row(row: EndpointView) -> rx.Component:
    enabled = row.status == "enabled"
    return rx.table.row(
        rx.table.cell(rx.vstack(
            rx.code(row.url, size="1", word_break="break-all"),
            rx.cond(row.description != "", rx.text(row.description, size="1", color=rx.color("gray", 11))),
            spacing="1", min_width="220px")),
        rx.table.cell(rx.text(row.events_label, size="1", min_width="160px")),
        rx.table.cell(rx.vstack(_status(row.status), rx.cond(row.disabled_reason != "", rx.text(
            row.disabled_reason, size="1", color=rx.color("red", 11))), spacing="1")),
        rx.table.cell(rx.text(row.created_label, size="2", white_space="nowrap")),
        rx.table.cell(rx.hstack(
            rx.button("Delivery log", size="1", on_click=S.open_log(row.id), class_name="open-log"),
            rx.button(rx.cond(enabled, "Disable", "Enable"), size="1", variant="soft",
                      on_click=S.set_endpoint_enabled(row.id, ~enabled), class_name="toggle-endpoint"),
            rx.button("Delete…", size="1", variant="soft", color_scheme="red", on_click=S.ask_delete(row.id),
                      class_name="delete-endpoint"),
            spacing="2", wrap="wrap")),
        class_name="endpoint-row",
        data_endpoint=row.id,
        data_status=row.status,
        align="center",
    )


def _delivery(row: DeliveryView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.event_type, size="2", weight="medium", white_space="nowrap")),
        rx.table.cell(rx.code(row.event_id, size="1", white_space="nowrap")),
        rx.table.cell(_status(row.status)),
        rx.table.cell(rx.text(row.attempts, size="2"), justify="end"),
        rx.table.cell(rx.text(rx.cond(row.response_code != "", row.response_code, "none"), size="2",
                              class_name="response-code")),
        rx.table.cell(rx.vstack(rx.text(row.attempted_label, size="2", white_space="nowrap"),
                                rx.text(row.duration_label, size="1", color=rx.color("gray", 11)), spacing="0")),
        # Left empty when there is nothing to say: a phone's card then leaves the line out.
        rx.table.cell(rx.cond(row.next_retry_label != "", rx.text(row.next_retry_label, size="2", white_space="nowrap"))),
        rx.table.cell(rx.cond(row.last_error != "", rx.text(row.last_error, size="1", color=rx.color("red", 11),
                                                             min_width="140px"))),
        rx.table.cell(rx.button("Redeliver", size="1", variant="soft", on_click=S.redeliver(row.id),
                                class_name="redeliver")),
        class_name="delivery-row",
        data_event=row.event_id,
        data_status=row.status,
        align="center",
    )


def _log() -> rx.Component:
    return rx.cond(
        S.log_id != "",
        rx.vstack(
            rx.flex(
                rx.vstack(rx.heading("Delivery log", size="4", as_="h2"),
                          rx.code(S.log_url, size="1", word_break="break-all"), spacing="1", min_width="0"),
                rx.hstack(
                    rx.button(rx.icon("refresh_cw", size=14), "Refresh", size="1", variant="soft",
                              on_click=S.refresh_log, id="refresh-log"),
                    rx.button("Close", size="1", variant="soft", color_scheme="gray", on_click=S.close_log),
                    spacing="2"),
                justify="between", align="start", spacing="3", wrap="wrap", width="100%",
            ),
            admin_table(["Event", "Event id", "Status", "Tries", "Response", "Last try", "Next retry", "Error", ""],
                        S.log_rows, _delivery, table_id="deliveries-table",
                        empty=admin_empty("send", "Nothing sent to this endpoint yet.",
                                          "Events it takes show up here as they are delivered.",
                                          card_id="deliveries-empty")),
            rx.cond(
                (S.log_page > 1) | S.log_more,
                rx.hstack(
                    rx.button("Newer", size="1", variant="soft", disabled=S.log_page <= 1, on_click=S.newer_log),
                    rx.text("Page ", S.log_page, size="2"),
                    rx.button("Older", size="1", variant="soft", disabled=~S.log_more, on_click=S.older_log),
                    spacing="3", align="center", justify="center", width="100%"),
            ),
            spacing="3",
            width="100%",
            id="delivery-log",
        ),
    )


def _content() -> rx.Component:
    deleting = S.deleting_row
    return rx.vstack(
        rx.flex(
            rx.text(S.total, " endpoint(s)", size="2", color=rx.color("gray", 11), id="endpoints-total"),
            rx.button(rx.icon("plus", size=16), "Add endpoint", on_click=S.open_form, id="add-endpoint"),
            justify="between", align="center", width="100%",
        ),
        shown_once(rx.text("Signing secret of ", S.new_secret_url), S.new_secret, S.dismiss_secret,
                   field_id="new-secret", copied="Secret copied"),
        error_callout(S.error),
        notice_callout(S.notice),
        admin_table(["Endpoint", "Events", "Status", "Created", ""], S.rows, _row, table_id="endpoints-table",
                    empty=admin_empty("webhook", "No endpoints yet.",
                                      "Add your app's URL to receive signed events (Standard Webhooks).",
                                      card_id="endpoints-empty")),
        page_nav(S.page, S.pages, S.previous_page, S.next_page, page_id="endpoints-page"),
        _log(),
        row_dialog("Add a webhook endpoint",
                   ["Events are POSTed to it, signed with a secret you see once, after this."],
                   _form_fields(),
                   rx.button("Add endpoint", type="submit", loading=S.saving, id="save-endpoint"),
                   error=S.dialog_error, is_open=S.form_open, on_close=S.close_form, on_submit=S.create_endpoint),
        confirm_dialog(
            "Delete this endpoint?",
            [rx.code(deleting.url, size="1", word_break="break-all"),
             " receives nothing from now on, and its delivery log goes. This cannot be undone; Disable only pauses it."],
            rx.button("Delete endpoint", color_scheme="red", on_click=S.confirm_delete, id="confirm-delete"),
            is_open=S.deleting_id != "",
            on_close=S.cancel_delete,
        ),
        spacing="4",
        width="100%",
    )


def admin_webhook_endpoints_page() -> rx.Component:
    return admin_shell("Webhook endpoints", _content(), active="Endpoints",
                       subtitle="Where events for your app go, signed per Standard Webhooks, with each one's deliveries.")


__all__ = ["ROUTE", "TITLE", "admin_webhook_endpoints_page"]
