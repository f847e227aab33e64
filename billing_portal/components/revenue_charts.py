"""Plotly figures of the revenue dashboard, built on the server from the engine's figures.

Amounts stay integers in minor units everywhere else; here they become major units (floats) only
as chart coordinates, and every hover label is the exact amount formatted by billing/money.py.
"""

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from billing_portal.billing.analytics.dashboard import Dashboard, MonthPoint
from billing_portal.billing.money import format_money, to_major

# The Radix theme of the pages (its default font stack and light scales), so the charts look like
# the rest of the UI rather than Plotly's defaults: https://www.radix-ui.com/colors
FONT = ("-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', 'Open Sans', system-ui, "
        "sans-serif")
GRAY = {"text": "#202020", "muted": "#646464", "grid": "#e8e8e8", "line": "#d9d9d9", "zero": "#bbbbbb"}
COLORS = {"new": "#30a46c", "reactivation": "#29a383", "expansion": "#0090ff", "contraction": "#f76b15",
          "churn": "#e5484d", "mrr": "#3e63dd", "arr": "#6e56cf", "revenue": "#3e63dd"}
_AXIS = {"gridcolor": GRAY["grid"], "linecolor": GRAY["line"], "zerolinecolor": GRAY["zero"],
         "tickfont": {"color": GRAY["muted"]}, "automargin": True}


def _major(amount: int, currency: str) -> float:
    return float(to_major(amount, currency))  # a chart coordinate only


def _layout(figure: go.Figure, *, title: str, barmode: str | None = None, empty: str = "") -> go.Figure:
    """The theme, and for a chart with nothing to draw the words saying so instead of a bare axis."""
    figure.update_layout(
        title={"text": title, "font": {"size": 15, "color": GRAY["text"]}, "x": 0, "xanchor": "left"},
        template="none",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"family": FONT, "size": 12, "color": GRAY["text"]},
        colorway=list(COLORS.values()),
        hoverlabel={"bgcolor": "#ffffff", "bordercolor": GRAY["line"], "font": {"family": FONT, "color": GRAY["text"]}},
        margin={"l": 8, "r": 8, "t": 44, "b": 8},
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0, "font": {"color": GRAY["muted"]}},
        hovermode="x unified" if barmode is None else "closest",
        barmode=barmode,
        autosize=True,
        height=320,
    )
    figure.update_yaxes(zeroline=True, **_AXIS)
    figure.update_xaxes(**_AXIS)
    if empty:
        figure.update_layout(showlegend=False)
        figure.update_traces(visible=False)
        figure.update_xaxes(visible=False)
        figure.update_yaxes(visible=False)
        figure.add_annotation(text=empty, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                              font={"size": 13, "color": GRAY["muted"]})
    return figure


def _monthly(figure: go.Figure, months: list[str]) -> go.Figure:
    """Month axes as dates, one tick per month at most six ticks (every other month, ...), so
    a short range does not repeat one month's label and a phone shows no pile-up."""
    step = max(1, math.ceil(len(months) / 6))
    figure.update_xaxes(type="date", tickformat="%b %y", hoverformat="%B %Y", tickvals=months[::step])
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
    return _monthly(_layout(figure, title=f"MRR and ARR ({currency}, month ends)",
                            empty="" if points else f"No {currency} MRR in this range yet."), months)


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
    moved = any(getattr(p, key) for p in points for key in ("new", "reactivation", "expansion", "contraction", "churn"))
    return _monthly(_layout(figure, title=f"MRR movements ({currency})", barmode="relative",
                            empty="" if moved else f"No {currency} MRR moved in this range."), months)


def plan_chart(board: Dashboard, currency: str, locale: str) -> go.Figure:
    rows = [r for r in board.by_plan if r.currency == currency and r.revenue]  # a plan with no revenue has no bar
    figure = go.Figure(go.Bar(
        x=[_major(r.revenue, currency) for r in rows], y=[r.plan for r in rows], orientation="h",
        marker_color=COLORS["revenue"], text=[format_money(r.revenue, currency, locale) for r in rows],
        textposition="auto", hoverinfo="text+y",
    ))
    figure.update_yaxes(autorange="reversed")
    return _layout(figure, title=f"Revenue by plan ({currency})", barmode="group",
                   empty="" if rows else f"No {currency} revenue in this range yet.")


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
    return _layout(figure, title="Revenue by currency (each on its own scale)", barmode="group",
                   empty="" if figures else "No revenue in this range yet.")
