"""Billing state helpers that need no browser: what reaches the page, and the sign-in redirect."""

from datetime import UTC, datetime

from billing_portal.billing import portal
from billing_portal.state.billing import (
    ALL,
    BannerView,
    CreditsState,
    HistoryRowView,
    HistoryState,
    OverviewState,
    PlanState,
    banner_view,
    login_redirect,
    row_view,
)


def test_a_history_row_reaches_the_page_as_display_strings_only():
    row = portal.HistoryRow(
        kind="refund", id=7, created_at=datetime(2026, 7, 25, tzinfo=UTC), status="succeeded",
        status_group="refunded", status_label="Refunded", amount=-5000, currency="KRW",
        amount_label="-₩5,000", date_label="25 July 2026", kind_label="Refund",
        reference="INV-2026-000007", description="Refund: outage", invoice_id=3, has_pdf=True,
    )
    view = row_view(row)
    assert view == HistoryRowView(
        key="refund-7", date_label="25 July 2026", kind="refund", kind_label="Refund",
        reference="INV-2026-000007", description="Refund: outage", status_label="Refunded",
        status_group="refunded", amount_label="-₩5,000",
        pdf_url="http://localhost:8000/api/refunds/7/credit-note", object_id="7",
    )
    assert all(isinstance(value, (str, bool)) for value in view.__dict__.values())


def test_invoice_rows_link_to_the_owner_checked_pdf_route_and_payments_carry_the_refund_state(monkeypatch):
    monkeypatch.setenv("API_URL", "https://billing.example.com/")
    base = dict(created_at=datetime(2026, 7, 25, tzinfo=UTC), currency="KRW", amount=15000, amount_label="₩15,000",
                date_label="25 July 2026", reference="INV-2026-000007", description="d", invoice_id=3)
    invoice = row_view(portal.HistoryRow(kind="invoice", id=3, status="paid", status_group="paid", status_label="Paid",
                                         kind_label="Invoice", has_pdf=True, **base))
    assert invoice.pdf_url == "https://billing.example.com/api/invoices/3/pdf"
    payment = row_view(portal.HistoryRow(kind="payment", id=9, status="succeeded", status_group="paid",
                                         status_label="Succeeded", kind_label="Payment",
                                         refund_requested_label="Refund requested: ₩5,000", **base))
    assert (payment.pdf_url, payment.object_id, payment.can_request_refund) == ("", "9", False)
    assert payment.refund_requested_label == "Refund requested: ₩5,000"


def test_banner_view():
    assert banner_view(portal.Banner("past_due", "red", "Failed", "Update your card.")) == BannerView(
        "past_due", "red", "Failed", "Update your card."
    )
    with_invoice = banner_view(portal.Banner("past_due", "red", "Failed", "Pay.", invoice_id=7))
    assert with_invoice.pay_url == "/checkout?invoice=7"


def test_signed_out_visitors_go_to_the_login_page_and_come_back():
    spec = login_redirect("/billing/history")
    assert "/login?next=/billing/history" in str(spec)


def test_states_keep_no_ids_or_roles_from_the_browser():
    """The subscription is always looked up on the server; only a price id string (checked there)
    and filter values come from the page."""
    for state in (OverviewState, PlanState, HistoryState, CreditsState):
        names = set(state.base_vars) | set(state.computed_vars)
        assert not {n for n in names if n.endswith(("customer_id", "subscription_id", "user_id", "role"))}
    assert HistoryState.get_fields()["status_filter"].default == ALL


def test_every_status_group_has_a_filter_and_a_badge_colour():
    assert {key for key, _ in portal.STATUS_FILTERS} == set(portal.STATUS_GROUPS)


def test_the_refund_dialog_keeps_no_amount_in_minor_units_from_the_browser():
    """The dialog sends typed text; the engine parses it in the customer's locale and re-checks the
    payment's owner and what is left, so a tampered payment id or amount changes nothing."""
    fields = HistoryState.get_fields()
    assert fields["refund_amount"].default == "" and fields["refund_payment"].default == ""
    assert not any(name.startswith("refund_") and name.endswith("_id") for name in fields)
