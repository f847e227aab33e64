"""/admin/catalog: plans and their prices; create, and archive (a used price is never edited)."""

import reflex as rx

from billing_portal.components.admin import admin_shell, admin_table, labelled_input
from billing_portal.components.billing import labelled, notice_callout
from billing_portal.components.forms import error_callout
from billing_portal.state.admin_console import PERIODS, CatalogAdminState as S, PlanView, PriceView

ROUTE = "/admin/catalog"
TITLE = "Catalog · Admin · Billing Portal"


def _active(active) -> rx.Component:
    return rx.badge(rx.cond(active, "active", "archived"), color_scheme=rx.cond(active, "green", "gray"),
                    variant="soft", radius="full")


def _plan_row(row: PlanView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.name, weight="medium")),
        rx.table.cell(rx.code(row.slug, size="1")),
        rx.table.cell(row.tier),
        rx.table.cell(_active(row.active)),
        rx.table.cell(rx.cond(row.active, rx.button("Archive", size="1", variant="soft", color_scheme="red",
                                                    on_click=S.archive_plan(row.id), class_name="archive-plan"))),
        align="center",
    )


def _price_row(row: PriceView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.plan_name, weight="medium", white_space="nowrap")),
        rx.table.cell(rx.text(row.label, white_space="nowrap")),
        rx.table.cell(rx.cond(row.trial_days != "0", row.trial_days + " days", "—")),
        rx.table.cell(rx.cond(row.used, rx.badge("in use", variant="outline", radius="full",
                                                 title="Used by a subscription: never edited, only archived"), "—")),
        rx.table.cell(_active(row.active)),
        rx.table.cell(rx.cond(row.active, rx.button("Archive", size="1", variant="soft", color_scheme="red",
                                                    on_click=S.archive_price(row.id), class_name="archive-price"))),
        align="center",
    )


def _input(label: str, name: str, **props) -> rx.Component:
    return labelled_input(label, f"cat-{name}", name, **props)


def _select(label: str, name: str, items, default) -> rx.Component:
    return labelled(label, f"cat-{name}", rx.select.root(
        rx.select.trigger(id=f"cat-{name}", width="100%", aria_label=label), rx.select.content(*items),
        name=name, default_value=default, size="2"))


def _new_plan() -> rx.Component:
    return rx.card(rx.form(
        rx.vstack(
            rx.heading("New plan", size="3", as_="h2"),
            rx.grid(_input("Slug", "slug", placeholder="team", required=True),
                    _input("Name", "name", placeholder="Team", required=True),
                    _input("Tier (order)", "tier", default_value="1", required=True),
                    columns=rx.breakpoints(initial="1", sm="3"), spacing="3", width="100%"),
            _input("Description", "description"),
            labelled("Features, one per line", "cat-features",
                     rx.text_area(id="cat-features", name="features", rows="3", width="100%")),
            rx.button("Create plan", type="submit", id="create-plan"),
            spacing="3",
            width="100%",
        ),
        on_submit=S.create_plan,
    ), width="100%")


def _new_price() -> rx.Component:
    return rx.card(rx.form(
        rx.vstack(
            rx.heading("New price", size="3", as_="h2"),
            rx.grid(
                _select("Plan", "plan_id", [rx.foreach(S.plans, lambda p: rx.cond(
                    p.active, rx.select.item(p.name, value=p.id)))], None),
                _input("Currency", "currency", placeholder="USD", required=True, max_length=3),
                _select("Period", "period", [rx.select.item(label, value=key) for key, label in PERIODS], "month-1"),
                _input("Amount", "amount", placeholder="12.00", required=True),
                _input("Trial days", "trial_days", default_value="0"),
                columns=rx.breakpoints(initial="1", sm="2", md="5"),
                spacing="3",
                width="100%",
            ),
            rx.text("A price is never edited once a subscription uses it: archive it and add a new one.",
                    size="1", color=rx.color("gray", 10)),
            rx.button("Create price", type="submit", id="create-price"),
            spacing="3",
            width="100%",
        ),
        on_submit=S.create_price,
    ), width="100%")


def _content() -> rx.Component:
    return rx.vstack(
        error_callout(S.error),
        notice_callout(S.notice),
        rx.heading("Plans", size="4", as_="h2"),
        admin_table(["Plan", "Slug", "Tier", "Status", ""], S.plans, _plan_row, table_id="plans-table"),
        rx.heading("Prices", size="4", as_="h2"),
        admin_table(["Plan", "Price", "Trial", "Used", "Status", ""], S.prices, _price_row, table_id="prices-table"),
        # On a phone the lists are long stacks of cards: the forms come first, within reach.
        rx.grid(_new_plan(), _new_price(), columns=rx.breakpoints(initial="1", lg="2"), spacing="4", width="100%",
                order=["-1", "-1", "0"]),
        spacing="4",
        width="100%",
    )


def admin_catalog_page() -> rx.Component:
    return admin_shell("Catalog", _content(), subtitle="Plans and prices customers can buy.")
