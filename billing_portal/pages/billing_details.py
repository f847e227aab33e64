"""/billing/details: who invoices are made out to. Every field is labelled; the engine's message for
a refused field shows under it."""

import reflex as rx

from billing_portal.billing.billing_details import FIELD_LIMITS, LABELS, countries
from billing_portal.components.billing import guarded, notice_callout, page_header
from billing_portal.components.forms import error_callout
from billing_portal.components.layout import page_shell
from billing_portal.state.auth import SIGN_OUT_EVERYWHERE_JS
from billing_portal.state.billing_details import MESSAGES_ID, ROUTE, DetailsState

TITLE = "Billing details · Billing Portal"
OPTIONAL = {"company", "address_line1", "address_line2", "city", "postal_code", "region", "tax_id"}
HINTS = {
    "tax_id": "Korea: business registration number (123-45-67890). EU: VAT number with its country "
              "prefix. US: EIN (12-3456789).",
    "invoice_email": "Invoices and receipts are sent here.",
}
AUTOCOMPLETE = {
    "name": "name", "company": "organization", "address_line1": "address-line1", "address_line2": "address-line2",
    "city": "address-level2", "postal_code": "postal-code", "region": "address-level1", "country": "country",
    "invoice_email": "email",
}


def _field(name: str, control: rx.Component) -> rx.Component:
    field_id, error_id, hint_id = f"details-{name}", f"details-{name}-error", f"details-{name}-hint"
    label = LABELS[name] + (" (optional)" if name in OPTIONAL else "")
    return rx.vstack(
        rx.el.label(rx.text(label, size="2", weight="medium"), html_for=field_id),
        control,
        rx.text(HINTS[name], id=hint_id, size="1", color=rx.color("gray", 10)) if name in HINTS else rx.fragment(),
        rx.cond(
            DetailsState.field_errors.contains(name),
            rx.text(DetailsState.field_errors[name], id=error_id, size="2", color=rx.color("red", 11),
                    class_name="field-error", role="alert"),
        ),
        spacing="1",
        width="100%",
        min_width="0",
    )


def _text(name: str, *, type: str = "text") -> rx.Component:
    field_id = f"details-{name}"
    described = " ".join([f"{field_id}-hint"] * (name in HINTS) + [f"{field_id}-error"])
    return _field(
        name,
        rx.input(
            id=field_id,
            name=name,
            type=type,
            default_value=DetailsState.values[name],
            max_length=FIELD_LIMITS[name],
            auto_complete=AUTOCOMPLETE.get(name),
            required=name not in OPTIONAL,
            aria_invalid=DetailsState.field_errors.contains(name),
            aria_describedby=described,
            size="3",
            width="100%",
        ),
    )


def _country() -> rx.Component:
    # A native select: 250 countries, type-ahead and the phone's own picker come with it.
    return _field(
        "country",
        rx.el.select(
            rx.el.option("Choose a country", value=""),
            *[rx.el.option(name, value=code) for code, name in sorted(countries().items(), key=lambda c: c[1])],
            id="details-country",
            name="country",
            default_value=DetailsState.values["country"],
            auto_complete="country",
            aria_invalid=DetailsState.field_errors.contains("country"),
            aria_describedby="details-country-error",
            class_name="details-select",
            style={
                "width": "100%",
                "height": "var(--space-7)",
                "padding": "0 var(--space-3)",
                "fontSize": "var(--font-size-3)",
                "borderRadius": "var(--radius-2)",
                "border": f"1px solid {rx.color('gray', 7)}",
                "backgroundColor": rx.color("gray", 1),
                "color": rx.color("gray", 12),
            },
        ),
    )


def _form() -> rx.Component:
    two = rx.breakpoints(initial="1", sm="2")
    return rx.form(
        rx.vstack(
            rx.grid(_text("name"), _text("company"), columns=two, spacing="4", width="100%"),
            _text("address_line1"),
            _text("address_line2"),
            rx.grid(_text("city"), _text("postal_code"), columns=two, spacing="4", width="100%"),
            rx.grid(_text("region"), _country(), columns=two, spacing="4", width="100%"),
            rx.grid(_text("tax_id"), _text("invoice_email", type="email"), columns=two, spacing="4", width="100%"),
            rx.flex(
                rx.button("Save details", type="submit", size="3", loading=DetailsState.saving, id="save-details"),
                justify="end",
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=DetailsState.save,
        reset_on_submit=False,
        no_validate=True,  # the engine's message per field, the same in every browser
        key=DetailsState.form_version,
        width="100%",
        id="details-form",
    )


def _sessions_card() -> rx.Component:
    """Ends every session of the account on the server (api/sessions.py), this browser's too."""
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.text("Signed-in devices", size="3", weight="bold"),
                rx.text("Signed in somewhere you no longer use? Sign out on every device, this one included.",
                        size="2", color=rx.color("gray", 11)),
                spacing="1",
            ),
            rx.button("Sign out everywhere", on_click=rx.call_script(SIGN_OUT_EVERYWHERE_JS), variant="soft",
                      color_scheme="red", size="2", id="sign-out-everywhere", white_space="nowrap"),
            direction=rx.breakpoints(initial="column", sm="row"),
            justify="between",
            align=rx.breakpoints(initial="start", sm="center"),
            gap="3",
            width="100%",
        ),
        size=rx.breakpoints(initial="2", sm="3"),
        width="100%",
    )


def billing_details_page() -> rx.Component:
    body = rx.vstack(
        rx.card(_form(), size=rx.breakpoints(initial="2", sm="4"), width="100%"),
        rx.text(
            "Issued invoices keep the details they were issued with; unpaid ones take the new details.",
            size="1",
            color=rx.color("gray", 10),
        ),
        _sessions_card(),
        spacing="4",
        width="100%",
    )
    return page_shell(
        rx.vstack(
            page_header("Billing details", "Who your invoices are made out to.", "Details"),
            rx.box(error_callout(DetailsState.error), notice_callout(DetailsState.notice), id=MESSAGES_ID,
                   width="100%", scroll_margin_top="84px"),  # clear of the sticky nav bar
            guarded(body, loaded=DetailsState.loaded),
            spacing="5",
            width="100%",
        ),
    )
