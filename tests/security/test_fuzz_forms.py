"""Fuzz every form handler of billing_portal/state/ with hypothesis: amounts that are negative,
fractional, huge or in another currency, unknown ids, dates out of range, unicode and control
characters, very long strings.

For every input: no exception escapes the handler, the page never shows the "something went wrong"
fallback (every refusal is a clear message of its own), and when the page shows a refusal nothing
changed (every row, every stored object). Fields in `always_refused` only ever get input that is
wrong, so there a refusal must show. Handlers run as the server runs them, on the world of
authz_world.py, signed in as the owner (or the admin for admin forms), with ids pointing at real
rows. FUZZ_EXAMPLES sets the examples per handler (`make soak` raises it).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import SQLModel

import billing_portal.billing_portal  # noqa: F401  (every page's state)
from billing_portal.settings import get_settings
from billing_portal.state.admin_console import AuditAdminState, CatalogAdminState, CustomersAdminState, WebhooksAdminState
from billing_portal.state.admin_dashboard import AlertsState, DashboardState
from billing_portal.state.admin_integrations import ApiKeysAdminState, EndpointsAdminState
from billing_portal.state.admin_reconciliation import ReconciliationAdminState
from billing_portal.state.admin_refunds import RefundsAdminState
from billing_portal.state.admin_risk import RiskAdminState
from billing_portal.state.auth import SignInState, SignUpState
from billing_portal.state.billing import HistoryRowView, HistoryState, PlanOptionView, PlanState
from billing_portal.state.billing_details import DetailsState
from billing_portal.state.checkout import CheckoutState, CheckoutSuccessState, CheckoutTarget
from billing_portal.state.files import FileDetailsView, FilesState
from billing_portal.state.payment_methods import PaymentMethodsState
from billing_portal.state.usage import UsageState
from billing_portal.billing.billing_details import FORM_FIELDS
from tests.security.authz_world import World, all_states, build_world, run_handler, snapshot, stored_vars
from tests.support.browser_state import state_of
from tests.security.fuzzing import bad_amounts, dates, fuzz_settings, ids, nasty

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
FUZZ = fuzz_settings(10)
MESSAGES = ("error", "refund_error", "details_error", "dialog_error", "pay_error", "load_error", "save_error")
FALLBACK = "Something went wrong on our side"


@dataclasses.dataclass(frozen=True)
class Form:
    name: str
    state: type
    handler: str
    actor: str
    inputs: st.SearchStrategy
    # (world, drawn) -> (args, vars the browser set): the vars are how a page's earlier inputs
    # (a typed amount, a picked row) reach the handler; a tampered browser can set them too.
    call: Callable
    always_refused: bool = False
    # Tables a refusal is meant to write (a failed sign-in counts towards the throttle).
    may_write: frozenset[str] = frozenset()


def form_of(**fields) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional=fields)


FORMS: list[Form] = [
    # sign-up / sign-in
    Form("sign up", SignUpState, "submit", "anonymous",
         form_of(email=nasty, password=nasty, name=nasty), lambda w, v: ((v,), {})),
    Form("sign in", SignInState, "submit", "anonymous",
         form_of(email=nasty | st.just("ana@example.com"), password=nasty), lambda w, v: ((v,), {}),
         always_refused=True, may_write=frozenset({"login_throttles"})),
    # checkout links and receipts
    Form("checkout link", CheckoutState, "on_load", "owner",
         form_of(price=ids, quantity=ids, pack=nasty, invoice=ids), lambda w, v: ((), {"url": _url("/checkout", v)})),
    Form("receipt link", CheckoutSuccessState, "on_load", "owner",
         form_of(invoice=nasty, trial=nasty), lambda w, v: ((), {"url": _url("/checkout/success", v)})),
    Form("pay with a saved card", CheckoutState, "pay", "owner", ids.filter(bool),  # "": no card, no attempt
         lambda w, v: ((), {"_target": _invoice_target(w), "loaded": True, "selected_card": v}),
         always_refused=True),
    Form("checkout billing country", CheckoutState, "set_billing_country", "owner", nasty,
         lambda w, v: ((v,), {"_target": CheckoutTarget(price_id=w.ids["pro_price"]), "loaded": True,
                              "country_needed": True})),
    # plan
    Form("change plan: quantity", PlanState, "confirm_change", "owner", bad_amounts,
         lambda w, v: ((), {"selected": str(w.ids["pro_price"]), "quantity": v,
                            "options": [PlanOptionView(price_id=str(w.ids["pro_price"]), name="Pro")]}),
         always_refused=True),
    Form("change plan: price", PlanState, "confirm_change", "owner", ids,
         lambda w, v: ((), {"selected": v, "quantity": "1", "options": [PlanOptionView(price_id=v)]}),
         always_refused=True),
    Form("cancel", PlanState, "cancel", "owner", form_of(reason=nasty), lambda w, v: ((v,), {})),
    Form("pause", PlanState, "pause", "owner", st.fixed_dictionaries({"resume_on": dates}).filter(
        lambda v: v["resume_on"].strip() != ""), lambda w, v: ((v,), {}), always_refused=True),
    # history
    Form("history dates", HistoryState, "set_date_from", "owner", dates, lambda w, v: ((v,), {})),
    Form("history date to", HistoryState, "set_date_to", "owner", dates, lambda w, v: ((v,), {})),
    Form("history filters", HistoryState, "set_status_filter", "owner", nasty, lambda w, v: ((v,), {})),
    Form("refund amount", HistoryState, "submit_refund", "owner", bad_amounts,
         lambda w, v: (({"reason": "down all day"},), _refund_dialog(w, v)), always_refused=True),
    Form("refund reason", HistoryState, "submit_refund", "owner", form_of(reason=nasty),
         lambda w, v: ((v,), _refund_dialog(w, "1.00"))),
    Form("refund of an unknown payment", HistoryState, "open_refund", "owner", ids,
         lambda w, v: ((v,), {"rows": [HistoryRowView(kind="payment", object_id=v)]})),
    # files
    Form("file search", FilesState, "set_search", "owner", nasty, lambda w, v: ((v,), {})),
    Form("share hours", FilesState, "create_share_link", "owner", ids,
         lambda w, v: ((), {"share_hours": v, "details": FileDetailsView(id=w.ids["file"])})),
    Form("file ids", FilesState, "open_details", "owner", ids, lambda w, v: ((v,), {})),
    Form("delete file ids", FilesState, "ask_delete", "owner", ids, lambda w, v: ((v,), {})),
    # cards
    Form("card ids", PaymentMethodsState, "set_default", "owner", ids, lambda w, v: ((v,), {}), always_refused=True),
    Form("remove card ids", PaymentMethodsState, "confirm_remove", "owner", ids,
         lambda w, v: ((), {"confirm_remove_id": v, "confirm_remove_label": "a card"}), always_refused=True),
    # usage keys, billing details
    Form("API key name", UsageState, "create_key", "owner", form_of(name=nasty), lambda w, v: ((v,), {})),
    Form("revoke key ids", UsageState, "confirm_revoke", "owner", st.integers(min_value=-10**20, max_value=10**20),
         lambda w, v: ((), {"revoke_id": v, "revoke_name": "k"})),
    Form("billing details", DetailsState, "save", "owner", form_of(**{name: nasty for name in FORM_FIELDS}),
         lambda w, v: ((v,), {})),
    # admin forms
    Form("new price", CatalogAdminState, "create_price", "admin",
         st.fixed_dictionaries({"plan_id": ids | st.just("1"), "currency": nasty | st.sampled_from(["USD", "KRW"]),
                                "period": nasty | st.just("month-1"), "amount": bad_amounts,
                                "trial_days": nasty | st.just("0")}), lambda w, v: ((v,), {}), always_refused=True),
    Form("new plan", CatalogAdminState, "create_plan", "admin",
         form_of(slug=nasty, name=nasty, tier=nasty, description=nasty, features=nasty), lambda w, v: ((v,), {})),
    Form("archive ids", CatalogAdminState, "archive_price", "admin", ids, lambda w, v: ((v,), {})),
    Form("grant credits", CustomersAdminState, "grant_credits", "admin",
         st.fixed_dictionaries({"amount": bad_amounts, "reason": nasty}),
         lambda w, v: ((v,), {"detail_id": str(w.ids["customer"])}), always_refused=True),
    Form("manual payment", CustomersAdminState, "record_payment", "admin",
         form_of(invoice_number=nasty, received_from=nasty, reason=nasty),
         lambda w, v: ((v,), {"detail_id": str(w.ids["customer"])}), always_refused=True),
    Form("admin change plan", CustomersAdminState, "change_plan", "admin", form_of(price_id=ids),
         lambda w, v: ((v,), {"detail_id": str(w.ids["customer"])}), always_refused=True),
    Form("admin cancel", CustomersAdminState, "cancel", "admin", form_of(when=nasty, reason=nasty),
         lambda w, v: ((v,), {"detail_id": str(w.ids["customer"])})),
    Form("dashboard range", DashboardState, "apply_range", "admin", form_of(start=dates, end=dates),
         lambda w, v: ((v,), {})),
    Form("dashboard preset", DashboardState, "apply_preset", "admin", nasty, lambda w, v: ((v,), {})),
    Form("reconciliation days", ReconciliationAdminState, "run", "admin",
         form_of(**{"from": dates, "to": dates, "heal": nasty}), lambda w, v: ((v,), {})),
    Form("alert ids", AlertsState, "acknowledge", "admin", ids, lambda w, v: ((v,), {})),
    Form("customer ids", CustomersAdminState, "open_customer", "admin", ids, lambda w, v: ((v,), {})),
    Form("customer search", CustomersAdminState, "search", "admin", form_of(query=nasty), lambda w, v: ((v,), {})),
    Form("audit filters", AuditAdminState, "apply_filters", "admin",
         form_of(actor=nasty, action=nasty, subject_type=nasty, subject_id=nasty, **{"from": dates, "to": dates}),
         lambda w, v: ((v,), {})),
    Form("webhook ids", WebhooksAdminState, "replay", "admin", ids, lambda w, v: ((v,), {}), always_refused=True),
    Form("refund decision amount", RefundsAdminState, "decide", "admin",
         st.fixed_dictionaries({"amount": bad_amounts, "reason": nasty}),
         lambda w, v: ((v,), {"deciding_id": str(w.ids["refund_request"]), "decision": "approve"}),
         always_refused=True),
    Form("refund decision ids", RefundsAdminState, "decide", "admin", ids,
         lambda w, v: (({"reason": "no"},), {"deciding_id": v, "decision": "reject"})),
    Form("resend invoice ids", CustomersAdminState, "resend_invoice", "admin", form_of(invoice_id=ids),
         lambda w, v: ((v,), {"detail_id": str(w.ids["customer"])})),
    Form("clear flag", RiskAdminState, "clear_flag", "admin", st.tuples(ids, nasty),
         lambda w, v: (({"note": v[1]},), {"selected_id": v[0]})),
    Form("seller key", ApiKeysAdminState, "create_key", "admin",
         form_of(name=nasty, scope=nasty | st.sampled_from(["read", "write"])), lambda w, v: ((v,), {})),
    Form("webhook endpoint", EndpointsAdminState, "create_endpoint", "admin",
         form_of(url=nasty | st.sampled_from(["https://hooks.example.com/in", "http://127.0.0.1/x", "http://[::1]:0/",
                                              "https://user@example.com/", "javascript:alert(1)"]),
                 description=nasty, every=nasty, **{"event:invoice.paid": nasty, "event:nope": nasty}),
         lambda w, v: ((v,), {"form_open": True})),
    Form("redelivery ids", EndpointsAdminState, "redeliver", "admin", ids, lambda w, v: ((v,), {}),
         always_refused=True),
]


def _invoice_target(world: World) -> CheckoutTarget:
    return CheckoutTarget(invoice_id=world.ids["open_invoice"])


def _refund_dialog(world: World, amount: str) -> dict:
    payment = str(world.ids["payment"])
    return {"rows": [HistoryRowView(kind="payment", object_id=payment)], "refund_payment": payment,
            "refund_amount": amount, "refund_open": True}


@pytest.fixture
def world(engine, ls, local_store, monkeypatch) -> World:
    for action in ("SIGN_IN", "SIGN_UP", "CHECKOUT"):  # the fuzzer is not an attacker to slow down
        monkeypatch.setenv(f"RATE_LIMIT_{action}", "1000000/minute")
    get_settings.cache_clear()
    return build_world(engine, ls)


def _url(path: str, query: dict) -> str:
    return f"{path}?" + urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in query.items()})


def shown_messages(state) -> list[str]:
    held = stored_vars(type(state))
    found = [str(getattr(state, name)) for name in MESSAGES if name in held and getattr(state, name)]
    if "field_errors" in held:
        found += [str(text) for text in dict(state.field_errors).values()]
    return found


@SQLITE
@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.name)
def test_bad_input_to_a_form_gets_a_clear_message_and_changes_nothing(engine, world, form):
    ignored = frozenset(f"{table}.{column.name}" for table in form.may_write
                        for column in _table(table).columns)

    @FUZZ
    @given(drawn=form.inputs)
    def check(drawn):
        args, browser = form.call(world, drawn)
        url = browser.pop("url", "")
        state = state_of(form.state, world.tokens[form.actor], url)
        for name, value in browser.items():
            setattr(state, name, value)
        before = snapshot(engine, world.storage_dir, ignore_columns=ignored)
        run_handler(state, form.handler, *args)  # raises if anything escapes
        messages = shown_messages(state)
        assert not any(FALLBACK in m or "Traceback" in m for m in messages), (form.name, drawn, messages)
        assert all(len(m) < 1000 for m in messages), (form.name, messages)
        if form.always_refused:
            assert messages, (form.name, drawn, "was accepted")
        if messages:
            assert snapshot(engine, world.storage_dir, ignore_columns=ignored) == before, (form.name, drawn, messages)

    check()


def _table(name: str):
    return SQLModel.metadata.tables[name]


def test_every_form_handler_is_fuzzed():
    """Every handler taking a form is in FORMS: a new form is fuzzed or this fails."""
    fuzzed = {(form.state, form.handler) for form in FORMS}
    forms = {(cls, name) for cls in all_states() for name, handler in cls.event_handlers.items()
             if name in vars(cls) and "form" in inspect.signature(handler.fn).parameters}
    assert forms <= fuzzed, sorted(f"{cls.__name__}.{name}" for cls, name in forms - fuzzed)
