"""The Reflex app: routes, and the Starlette API (/api/*) mounted in front of Reflex's own routes.

Theme and plugins live in rxconfig.py.
"""

import reflex as rx

from billing_portal import logs
from billing_portal.api import build_api
from billing_portal.jobs.runner import embedded_runner
from billing_portal.pages import (
    admin_api_keys,
    admin_audit,
    admin_catalog,
    admin_customers,
    admin_dashboard,
    admin_reconciliation,
    admin_refunds,
    admin_risk,
    admin_webhook_endpoints,
    admin_webhooks,
    billing_credits,
    billing_details,
    billing_files,
    billing_history,
    billing_overview,
    billing_payment_methods,
    billing_plan,
    billing_usage,
    checkout,
    checkout_success,
    denied,
    index,
    login,
    pricing,
    signup,
)
from billing_portal.state.admin_console import AuditAdminState, CatalogAdminState, CustomersAdminState, WebhooksAdminState
from billing_portal.state.admin_dashboard import AlertsState, DashboardState
from billing_portal.state.admin_integrations import ApiKeysAdminState, EndpointsAdminState
from billing_portal.state.admin_reconciliation import ReconciliationAdminState
from billing_portal.state.admin_refunds import RefundsAdminState
from billing_portal.state.admin_risk import RiskAdminState
from billing_portal.state.auth import AuthState, SignInState, SignUpState
from billing_portal.state.billing import CreditsState, HistoryState, OverviewState, PlanState
from billing_portal.state.billing_details import DetailsState
from billing_portal.state.checkout import CheckoutState, CheckoutSuccessState
from billing_portal.state.errors import event_error
from billing_portal.state.files import FilesState
from billing_portal.state.payment_methods import PaymentMethodsState
from billing_portal.state.pricing import PricingState
from billing_portal.settings import get_settings
from billing_portal.state.usage import UsageState

logs.configure(get_settings().log_level)

app = rx.App(
    head_components=[
        rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
        rx.el.meta(name="color-scheme", content="light"),
    ],
    api_transformer=build_api(),
    backend_exception_handler=event_error,
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

# Customer portal: the billing pages beside /billing, /billing/plan and /billing/history.
for module, page, state in (
    (billing_payment_methods, billing_payment_methods.billing_payment_methods_page, PaymentMethodsState),
    (billing_usage, billing_usage.billing_usage_page, UsageState),
    (billing_credits, billing_credits.billing_credits_page, CreditsState),
    (billing_files, billing_files.billing_files_page, FilesState),
    (billing_details, billing_details.billing_details_page, DetailsState),
):
    app.add_page(page, route=module.ROUTE, title=module.TITLE, on_load=state.on_load)

# Admin console: every handler checks the admin role on the server (state/admin.py).
app.add_page(admin_dashboard.dashboard_page, route=admin_dashboard.ROUTE, title=admin_dashboard.TITLE,
             on_load=DashboardState.on_load)
app.add_page(admin_dashboard.alerts_page, route=admin_dashboard.ALERTS_ROUTE, title=admin_dashboard.ALERTS_TITLE,
             on_load=AlertsState.on_load)
for module, page, state in (
    (admin_customers, admin_customers.admin_customers_page, CustomersAdminState),
    (admin_refunds, admin_refunds.admin_refunds_page, RefundsAdminState),
    (admin_reconciliation, admin_reconciliation.admin_reconciliation_page, ReconciliationAdminState),
    (admin_webhooks, admin_webhooks.admin_webhooks_page, WebhooksAdminState),
    (admin_catalog, admin_catalog.admin_catalog_page, CatalogAdminState),
    (admin_audit, admin_audit.admin_audit_page, AuditAdminState),
    (admin_risk, admin_risk.admin_risk_page, RiskAdminState),
    (admin_webhook_endpoints, admin_webhook_endpoints.admin_webhook_endpoints_page, EndpointsAdminState),
    (admin_api_keys, admin_api_keys.admin_api_keys_page, ApiKeysAdminState),
):
    app.add_page(page, route=module.ROUTE, title=module.TITLE, on_load=state.on_load)
