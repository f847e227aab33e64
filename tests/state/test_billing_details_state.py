"""The details page's state helpers: what the form shows, and what a save says."""

from billing_portal.billing.billing_details import FORM_FIELDS, BillingDetails
from billing_portal.state.billing_details import DetailsState, form_values, saved_notice


def test_the_form_shows_only_the_fields_the_page_edits():
    details = BillingDetails(name="김민준", country="KR", tax_id="220-81-62517", invoice_email="a@example.kr",
                             preferred_currency="KRW", locale="ko_KR")
    values = form_values(details)
    assert tuple(values) == FORM_FIELDS
    assert values["tax_id"] == "220-81-62517" and "locale" not in values


def test_the_notice_counts_the_unpaid_invoices_drawn_again():
    assert saved_notice(0) == "Saved. Future invoices use these details."
    assert saved_notice(1) == "Saved. Future invoices use these details. 1 unpaid invoice now shows them too."
    assert saved_notice(3) == "Saved. Future invoices use these details. 3 unpaid invoices now show them too."


def test_the_state_keeps_no_ids_from_the_browser():
    names = set(DetailsState.base_vars) | set(DetailsState.computed_vars)
    assert not {n for n in names if n.endswith(("customer_id", "user_id", "role"))}
