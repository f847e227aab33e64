"""The admin console's frame: section tabs, a heading, and the body only once the server has said
the signed-in user is an admin (a customer sees the denial, never the body); and what every admin
page shares: its tables (stacked cards on a phone), empty cards, status filters and row dialogs."""

import json

import reflex as rx

from billing_portal.components.billing import labelled, loading_block
from billing_portal.components.forms import error_callout
from billing_portal.components.layout import ADMIN_TABS, page_shell, section_tabs
from billing_portal.state.admin import AdminState


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
    )


# Below this width (Reflex's md breakpoint) a table's rows become cards: no page scrolls sideways on a phone.
CARDS_BELOW = "@media screen and (max-width: 47.99em)"


def _card_rows(headers: list[str]) -> dict:
    """The CSS turning each row into a card: one line per cell, its column's name on the left
    (empty for a column of buttons, which then takes the whole line)."""
    labels = {
        f"& td:nth-child({n})": {"display": "block", "padding_top": "8px"} if not header else {
            "&::before": {"content": json.dumps(header, ensure_ascii=False), "color": "var(--gray-11)",
                          "font_size": "var(--font-size-1)", "font_weight": "500"},
        }
        for n, header in enumerate(headers, start=1)
    }
    return {CARDS_BELOW: {
        "& thead": {"display": "none"},
        # Radix's table has height 0 (rows set it); as a block it must size to its rows.
        "& table, & tbody, & tr": {"display": "block", "width": "100%", "height": "auto"},
        "& tr": {"padding": "12px 14px", "box_shadow": "inset 0 -1px var(--gray-a5)"},
        "& tr:last-child": {"box_shadow": "none"},
        "& td:empty": {"display": "none"},  # a card leaves out what has no value (no label alone)
        "& td": {"display": "grid", "grid_template_columns": "minmax(5.5rem, 30%) minmax(0, 1fr)",
                 "gap": "12px", "align_items": "baseline", "justify_items": "start", "padding": "4px 0",
                 "height": "auto",
                 "box_shadow": "none", "text_align": "left"},
        # Cells sized for the desktop table (no wrapping, minimum widths) wrap inside the card.
        "& td *": {"min_width": "0 !important", "white_space": "normal !important",
                   "overflow_wrap": "anywhere"},
        **labels,
    }}


def admin_table(headers: list[str], rows, render_row, *, table_id: str,
                empty: rx.Component | None = None) -> rx.Component:
    """One page of rows: a table on a desktop (scrolling inside its own box when wider), a stack of
    cards on a phone. `empty` shows instead when there are no rows."""
    table = rx.box(
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
        style=_card_rows(headers),
    )
    return table if empty is None else rx.cond(rows.length() > 0, table, empty)


def admin_empty(icon: str, title: str, hint: str, *, card_id: str) -> rx.Component:
    """The card an admin list (or the dashboard) shows with nothing in it."""
    return rx.card(
        rx.vstack(
            rx.icon(icon, size=28, color=rx.color("gray", 9)),
            rx.text(title, size="3", weight="medium"),
            rx.text(hint, size="2", color=rx.color("gray", 11), text_align="center"),
            align="center",
            spacing="2",
            padding_y="24px",
        ),
        width="100%",
        id=card_id,
    )


def status_filters(filters: list[tuple[str, str]], state, *, total_id: str) -> rx.Component:
    """The status choice above a paged admin list (`state.status_filter`, `set_status_filter`) and how
    many rows it holds (`state.total_label`)."""
    return rx.flex(
        rx.segmented_control.root(
            *[rx.segmented_control.item(label, value=key) for key, label in filters],
            value=state.status_filter,
            on_change=state.set_status_filter,
            size=rx.breakpoints(initial="1", sm="2"),
            width=rx.breakpoints(initial="100%", sm="auto"),
        ),
        rx.text(state.total_label, size="2", color=rx.color("gray", 11), id=total_id),
        justify="between",
        align="center",
        wrap="wrap",
        spacing="3",
        width="100%",
    )


def note_field(label, field_id: str, name: str, **props) -> rx.Component:
    """A labelled text area of a row dialog (`label` may be a Var)."""
    return rx.fragment(
        rx.el.label(rx.text(label, size="2", weight="medium"), html_for=field_id),
        rx.text_area(id=field_id, name=name, width="100%", rows="3", **props),
    )


def row_dialog(title, description: list, fields: rx.Component, submit: rx.Component, *, error, is_open, on_close,
               on_submit) -> rx.Component:
    """The dialog acting on one row of an admin list: what the row is, a small form, its message,
    Cancel and the `submit` button."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(*description, size="2"),
            rx.form(
                rx.vstack(
                    fields,
                    error_callout(error),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", type="button", variant="soft", color_scheme="gray")),
                        submit,
                        justify="end",
                        spacing="3",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                    margin_top="12px",
                ),
                on_submit=on_submit,
                reset_on_submit=False,
            ),
            max_width="480px",
        ),
        open=is_open,
        on_open_change=on_close,
    )


def labelled_input(label: str, field_id: str, name: str, **props) -> rx.Component:
    return labelled(label, field_id, rx.input(id=field_id, name=name, size="2", width="100%", **props))


def shown_once(title, value, on_done, *, field_id: str, copied: str) -> rx.Component:
    """A secret the server hands over once (a key's token, a signing secret): a read-only field to
    select or copy, and the warning that it is not shown again."""
    return rx.cond(
        value != "",
        rx.callout.root(
            rx.vstack(
                rx.text(title, size="2", weight="bold"),
                rx.text("Copy it now and keep it somewhere safe: it is not shown again, not even to you.", size="2"),
                rx.flex(
                    rx.input(value=value, read_only=True, id=field_id, font_family="var(--code-font-family)",
                             size="2", flex="1", min_width="0", width="100%", on_focus=rx.call_script(
                                 f"document.getElementById('{field_id}').select()")),
                    rx.hstack(
                        rx.button(rx.icon("copy", size=16), "Copy", type="button", size="2",
                                  on_click=[rx.set_clipboard(value), rx.toast.success(copied)]),
                        rx.button("Done", type="button", on_click=on_done, size="2", variant="soft"),
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
            icon="key_round",
            color_scheme="amber",
            role="status",
            width="100%",
            id=f"{field_id}-once",
        ),
    )


def confirm_dialog(title, description: list, confirm: rx.Component, *, is_open, on_close) -> rx.Component:
    """Are you sure? for an action on one row that cannot be undone."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(*description, size="2"),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                confirm,
                justify="end",
                spacing="3",
                margin_top="16px",
            ),
            max_width="480px",
        ),
        open=is_open,
        on_open_change=on_close,
    )
