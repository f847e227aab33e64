"""/billing/plan: change plan, interval or quantity after reading the proration preview in plain
words; cancel (at period end or now) with a reason; resume; pause and unpause."""

import reflex as rx

from billing_portal.components.billing import guarded, no_subscription, notice_callout, page_header, subscription_badge
from billing_portal.components.forms import block_callout, error_callout
from billing_portal.state.billing import PlanOptionView, PlanState, PreviewLineView
from billing_portal.components.layout import link_button, page_shell
from billing_portal.state.pricing import INTERVAL_OPTIONS

ROUTE = "/billing/plan"
TITLE = "Change plan · Billing Portal"


def _field_label(text: str, field_id: str) -> rx.Component:
    return rx.el.label(rx.text(text, size="2", weight="medium"), html_for=field_id)


def _summary() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(PlanState.plan_name, size="5", as_="h2", id="current-plan"),
                subscription_badge(PlanState.status, PlanState.status_label),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.text(PlanState.price_label, size="3", weight="medium"),
            rx.text(
                rx.cond(
                    PlanState.cancel_at_period_end,
                    "Ends on " + PlanState.period_end_label + ". Nothing renews.",
                    rx.cond(
                        PlanState.status == "paused",
                        rx.cond(
                            PlanState.resume_at_label != "",
                            "Paused until " + PlanState.resume_at_label + ".",
                            "Paused until you unpause it.",
                        ),
                        "Current period ends on " + PlanState.period_end_label + ".",
                    ),
                ),
                size="2",
                color=rx.color("gray", 11),
                id="plan-period-note",
            ),
            rx.cond(
                PlanState.scheduled_note != "",
                rx.callout(PlanState.scheduled_note, icon="calendar_clock", size="1", color_scheme="blue", width="100%"),
            ),
            spacing="2",
            width="100%",
        ),
        size="3",
        width="100%",
    )


def _option(option: PlanOptionView) -> rx.Component:
    return rx.radio_cards.item(
        rx.vstack(
            rx.hstack(
                rx.text(option.name, weight="bold", size="3"),
                rx.cond(option.is_current, rx.badge("Current", color_scheme="green", variant="soft", size="1")),
                align="center",
                spacing="2",
            ),
            rx.text(option.price_label, size="4", weight="bold", white_space="nowrap"),
            rx.text(option.period_label, size="1", color=rx.color("gray", 11)),
            spacing="1",
            align="start",
            width="100%",
        ),
        value=option.price_id,
        class_name="plan-option",
        data_plan=option.slug,
        padding="12px",
    )


def _preview_line(line: PreviewLineView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(line.description, size="2"), rx.text(line.period, size="1", color=rx.color("gray", 10)), spacing="0")),
        rx.table.cell(rx.text(line.amount, white_space="nowrap"), justify="end"),
    )


def _preview() -> rx.Component:
    return rx.box(
        rx.cond(
            PlanState.previewing,
            rx.hstack(rx.spinner(size="2"), rx.text("Working out the price…", size="2"), align="center", spacing="2"),
            rx.cond(
                PlanState.preview_sentence != "",
                rx.card(
                    rx.vstack(
                        rx.heading("Before you confirm", size="3", as_="h3"),
                        rx.text(PlanState.preview_sentence, size="3", weight="medium", id="preview-sentence"),
                        rx.cond(
                            PlanState.preview_lines.length() > 0,
                            rx.table.root(
                                rx.table.body(rx.foreach(PlanState.preview_lines, _preview_line)),
                                size="1",
                                width="100%",
                                aria_label="How the amount due now is worked out",
                            ),
                        ),
                        rx.flex(
                            rx.button(
                                PlanState.confirm_label,
                                on_click=PlanState.confirm_change,
                                loading=PlanState.applying,
                                size="3",
                                id="confirm-change",
                                width=["100%", "auto"],
                            ),
                            rx.button(
                                "Back", on_click=PlanState.cancel_preview, variant="soft", color_scheme="gray", size="3",
                                width=["100%", "auto"],
                            ),
                            direction=rx.breakpoints(initial="column", xs="row"),
                            spacing="3",
                            width="100%",
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    size="2",
                    width="100%",
                    variant="surface",
                ),
            ),
        ),
        aria_live="polite",
        width="100%",
    )


def _change_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Change plan", size="4", as_="h2"),
            rx.text(
                "Upgrades apply now: you pay for the rest of this period, minus what is left of your current plan. "
                "Downgrades start at the end of the period.",
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.segmented_control.root(
                *[rx.segmented_control.item(label, value=value) for value, label in INTERVAL_OPTIONS],
                value=PlanState.interval,
                on_change=PlanState.set_interval,
                size="2",
                radius="full",
                aria_label="Billing interval",
                id="plan-interval",
            ),
            rx.radio_cards.root(
                rx.foreach(PlanState.options, _option),
                value=PlanState.selected,
                on_value_change=PlanState.select_option,
                columns=rx.breakpoints(initial="1", xs="2", md="4"),
                gap="3",
                width="100%",
                aria_label="Plan",
                id="plan-options",
            ),
            rx.vstack(
                _field_label("Quantity", "field-quantity"),
                rx.input(
                    id="field-quantity",
                    name="quantity",
                    type="number",
                    min=1,
                    max=10000,
                    value=PlanState.quantity,
                    on_change=PlanState.set_quantity.debounce(400),
                    width="120px",
                    size="2",
                    aria_describedby="field-quantity-hint",
                ),
                rx.text("Seats on the plan; the price is per seat.", id="field-quantity-hint", size="1", color=rx.color("gray", 10)),
                spacing="1",
            ),
            _preview(),
            spacing="4",
            width="100%",
        ),
        size="3",
        width="100%",
        id="change-plan",
    )


def _pause_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Pause", size="4", as_="h2"),
            rx.cond(
                PlanState.can_unpause,
                rx.vstack(
                    rx.text("Your subscription is paused. Nothing renews or is charged while paused.", size="2"),
                    rx.button("Unpause subscription", on_click=PlanState.unpause, loading=PlanState.pausing, size="2"),
                    spacing="3",
                    align="start",
                ),
                rx.cond(
                    PlanState.can_pause,
                    rx.form(
                        rx.vstack(
                            rx.text("Take a break: renewals stop until you unpause, or until the date you pick.", size="2", color=rx.color("gray", 11)),
                            rx.vstack(
                                _field_label("Resume automatically on (optional)", "field-resume-on"),
                                rx.input(id="field-resume-on", name="resume_on", type="date", size="2", width="200px"),
                                spacing="1",
                            ),
                            rx.button("Pause subscription", type="submit", loading=PlanState.pausing, size="2", variant="soft"),
                            spacing="3",
                            align="start",
                        ),
                        on_submit=PlanState.pause,
                        reset_on_submit=True,
                        aria_label="Pause subscription",
                    ),
                    rx.text(
                        rx.cond(
                            PlanState.cancel_at_period_end,
                            "Resume your plan first to pause it instead.",
                            "Only an active subscription can be paused.",
                        ),
                        size="2",
                        color=rx.color("gray", 11),
                    ),
                ),
            ),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
        id="pause",
    )


def _cancel_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Cancel", size="4", as_="h2"),
            rx.cond(
                PlanState.can_resume,
                rx.vstack(
                    rx.callout(
                        "Your plan ends on " + PlanState.period_end_label + ".",
                        icon="clock",
                        color_scheme="amber",
                        width="100%",
                        id="ends-banner",
                        role="status",
                    ),
                    rx.button("Resume plan", on_click=PlanState.resume, loading=PlanState.resuming, size="2"),
                    spacing="3",
                    align="start",
                    width="100%",
                ),
                rx.cond(
                    PlanState.can_cancel,
                    rx.form(
                        rx.vstack(
                            rx.el.fieldset(
                                rx.el.legend(rx.text("When", size="2", weight="medium")),
                                rx.radio_group.root(
                                    rx.vstack(
                                        rx.cond(
                                            PlanState.can_schedule_cancel,
                                            rx.text(
                                                rx.flex(
                                                    rx.radio_group.item(value="period_end"),
                                                    "At the end of the period (" + PlanState.period_end_label + ")",
                                                    spacing="2",
                                                    align="center",
                                                ),
                                                as_="label",
                                                size="2",
                                            ),
                                        ),
                                        rx.text(
                                            rx.flex(
                                                rx.radio_group.item(value="now"),
                                                "Right away (unused time is not refunded)",
                                                spacing="2",
                                                align="center",
                                            ),
                                            as_="label",
                                            size="2",
                                        ),
                                        spacing="2",
                                    ),
                                    value=PlanState.cancel_when,
                                    on_change=PlanState.set_cancel_when,
                                    name="when",
                                ),
                                style={"border": "none", "padding": 0, "margin": 0, "display": "grid", "gap": "8px"},
                            ),
                            rx.vstack(
                                _field_label("Why are you leaving?", "field-cancel-reason"),
                                rx.text_area(
                                    id="field-cancel-reason",
                                    name="reason",
                                    max_length=500,
                                    rows="3",
                                    width="100%",
                                    required=True,
                                    placeholder="e.g. Too expensive for us right now",
                                ),
                                spacing="1",
                                width="100%",
                            ),
                            rx.button(
                                "Cancel subscription",
                                type="submit",
                                color_scheme="red",
                                variant="soft",
                                loading=PlanState.cancelling,
                                size="2",
                            ),
                            spacing="3",
                            align="start",
                            width="100%",
                        ),
                        on_submit=PlanState.cancel,
                        reset_on_submit=True,
                        aria_label="Cancel subscription",
                        width="100%",
                    ),
                    rx.text("This subscription cannot be canceled from here.", size="2", color=rx.color("gray", 11)),
                ),
            ),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
        id="cancel",
    )


def _pay_now() -> rx.Component:
    return block_callout(
        rx.flex(
            rx.text("An invoice is waiting for payment.", size="2"),
            link_button("Pay now", PlanState.pay_href, size="2", color_scheme="amber", id="pay-open-invoice"),
            direction=rx.breakpoints(initial="column", sm="row"),
            justify="between",
            align=rx.breakpoints(initial="start", sm="center"),
            gap="8px",
            width="100%",
        ),
        icon="receipt",
        color_scheme="amber",
        width="100%",
        id="open-invoice",
    )


def billing_plan_page() -> rx.Component:
    body = rx.cond(
        PlanState.has_subscription,
        rx.vstack(
            _summary(),
            rx.cond(
                PlanState.can_change,
                _change_card(),
                rx.callout(
                    "You can change plan while your subscription is active or in its trial.",
                    icon="info",
                    width="100%",
                ),
            ),
            rx.grid(_pause_card(), _cancel_card(), columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%"),
            spacing="4",
            width="100%",
        ),
        no_subscription(),
    )
    return page_shell(
        rx.vstack(
            page_header("Your plan", "Change plan, pause, or cancel. You see the price before anything changes.", "Plan"),
            error_callout(PlanState.error),
            notice_callout(PlanState.notice),
            rx.cond(PlanState.pay_href != "", _pay_now()),
            guarded(body, loaded=PlanState.loaded),
            spacing="5",
            width="100%",
        ),
    )
