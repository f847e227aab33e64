"""Authorization matrix: every object type × every action, as the owner, another customer and an
anonymous visitor, through the real state handlers and the real HTTP routes.

Each row of MATRIX names an object, an action and the server-side handler a browser reaches it
through, and how a (possibly tampered) browser hands that handler the object's id. For each row:

- the owner (Ana) is allowed: proves the test reaches the check;
- another customer (Bob) and an anonymous visitor are denied, nothing changes (every row of every
  table, every stored object), and each gets exactly the answer they get for an id that does not
  exist, so they cannot tell whether it exists.

Rows without an id (`scoped`) act on the signed-in customer's own object, looked up by the server:
there Bob and the visitor must change nothing of Ana's and see nothing of hers.
A new handler that takes an id shows up in `test_every_state_handler_is_in_the_matrix_or_exempt`.
Admin pages and handlers are covered by introspection at the end; the HTTP routes in
test_authorization_http.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from billing_portal.billing_portal import app  # every page's state, as the app registers them
from billing_portal.billing.payment_methods import NO_SUCH_CARD
from billing_portal.state.admin import DENIED, AdminState
from billing_portal.state.auth import AuthState, SignInState, SignUpState
from billing_portal.state.billing import (
    CreditsState,
    HistoryRowView,
    HistoryState,
    OverviewState,
    PlanOptionView,
    PlanState,
)
from billing_portal.state.checkout import CheckoutState, CheckoutSuccessState, CheckoutTarget, SIGNED_OUT
from billing_portal.state.billing_details import DetailsState
from billing_portal.state.files import FileDetailsView, FilesState
from billing_portal.state.payment_methods import PaymentMethodsState
from billing_portal.state.pricing import PricingState
from billing_portal.state.usage import UsageState
from tests.security.authz_world import (
    ANA_SECRETS,
    MISSING_ID,
    MISSING_NUMBER,
    World,
    all_states,
    answer,
    event_summary,
    run_handler,
    snapshot,
    stored_vars,
)
from tests.state.test_admin_state import admin_states, dummy_arguments
from tests.support.browser_state import state_of

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the checks are not SQL-specific

ACTORS = ("other", "anonymous")


@dataclasses.dataclass(frozen=True)
class Row:
    object: str
    action: str
    state: type
    handler: str
    # Ana's object this row acts on (a key of World.ids, or "invoice_number"); None: scoped.
    target: str | None
    # The arguments the browser sends, from (world, actor, id).
    args: Callable = lambda world, actor, object_id: ()
    # State vars a tampered browser sets (its own vars are not a trust boundary), from the same.
    tamper: Callable = lambda world, actor, object_id: {}
    # The page's URL (for on_load handlers reading the query), from the id.
    url: Callable | None = None
    # What the owner's answer must show: the action was allowed and done.
    allowed: Callable = lambda a: not a["vars"].get("error")

    @property
    def name(self) -> str:
        return f"{self.object}:{self.action}"


def notice_starts(prefix: str) -> Callable:
    return lambda a: str(a["vars"].get("notice", "")).startswith(prefix) and not a["vars"].get("error")


def shown(field: str, value=True) -> Callable:
    return lambda a: a["vars"].get(field) == value


def own_card(world: World, actor: str) -> str:
    """The card the actor would pick at checkout: their own (the visitor has none)."""
    return str(world.ids["default_card" if actor == "owner" else "bob_card"])


def own_invoice(world: World, actor: str) -> int:
    return world.ids["open_invoice" if actor == "owner" else "bob_invoice"]


def paying(target: CheckoutTarget, card: str) -> dict:
    """The checkout page loaded for `target` with a saved card picked (the server keeps _target)."""
    return {"_target": target, "loaded": True, "selected_card": card}


# Every object type and action a customer reaches through a state handler.
MATRIX: list[Row] = [
    # invoice
    Row("invoice", "view (pay page)", CheckoutState, "on_load", "open_invoice",
        url=lambda i: f"/checkout?invoice={i}", allowed=lambda a: a["vars"]["loaded"] and not a["vars"]["denied"]),
    Row("invoice", "pay with a saved card", CheckoutState, "pay", "open_invoice",
        tamper=lambda w, actor, i: paying(CheckoutTarget(invoice_id=i), own_card(w, actor)),
        allowed=lambda a: a["vars"]["step"] == "Done" and not a["vars"]["pay_error"]),
    Row("invoice", "view receipt", CheckoutSuccessState, "on_load", "invoice_number",
        url=lambda n: f"/checkout/success?invoice={n}",
        allowed=lambda a: a["vars"]["loaded"] and a["vars"]["paid"] and not a["vars"]["denied"]),
    Row("invoice", "list and filter (history)", HistoryState, "on_load", None,
        allowed=lambda a: len(a["vars"]["rows"]) >= 3),
    Row("invoice", "export history CSV", HistoryState, "export_csv", None,
        allowed=lambda a: any(name.endswith("_download") and values[0].count("\n") >= 4 for name, values in a["events"])),
    # payment
    Row("payment", "open refund request", HistoryState, "open_refund", "payment",
        args=lambda w, actor, i: (str(i),),
        tamper=lambda w, actor, i: {"rows": [HistoryRowView(kind="payment", object_id=str(i))]},
        allowed=shown("refund_open")),
    Row("payment", "request refund", HistoryState, "submit_refund", "payment",
        args=lambda w, actor, i: ({"reason": "it was down all day"},),
        tamper=lambda w, actor, i: {"rows": [HistoryRowView(kind="payment", object_id=str(i))],
                                    "refund_payment": str(i), "refund_amount": "1.00", "refund_open": True},
        allowed=notice_starts("Refund of $1.00 requested")),
    # file
    Row("file", "view details", FilesState, "open_details", "file", args=lambda w, actor, i: (i,),
        allowed=shown("details_open")),
    Row("file", "download", FilesState, "download", "file", args=lambda w, actor, i: (i,),
        allowed=lambda a: any("/api/files/download?token=" in v for _, values in a["events"] for v in values)),
    Row("file", "share", FilesState, "create_share_link", "file",
        tamper=lambda w, actor, i: {"details": FileDetailsView(id=i), "share_hours": "24"},
        allowed=lambda a: "/api/files/download?token=" in a["vars"]["share_url"]),
    Row("file", "ask to delete", FilesState, "ask_delete", "file", args=lambda w, actor, i: (i,),
        allowed=shown("delete_open")),
    Row("file", "delete", FilesState, "confirm_delete", "file",
        tamper=lambda w, actor, i: {"delete_id": i, "delete_name": "a file", "delete_open": True},
        allowed=notice_starts("Deleted")),
    Row("file", "list and search", FilesState, "on_load", None, allowed=lambda a: len(a["vars"]["rows"]) == 1),
    # subscription (the server looks up the customer's own live subscription: no id from the browser)
    Row("subscription", "change plan", PlanState, "confirm_change", None,
        tamper=lambda w, actor, i: {"selected": str(w.ids["pro_price"]), "quantity": "1",
                                    "options": [PlanOptionView(price_id=str(w.ids["pro_price"]), name="Pro")]},
        allowed=notice_starts("Your plan is now Pro")),
    Row("subscription", "cancel", PlanState, "cancel", None, args=lambda w, actor, i: ({"reason": "too dear"},),
        tamper=lambda w, actor, i: {"cancel_when": "period_end", "can_schedule_cancel": True},
        allowed=notice_starts("Your plan ends")),
    Row("subscription", "pause", PlanState, "pause", None, args=lambda w, actor, i: ({"resume_on": ""},),
        allowed=notice_starts("Your subscription is paused")),
    # Ana's plan runs: "nothing to resume/unpause" proves the server reached her subscription.
    Row("subscription", "resume (plan page)", PlanState, "resume", None,
        allowed=lambda a: a["vars"]["error"] and "no subscription" not in a["vars"]["error"]),
    Row("subscription", "resume (overview)", OverviewState, "resume", None,
        allowed=lambda a: a["vars"]["error"] and "no subscription" not in a["vars"]["error"]),
    Row("subscription", "unpause", PlanState, "unpause", None,
        allowed=lambda a: a["vars"]["error"] and "no subscription" not in a["vars"]["error"]),
    Row("subscription", "view plan", PlanState, "on_load", None, allowed=shown("has_subscription")),
    Row("subscription", "view overview", OverviewState, "on_load", None, allowed=shown("has_subscription")),
    # payment method
    Row("payment method", "set default", PaymentMethodsState, "set_default", "other_card",
        args=lambda w, actor, i: (str(i),), allowed=lambda a: "•••• 4444 is now your default" in a["vars"]["notice"]),
    Row("payment method", "remove", PaymentMethodsState, "confirm_remove", "other_card",
        tamper=lambda w, actor, i: {"confirm_remove_id": str(i), "confirm_remove_label": "a card"},
        allowed=notice_starts("a card is removed")),
    Row("payment method", "pay own invoice with it", CheckoutState, "pay", "default_card",
        tamper=lambda w, actor, i: paying(CheckoutTarget(invoice_id=own_invoice(w, actor)), str(i)),
        allowed=lambda a: a["vars"]["step"] == "Done" and not a["vars"]["pay_error"]),
    Row("payment method", "list", PaymentMethodsState, "on_load", None, allowed=lambda a: len(a["vars"]["cards"]) == 2),
    # usage and its API keys
    Row("usage", "revoke API key", UsageState, "confirm_revoke", "api_key",
        tamper=lambda w, actor, i: {"revoke_id": i, "revoke_name": "a key"},
        allowed=notice_starts("The key “a key” is revoked")),
    Row("usage", "view usage and keys", UsageState, "on_load", None, allowed=lambda a: len(a["vars"]["keys"]) == 1),
    # credit ledger
    # billing details
    Row("billing details", "view", DetailsState, "on_load", None, allowed=lambda a: a["vars"]["values"].get("name") == "Ana Lima"),
    Row("credit ledger", "view balance and ledger", CreditsState, "on_load", None,
        allowed=lambda a: len(a["vars"]["rows"]) == 1),
]

# Handlers that touch no customer's object (they only change this browser's own view or form),
# or reach one only through a row above (named). Anything else must get a row.
EXEMPT: dict[str, str] = {
    "setvar": "Reflex's own: this browser's vars only",
    "load_session": "who is signed in, nothing else",
    "submit": "sign-in / sign-up forms: no object",
    "card_mounted": "the card form's mount result",
    "select_card": "picks among the page's own saved_cards; the server checks the card at pay",
    "set_billing_country": "re-prices the page's own summary for the signed-in customer; kept only at pay",
    "card_set_up": "uses the SetupIntent this server created (_setup_intent_id, server-only)",
    "card_authenticated": "uses the PaymentIntent this server created (_payment_intent_id, server-only)",
    "pay_hosted": "buys for the signed-in customer; the amount comes from the catalog",
    "finish_hosted": "another's and an unknown session answer alike (tests/billing/test_checkout_hosted.py)",
    "save": "saves a card or billing details for the signed-in customer only",
    "open_form": "opens the add-card form", "close_form": "closes it",
    "ask_remove": "picks among the page's own cards; confirm_remove is the row",
    "cancel_remove": "closes the dialog",
    "set_interval": "view choice", "set_currency": "view choice", "select_option": "preview: confirm_change row",
    "set_quantity": "preview: confirm_change row", "cancel_preview": "view", "set_cancel_when": "form choice",
    "next_page": "own list", "previous_page": "own list",
    "set_status_filter": "own list", "set_kind_filter": "own list", "set_date_from": "own list",
    "set_date_to": "own list", "clear_filters": "own list", "set_category": "own list", "set_sort": "own list",
    "set_search": "own list", "set_refund_open": "dialog", "set_refund_amount": "form",
    "set_progress": "upload progress", "refuse_in_browser": "browser-side refusals",
    "upload": "stores into the signed-in customer's own files (tests/state/test_files_state.py)",
    "set_details_open": "dialog", "set_share_hours": "form", "set_delete_open": "dialog",
    "create_key": "creates a key for the signed-in customer", "dismiss_token": "view",
    "ask_revoke": "picks among the page's own keys; confirm_revoke is the row", "cancel_revoke": "dialog",
}
CUSTOMER_STATES = (CheckoutState, CheckoutSuccessState, HistoryState, CreditsState, OverviewState, PlanState,
                   FilesState, PaymentMethodsState, UsageState, DetailsState)


def target_of(world: World, row: Row):
    if row.target is None:
        return None
    return world.invoice_number if row.target == "invoice_number" else world.ids[row.target]


def missing_of(row: Row):
    return MISSING_NUMBER if row.target == "invoice_number" else MISSING_ID


def act(world: World, row: Row, actor: str, object_id) -> dict:
    url = row.url(object_id) if row.url else ""
    state = state_of(row.state, world.tokens[actor], url)
    tampered = row.tamper(world, actor, object_id)
    for name, value in tampered.items():
        setattr(state, name, value)
    events = run_handler(state, row.handler, *row.args(world, actor, object_id))
    return answer(state, events, hide=set(tampered), object_id=object_id)


@SQLITE
@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.name)
def test_only_the_owner_reaches_the_object(engine, world, row):
    target, missing = target_of(world, row), missing_of(row)
    before = snapshot(engine, world.storage_dir)
    for actor in ACTORS:
        seen = act(world, row, actor, target)
        assert snapshot(engine, world.storage_dir) == before, (row.name, actor, "changed something")
        assert not any(secret in repr(seen) for secret in (*ANA_SECRETS, world.invoice_number)), (row.name, actor, seen)
        assert not row.allowed(seen), (row.name, actor, "was allowed", seen)
        if target is not None:
            assert seen == act(world, row, actor, missing), (row.name, actor, "answers unlike a missing id")
            assert snapshot(engine, world.storage_dir) == before
    owner = act(world, row, "owner", target)
    assert row.allowed(owner), (row.name, "the owner was refused", owner)


@SQLITE
def test_denials_say_the_same_as_for_a_missing_object(engine, world):
    """Spot check of the words themselves (the matrix compares whole answers)."""
    row = next(r for r in MATRIX if r.name == "payment method:set default")
    assert act(world, row, "other", world.ids["other_card"])["vars"]["error"] == NO_SUCH_CARD
    row = next(r for r in MATRIX if r.name == "invoice:pay with a saved card")
    assert act(world, row, "anonymous", world.ids["open_invoice"])["vars"]["pay_error"] == SIGNED_OUT
    row = next(r for r in MATRIX if r.name == "invoice:view (pay page)")
    assert act(world, row, "other", world.ids["open_invoice"])["vars"]["denied"] is True


def test_every_state_handler_is_in_the_matrix_or_exempt():
    """A new handler on a customer page must be added to MATRIX (or to EXEMPT, with the reason)."""
    covered = {(row.state, row.handler) for row in MATRIX}
    missing = [f"{cls.__name__}.{name}" for cls in CUSTOMER_STATES for name in cls.event_handlers
               if (cls, name) not in covered and name not in EXEMPT]
    assert not missing, f"handlers with no authorization row: {missing}"
    pages = {cls for cls in page_states().values() if not issubclass(cls, AdminState)} - {AuthState}
    assert pages <= {*CUSTOMER_STATES, SignInState, SignUpState, PricingState}, pages - set(CUSTOMER_STATES)


# ---- admin pages and handlers: customers and visitors are denied, whatever the page


def page_states() -> dict[str, type]:
    """Route → the state class of the page's on_load (introspected: new pages are covered)."""
    by_name = {cls.__name__: cls for cls in all_states()}
    handlers = {route: getattr(page.on_load, "fn", None) for route, page in app._unevaluated_pages.items()}
    return {route: by_name[fn.__qualname__.split(".")[0]] for route, fn in handlers.items() if fn is not None}


def admin_routes() -> dict[str, type]:
    return {route: cls for route, cls in page_states().items() if route == "admin" or route.startswith("admin/")}


@SQLITE
def test_every_admin_page_is_guarded_by_the_admin_role(engine, world):
    routes = admin_routes()
    assert len(routes) >= 8, routes
    before = snapshot(engine, world.storage_dir)
    for route, cls in routes.items():
        assert issubclass(cls, AdminState), (route, "its page state does not check the admin role")
        customer = state_of(cls, world.tokens["other"], f"/{route}")
        events = run_handler(customer, "on_load")
        assert customer.admin_access == DENIED and customer.admin_denied, route
        assert not any(name.endswith("_redirect") for name, _ in map(_summary, events)), route
        visitor = state_of(cls, "", f"/{route}")
        events = run_handler(visitor, "on_load")
        assert visitor.admin_access == "", route
        assert [_summary(e)[1][0] for e in events] == [f"/login?next=/{route}"], (route, events)
        for state in (customer, visitor):
            for field in ("rows", "prices", "plans", "alerts", "payload", "notice"):
                if field in stored_vars(cls):
                    assert not getattr(state, field), (route, field)
        admin = state_of(cls, world.tokens["admin"], f"/{route}")
        run_handler(admin, "on_load")
        assert admin.admin_access == "ok", route
    assert snapshot(engine, world.storage_dir) == before


def _summary(event) -> tuple:
    name, values = event_summary(event)
    return name.rsplit(".", 1)[-1], values


@SQLITE
@pytest.mark.parametrize("actor", ["other", "anonymous"])
def test_every_admin_handler_refuses_customers_and_visitors_and_changes_nothing(engine, world, actor):
    """Every handler of every admin state (found by introspection), with ids pointing at real rows."""
    before = snapshot(engine, world.storage_dir)
    called = 0
    for cls in admin_states():
        for name in cls.event_handlers:
            if name == "setvar":
                continue
            state = state_of(cls, world.tokens[actor])
            for field, value in (("deciding_id", world.ids["refund_request"]), ("decision", "approve"),
                                 ("detail_id", world.ids["customer"]), ("revoking_id", world.ids["seller_key"]),
                                 ("deleting_id", world.ids["webhook_endpoint"]),
                                 ("log_id", world.ids["webhook_endpoint"])):
                if field in stored_vars(cls):
                    setattr(state, field, str(value))
            fn = cls.event_handlers[name].fn
            run_handler(state, name, *dummy_arguments(fn))
            called += 1
            assert state.admin_access == ("denied" if actor == "other" else ""), (cls.__name__, name)
            for field in ("rows", "notice", "payload", "d_email", "d_payments", "log_rows", "log_url", "new_token",
                          "new_secret"):
                if field in stored_vars(cls):
                    assert not getattr(state, field), (cls.__name__, name, field)
    assert called >= 30
    assert snapshot(engine, world.storage_dir) == before
