"""The app module: every registered page builds its component tree (no browser needed), so a
broken page fails here in seconds rather than as a frontend build error in the browser tests."""

import pytest
from reflex.compiler.compiler import into_component

from billing_portal.billing_portal import app


@pytest.mark.parametrize("route", sorted(app._unevaluated_pages))
def test_every_page_builds(route):
    assert into_component(app._unevaluated_pages[route].component) is not None


def test_customer_and_admin_pages_are_all_registered():
    routes = set(app._unevaluated_pages)
    for route in ("billing", "billing/plan", "billing/history", "billing/payment-methods", "billing/usage",
                  "billing/credits", "billing/files", "billing/details", "checkout", "denied", "admin",
                  "admin/alerts", "admin/customers", "admin/refunds", "admin/reconciliation", "admin/webhooks",
                  "admin/catalog", "admin/audit"):
        assert route in routes, route
