"""/admin/api-keys: the seller's server keys for /api/v1: create (the token shown once), list, revoke."""

import reflex as rx

from billing_portal.components.admin import admin_empty, admin_shell, admin_table, confirm_dialog, shown_once
from billing_portal.components.billing import notice_callout, page_nav
from billing_portal.components.forms import error_callout
from billing_portal.state.admin_integrations import KEYS_ROUTE as ROUTE
from billing_portal.state.admin_integrations import ApiKeysAdminState as S
from billing_portal.state.admin_integrations import KeyView

TITLE = "API keys · Admin · Billing Portal"


def _create_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.flex(
                rx.vstack(
                    rx.el.label(rx.text("Name", size="2", weight="medium"), html_for="key-name"),
                    rx.input(id="key-name", name="name", placeholder="e.g. Production app server", required=True,
                             max_length=100, width="100%"),
                    spacing="1",
                    flex="1",
                    min_width="0",
                    width="100%",
                ),
                rx.vstack(
                    rx.el.label(rx.text("Scope", size="2", weight="medium"), html_for="key-scope"),
                    rx.select.root(
                        rx.select.trigger(id="key-scope", aria_label="Scope", width="100%"),
                        rx.select.content(rx.select.item("Read: GET requests only", value="read"),
                                          rx.select.item("Write: every request", value="write")),
                        name="scope",
                        default_value="read",
                    ),
                    spacing="1",
                    min_width="200px",
                ),
                rx.button("Create key", type="submit", loading=S.creating, id="create-key"),
                direction=rx.breakpoints(initial="column", sm="row"),
                align=rx.breakpoints(initial="stretch", sm="end"),
                spacing="3",
                width="100%",
            ),
            on_submit=S.create_key,
            reset_on_submit=True,
        ),
        width="100%",
    )


def _row(row: KeyView) -> rx.Component:
    live = row.revoked_label == ""
    return rx.table.row(
        rx.table.cell(rx.text(row.name, size="2", weight="medium")),
        rx.table.cell(rx.badge(row.scope, variant="soft", radius="full",
                               color_scheme=rx.cond(row.scope == "write", "indigo", "gray"))),
        rx.table.cell(rx.code(row.prefix + "…", size="1", white_space="nowrap")),
        rx.table.cell(rx.text(row.created_label, size="2", white_space="nowrap")),
        rx.table.cell(rx.text(row.last_used_label, size="2", white_space="nowrap")),
        rx.table.cell(rx.cond(live, rx.badge("live", color_scheme="green", variant="soft", radius="full"),
                              rx.text("revoked ", row.revoked_label, size="2", color=rx.color("red", 11),
                                      white_space="nowrap"))),
        rx.table.cell(rx.cond(live, rx.button("Revoke…", size="1", variant="soft", color_scheme="red",
                                              on_click=S.ask_revoke(row.id), class_name="revoke-key"))),
        class_name="api-key-row",
        data_key=row.prefix,
        data_status=rx.cond(live, "live", "revoked"),
        align="center",
    )


def _content() -> rx.Component:
    row = S.revoking_row
    return rx.vstack(
        _create_form(),
        shown_once(rx.text("Your new key “", S.new_token_name, "”"), S.new_token, S.dismiss_token,
                   field_id="new-token", copied="Key copied"),
        error_callout(S.error),
        notice_callout(S.notice),
        rx.text(S.total, " key(s)", size="2", color=rx.color("gray", 11), id="keys-total"),
        admin_table(["Name", "Scope", "Key", "Created", "Last used", "Status", ""], S.rows, _row,
                    table_id="api-keys-table",
                    empty=admin_empty("key_round", "No API keys yet.",
                                      "Create one for your app's server: it calls /api/v1 with it.",
                                      card_id="api-keys-empty")),
        page_nav(S.page, S.pages, S.previous_page, S.next_page, page_id="api-keys-page"),
        confirm_dialog(
            "Revoke this key?",
            ["“", row.name, "” (", row.prefix, "…) stops working at once: every request with it is refused. "
             "This cannot be undone."],
            rx.button("Revoke key", color_scheme="red", on_click=S.confirm_revoke, id="confirm-revoke"),
            is_open=S.revoking_id != "",
            on_close=S.cancel_revoke,
        ),
        spacing="4",
        width="100%",
    )


def admin_api_keys_page() -> rx.Component:
    return admin_shell("API keys", _content(),
                       subtitle="Secret server keys your app uses to call the REST API (/api/v1). Read keys only read.")


__all__ = ["ROUTE", "TITLE", "admin_api_keys_page"]
