"""The Reflex app: routes, and the Starlette API (/api/*) mounted in front of Reflex's own routes.

Theme and plugins live in rxconfig.py.
"""

import reflex as rx

from billing_portal.api import build_api
from billing_portal.jobs.runner import embedded_runner
from billing_portal.pages import index, login, pricing, signup
from billing_portal.state.auth import SignInState, SignUpState
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
