"""Subscription use cases end to end on a real database: subscribe, renew, cancel, resume, pause,
change plan (with proration worked out by hand), trials and failed payments.

Dates: T0 is Sat 31 Jan 2026 12:00 UTC. A monthly subscription anchored there runs
31 Jan 12:00 -> 28 Feb 12:00 (28 days = 2,419,200 s), then 28 Feb -> 31 Mar, 31 Mar -> 30 Apr.
Halfway through the first period is 14 Feb 12:00 (14 of 28 days).
"""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher
from sqlmodel import func, select

from billing_portal.billing import accounts, payments, repository, subscriptions
from billing_portal.billing.errors import DomainError, InvalidTransition
from billing_portal.models import (
    Invoice,
    InvoiceLine,
    InvoiceNumberSequence,
    InvoiceStatus,
    Payment,
    Subscription,
    SubscriptionStatus,
)
from billing_portal.settings import get_settings
from tests.support.builders import T0, make_customer, make_plan

S = SubscriptionStatus


def at(month: int, day: int, hour: int = 12, year: int = 2026, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


FEB28, MAR31, APR30, MAY31 = at(2, 28), at(3, 31), at(4, 30), at(5, 31)
HALF = at(2, 14)  # 31 Jan 12:00 + 14 days: exactly half of the 28-day first period
USD_M, USD_Y, KRW_M = ("USD", "month", 1), ("USD", "year", 1), ("KRW", "month", 1)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    """Customers come with a user; Argon2 at full cost would be most of this file's runtime."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def prices(session):
    _, free = make_plan(session, "free", tier=0, prices={USD_M: 0})
    _, basic = make_plan(session, "basic", tier=1, prices={USD_M: 1000, USD_Y: 10000, KRW_M: 9999})
    _, pro = make_plan(session, "pro", tier=2, prices={USD_M: 3000, USD_Y: 36000, KRW_M: 29999})
    _, team = make_plan(session, "team", tier=3, prices={USD_M: 5000}, trial_days=14)
    return SimpleNamespace(
        free=free[USD_M], basic=basic[USD_M], basic_year=basic[USD_Y], basic_krw=basic[KRW_M],
        pro=pro[USD_M], pro_year=pro[USD_Y], pro_krw=pro[KRW_M], team=team[USD_M],
    )


@pytest.fixture
def customer(session):
    return make_customer(session)


def pay(session, invoice, *, key=None, succeeded=True, now=None):
    return payments.record_payment(
        session, invoice_id=invoice.id, idempotency_key=key or f"invoice:{invoice.id}", succeeded=succeeded,
        now=now or invoice.finalized_at,
    )


def active(session, customer, price, *, quantity=1, now=T0) -> Subscription:
    """A subscription whose first invoice is paid."""
    subscribed = subscriptions.subscribe(
        session, customer_id=customer.id, price_id=price.id, quantity=quantity, now=now
    )
    pay(session, subscribed.invoice)
    assert subscribed.subscription.status == S.ACTIVE
    return subscribed.subscription


def reload(session, model, object_id) -> dict:
    """The row as stored: pending changes are flushed first, so a stray in-memory edit shows too."""
    session.flush()
    session.expire_all()
    return session.get(model, object_id).model_dump()


def all_invoices(session) -> list[Invoice]:
    return list(session.exec(select(Invoice).order_by(Invoice.id)))


def lines_of(session, invoice) -> list[tuple]:
    return [
        (line.description, line.quantity, line.amount, line.period_start, line.period_end, line.proration)
        for line in repository.invoice_lines(session, invoice.id)
    ]


def db_state(session) -> dict:
    session.flush()
    session.expire_all()
    return {
        "subscriptions": [s.model_dump() for s in session.exec(select(Subscription).order_by(Subscription.id))],
        "invoices": [i.model_dump() for i in all_invoices(session)],
        "lines": [line.model_dump() for line in session.exec(select(InvoiceLine).order_by(InvoiceLine.id))],
        "numbers": [n.model_dump() for n in session.exec(select(InvoiceNumberSequence))],
        "payments": session.exec(select(func.count()).select_from(Payment)).one(),
    }


# --- subscribe -------------------------------------------------------------------------------


def test_a_paid_subscription_is_incomplete_until_its_first_invoice_is_paid(session, prices, customer):
    subscribed = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.basic.id, now=T0)
    sub, invoice = subscribed.subscription, subscribed.invoice
    assert sub.status == S.INCOMPLETE
    assert (sub.current_period_start, sub.current_period_end, sub.billing_anchor) == (T0, FEB28, T0)
    assert sub.trial_end is None
    assert (invoice.status, invoice.number, invoice.total, invoice.amount_paid) == (
        InvoiceStatus.OPEN, "INV-2026-000001", 1000, 0,
    )
    assert (invoice.billing_reason, invoice.idempotency_key) == ("subscription_create", f"subscription_create:{sub.id}")
    assert invoice.subscription_id == sub.id and invoice.finalized_at == T0
    assert lines_of(session, invoice) == [("Basic (per month)", 1, 1000, T0, FEB28, False)]

    payment = pay(session, invoice)
    assert (payment.status, payment.amount, payment.currency) == ("succeeded", 1000, "USD")
    assert (invoice.status, invoice.amount_paid, invoice.paid_at) == (InvoiceStatus.PAID, 1000, T0)
    assert reload(session, Subscription, sub.id)["status"] == S.ACTIVE


def test_a_trial_starts_without_an_invoice_and_is_given_once(session, prices, customer):
    subscribed = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.team.id, now=T0)
    sub = subscribed.subscription
    trial_end = at(2, 14)  # 31 Jan 12:00 + 14 days
    assert (sub.status, subscribed.invoice) == (S.TRIALING, None)
    assert (sub.current_period_start, sub.current_period_end, sub.trial_end, sub.billing_anchor) == (
        T0, trial_end, trial_end, trial_end,
    )
    assert all_invoices(session) == []

    # Canceled and back: the second subscription to a trial price is charged at once.
    subscriptions.cancel(session, sub.id, at_period_end=False, reason="trying again", now=at(2, 2))
    again = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.team.id, now=at(2, 3))
    assert again.subscription.id != sub.id
    assert (again.subscription.status, again.subscription.trial_end) == (S.INCOMPLETE, None)
    assert (again.invoice.total, again.invoice.number) == (5000, "INV-2026-000001")


def test_a_free_plan_is_active_at_once_with_a_paid_zero_invoice(session, prices, customer):
    subscribed = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.free.id, now=T0)
    assert subscribed.subscription.status == S.ACTIVE
    invoice = subscribed.invoice
    assert (invoice.status, invoice.total, invoice.number, invoice.paid_at) == (
        InvoiceStatus.PAID, 0, "INV-2026-000001", T0,
    )


@pytest.mark.parametrize("first", ["basic", "team"])
def test_subscribing_twice_is_refused(session, prices, customer, first):
    subscriptions.subscribe(session, customer_id=customer.id, price_id=getattr(prices, first).id, now=T0)
    if first == "basic":
        pay(session, all_invoices(session)[0])
    before = db_state(session)
    with pytest.raises(DomainError, match="already have a subscription"):
        subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.pro.id, now=at(2, 1))
    assert db_state(session) == before


def test_retrying_an_incomplete_subscription_with_the_same_price_returns_the_same_invoice(session, prices, customer):
    first = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.basic.id, now=T0)
    pay(session, first.invoice, key="attempt-1", succeeded=False)  # the first card is declined
    assert first.subscription.status == S.INCOMPLETE
    retry = subscriptions.subscribe(
        session, customer_id=customer.id, price_id=prices.basic.id, now=T0 + timedelta(minutes=5)
    )
    assert (retry.subscription.id, retry.invoice.id) == (first.subscription.id, first.invoice.id)
    assert len(all_invoices(session)) == 1
    assert session.get(InvoiceNumberSequence, "INV-2026").last_value == 1


def test_retrying_with_another_price_voids_the_old_invoice(session, prices, customer):
    first = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.basic.id, now=T0)
    later = T0 + timedelta(minutes=5)
    second = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.pro.id, now=later)

    old = reload(session, Subscription, first.subscription.id)
    assert (old["status"], old["canceled_at"], old["cancel_reason"]) == (
        S.CANCELED, later, "replaced before the first payment",
    )
    old_invoice = session.get(Invoice, first.invoice.id)
    # The void invoice keeps its number: numbers never have gaps.
    assert (old_invoice.status, old_invoice.number, old_invoice.voided_at) == (
        InvoiceStatus.VOID, "INV-2026-000001", later,
    )
    assert second.subscription.status == S.INCOMPLETE and second.subscription.price_id == prices.pro.id
    assert (second.invoice.number, second.invoice.total, second.invoice.status) == ("INV-2026-000002", 3000, "open")
    assert repository.live_subscription(session, customer.id).id == second.subscription.id


# --- renewals --------------------------------------------------------------------------------


def test_renewals_stay_on_the_anchor_day_31_jan_28_feb_31_mar_30_apr(session, prices, customer):
    sub = active(session, customer, prices.basic)
    expected = [(FEB28, MAR31, "INV-2026-000002"), (MAR31, APR30, "INV-2026-000003"), (APR30, MAY31, "INV-2026-000004")]
    for start, end, number in expected:
        invoice = subscriptions.renew(session, sub.id, now=start)  # the job runs at the period end
        assert (sub.current_period_start, sub.current_period_end) == (start, end)
        assert (invoice.number, invoice.total, invoice.billing_reason) == (number, 1000, "subscription_cycle")
        assert invoice.idempotency_key == f"renewal:{sub.id}:{start.isoformat()}"
        assert lines_of(session, invoice) == [("Basic (per month)", 1, 1000, start, end, False)]
        pay(session, invoice)
        assert sub.status == S.ACTIVE
    assert sub.billing_anchor == T0  # a short February never pulls the day back


def test_renew_is_idempotent_and_does_nothing_before_the_period_end(session, prices, customer):
    sub = active(session, customer, prices.basic)
    before = db_state(session)
    assert subscriptions.renew(session, sub.id, now=FEB28 - timedelta(seconds=1)) is None
    assert db_state(session) == before

    first = subscriptions.renew(session, sub.id, now=FEB28)
    assert first is not None
    after_first = db_state(session)
    assert subscriptions.renew(session, sub.id, now=FEB28) is None  # the job ran twice
    assert db_state(session) == after_first
    assert [i.billing_reason for i in all_invoices(session)] == ["subscription_create", "subscription_cycle"]


def test_a_late_job_catches_up_one_period_per_call(session, prices, customer):
    sub = active(session, customer, prices.basic)
    late = at(4, 2)  # the job was down through February and March
    issued = []
    while (invoice := subscriptions.renew(session, sub.id, now=late)) is not None:
        issued.append(invoice.idempotency_key)
    assert issued == [f"renewal:{sub.id}:{FEB28.isoformat()}", f"renewal:{sub.id}:{MAR31.isoformat()}"]
    assert (sub.current_period_start, sub.current_period_end) == (MAR31, APR30)


# --- cancel and resume -----------------------------------------------------------------------


def test_cancel_at_period_end_ends_the_subscription_at_renewal(session, prices, customer):
    sub = active(session, customer, prices.basic)
    subscriptions.cancel(session, sub.id, at_period_end=True, reason="  Too \n expensive ", now=HALF)
    assert (sub.status, sub.cancel_at_period_end, sub.cancel_reason, sub.canceled_at) == (
        S.ACTIVE, True, "Too expensive", None,
    )
    assert subscriptions.renew(session, sub.id, now=FEB28 + timedelta(hours=3)) is None
    stored = reload(session, Subscription, sub.id)
    # Canceled as of the period end, not as of when the job happened to run.
    assert (stored["status"], stored["canceled_at"]) == (S.CANCELED, FEB28)
    assert len(all_invoices(session)) == 1  # no renewal invoice
    assert subscriptions.renew(session, sub.id, now=MAR31) is None
    assert repository.live_subscription(session, customer.id) is None


def test_cancel_now_voids_the_open_unpaid_invoice(session, prices, customer):
    sub = active(session, customer, prices.basic)
    renewal = subscriptions.renew(session, sub.id, now=FEB28)
    subscriptions.cancel(session, sub.id, at_period_end=False, reason="closing the company", now=at(3, 5))
    assert (sub.status, sub.canceled_at, sub.cancel_reason) == (S.CANCELED, at(3, 5), "closing the company")
    first, second = all_invoices(session)
    assert (first.status, second.id, second.status, second.voided_at) == ("paid", renewal.id, "void", at(3, 5))


def test_cancel_now_of_an_incomplete_subscription_voids_its_first_invoice(session, prices, customer):
    subscribed = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.basic.id, now=T0)
    subscriptions.cancel(session, subscribed.subscription.id, at_period_end=False, reason="", now=at(2, 1))
    assert subscribed.subscription.status == S.CANCELED
    assert session.get(Invoice, subscribed.invoice.id).status == InvoiceStatus.VOID


def test_resume_before_the_period_end_keeps_the_subscription(session, prices, customer):
    sub = active(session, customer, prices.basic)
    subscriptions.cancel(session, sub.id, at_period_end=True, reason="maybe later", now=HALF)
    subscriptions.resume(session, sub.id, now=at(2, 20))
    assert (sub.status, sub.cancel_at_period_end, sub.cancel_reason) == (S.ACTIVE, False, "")
    invoice = subscriptions.renew(session, sub.id, now=FEB28)
    assert invoice.total == 1000 and sub.status == S.ACTIVE


def test_resume_after_the_period_end_is_refused_and_changes_nothing(session, prices, customer):
    sub = active(session, customer, prices.basic)
    subscriptions.cancel(session, sub.id, at_period_end=True, reason="bye", now=HALF)
    before = db_state(session)
    with pytest.raises(DomainError, match="period has ended"):
        subscriptions.resume(session, sub.id, now=FEB28)
    assert db_state(session) == before


# --- pause -----------------------------------------------------------------------------------


def test_a_paused_subscription_is_not_renewed_and_unpausing_late_starts_a_new_period(session, prices, customer):
    sub = active(session, customer, prices.basic)
    subscriptions.pause(session, sub.id, now=at(2, 10))
    assert (sub.status, sub.paused_at, sub.resume_at) == (S.PAUSED, at(2, 10), None)
    before = db_state(session)
    assert subscriptions.renew(session, sub.id, now=FEB28) is None
    assert db_state(session) == before

    back = at(3, 10, hour=9)
    invoice = subscriptions.unpause(session, sub.id, now=back)
    assert (sub.status, sub.paused_at, sub.resume_at) == (S.ACTIVE, None, None)
    # The new period starts when the customer comes back and is anchored there: 10 Mar -> 10 Apr.
    assert (sub.billing_anchor, sub.current_period_start, sub.current_period_end) == (back, back, at(4, 10, hour=9))
    assert (invoice.number, invoice.total, invoice.status, invoice.billing_reason) == (
        "INV-2026-000002", 1000, "open", "subscription_cycle",
    )
    assert lines_of(session, invoice) == [("Basic (per month)", 1, 1000, back, at(4, 10, hour=9), False)]


def test_unpausing_within_the_paid_period_bills_nothing(session, prices, customer):
    sub = active(session, customer, prices.basic)
    subscriptions.pause(session, sub.id, now=at(2, 10))
    assert subscriptions.unpause(session, sub.id, now=at(2, 20)) is None
    assert (sub.status, sub.current_period_start, sub.current_period_end) == (S.ACTIVE, T0, FEB28)
    assert len(all_invoices(session)) == 1


def test_pause_with_a_resume_date_after_the_period_end_is_unpaused_by_renew(session, prices, customer):
    sub = active(session, customer, prices.basic)
    resume_at = at(3, 15)
    subscriptions.pause(session, sub.id, resume_at=resume_at, now=at(2, 10))
    assert subscriptions.renew(session, sub.id, now=FEB28) is None  # still paused
    assert sub.status == S.PAUSED
    assert sub.id in repository.due_subscription_ids(session, resume_at)
    invoice = subscriptions.renew(session, sub.id, now=resume_at)
    assert sub.status == S.ACTIVE and sub.resume_at is None
    assert (sub.current_period_start, sub.current_period_end) == (resume_at, at(4, 15))
    assert (invoice.total, invoice.idempotency_key) == (1000, f"renewal:{sub.id}:{resume_at.isoformat()}")


def test_pause_with_a_resume_date_inside_the_period_is_unpaused_by_renew_at_that_date(session, prices, customer):
    sub = active(session, customer, prices.basic)
    resume_at = at(2, 20)
    subscriptions.pause(session, sub.id, resume_at=resume_at, now=at(2, 10))
    assert sub.id not in repository.due_subscription_ids(session, resume_at - timedelta(seconds=1))
    assert sub.id in repository.due_subscription_ids(session, resume_at)  # the job finds it
    assert subscriptions.renew(session, sub.id, now=resume_at) is None  # unpaused; the period was paid
    assert (sub.status, sub.resume_at, sub.current_period_end) == (S.ACTIVE, None, FEB28)
    assert len(all_invoices(session)) == 1
    # The next renewal is the normal anchored one.
    assert subscriptions.renew(session, sub.id, now=FEB28).total == 1000
    assert sub.current_period_end == MAR31


# --- refused steps change nothing ------------------------------------------------------------


def _make(session, prices, customer, state):
    if state == "trialing":
        return subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.team.id, now=T0).subscription
    sub = active(session, customer, prices.basic)
    if state == "canceling":
        subscriptions.cancel(session, sub.id, at_period_end=True, reason="bye", now=at(2, 2))
    elif state == "canceled":
        subscriptions.cancel(session, sub.id, at_period_end=False, reason="bye", now=at(2, 2))
    elif state == "paused":
        subscriptions.pause(session, sub.id, now=at(2, 2))
    elif state == "past_due":
        renewal = subscriptions.renew(session, sub.id, now=FEB28)
        pay(session, renewal, key="declined", succeeded=False)
    return sub


NOW = at(2, 5)
LATER = at(3, 2)  # past due happens after the 28 Feb renewal
# (state, use case, arguments, error, message): every one of them is refused.
REFUSED = [
    ("active", "pause", {"resume_at": NOW - timedelta(days=1)}, DomainError, "resume date"),
    ("active", "pause", {"resume_at": NOW + timedelta(days=366)}, DomainError, "resume date"),
    ("active", "unpause", {}, InvalidTransition, "unpause an active"),
    ("active", "resume", {}, DomainError, "nothing to resume"),
    ("active", "cancel", {"at_period_end": True, "reason": "x" * 501}, DomainError, "under 500"),
    ("active", "change", {"price": "basic"}, DomainError, "current plan"),
    ("active", "change", {"price": "pro", "quantity": 0}, DomainError, "quantity"),
    ("active", "change", {"price": "pro", "quantity": 10_001}, DomainError, "quantity"),
    ("active", "change", {"price": "pro_krw"}, DomainError, "billed in USD"),
    ("active", "change", {"price": "pro", "now": MAR31}, DomainError, "within the current billing period"),
    ("canceling", "cancel", {"at_period_end": True, "reason": ""}, DomainError, "already ends"),
    ("canceling", "pause", {}, DomainError, "ends at the end of its period"),
    ("trialing", "pause", {}, InvalidTransition, "pause a trialing"),
    ("canceled", "cancel", {"at_period_end": False, "reason": ""}, InvalidTransition, "cancel a canceled"),
    ("canceled", "change", {"price": "pro"}, InvalidTransition, "change the plan of a canceled"),
    ("canceled", "preview", {"price": "pro"}, InvalidTransition, "change the plan of a canceled"),
    ("canceled", "unpause", {}, InvalidTransition, "unpause a canceled"),
    ("paused", "change", {"price": "pro"}, InvalidTransition, "change the plan of a paused"),
    ("paused", "preview", {"price": "pro"}, InvalidTransition, "change the plan of a paused"),
    ("paused", "pause", {}, InvalidTransition, "pause a paused"),
    ("paused", "cancel", {"at_period_end": True, "reason": ""}, InvalidTransition, "cancel a paused subscription at"),
    ("past_due", "change", {"price": "pro", "now": LATER}, InvalidTransition, "change the plan of a past due"),
    ("past_due", "pause", {"now": LATER}, InvalidTransition, "pause a past due"),
]


def _run(session, prices, sub, use_case, arguments):
    arguments = {"now": NOW, **arguments}
    if "price" in arguments:
        price = getattr(prices, arguments.pop("price"))
        arguments = {"quantity": 1, **arguments, "price_id": price.id}
    return getattr(subscriptions, use_case)(session, sub.id, **arguments)


@pytest.mark.parametrize("state", sorted({r[0] for r in REFUSED}))
def test_a_refused_step_changes_nothing(session, prices, customer, state):
    sub = _make(session, prices, customer, state)
    before = db_state(session)
    for _, use_case, arguments, error, match in [r for r in REFUSED if r[0] == state]:
        with pytest.raises(error, match=match):
            _run(session, prices, sub, use_case, dict(arguments))
        assert db_state(session) == before, (use_case, match)  # every row exactly as it was


# --- plan changes ----------------------------------------------------------------------------


def test_upgrade_now_is_prorated_by_the_second(session, prices, customer):
    sub = active(session, customer, prices.basic)
    # $10/month -> $30/month at 14 Feb 12:00, exactly half of 31 Jan 12:00 -> 28 Feb 12:00:
    #   credit for the unused half of Basic: -round(1000 × 1,209,600 / 2,419,200) = -500
    #   charge for the remaining half of Pro:  round(3000 × 1,209,600 / 2,419,200) = 1500
    #   due: 1500 - 500 = 1000 ($10.00)
    changed = subscriptions.change(session, sub.id, price_id=prices.pro.id, quantity=1, now=HALF)
    preview, invoice = changed.preview, changed.invoice
    assert (preview.effective, preview.effective_at, preview.amount_due, preview.credit_carried) == (
        "now", HALF, 1000, 0,
    )
    assert [line.amount for line in preview.lines] == [-500, 1500]
    assert (preview.recurring_amount, preview.recurring_label, preview.next_renewal_at) == (3000, "per month", FEB28)

    assert lines_of(session, invoice) == [
        ("Unused time on Basic × 1", 1, -500, HALF, FEB28, True),
        ("Remaining time on Pro × 1", 1, 1500, HALF, FEB28, True),
    ]
    assert (invoice.subtotal, invoice.tax, invoice.total) == (1000, 0, 1000)
    assert (invoice.number, invoice.status, invoice.billing_reason) == (
        "INV-2026-000002", "open", "subscription_update",
    )
    # The plan changes at once; the period and anchor do not.
    assert (sub.price_id, sub.quantity, sub.status) == (prices.pro.id, 1, S.ACTIVE)
    assert (sub.current_period_start, sub.current_period_end, sub.billing_anchor) == (T0, FEB28, T0)

    pay(session, invoice)
    assert (invoice.status, sub.status) == ("paid", S.ACTIVE)
    assert subscriptions.renew(session, sub.id, now=FEB28).total == 3000  # the next period at the new price


def test_a_downgrade_waits_for_the_period_end_by_default(session, prices, customer):
    sub = active(session, customer, prices.pro)
    changed = subscriptions.change(session, sub.id, price_id=prices.basic.id, quantity=1, now=HALF)
    assert changed.invoice is None
    preview = changed.preview
    assert (preview.effective, preview.effective_at, preview.amount_due) == ("period_end", FEB28, 0)
    assert (sub.price_id, sub.scheduled_price_id, sub.scheduled_quantity) == (prices.pro.id, prices.basic.id, 1)
    assert len(all_invoices(session)) == 1

    invoice = subscriptions.renew(session, sub.id, now=FEB28)
    assert (sub.price_id, sub.scheduled_price_id, sub.scheduled_quantity) == (prices.basic.id, None, None)
    assert lines_of(session, invoice) == [("Basic (per month)", 1, 1000, FEB28, MAR31, False)]


def test_an_upgrade_clears_a_scheduled_downgrade(session, prices, customer):
    sub = active(session, customer, prices.pro)
    subscriptions.change(session, sub.id, price_id=prices.basic.id, quantity=1, now=at(2, 3))
    subscriptions.change(session, sub.id, price_id=prices.pro.id, quantity=2, now=HALF)
    assert (sub.price_id, sub.quantity) == (prices.pro.id, 2)
    assert (sub.scheduled_price_id, sub.scheduled_quantity) == (None, None)


def test_a_downgrade_applies_now_when_the_setting_says_so(session, prices, customer, monkeypatch):
    monkeypatch.setenv("DOWNGRADE_AT_PERIOD_END", "false")
    get_settings.cache_clear()
    sub = active(session, customer, prices.pro)
    # $30 -> $10 at half: credit -1500, charge 500, net -1000: nothing is due, 1000 is carried as credit.
    changed = subscriptions.change(session, sub.id, price_id=prices.basic.id, quantity=1, now=HALF)
    assert (changed.preview.effective, changed.preview.amount_due, changed.preview.credit_carried) == ("now", 0, 1000)
    assert [line.amount for line in changed.preview.lines] == [-1500, 500]
    assert changed.invoice is None  # an invoice cannot total less than zero
    assert (sub.price_id, sub.scheduled_price_id) == (prices.basic.id, None)
    assert len(all_invoices(session)) == 1
    assert subscriptions.renew(session, sub.id, now=FEB28).total == 1000


def test_a_quantity_change_is_prorated(session, prices, customer):
    sub = active(session, customer, prices.basic, quantity=2)
    # 2 -> 5 seats at 21 Feb 12:00: 7 of 28 days (a quarter) remain.
    #   credit -round(2 × 1000 / 4) = -500; charge round(5 × 1000 / 4) = 1250; due 750.
    changed = subscriptions.change(session, sub.id, price_id=prices.basic.id, quantity=5, now=at(2, 21))
    assert lines_of(session, changed.invoice) == [
        ("Unused time on Basic × 2", 1, -500, at(2, 21), FEB28, True),
        ("Remaining time on Basic × 5", 1, 1250, at(2, 21), FEB28, True),
    ]
    assert (changed.invoice.total, changed.preview.recurring_amount) == (750, 5000)
    assert (sub.price_id, sub.quantity) == (prices.basic.id, 5)
    renewal = subscriptions.renew(session, sub.id, now=FEB28)
    assert lines_of(session, renewal) == [("Basic (per month)", 5, 5000, FEB28, MAR31, False)]


def test_changing_month_to_year_now_starts_a_new_anchored_period(session, prices, customer):
    sub = active(session, customer, prices.basic)
    # Basic $10/month -> Pro $360/year ($30/month: an upgrade) at half:
    #   credit for the unused half of Basic: -500; the yearly period starts now, so the charge is the
    #   full 36000; due 35,500.
    year_later = at(2, 14, year=2027)
    changed = subscriptions.change(session, sub.id, price_id=prices.pro_year.id, quantity=1, now=HALF)
    assert lines_of(session, changed.invoice) == [
        ("Unused time on Basic × 1", 1, -500, HALF, FEB28, True),
        ("Remaining time on Pro × 1", 1, 36000, HALF, year_later, True),
    ]
    assert changed.invoice.total == 35500 and changed.preview.next_renewal_at == year_later
    assert (sub.billing_anchor, sub.current_period_start, sub.current_period_end) == (HALF, HALF, year_later)
    assert changed.preview.recurring_label == "per year"
    assert subscriptions.renew(session, sub.id, now=FEB28) is None
    renewal = subscriptions.renew(session, sub.id, now=year_later)
    assert (renewal.total, sub.current_period_end) == (36000, at(2, 14, year=2028))


def test_a_cheaper_yearly_price_waits_and_re_anchors_at_renewal(session, prices, customer):
    sub = active(session, customer, prices.basic)
    # $100/year is $8.33/month, less than $10/month: a downgrade, so it waits for 28 Feb.
    changed = subscriptions.change(session, sub.id, price_id=prices.basic_year.id, quantity=1, now=HALF)
    assert (changed.preview.effective, changed.invoice) == ("period_end", None)
    invoice = subscriptions.renew(session, sub.id, now=FEB28)
    year_later = at(2, 28, year=2027)
    assert (sub.billing_anchor, sub.current_period_start, sub.current_period_end) == (FEB28, FEB28, year_later)
    assert lines_of(session, invoice) == [("Basic (per year)", 1, 10000, FEB28, year_later, False)]


def test_a_change_of_currency_is_refused(session, prices, customer):
    sub = active(session, customer, prices.basic)
    before = db_state(session)
    with pytest.raises(DomainError, match="billed in USD; pick a price in that currency"):
        subscriptions.change(session, sub.id, price_id=prices.pro_krw.id, quantity=1, now=HALF)
    with pytest.raises(DomainError, match="billed in USD"):
        subscriptions.preview(session, sub.id, price_id=prices.pro_krw.id, quantity=1, now=HALF)
    assert db_state(session) == before


def test_preview_changes_nothing(session, prices, customer):
    sub = active(session, customer, prices.basic)
    before = db_state(session)
    preview = subscriptions.preview(session, sub.id, price_id=prices.pro.id, quantity=1, now=HALF)
    assert (preview.amount_due, [line.amount for line in preview.lines]) == (1000, [-500, 1500])
    downgrade = subscriptions.preview(session, sub.id, price_id=prices.basic_year.id, quantity=1, now=HALF)
    assert downgrade.effective == "period_end"
    assert db_state(session) == before
    # ... and says exactly what change() then does.
    assert subscriptions.change(session, sub.id, price_id=prices.pro.id, quantity=1, now=HALF).preview == preview


def test_krw_with_inclusive_tax_rounds_half_up_per_line(session, prices, monkeypatch):
    monkeypatch.setenv("TAX_RATES", '{"KR": {"rate": "10", "inclusive": true}}')
    get_settings.cache_clear()
    customer = make_customer(session, "minji@example.kr", country="KR", currency="KRW")
    first = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.basic_krw.id, now=T0)
    # ₩9,999 with 10 % included: tax = round(9999 × 10 / 110 = 908.99) = 909, net 9,090.
    assert (first.invoice.subtotal, first.invoice.tax, first.invoice.total) == (9090, 909, 9999)
    pay(session, first.invoice)
    sub = first.subscription

    # ₩9,999 -> ₩29,999 at exactly half; KRW has no minor unit, so each half rounds half up (away from 0):
    #   credit -round(9,999 / 2 = 4,999.5) = -5,000;  charge round(29,999 / 2 = 14,999.5) = 15,000
    #   tax per line (inclusive): round(-5,000 × 10/110 = -454.55) = -455 -> net -4,545
    #                             round(15,000 × 10/110 = 1,363.64) = 1,364 -> net 13,636
    #   subtotal -4,545 + 13,636 = 9,091; tax -455 + 1,364 = 909; total 10,000
    changed = subscriptions.change(session, sub.id, price_id=prices.pro_krw.id, quantity=1, now=HALF)
    assert (changed.preview.currency, changed.preview.amount_due) == ("KRW", 10000)
    invoice = changed.invoice
    rows = repository.invoice_lines(session, invoice.id)
    assert [(row.amount, row.tax_amount, row.tax_inclusive) for row in rows] == [
        (-5000, -455, True), (15000, 1364, True),
    ]
    assert (invoice.currency, invoice.subtotal, invoice.tax, invoice.total) == ("KRW", 9091, 909, 10000)
    assert invoice.number == "INV-2026-000002"


# --- trials ----------------------------------------------------------------------------------


def test_a_change_during_the_trial_applies_at_once_with_no_invoice(session, prices, customer):
    sub = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.team.id, now=T0).subscription
    trial_end = sub.trial_end
    changed = subscriptions.change(session, sub.id, price_id=prices.pro.id, quantity=2, now=at(2, 3))
    assert changed.invoice is None
    assert (changed.preview.amount_due, changed.preview.lines, changed.preview.next_renewal_at) == (0, (), trial_end)
    assert (sub.status, sub.price_id, sub.quantity, sub.scheduled_price_id) == (S.TRIALING, prices.pro.id, 2, None)
    assert (sub.current_period_end, sub.billing_anchor) == (trial_end, trial_end)
    assert all_invoices(session) == []
    # The trial ends on the new plan: 2 × $30.
    invoice = subscriptions.renew(session, sub.id, now=trial_end)
    assert lines_of(session, invoice) == [("Pro (per month)", 2, 6000, trial_end, at(3, 14), False)]


def test_the_trial_end_bills_the_first_period_and_payment_converts_to_active(session, prices, customer):
    sub = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.team.id, now=T0).subscription
    trial_end = at(2, 14)
    assert subscriptions.renew(session, sub.id, now=trial_end - timedelta(seconds=1)) is None
    invoice = subscriptions.renew(session, sub.id, now=trial_end)
    assert (invoice.number, invoice.total, invoice.status) == ("INV-2026-000001", 5000, "open")
    assert lines_of(session, invoice) == [("Team (per month)", 1, 5000, trial_end, at(3, 14), False)]
    assert (sub.status, sub.current_period_start, sub.current_period_end) == (S.TRIALING, trial_end, at(3, 14))
    pay(session, invoice, now=trial_end)
    assert reload(session, Subscription, sub.id)["status"] == S.ACTIVE


def test_a_declined_trial_conversion_is_past_due(session, prices, customer):
    sub = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.team.id, now=T0).subscription
    invoice = subscriptions.renew(session, sub.id, now=at(2, 14))
    pay(session, invoice, key="trial-end-1", succeeded=False)
    assert sub.status == S.PAST_DUE
    pay(session, invoice, key="trial-end-2")
    assert sub.status == S.ACTIVE


# --- failed payments -------------------------------------------------------------------------


def test_a_failed_renewal_payment_is_past_due_until_a_retry_succeeds(session, prices, customer):
    sub = active(session, customer, prices.basic)
    invoice = subscriptions.renew(session, sub.id, now=FEB28)
    failed = pay(session, invoice, key=f"renewal:{sub.id}:try1", succeeded=False, now=FEB28)
    assert (failed.status, sub.status, invoice.status, invoice.amount_paid) == ("failed", S.PAST_DUE, "open", 0)
    # A past-due subscription still renews (and stays past due) while dunning runs.
    retried = pay(session, invoice, key=f"renewal:{sub.id}:try2", now=at(3, 3))
    assert (retried.status, invoice.status, invoice.amount_paid) == ("succeeded", "paid", 1000)
    assert reload(session, Subscription, sub.id)["status"] == S.ACTIVE


def test_a_trial_that_ends_on_a_free_price_becomes_active(session, prices, customer):
    sub = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.team.id, now=T0).subscription
    subscriptions.change(session, sub.id, price_id=prices.free.id, quantity=1, now=at(2, 3))
    invoice = subscriptions.renew(session, sub.id, now=sub.trial_end)
    assert (invoice.total, invoice.status) == (0, "paid")  # nothing to collect
    assert sub.status == S.ACTIVE
