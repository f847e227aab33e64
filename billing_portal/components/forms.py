"""Form pieces: labelled fields, error callouts, the centred auth card."""

import reflex as rx


def labeled_input(
    label: str,
    name: str,
    *,
    type: str = "text",
    auto_complete: str = "",
    hint: str = "",
    **props,
) -> rx.Component:
    field_id = f"field-{name}"
    hint_id = f"{field_id}-hint"
    if hint:
        props["aria_describedby"] = hint_id
    return rx.vstack(
        rx.el.label(
            rx.text(label, size="2", weight="medium"),
            html_for=field_id,
        ),
        rx.input(
            id=field_id,
            name=name,
            type=type,
            auto_complete=auto_complete or None,
            size="3",
            width="100%",
            required=True,
            **props,
        ),
        rx.text(hint, id=hint_id, size="1", color=rx.color("gray", 10)) if hint else rx.fragment(),
        spacing="1",
        width="100%",
    )


def error_callout(message: rx.Var[str]) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(
            message,
            icon="triangle_alert",
            color_scheme="red",
            role="alert",
            width="100%",
        ),
    )


def block_callout(content: rx.Component, *, icon: str, color_scheme: str, **props) -> rx.Component:
    """A callout around block content (a stack, a row with a button): `rx.callout(child)` wraps its
    child in Radix's callout text, a <p>, where a <div> or another <p> breaks hydration."""
    return rx.callout.root(
        rx.callout.icon(rx.icon(icon)),
        content,
        color_scheme=color_scheme,
        **props,
    )


def auth_card(title: str, subtitle: str, form: rx.Component, footer: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.vstack(
                    rx.heading(title, size="6", as_="h1"),
                    rx.text(subtitle, size="2", color=rx.color("gray", 11)),
                    spacing="1",
                ),
                form,
                rx.separator(size="4"),
                footer,
                spacing="5",
                width="100%",
            ),
            size="4",
            width="100%",
            max_width="420px",
        ),
        width="100%",
        padding_top=["0px", "24px"],
    )
