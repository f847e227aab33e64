"""/billing/usage: metered usage this period (used, included, what it adds to the next invoice) and
the API keys that report it: create (the token is shown once, with a copy button), list, revoke."""

import reflex as rx

from billing_portal.components.billing import guarded, no_subscription, notice_callout, page_header
from billing_portal.components.forms import error_callout
from billing_portal.components.layout import page_shell
from billing_portal.billing.usage_portal import KeyRow, MeterRow
from billing_portal.state.usage import ROUTE, UsageState

TITLE = "Usage · Billing Portal"
__all__ = ["ROUTE", "TITLE", "billing_usage_page"]

_MUTED = rx.color("gray", 11)


def _headline(title: rx.Component, amount: rx.Component, caption: str) -> rx.Component:
    """A title on the left, an amount with a small caption on the right."""
    return rx.flex(
        title,
        rx.vstack(amount, rx.text(caption, size="1", color=_MUTED), spacing="0", align="end"),
        justify="between",
        align="start",
        spacing="3",
        width="100%",
    )


def _meter(item: MeterRow) -> rx.Component:
    return rx.vstack(
        _headline(
            rx.vstack(
                rx.text(item.label, size="3", weight="bold"),
                rx.code(item.metric, size="1", variant="ghost", color_scheme="gray"),
                spacing="0",
                min_width="0",
            ),
            rx.text(item.amount_label, size="4", weight="bold", class_name="meter-amount",
                    style={"fontVariantNumeric": "tabular-nums"}),
            "adds to the next invoice",
        ),
        rx.grid(
            _figure("Used this period", item.used_label, "meter-used"),
            _figure("Included", item.included_label, "meter-included"),
            _figure("Price", item.rate_label, "meter-rate"),
            columns="3",
            spacing="3",
            width="100%",
        ),
        rx.progress(
            value=item.percent,
            max=100,
            color_scheme=rx.cond(item.over, "amber", "indigo"),
            aria_label=item.label + ": share of the included units used",
            width="100%",
        ),
        rx.text(item.detail, size="1", color=_MUTED),
        spacing="3",
        width="100%",
        padding_y="12px",
        border_top=f"1px solid {rx.color('gray', 4)}",
        class_name="meter",
        data_metric=item.metric,
        data_earlier=rx.cond(item.earlier, "true", "false"),
    )


def _figure(label: str, value, class_name: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color=rx.color("gray", 10), weight="medium"),
        rx.text(value, size="2", weight="medium", class_name=class_name, style={"fontVariantNumeric": "tabular-nums"}),
        spacing="0",
        min_width="0",
    )


def _period_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            _headline(
                rx.vstack(
                    rx.heading("This period", size="4", as_="h2"),
                    rx.text(UsageState.period_label, size="2", color=_MUTED, id="usage-period"),
                    spacing="1",
                ),
                rx.text(UsageState.total_label, size="5", weight="bold", id="usage-total",
                        style={"fontVariantNumeric": "tabular-nums"}),
                "usage so far, tax included",
            ),
            rx.cond(
                UsageState.meters.length() > 0,
                rx.box(rx.foreach(UsageState.meters, _meter), width="100%", id="meters"),
                rx.text("Your plan has no metered prices: nothing is billed by usage.", size="2", color=_MUTED,
                        id="no-meters"),
            ),
            rx.text(UsageState.note, size="2", color=_MUTED, id="usage-note"),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
    )


def _new_token() -> rx.Component:
    return rx.cond(
        UsageState.new_token != "",
        rx.callout.root(
            rx.vstack(
                rx.text("Copy your new key “", UsageState.new_key_name, "” now: it is not shown again.",
                        size="2", weight="bold"),
                rx.flex(
                    rx.code(UsageState.new_token, size="2", id="new-token", word_break="break-all",
                            flex="1", min_width="0", padding="6px 8px"),
                    rx.hstack(
                        rx.button(
                            rx.icon("copy", size=16), "Copy",
                            on_click=[rx.set_clipboard(UsageState.new_token), rx.toast.success("Key copied")],
                            size="2",
                            id="copy-token",
                        ),
                        rx.button("Done", on_click=UsageState.dismiss_token, size="2", variant="soft"),
                        spacing="2",
                        flex_shrink="0",
                    ),
                    direction=rx.breakpoints(initial="column", sm="row"),
                    align=rx.breakpoints(initial="stretch", sm="center"),
                    spacing="2",
                    width="100%",
                ),
                spacing="2",
                width="100%",
            ),
            color_scheme="green",
            role="status",
            width="100%",
        ),
    )


def _key_row(key: KeyRow) -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.text(key.name, size="2", weight="medium"),
            rx.text(
                rx.code(key.prefix + "…", size="1", variant="ghost", color_scheme="gray"),
                " · created " + key.created_label + " · last used " + key.last_used_label,
                size="1",
                color=_MUTED,
            ),
            spacing="1",
            min_width="0",
        ),
        rx.button(
            "Revoke",
            on_click=UsageState.ask_revoke(key.id),
            size="1",
            variant="soft",
            color_scheme="red",
            flex_shrink="0",
            aria_label="Revoke " + key.name,
        ),
        justify="between",
        align="center",
        spacing="3",
        width="100%",
        padding_y="10px",
        border_top=f"1px solid {rx.color('gray', 4)}",
        class_name="api-key",
        data_prefix=key.prefix,
    )


def _revoke_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Revoke this key?"),
            rx.alert_dialog.description(
                "Calls with “" + UsageState.revoke_name + "” are refused from now on. This cannot be undone.",
                size="2",
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray",
                                                 on_click=UsageState.cancel_revoke)),
                rx.alert_dialog.action(rx.button("Revoke key", color_scheme="red", on_click=UsageState.confirm_revoke,
                                                 loading=UsageState.revoking)),
                spacing="3",
                justify="end",
                margin_top="16px",
            ),
            max_width="420px",
        ),
        open=UsageState.revoke_id != 0,
    )


def _keys_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.vstack(
                rx.heading("API keys", size="4", as_="h2"),
                rx.text("Your systems report usage with these keys. Keep them secret, like a password.",
                        size="2", color=_MUTED),
                spacing="1",
            ),
            _new_token(),
            rx.form(
                rx.flex(
                    rx.input(name="name", placeholder="Key name, e.g. production server", max_length=100,
                             required=True, size="2", flex="1", aria_label="Key name", id="key-name"),
                    rx.button("Create key", type="submit", size="2", loading=UsageState.creating, flex_shrink="0"),
                    spacing="2",
                    width="100%",
                ),
                on_submit=UsageState.create_key,
                reset_on_submit=True,
                width="100%",
            ),
            rx.cond(
                UsageState.keys.length() > 0,
                rx.box(rx.foreach(UsageState.keys, _key_row), width="100%", id="api-keys"),
                rx.text("No keys yet.", size="2", color=_MUTED, id="no-keys"),
            ),
            rx.vstack(
                rx.text("Report usage", size="2", weight="medium"),
                rx.code_block(
                    "curl -X POST " + UsageState.usage_endpoint + " \\\n"
                    "  -H 'Authorization: Bearer <your key>' \\\n"
                    "  -H 'Idempotency-Key: <unique per report>' \\\n"
                    "  -H 'Content-Type: application/json' \\\n"
                    "  -d '{\"metric\": \"api_calls\", \"quantity\": 120}'",
                    language="bash",
                    wrap_long_lines=True,
                    font_size="12px",
                    width="100%",
                ),
                spacing="1",
                width="100%",
            ),
            _revoke_dialog(),
            spacing="4",
            width="100%",
        ),
        size="3",
        width="100%",
        id="keys-card",
    )


def billing_usage_page() -> rx.Component:
    body = rx.grid(
        rx.cond(UsageState.has_subscription, _period_card(), no_subscription()),
        _keys_card(),
        grid_template_columns=rx.breakpoints(initial="1fr", md="1fr 1fr"),
        spacing="4",
        width="100%",
        align_items="start",
    )
    return page_shell(
        rx.vstack(
            page_header("Usage", "What you used this period, what it adds to your next invoice, and your API keys.",
                        "Usage"),
            error_callout(UsageState.error),
            notice_callout(UsageState.notice),
            guarded(body, loaded=UsageState.loaded),
            spacing="5",
            width="100%",
        ),
    )
