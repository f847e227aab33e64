"""/admin: the revenue dashboard (figures per currency, charts, alert banner) and /admin/alerts."""

import plotly.graph_objects as go
import reflex as rx

from billing_portal.components.admin import admin_empty, admin_shell, admin_table
from billing_portal.components.billing import notice_callout
from billing_portal.components.forms import error_callout
from billing_portal.state.admin_dashboard import (
    ALERTS_ROUTE,
    ROUTE,
    AlertsState,
    AlertView,
    CurrencyView,
    DashboardState,
    MetricView,
)

TITLE = "Dashboard · Admin · Billing Portal"
ALERTS_TITLE = "Alerts · Admin · Billing Portal"
PRESET_BUTTONS = [("30d", "Last 30 days"), ("12m", "Last 12 months"), ("ytd", "This year")]


def _range_picker() -> rx.Component:
    return rx.flex(
        rx.form(
            rx.flex(
                rx.vstack(
                    rx.el.label(rx.text("From", size="1", weight="medium"), html_for="range-start"),
                    rx.input(type="date", id="range-start", name="start", default_value=DashboardState.start_date,
                             key=DashboardState.start_date, required=True),
                    spacing="1",
                ),
                rx.vstack(
                    rx.el.label(rx.text("To", size="1", weight="medium"), html_for="range-end"),
                    rx.input(type="date", id="range-end", name="end", default_value=DashboardState.end_date,
                             key=DashboardState.end_date, required=True),
                    spacing="1",
                ),
                rx.button("Apply", type="submit", id="range-apply"),
                align="end",
                spacing="3",
                wrap="wrap",
            ),
            on_submit=DashboardState.apply_range,
            reset_on_submit=False,
        ),
        rx.hstack(
            *[rx.button(label, variant="soft", color_scheme="gray", size="1", type="button",
                        on_click=DashboardState.apply_preset(key), class_name="range-preset")
              for key, label in PRESET_BUTTONS],
            spacing="2",
            wrap="wrap",
        ),
        direction=rx.breakpoints(initial="column", md="row"),
        justify="between",
        align=rx.breakpoints(initial="start", md="end"),
        spacing="3",
        width="100%",
    )


def _alert_banner() -> rx.Component:
    return rx.cond(
        DashboardState.open_alerts > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle_alert")),
            rx.callout.text(
                rx.text.strong(DashboardState.open_alerts_label, ". "),
                "A payment rate or churn crossed its threshold. ",
                rx.link("Review alerts", href=ALERTS_ROUTE, weight="medium", id="alerts-link"),
            ),
            color_scheme="red",
            role="alert",
            width="100%",
            id="alert-banner",
        ),
    )


def _metric(metric: MetricView) -> rx.Component:
    return rx.box(
        rx.text(metric.label, size="1", color=rx.color("gray", 11), weight="medium"),
        rx.text(metric.value, size="5", weight="bold", class_name="metric-value", white_space="nowrap"),
        rx.text(metric.hint, size="1", color=rx.color("gray", 10)),
        padding="12px",
        border_radius="var(--radius-3)",
        background_color=rx.color("gray", 2),
        min_width="0",
        class_name="metric",
        data_metric=metric.key,
    )


def _currency_card(view: CurrencyView) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.badge(view.currency, size="2", variant="soft", radius="full"),
                rx.text(view.as_of, size="1", color=rx.color("gray", 10)),
                justify="between",
                align="center",
                width="100%",
                wrap="wrap",
            ),
            rx.grid(
                rx.foreach(view.metrics, _metric),
                columns=rx.breakpoints(initial="2", sm="3", lg="6"),
                spacing="2",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        class_name="currency-figures",
        data_currency=view.currency,
    )


def _chart(figure, chart_id: str) -> rx.Component:
    return rx.card(
        rx.plotly.basic(data=figure.to(go.Figure), use_resize_handler=True,
                        config={"displayModeBar": False, "responsive": True},
                        width="100%", height="320px"),
        width="100%",
        min_width="0",
        id=chart_id,
        class_name="revenue-chart",
    )


def _charts() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading("Charts", size="4", as_="h2"),
            rx.select(DashboardState.chart_currencies, value=DashboardState.chart_currency,
                      on_change=DashboardState.set_chart_currency, size="2", id="chart-currency"),
            align="center",
            spacing="3",
        ),
        rx.grid(
            _chart(DashboardState.mrr_figure, "chart-mrr"),
            _chart(DashboardState.movements_figure, "chart-movements"),
            _chart(DashboardState.plan_figure, "chart-plans"),
            _chart(DashboardState.currency_figure, "chart-currencies"),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def _freshness() -> rx.Component:
    """How old the figures are, and a way to bring them up to now (the job does it seconds after a
    payment lands; a cancellation or a trial shows at its five-minute refresh, or here)."""
    return rx.hstack(
        rx.text(DashboardState.as_of_label, size="1", color=rx.color("gray", 11), id="figures-as-of"),
        rx.button(rx.icon("refresh_cw", size=14), "Refresh", variant="ghost", size="1", type="button",
                  on_click=DashboardState.refresh_now, id="figures-refresh"),
        align="center",
        spacing="2",
    )


def _dashboard() -> rx.Component:
    return rx.vstack(
        _alert_banner(),
        _range_picker(),
        _freshness(),
        error_callout(DashboardState.error),
        rx.cond(
            DashboardState.currencies.length() > 0,
            rx.vstack(rx.foreach(DashboardState.currencies, _currency_card), _charts(), spacing="4", width="100%"),
            rx.cond(DashboardState.loaded, admin_empty(
                "chart_no_axes_combined", "No revenue in this range yet.",
                "Figures appear once subscriptions are paid and the revenue-rollups job has run.",
                card_id="dashboard-empty")),
        ),
        spacing="4",
        width="100%",
    )


def dashboard_page() -> rx.Component:
    return admin_shell("Dashboard", _dashboard(),
                       subtitle="Revenue per currency: currencies are never added together.")


# ---- /admin/alerts


def _alert_row(row: AlertView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.raised_label, white_space="nowrap", size="2")),
        rx.table.cell(rx.text(row.kind_label, weight="medium", size="2", white_space="nowrap")),
        rx.table.cell(_currency(row)),
        rx.table.cell(rx.text(row.month_label, white_space="nowrap", size="2")),
        rx.table.cell(rx.text(row.value, _limit(row), white_space="nowrap", size="2")),
        rx.table.cell(rx.vstack(rx.text(row.message, size="2", min_width="200px"), _act_link(row), spacing="1")),
        rx.table.cell(_acknowledge(row)),
        class_name="alert-row",
        data_alert=row.id,
        align="center",
    )


def _currency(row: AlertView) -> rx.Component:
    return rx.cond(row.currency != "", rx.badge(row.currency, variant="soft", radius="full"))


def _limit(row: AlertView) -> rx.Component:
    return rx.cond(row.threshold != "", rx.fragment(" (limit ", row.threshold, ")"))


def _act_link(row: AlertView) -> rx.Component:
    return rx.cond(row.link != "", rx.link("Open reconciliation", href=row.link, size="2", weight="medium",
                                           class_name="alert-link"))


def _acknowledge(row: AlertView) -> rx.Component:
    return rx.cond(
        row.acknowledged_label != "",
        rx.text("Acknowledged ", row.acknowledged_label, size="1", color=rx.color("gray", 10)),
        rx.button("Acknowledge", size="1", on_click=AlertsState.acknowledge(row.id),
                  class_name="acknowledge-alert", data_alert=row.id),
    )


def _alerts() -> rx.Component:
    return rx.vstack(
        rx.segmented_control.root(
            rx.segmented_control.item("Open", value="open"),
            rx.segmented_control.item("All", value="all"),
            value=rx.cond(AlertsState.show_all, "all", "open"),
            on_change=lambda value: AlertsState.set_show_all(value == "all"),
            size="2",
        ),
        error_callout(AlertsState.error),
        notice_callout(AlertsState.notice),
        admin_table(["Raised", "Alert", "Currency", "Month", "Value", "What happened", ""],
                    AlertsState.rows, _alert_row, table_id="alerts-table",
                    empty=admin_empty("bell", "No open alerts.",
                                      "Thresholds are set by ALERT_PAYMENT_FAILURE_RATE, ALERT_PAYMENT_SUCCESS_RATE and "
                                      "ALERT_CHURN_RATE; the nightly reconciliation raises one when our books and "
                                      "Stripe's differ.", card_id="alerts-empty")),
        spacing="4",
        width="100%",
    )


def alerts_page() -> rx.Component:
    return admin_shell("Alerts", _alerts(), subtitle="Payment rates and churn that crossed their thresholds, per "
                                                     "month, and differences with Stripe found each night.")
