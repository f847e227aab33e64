"""/billing: the plan, its status, the next renewal, usage against the plan's limits, banners."""

import reflex as rx

from billing_portal.components.billing import (
    banner,
    guarded,
    no_subscription,
    notice_callout,
    page_header,
    subscription_badge,
)
from billing_portal.components.forms import error_callout
from billing_portal.components.layout import link_button, page_shell
from billing_portal.state.billing import BannerView, OverviewState, UsageView
from billing_portal.state.payment_methods import ROUTE as PAYMENT_METHODS_ROUTE

ROUTE = "/billing"
TITLE = "Billing · Billing Portal"


def _banner(item: BannerView) -> rx.Component:
    action = rx.match(
        item.kind,
        (
            "cancel_scheduled",
            rx.button(
                "Resume plan",
                on_click=OverviewState.resume,
                loading=OverviewState.resuming,
                size="2",
                color_scheme="amber",
                variant="solid",
                flex_shrink="0",
            ),
        ),
        ("open_invoice", link_button("Pay now", OverviewState.pay_href, size="2", color_scheme="amber", flex_shrink="0",
                                     id="pay-open-invoice")),
        (
            "past_due",
            rx.hstack(
                link_button("Update card", PAYMENT_METHODS_ROUTE, size="2", variant="soft", color_scheme="red"),
                rx.cond(
                    item.pay_url != "",
                    link_button("Pay now", item.pay_url, size="2", variant="solid", color_scheme="red"),
                ),
                spacing="2",
                flex_shrink="0",
                wrap="wrap",
            ),
        ),
        ("card_expiring", link_button("Update card", PAYMENT_METHODS_ROUTE, size="2", variant="soft", flex_shrink="0")),
        rx.fragment(),
    )
    return banner(item, action)


def _fact(label: str, value, **props) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color=rx.color("gray", 10), weight="medium", text_transform="uppercase", letter_spacing="0.04em"),
        rx.text(value, size="3", weight="medium", **props),
        spacing="1",
        min_width="0",
    )


def _plan_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.text("Current plan", size="1", color=rx.color("gray", 10), weight="medium"),
                    rx.heading(OverviewState.plan_name, size="6", as_="h2", id="plan-name"),
                    spacing="1",
                ),
                rx.spacer(),
                subscription_badge(OverviewState.status, OverviewState.status_label),
                align="start",
                width="100%",
            ),
            rx.text(OverviewState.price_label, size="4", weight="bold", id="plan-price"),
            rx.grid(
                _fact("Current period", OverviewState.period_label),
                _fact(
                    "Next renewal",
                    rx.cond(OverviewState.next_renewal_label != "", OverviewState.next_renewal_label, "None"),
                    id="next-renewal-date",
                ),
                _fact(
                    "Next amount",
                    rx.cond(OverviewState.next_renewal_amount_label != "", OverviewState.next_renewal_amount_label, "—"),
                    id="next-renewal-amount",
                ),
                columns=rx.breakpoints(initial="1", sm="3"),
                spacing="4",
                width="100%",
            ),
            rx.text(OverviewState.renewal_note, size="2", color=rx.color("gray", 11), id="renewal-note"),
            rx.hstack(
                link_button("Change plan", "/billing/plan", size="2"),
                link_button("Billing history", "/billing/history", size="2", variant="soft"),
                spacing="3",
                wrap="wrap",
            ),
            spacing="4",
            width="100%",
        ),
        size="3",
        width="100%",
    )


def _meter(item: UsageView) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(item.label, size="2", weight="medium"),
            rx.spacer(),
            rx.text(
                item.used_label,
                rx.cond(item.limit_label != "", " of " + item.limit_label, ""),
                size="2",
                color=rx.color("gray", 11),
            ),
            width="100%",
        ),
        rx.progress(
            value=item.percent,
            max=100,
            color_scheme=rx.cond(item.over, "red", "indigo"),
            aria_label=item.label + " used",
            width="100%",
        ),
        spacing="2",
        width="100%",
    )


def _usage_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Usage", size="4", as_="h2"),
            rx.foreach(OverviewState.usage, _meter),
            rx.text(
                "Projects and users are not counted yet; your plan allows:",
                size="1",
                color=rx.color("gray", 10),
            ),
            rx.el.ul(
                rx.foreach(OverviewState.limits, lambda text: rx.el.li(rx.text(text, size="2"))),
                style={"margin": 0, "paddingLeft": "18px", "display": "grid", "gap": "4px"},
                aria_label="Plan limits",
            ),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
        id="usage",
    )


def billing_overview_page() -> rx.Component:
    body = rx.vstack(
        rx.foreach(OverviewState.banners, _banner),
        rx.cond(
            OverviewState.has_subscription,
            rx.grid(
                _plan_card(),
                _usage_card(),
                grid_template_columns=rx.breakpoints(initial="1fr", md="3fr 2fr"),
                spacing="4",
                width="100%",
            ),
            rx.vstack(no_subscription(), _usage_card(), spacing="4", width="100%"),
        ),
        spacing="4",
        width="100%",
    )
    return page_shell(
        rx.vstack(
            page_header("Billing", "Your plan, what renews next, and what you use.", "Overview"),
            error_callout(OverviewState.error),
            notice_callout(OverviewState.notice),
            guarded(body, loaded=OverviewState.loaded),
            spacing="5",
            width="100%",
        ),
    )
