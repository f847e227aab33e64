"""Plotly figures of the revenue dashboard, built on the server from the engine's figures.

Amounts stay integers in minor units everywhere else; here they become major units (floats) only
as chart coordinates, and every hover label is the exact amount formatted by billing/money.py.
"""

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from billing_portal.billing.analytics.dashboard import Dashboard, MonthPoint
from billing_portal.billing.money import format_money, to_major

FONT = "Inter, system-ui, sans-serif"
COLORS = {"new": "#2f9e44", "reactivation": "#74b816", "expansion": "#1c7ed6", "contraction": "#f59f00",
          "churn": "#e03131", "mrr": "#3e63dd", "arr": "#8e4ec6", "revenue": "#3e63dd"}


def _major(amount: int, currency: str) -> float:
    return float(to_major(amount, currency))  # a chart coordinate only


def _layout(figure: go.Figure, *, title: str, barmode: str | None = None) -> go.Figure:
    figure.update_layout(
        title={"text": title, "font": {"size": 15}, "x": 0, "xanchor": "left"},
        template="plotly_white",
        font={"family": FONT, "size": 12},
        margin={"l": 8, "r": 8, "t": 44, "b": 8},
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0},
        hovermode="x unified" if barmode is None else "closest",
        barmode=barmode,
        autosize=True,
        height=320,
    )
    figure.update_yaxes(automargin=True, zeroline=True)
    figure.update_xaxes(automargin=True)
    return figure


def _monthly(figure: go.Figure) -> go.Figure:
    """Month axes as dates: Plotly thins the ticks to what fits, so a phone shows no pile-up."""
    figure.update_xaxes(type="date", tickformat="%b %y", hoverformat="%B %Y")
    return figure


def _points(board: Dashboard, currency: str) -> list[MonthPoint]:
    return [p for p in board.months if p.currency == currency]


def mrr_chart(board: Dashboard, currency: str, locale: str) -> go.Figure:
    points = _points(board, currency)
    months = [p.month.isoformat() for p in points]
    figure = go.Figure()
    for name, key in (("MRR", "mrr"), ("ARR", "arr")):
        figure.add_trace(go.Scatter(
            x=months, y=[_major(getattr(p, key), currency) for p in points], name=name, mode="lines+markers",
            line={"color": COLORS[key], "width": 2.5},
            hovertext=[format_money(getattr(p, key), currency, locale) for p in points], hoverinfo="text+name",
        ))
    return _monthly(_layout(figure, title=f"MRR and ARR ({currency}, month ends)"))


def movements_chart(board: Dashboard, currency: str, locale: str) -> go.Figure:
    points = _points(board, currency)
    months = [p.month.isoformat() for p in points]
    figure = go.Figure()
    for name, key, sign in (("New", "new", 1), ("Reactivation", "reactivation", 1), ("Expansion", "expansion", 1),
                            ("Contraction", "contraction", -1), ("Churn", "churn", -1)):
        amounts = [getattr(p, key) for p in points]
        figure.add_trace(go.Bar(
            x=months, y=[sign * _major(a, currency) for a in amounts], name=name, marker_color=COLORS[key],
            hovertext=[f"{name}: {'−' if sign < 0 and a else ''}{format_money(a, currency, locale)}" for a in amounts],
            hoverinfo="text",
        ))
    return _monthly(_layout(figure, title=f"MRR movements ({currency})", barmode="relative"))


def plan_chart(board: Dashboard, currency: str, locale: str) -> go.Figure:
    rows = [r for r in board.by_plan if r.currency == currency]
    figure = go.Figure(go.Bar(
        x=[_major(r.revenue, currency) for r in rows], y=[r.plan for r in rows], orientation="h",
        marker_color=COLORS["revenue"], text=[format_money(r.revenue, currency, locale) for r in rows],
        textposition="auto", hoverinfo="text+y",
    ))
    figure.update_yaxes(autorange="reversed")
    return _layout(figure, title=f"Revenue by plan ({currency})", barmode="group")


def currency_chart(board: Dashboard, locale: str) -> go.Figure:
    """Revenue per currency, each on its own axis: amounts in different currencies never share a scale."""
    figures = board.currencies or ()
    figure = make_subplots(rows=1, cols=max(1, len(figures)))
    for column, f in enumerate(figures, start=1):
        figure.add_trace(go.Bar(
            x=["Payments", "Refunds", "Revenue"],
            y=[_major(f.payments_amount, f.currency), -_major(f.refunds_amount, f.currency),
               _major(f.revenue, f.currency)],
            marker_color=[COLORS["new"], COLORS["churn"], COLORS["revenue"]],
            hovertext=[format_money(f.payments_amount, f.currency, locale),
                       format_money(-f.refunds_amount, f.currency, locale),
                       format_money(f.revenue, f.currency, locale)],
            hoverinfo="text", showlegend=False, name=f.currency,
        ), row=1, col=column)
        figure.update_xaxes(title_text=f.currency, row=1, col=column)
    return _layout(figure, title="Revenue by currency (each on its own scale)", barmode="group")
