"""The admin role check, on the server: admins pass, customers are denied, strangers sign in."""

import inspect

import pytest
from sqlmodel import Session, func, select

from billing_portal.billing import accounts, invoices, payments, refund_requests
from billing_portal.billing.invoices import DraftLine
from billing_portal.db import session_scope
from billing_portal.models import AuditEntry, Customer, OutboxEmail, Refund, RefundRequest, Role
from billing_portal.state.admin import DENIED, OK, AdminState
from tests.support.browser_state import state_of


def sign_in_as(engine, role: Role, email: str) -> str:
    with Session(engine, expire_on_commit=False) as session:
        accounts.create_user(session, email=email, password="correct horse battery", name="Someone", role=role)
        token = accounts.start_session(session, accounts.sign_in(session, email=email, password="correct horse battery"))
        session.commit()
    return token


@pytest.fixture
def tokens(engine):
    return {
        "admin": sign_in_as(engine, Role.ADMIN, "root@example.com"),
        "customer": sign_in_as(engine, Role.CUSTOMER, "ana@example.com"),
    }


def test_an_admin_passes_and_the_nav_shows_the_admin_link(engine, tokens):
    state = state_of(AdminState, tokens["admin"])
    with session_scope() as session:
        admin = state._admin(session)
    assert admin is not None and admin.is_admin
    assert state.admin_access == OK and state.user_is_admin


def test_a_customer_is_denied_and_sees_no_admin_link(engine, tokens):
    state = state_of(AdminState, tokens["customer"])
    with session_scope() as session:
        assert state._admin(session) is None
    assert state.admin_access == DENIED and state.admin_denied and not state.user_is_admin
    assert state._turn_away("/admin/refunds") is None  # the page shows the denial, no redirect


def test_a_signed_out_visitor_is_sent_to_sign_in(engine):
    state = state_of(AdminState, "not-a-token")
    with session_scope() as session:
        assert state._admin(session) is None
    assert state.admin_access == ""
    assert "/login?next=/admin/refunds" in str(state._turn_away("/admin/refunds"))


# ---- every admin handler, called by a signed-in customer, does nothing


def admin_states() -> list[type[AdminState]]:
    """Every page state of the admin console (all subclasses, so a new page is covered too)."""
    import billing_portal.billing_portal  # noqa: F401  (imports every page's state)

    found, todo = [], list(AdminState.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def dummy_arguments(fn) -> list:
    """Plausible browser input for each parameter: ids "1", a filled-in form, an on/off value."""
    values = []
    for name, param in list(inspect.signature(fn).parameters.items())[1:]:
        if param.default is not inspect.Parameter.empty:
            continue
        text = str(param.annotation)
        values.append({"amount": "1", "reason": "because", "note": "n", "email": "x@example.com"}
                      if "dict" in text else True if "bool" in text else "1")
    return values


def run_handler(state, name: str) -> None:
    fn = type(state).event_handlers[name].fn
    result = fn(state, *dummy_arguments(fn))
    if inspect.isgenerator(result):
        for _ in result:
            pass


@pytest.fixture
def waiting_request(engine, tokens):
    """A customer's paid payment with a refund request waiting: something a handler could change."""
    with session_scope() as session:
        customer = session.exec(select(Customer)).all()[-1]
        draft = invoices.create_draft(session, customer_id=customer.id, currency="USD", lines=[DraftLine("Pro", 1500)])
        invoice = invoices.finalize(session, draft.id)
        payment = payments.record_payment(session, invoice_id=invoice.id, idempotency_key="p1", succeeded=True)
        request = refund_requests.request_refund(session, customer_id=customer.id, payment_id=payment.id,
                                                 amount=500, reason="please")
        return request.id


def snapshot(engine) -> tuple:
    with session_scope() as session:
        return (
            session.exec(select(func.count()).select_from(AuditEntry)).one(),
            [(r.status, r.refund_id) for r in session.exec(select(RefundRequest)).all()],
            session.exec(select(func.count()).select_from(Refund)).one(),
            session.exec(select(func.count()).select_from(OutboxEmail)).one(),
        )


def test_a_customer_is_denied_in_every_admin_handler(engine, tokens, waiting_request):
    states = admin_states()
    assert states, "no admin pages registered"
    before = snapshot(engine)
    called = 0
    for cls in states:
        for name in cls.event_handlers:
            if name == "setvar":  # Reflex's own: sets only this browser's vars
                continue
            state = state_of(cls, tokens["customer"])
            defaults = {field: getattr(state, field) for field in cls.base_vars if field != "admin_access"}
            # Point the state at real data, as a tampered browser could.
            for field in ("deciding_id", "selected_id", "detail_id"):
                if field in cls.base_vars:
                    setattr(state, field, str(waiting_request))
                    defaults[field] = str(waiting_request)
            run_handler(state, name)
            called += 1
            assert state.admin_access == DENIED, (cls.__name__, name)
            fields = cls.get_fields()
            # Nothing may move except back to its default (a reset) or a filter/page choice.
            changed = {f for f, v in defaults.items() if getattr(state, f) != v
                       and getattr(state, f) != fields[f].default and f not in ("user_email", "user_name")}
            assert changed <= {"page", "status_filter"}, (cls.__name__, name, changed)
            for field in ("rows", "error", "dialog_error", "notice"):
                if field in cls.base_vars:
                    assert not getattr(state, field), (cls.__name__, name, field, getattr(state, field))
    assert called >= 6
    assert snapshot(engine) == before
