"""/admin (revenue dashboard) and /admin/alerts.

Every handler checks the admin on the server first (`_admin`) and changes nothing for anyone else.
The browser sends only dates, a currency code, a preset name or an alert id; figures are read from
the rollups by billing/analytics/ and kept here as display strings and four small chart figures.
"""

import dataclasses
import json
from datetime import date, timedelta

import plotly.graph_objects as go
import reflex as rx

from billing_portal.billing import analytics
from billing_portal.billing.analytics.alerts import RECONCILIATION, RECONCILIATION_ROUTE
from billing_portal.billing.analytics.dashboard import CurrencyFigures
from billing_portal.billing.analytics.mrr import add_month, month_start
from billing_portal.billing.errors import DomainError
from billing_portal.billing.money import format_money
from billing_portal.billing.wording import counted
from billing_portal.components import revenue_charts
from billing_portal.ids import parse_id
from billing_portal.models.types import utcnow
from billing_portal.state.admin import AdminState

ROUTE = "/admin"
ALERTS_ROUTE = "/admin/alerts"
ALERTS_PER_PAGE = 50
PRESETS = ("30d", "12m", "ytd")
KIND_LABELS = {
    "payment_failure_rate": "Payment failure rate",
    "payment_success_rate": "Payment success rate",
    "churn_rate": "Churn",
    "reconciliation": "Reconciliation",
}


@dataclasses.dataclass(frozen=True)
class MetricView:
    key: str = ""
    label: str = ""
    value: str = ""
    hint: str = ""


@dataclasses.dataclass(frozen=True)
class CurrencyView:
    currency: str = ""
    as_of: str = ""
    metrics: list[MetricView] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class AlertView:
    id: str = ""
    kind_label: str = ""
    currency: str = ""
    month_label: str = ""
    value: str = ""
    threshold: str = ""
    message: str = ""
    raised_label: str = ""
    acknowledged_label: str = ""
    link: str = ""  # where to act on it (a reconciliation alert: /admin/reconciliation)


def _pct(value) -> str:
    return "—" if value is None else f"{value:.2f} %"


def currency_view(f: CurrencyFigures, locale: str) -> CurrencyView:
    money = lambda amount: format_money(amount, f.currency, locale)  # noqa: E731
    attempts = f.payments_succeeded + f.payments_failed + f.payments_canceled
    metrics = [
        MetricView("mrr", "MRR", money(f.mrr), "at the end of the range"),
        MetricView("arr", "ARR", money(f.arr), "12 × MRR"),
        MetricView("subscribers", "Subscribers", f"{f.subscribers:,}", "paying customers"),
        MetricView("arpu", "ARPU", money(f.arpu) if f.arpu is not None else "—", "MRR per subscriber"),
        MetricView("ltv", "LTV", money(f.ltv) if f.ltv is not None else "—", "ARPU ÷ revenue churn"),
        MetricView("logo_churn", "Customer churn", _pct(f.logo_churn), "per month"),
        MetricView("revenue_churn", "Revenue churn", _pct(f.revenue_churn), "per month, gross"),
        MetricView("trial_conversion", "Trial conversion", _pct(f.trial_conversion),
                   f"{counted(f.trials_ended, 'trial', 'trials', locale)} ended"),
        MetricView("success_rate", "Payment success", _pct(f.success_rate), f"{f.payments_succeeded} of {attempts}"),
        MetricView("failure_rate", "Payment failure", _pct(f.failure_rate), f"{f.payments_failed} of {attempts}"),
        MetricView("refunds", "Refunds", money(f.refunds_amount), counted(f.refunds_count, "refund", "refunds", locale)),
        MetricView("revenue", "Revenue", money(f.revenue), "payments − refunds"),
    ]
    as_of = f"MRR as of {f.as_of:%d %b %Y %H:%M} UTC" if f.as_of else "No MRR yet"
    return CurrencyView(currency=f.currency, as_of=as_of, metrics=metrics)


def alert_view(alert) -> AlertView:
    daily = alert.kind == RECONCILIATION  # raised per day it ran, counting discrepancies, no currency
    return AlertView(
        id=str(alert.id), kind_label=KIND_LABELS.get(alert.kind, alert.kind), currency=alert.currency,
        month_label=f"{alert.month:%d %B %Y}" if daily else f"{alert.month:%B %Y}",
        value=f"{alert.value:.0f} found" if daily else f"{alert.value:.2f} %",
        threshold="" if daily else f"{alert.threshold:.2f} %",  # any discrepancy counts: no limit to show
        message=alert.message, raised_label=f"{alert.created_at:%d %b %Y %H:%M}",
        acknowledged_label=f"{alert.acknowledged_at:%d %b %Y %H:%M}" if alert.acknowledged_at else "",
        link=RECONCILIATION_ROUTE if daily else "",
    )


def preset_range(name: str, today: date) -> tuple[date, date]:
    if name == "30d":
        return today - timedelta(days=29), today
    if name == "ytd":
        return date(today.year, 1, 1), today
    return add_month(month_start(today), -11), today  # the last 12 months, this one included


def _shown(figure: go.Figure) -> dict:
    """A chart as the browser gets it (plotly's JSON). A Figure default would be deep-copied, template
    and all, each time any page hydrates the state tree: a third of a history click's CPU time."""
    return json.loads(figure.to_json())


class DashboardState(AdminState):
    start_date: str = ""
    end_date: str = ""
    currencies: list[CurrencyView] = []
    chart_currency: str = ""
    chart_currencies: list[str] = []
    open_alerts: int = 0
    open_alerts_label: str = ""
    # When the rollups were last refreshed (the job does it seconds after a payment lands).
    as_of_label: str = ""
    mrr_figure: dict = {}
    movements_figure: dict = {}
    plan_figure: dict = {}
    currency_figure: dict = {}
    loaded: bool = False
    error: str = ""

    def _fill(self, session, admin, start: date, end: date, currency: str) -> None:
        """The figures and charts of [start, end], charts in `currency` when it has figures."""
        board = analytics.dashboard(session, start=start, end=end)
        locale = admin.locale
        self.start_date, self.end_date = start.isoformat(), end.isoformat()
        self.currencies = [currency_view(f, locale) for f in board.currencies]
        self.chart_currencies = [f.currency for f in board.currencies]
        self.chart_currency = currency if currency in self.chart_currencies else next(iter(self.chart_currencies), "")
        self.open_alerts = board.open_alerts
        self.open_alerts_label = counted(board.open_alerts, "open alert", "open alerts", locale)
        refreshed = analytics.as_of(session)
        self.as_of_label = f"Figures as of {refreshed:%d %b %Y %H:%M} UTC" if refreshed else "Figures not computed yet"
        self.mrr_figure = _shown(revenue_charts.mrr_chart(board, self.chart_currency, locale))
        self.movements_figure = _shown(revenue_charts.movements_chart(board, self.chart_currency, locale))
        self.plan_figure = _shown(revenue_charts.plan_chart(board, self.chart_currency, locale))
        self.currency_figure = _shown(revenue_charts.currency_chart(board, locale))
        self.loaded = True

    def _show(self, dates, currency: str):
        """dates() -> (start, end), read once the admin is checked; a DomainError is the page's error."""
        self.error = ""
        return self._as_admin(lambda session, admin: self._fill(session, admin, *dates(), currency), route=ROUTE)

    @rx.event
    def on_load(self):
        self.loaded = False
        return self._show(lambda: preset_range("12m", utcnow().date()), "")

    @rx.event
    def apply_range(self, form: dict[str, str]):
        def dates():
            try:
                return date.fromisoformat(str(form.get("start", ""))), date.fromisoformat(str(form.get("end", "")))
            except ValueError:
                raise DomainError("Pick a start and an end date.") from None

        return self._show(dates, self.chart_currency)

    @rx.event
    def apply_preset(self, name: str):
        preset = name if name in PRESETS else "12m"
        return self._show(lambda: preset_range(preset, utcnow().date()), self.chart_currency)

    @rx.event
    def set_chart_currency(self, currency: str):
        return self._show(self._shown_dates, str(currency))

    @rx.event
    def refresh_now(self):
        """The rollups brought up to this instant (what the job does when due), then the same range."""
        def work(session, admin):
            analytics.refresh_in(session, utcnow())
            self._fill(session, admin, *self._shown_dates(), self.chart_currency)

        self.error = ""
        return self._as_admin(work, route=ROUTE)

    def _shown_dates(self) -> tuple[date, date]:
        try:
            return date.fromisoformat(self.start_date), date.fromisoformat(self.end_date)
        except ValueError:
            return preset_range("12m", utcnow().date())


class AlertsState(AdminState):
    rows: list[AlertView] = []
    show_all: bool = False
    loaded: bool = False
    error: str = ""
    notice: str = ""

    def _reload(self, session, admin) -> None:
        alerts = analytics.alerts_page(session, open_only=not self.show_all, limit=ALERTS_PER_PAGE)
        self.rows = [alert_view(alert) for alert in alerts]
        self.loaded = True

    @rx.event
    def on_load(self):
        self.loaded = False
        self.error = self.notice = ""
        return self._as_admin(self._reload, route=ALERTS_ROUTE)

    @rx.event
    def set_show_all(self, value: bool):
        def work(session, admin):
            self.show_all = bool(value)
            self._reload(session, admin)

        self.notice = ""
        return self._as_admin(work, route=ALERTS_ROUTE)

    @rx.event
    def acknowledge(self, alert_id: str):
        def work(session, admin):
            alert_number = parse_id(alert_id)
            if alert_number is None:
                raise DomainError("No such alert.")
            alert = analytics.acknowledge(session, alert_number, actor=admin)
            self.notice = f"Acknowledged: {alert.message}."
            self._reload(session, admin)

        self.error = ""
        return self._as_admin(work, route=ALERTS_ROUTE)
