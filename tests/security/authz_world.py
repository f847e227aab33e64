"""A small world for the authorization tests: Ana owns one of everything, Bob is another customer
with his own card and open invoice, and there is an admin. Built through the services (localstripe
for the cards), plus helpers to drive state handlers as a browser would and to snapshot every row
and stored object, so "nothing changed" means nothing at all.
"""

from __future__ import annotations

import base64
import dataclasses
import inspect
import re
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy import text
from sqlmodel import Session, SQLModel

from billing_portal.billing import (
    accounts,
    api_keys,
    catalog,
    credits,
    files,
    invoices,
    payment_methods,
    payments,
    refund_requests,
    subscriptions,
    usage,
)
from billing_portal.billing.invoices import DraftLine
from billing_portal.billing.outgoing_webhooks import endpoints
from billing_portal.billing.seller_keys import service as seller_keys
from billing_portal.models import Invoice, Role, WebhookEndpoint
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings
from billing_portal.state.auth import AuthState
from tests.billing.test_checkout import VISA, save_card, user_of
from tests.billing.test_files import pdf_sample
from tests.billing.test_payment_methods import MASTERCARD
from tests.support.builders import make_customer, make_plan
from tests.support.event_loops import run_to_completion

PASSWORD = "correct horse battery"
MISSING_ID = 987_654_321  # no object has it
MISSING_NUMBER = "INV-2099-999999"
# Strings only Ana's objects carry: a page shown to anyone else must not contain them.
ANA_SECRETS = ("ana-contract.pdf", "ana-key", "Ana welcome credits", "ana@example.com", "Ana Lima")


@dataclasses.dataclass
class World:
    tokens: dict[str, str]  # "owner" (Ana), "other" (Bob), "admin"; "anonymous" is ""
    ids: dict[str, int]  # Ana's objects, and Bob's own card and open invoice
    invoice_number: str
    storage_dir: Path


def _signed_in(session: Session, email: str, role: Role = Role.CUSTOMER):
    if role == Role.CUSTOMER:
        customer = make_customer(session, email)
    else:
        customer = None
        accounts.create_user(session, email=email, password=PASSWORD, name="Root", role=role)
    return customer, accounts.start_session(session, accounts.sign_in(session, email=email, password=PASSWORD))


def build_world(engine, ls) -> World:
    """Everything Ana can act on, one of each (two cards: one to make default, one to remove)."""
    with Session(engine, expire_on_commit=False) as session:
        basic, prices = make_plan(session, "basic", tier=1, prices={("USD", "month", 1): 1000})
        _pro, pro_prices = make_plan(session, "pro", tier=2, prices={("USD", "month", 1): 3000})
        catalog.create_metered_price(session, plan_id=basic.id, metric="api_calls", label="API calls",
                                     currency="USD", package_size=1000, package_amount=250, included_units=0)
        ana, ana_token = _signed_in(session, "ana@example.com")
        bob, bob_token = _signed_in(session, "bob@example.com")
        bob.name = "Bob Stone"  # the builder names everyone Ana Lima
        session.add(bob)
        _, admin_token = _signed_in(session, "root@example.com", Role.ADMIN)
        ana_user, bob_user = user_of(ana), user_of(bob)

        subscribed = subscriptions.subscribe(session, customer_id=ana.id, price_id=prices[("USD", "month", 1)].id)
        payment = payments.record_payment(session, invoice_id=subscribed.invoice.id, idempotency_key="ana-first",
                                          succeeded=True)
        refund = payments.record_refund(session, payment_id=payment.id, amount=200, reason="outage")
        request = refund_requests.request_refund(session, customer_id=ana.id, payment_id=payment.id, amount=100,
                                                 reason="one day down")
        open_invoice = _open_invoice(session, ana.id, "Extra seats")
        bob_invoice = _open_invoice(session, bob.id, "Bob's seats")
        credits.grant(session, customer_id=ana.id, amount=500, reason="Ana welcome credits", idempotency_key="w")
        file = files.upload(session, customer_id=ana.id, filename="ana-contract.pdf", stream=[pdf_sample("Ana")])
        key = api_keys.create(session, user=ana_user, name="ana-key")
        # The seller's own objects, only an admin's: a server key and a webhook endpoint.
        seller_key = seller_keys.create(session, actor="cli", name="seller-app", scope="write")
        endpoint = WebhookEndpoint(url="https://hooks.example.com/in", secret=endpoints.new_secret())
        session.add(endpoint)
        record = usage.record_usage(session, ana.id, "api_calls", 5, "ana-usage-1").record
        first = payment_methods.save_card(session, user=ana_user, setup_intent_id=save_card(session, ls, ana_user, VISA),
                                          now=utcnow())
        second = payment_methods.save_card(session, user=ana_user,
                                           setup_intent_id=save_card(session, ls, ana_user, MASTERCARD), now=utcnow())
        bob_card = payment_methods.save_card(session, user=bob_user,
                                             setup_intent_id=save_card(session, ls, bob_user, VISA), now=utcnow())
        session.commit()
        ids = {
            "customer": ana.id, "subscription": subscribed.subscription.id, "paid_invoice": subscribed.invoice.id,
            "open_invoice": open_invoice.id, "payment": payment.id, "refund": refund.id,
            "refund_request": request.id, "file": file.id, "api_key": key.key.id, "usage_record": record.id,
            "default_card": first.id, "other_card": second.id, "pro_price": pro_prices[("USD", "month", 1)].id,
            "seller_key": seller_key.key.id, "webhook_endpoint": endpoint.id,
            "bob": bob.id, "bob_card": bob_card.id, "bob_invoice": bob_invoice.id,
        }
        return World(
            tokens={"owner": ana_token, "other": bob_token, "admin": admin_token, "anonymous": ""},
            ids=ids, invoice_number=subscribed.invoice.number, storage_dir=Path(get_settings().storage_dir),
        )


def _open_invoice(session: Session, customer_id: int, what: str) -> Invoice:
    draft = invoices.create_draft(session, customer_id=customer_id, currency="USD", lines=[DraftLine(what, 500)])
    return invoices.finalize(session, draft.id)


# ---- "nothing changed"


def snapshot(engine, storage_dir: Path, *, ignore_columns: frozenset[str] = frozenset()) -> dict:
    """Every row of every table, and every stored object with its size (the signing key and
    unfinished writes, in dot-folders, are not objects). `ignore_columns` ("table.column") leaves
    out derived caches a test allows to fill."""
    rows = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            names = [c.name for c in table.columns if f"{table.name}.{c.name}" not in ignore_columns]
            if not names:
                continue
            query = text(f'SELECT {", ".join(chr(34) + n + chr(34) for n in names)} FROM "{table.name}"')
            rows[table.name] = sorted(tuple(map(repr, row)) for row in connection.execute(query))
    objects = sorted(
        (str(path.relative_to(storage_dir)), path.stat().st_size)
        for path in storage_dir.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(storage_dir).parts)
    ) if storage_dir.exists() else []
    return {"rows": rows, "objects": objects}


# ---- driving state handlers as the server does


def run_handler(state, name: str, *args) -> list:
    """Call the event handler `name` like Reflex does (sync, generator, background coroutine or
    async generator) and give back the events it returned or yielded."""
    fn = type(state).event_handlers[name].fn
    result = fn(state, *args)
    if inspect.isasyncgen(result):
        async def drain():
            return [event async for event in result]

        events = run_to_completion(drain())
    elif inspect.iscoroutine(result):
        events = [run_to_completion(result)]
    elif inspect.isgenerator(result):
        events = list(result)
    else:
        events = [result]
    flat = []
    for event in events:
        flat.extend(event if isinstance(event, list) else [event])
    return [event for event in flat if event is not None]


def all_states() -> list[type]:
    """Every page state class (all subclasses of AuthState, so a new page is found too)."""
    todo, found = [AuthState], []
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def stored_vars(cls) -> list[str]:
    """The vars a page state holds for the browser, its parents' included (not computed ones)."""
    return [name for name in cls.vars if name not in cls.computed_vars
            and not name.startswith(("_", "rx_")) and name not in ("router", "is_hydrated")]


_HIDDEN = {"user_email", "user_name", "user_is_admin", "back_url", "back_label"}


def event_summary(event) -> tuple:
    """An event as the browser receives it: which action, with which values."""
    handler = getattr(event, "handler", None)
    name = getattr(getattr(handler, "fn", None), "__qualname__", type(event).__name__)
    values = tuple(_readable(str(getattr(value, "_var_value", value))) for _key, value in getattr(event, "args", ()))
    return name, values


def _readable(value: str) -> str:
    """A download's data URL decoded, a URL's escapes undone: what a person would read in it."""
    if value.startswith("data:") and ";base64," in value:
        return base64.b64decode(value.split(";base64,", 1)[1]).decode("utf-8", "replace")
    return unquote(value)


def answer(state, events: list, *, hide: set[str] = frozenset(), object_id: object = None) -> dict:
    """What the browser is shown after a handler: the state's vars (less the ones a test tampered
    with, and who is signed in) and the events, with the id the browser itself sent replaced by
    <ID> (echoing the visitor's own input tells nothing)."""
    shown = {name: getattr(state, name) for name in stored_vars(type(state)) if name not in _HIDDEN | set(hide)}
    summaries = [event_summary(event) for event in events]
    if object_id is not None:
        pattern = re.compile(rf"(?<=[=/]){re.escape(str(object_id))}(?![\w-])")
        summaries = [(name, tuple(pattern.sub("<ID>", v) for v in values)) for name, values in summaries]
    return {"vars": shown, "events": summaries}
