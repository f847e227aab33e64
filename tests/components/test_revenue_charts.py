"""The dashboard's charts: themed like the pages, words instead of a bare axis when empty, and a
bar for every plan row shown."""

from datetime import date

from billing_portal.billing.analytics.dashboard import Dashboard, MonthPoint, PlanRevenue
from billing_portal.components import revenue_charts

EMPTY = Dashboard(start=date(2026, 1, 1), end=date(2026, 1, 31), currencies=(), months=(), by_plan=(), open_alerts=0)


def _annotations(figure) -> list[str]:
    return [a.text for a in figure.layout.annotations]


def test_an_empty_range_says_so_in_every_chart_and_draws_no_axis():
    charts = [revenue_charts.mrr_chart(EMPTY, "USD", "en_US"), revenue_charts.movements_chart(EMPTY, "USD", "en_US"),
              revenue_charts.plan_chart(EMPTY, "USD", "en_US"), revenue_charts.currency_chart(EMPTY, "en_US")]
    assert [_annotations(c) for c in charts] == [
        ["No USD MRR in this range yet."], ["No USD MRR moved in this range."],
        ["No USD revenue in this range yet."], ["No revenue in this range yet."],
    ]
    assert all(c.layout.xaxis.visible is False and c.layout.yaxis.visible is False for c in charts)
    assert all(c.layout.showlegend is False for c in charts)


def test_month_axes_tick_each_month_once_and_at_most_six_times():
    points = tuple(MonthPoint(month=date(2025 + (m - 1) // 12, (m - 1) % 12 + 1, 1), currency="USD", mrr=1000,
                              arr=12000, subscribers=1, new=0, expansion=0, contraction=0, churn=0, reactivation=0)
                   for m in range(1, 14))
    for count, ticks in ((2, 2), (6, 6), (13, 5)):
        board = Dashboard(start=EMPTY.start, end=EMPTY.end, currencies=(), months=points[:count], by_plan=(),
                          open_alerts=0)
        assert len(revenue_charts.mrr_chart(board, "USD", "en_US").layout.xaxis.tickvals) == ticks


def test_charts_wear_the_radix_theme_not_plotlys():
    point = MonthPoint(month=date(2026, 1, 1), currency="USD", mrr=1000, arr=12000, subscribers=1, new=1000,
                       expansion=0, contraction=0, churn=0, reactivation=0)
    board = Dashboard(start=EMPTY.start, end=EMPTY.end, currencies=(), months=(point,), by_plan=(), open_alerts=0)
    figure = revenue_charts.mrr_chart(board, "USD", "en_US")
    assert _annotations(figure) == []
    assert figure.layout.paper_bgcolor == "rgba(0,0,0,0)" and figure.layout.font.family == revenue_charts.FONT
    assert figure.layout.yaxis.gridcolor == revenue_charts.GRAY["grid"]
    assert [t.line.color for t in figure.data] == [revenue_charts.COLORS["mrr"], revenue_charts.COLORS["arr"]]


def test_a_plan_without_revenue_gets_no_row():
    board = Dashboard(start=EMPTY.start, end=EMPTY.end, currencies=(), months=(), open_alerts=0, by_plan=(
        PlanRevenue("USD", "Pro", 2900), PlanRevenue("USD", "Starter", 0), PlanRevenue("KRW", "Pro", 15000)))
    figure = revenue_charts.plan_chart(board, "USD", "en_US")
    assert list(figure.data[0].y) == ["Pro"] and list(figure.data[0].text) == ["$29.00"]
