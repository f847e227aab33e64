"""The Reflex app: routes, and the Starlette API (/api/*) mounted in front of Reflex's own routes.

Theme and plugins live in rxconfig.py.
"""

import reflex as rx

from billing_portal.api import build_api
from billing_portal.jobs.runner import embedded_runner
from billing_portal.pages import billing_history, billing_overview, billing_plan, index, login, pricing, signup
from billing_portal.pages import checkout, checkout_success
from billing_portal.pages import billing_credits, denied
from billing_portal.state.billing import CreditsState
from billing_portal.state.auth import AuthState
from billing_portal.state.auth import SignInState, SignUpState
from billing_portal.state.billing import HistoryState, OverviewState, PlanState
from billing_portal.state.checkout import CheckoutState, CheckoutSuccessState
from billing_portal.state.pricing import PricingState

app = rx.App(
    head_components=[
        rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
        rx.el.meta(name="color-scheme", content="light"),
    ],
    api_transformer=build_api(),
)
app.register_lifespan_task(embedded_runner)

app.add_page(index.index_page, route=index.ROUTE, title=index.TITLE, on_load=rx.redirect("/pricing", replace=True))
app.add_page(pricing.pricing_page, route=pricing.ROUTE, title=pricing.TITLE, on_load=PricingState.on_load)
app.add_page(signup.signup_page, route=signup.ROUTE, title=signup.TITLE, on_load=SignUpState.on_load)
app.add_page(login.login_page, route=login.ROUTE, title=login.TITLE, on_load=SignInState.on_load)
app.add_page(
    billing_overview.billing_overview_page, route=billing_overview.ROUTE, title=billing_overview.TITLE,
    on_load=OverviewState.on_load,
)
app.add_page(billing_plan.billing_plan_page, route=billing_plan.ROUTE, title=billing_plan.TITLE, on_load=PlanState.on_load)
app.add_page(
    billing_history.billing_history_page, route=billing_history.ROUTE, title=billing_history.TITLE,
    on_load=HistoryState.on_load,
)
app.add_page(checkout.checkout_page, route=checkout.ROUTE, title=checkout.TITLE, on_load=CheckoutState.on_load)
app.add_page(
    checkout_success.checkout_success_page, route=checkout_success.ROUTE, title=checkout_success.TITLE,
    on_load=CheckoutSuccessState.on_load,
)
app.add_page(denied.denied_page, route=denied.ROUTE, title=denied.TITLE, on_load=AuthState.load_session)
app.add_page(
    billing_credits.billing_credits_page, route=billing_credits.ROUTE, title=billing_credits.TITLE,
    on_load=CreditsState.on_load,
)
