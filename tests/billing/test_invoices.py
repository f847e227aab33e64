"""Invoices: drafts without numbers, gapless numbering at finalization (also under concurrency on
PostgreSQL), totals recomputed from taxed lines, payments against an invoice, void, snapshots."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine
from sqlmodel import Session, func, select

from billing_portal.billing import accounts, invoices, repository
from billing_portal.billing.errors import DomainError
from billing_portal.billing.invoices import DraftLine
from billing_portal.models import Customer, Invoice, InvoiceLine, InvoiceNumberSequence, InvoiceStatus
from billing_portal.settings import get_settings
from tests.support.builders import T0, make_customer


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    """Customers come with a user; Argon2 at full cost would be most of this file's runtime."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def customer(session):
    return make_customer(session)


def draft(session, customer, *amounts: int, key=None, currency="USD", now=T0) -> Invoice:
    lines = [DraftLine(f"Item {n}", amount) for n, amount in enumerate(amounts or (1000,), 1)]
    return invoices.create_draft(
        session, customer_id=customer.id, currency=currency, lines=lines, idempotency_key=key, now=now
    )


def snapshot(session, invoice_id) -> dict:
    session.flush()
    session.expire_all()
    return {
        "invoice": session.get(Invoice, invoice_id).model_dump(),
        "lines": [line.model_dump() for line in repository.invoice_lines(session, invoice_id)],
        "counters": [c.model_dump() for c in session.exec(select(InvoiceNumberSequence))],
    }


def set_env(monkeypatch, **values):
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


# --- numbering -------------------------------------------------------------------------------


def test_drafts_have_no_number_and_finalization_numbers_them_gaplessly(session, customer):
    a, b, c = draft(session, customer), draft(session, customer), draft(session, customer)
    assert [(i.status, i.number, i.finalized_at) for i in (a, b, c)] == [(InvoiceStatus.DRAFT, None, None)] * 3
    # Numbers follow the order of finalization, not of creation.
    for invoice, minute in ((a, 0), (c, 1), (b, 2)):
        invoices.finalize(session, invoice.id, now=T0.replace(minute=minute))
    assert (a.number, c.number, b.number) == ("INV-2026-000001", "INV-2026-000002", "INV-2026-000003")
    assert (b.status, b.finalized_at, b.due_at) == (InvoiceStatus.OPEN, T0.replace(minute=2), T0.replace(minute=2))
    assert session.get(InvoiceNumberSequence, "INV-2026").last_value == 3


def test_the_prefix_comes_from_the_setting_and_has_its_own_counter(session, customer, monkeypatch):
    set_env(monkeypatch, INVOICE_NUMBER_PREFIX="ACME")
    assert invoices.finalize(session, draft(session, customer).id, now=T0).number == "ACME-2026-000001"
    assert invoices.finalize(session, draft(session, customer).id, now=T0).number == "ACME-2026-000002"
    monkeypatch.delenv("INVOICE_NUMBER_PREFIX")
    get_settings.cache_clear()
    assert invoices.finalize(session, draft(session, customer).id, now=T0).number == "INV-2026-000001"


def test_a_new_year_starts_again_at_000001(session, customer):
    new_years_eve = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    new_year = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    numbers = [
        invoices.finalize(session, draft(session, customer).id, now=when).number
        for when in (T0, new_years_eve, new_year, new_year)
    ]
    assert numbers == ["INV-2026-000001", "INV-2026-000002", "INV-2027-000001", "INV-2027-000002"]


def test_finalizing_twice_is_refused_and_changes_nothing(session, customer):
    invoice = invoices.finalize(session, draft(session, customer).id, now=T0)
    before = snapshot(session, invoice.id)
    with pytest.raises(DomainError, match="^Invoice INV-2026-000001 is open; only drafts are finalized.$"):
        invoices.finalize(session, invoice.id, now=T0)
    with pytest.raises(DomainError, match="Only a draft invoice can be changed"):
        invoices.add_line(session, invoice, DraftLine("Late extra", 100))
    assert snapshot(session, invoice.id) == before


def test_the_idempotency_key_returns_the_same_draft(session, customer):
    first = draft(session, customer, 1000, key="manual:setup-fee")
    again = draft(session, customer, 9999, 1, key="manual:setup-fee")
    assert again.id == first.id
    assert [line.amount for line in repository.invoice_lines(session, first.id)] == [1000]
    assert session.exec(select(func.count()).select_from(Invoice)).one() == 1


# --- totals and tax --------------------------------------------------------------------------


def test_exclusive_tax_is_rounded_per_line_including_a_credit(session, monkeypatch):
    set_env(monkeypatch, TAX_RATES='{"DE": {"rate": "19"}}')
    customer = make_customer(session, "jonas@example.de", country="DE", currency="EUR")
    invoice = invoices.create_draft(
        session, customer_id=customer.id, currency="eur",
        lines=[
            DraftLine("Seats", unit_amount=333, quantity=3),  # 999 × 19 % = 189.81 -> 190
            DraftLine("Setup", unit_amount=1000),  # 1000 × 19 % = 190
            DraftLine("Add-on A", unit_amount=50),  # 50 × 19 % = 9.5 -> 10 (half up)
            DraftLine("Add-on B", unit_amount=50),  # 9.5 -> 10
            DraftLine("Goodwill credit", unit_amount=-250),  # -47.5 -> -48 (half away from zero)
        ],
        now=T0,
    )
    rows = repository.invoice_lines(session, invoice.id)
    assert [(r.amount, r.tax_amount, r.tax_rate, r.tax_inclusive) for r in rows] == [
        (999, 190, Decimal("19"), False), (1000, 190, Decimal("19"), False), (50, 10, Decimal("19"), False),
        (50, 10, Decimal("19"), False), (-250, -48, Decimal("19"), False),
    ]
    # subtotal 999 + 1000 + 50 + 50 - 250 = 1849; tax 190 + 190 + 10 + 10 - 48 = 352; total 2201.
    # (Taxing the sum instead would give round(1849 × 0.19 = 351.31) = 351: per line is the rule.)
    assert (invoice.currency, invoice.subtotal, invoice.tax, invoice.total) == ("EUR", 1849, 352, 2201)
    invoices.finalize(session, invoice.id, now=T0)
    stored = snapshot(session, invoice.id)["invoice"]
    assert (stored["subtotal"], stored["tax"], stored["total"]) == (1849, 352, 2201)


def test_inclusive_tax_is_contained_in_the_line_amounts(session, monkeypatch):
    set_env(monkeypatch, TAX_RATES='{"KR": {"rate": "10", "inclusive": true}}')
    customer = make_customer(session, "minji@example.kr", country="kr", currency="KRW")  # any case
    invoice = draft(session, customer, 11000, 999, -555, currency="KRW")
    # 11,000: tax 11,000 × 10/110 = 1,000 exactly, net 10,000
    #    999: tax 90.82 -> 91, net 908
    #   -555: tax -50.45 -> -50, net -505
    # subtotal 10,000 + 908 - 505 = 10,403; tax 1,000 + 91 - 50 = 1,041; total 11,444 = 11,000 + 999 - 555.
    assert [r.tax_amount for r in repository.invoice_lines(session, invoice.id)] == [1000, 91, -50]
    assert (invoice.subtotal, invoice.tax, invoice.total) == (10403, 1041, 11444)


def test_a_country_without_a_rule_is_not_taxed(session, customer, monkeypatch):
    set_env(monkeypatch, TAX_RATES='{"KR": {"rate": "10", "inclusive": true}}')
    invoice = draft(session, customer, 1000)  # the customer has no country
    assert (invoice.subtotal, invoice.tax, invoice.total) == (1000, 0, 1000)


def test_a_negative_total_is_refused_and_takes_no_number(session, customer):
    credit = draft(session, customer, 500, -800)
    assert credit.total == -300
    with pytest.raises(DomainError, match="cannot total less than zero"):
        invoices.finalize(session, credit.id, now=T0)
    stored = snapshot(session, credit.id)
    assert (stored["invoice"]["status"], stored["invoice"]["number"], stored["counters"]) == ("draft", None, [])
    assert invoices.finalize(session, draft(session, customer).id, now=T0).number == "INV-2026-000001"


def test_a_zero_total_is_paid_at_finalization(session, customer):
    invoice = invoices.finalize(session, draft(session, customer, 500, -500).id, now=T0)
    assert (invoice.status, invoice.total, invoice.paid_at, invoice.number) == ("paid", 0, T0, "INV-2026-000001")


@pytest.mark.parametrize("line", [
    DraftLine("Seats", unit_amount=100, quantity=0),
    DraftLine("   ", unit_amount=100),
])
def test_bad_lines_are_refused(session, customer, line):
    with pytest.raises(DomainError):
        invoices.create_draft(session, customer_id=customer.id, currency="USD", lines=[line], now=T0)


def test_amounts_must_be_ints(session, customer):
    with pytest.raises(TypeError, match="minor units"):
        invoices.create_draft(session, customer_id=customer.id, currency="USD", lines=[DraftLine("x", 10.5)], now=T0)


# --- payments against an invoice -------------------------------------------------------------


def test_paying_in_parts_until_paid(session, customer):
    invoice = invoices.finalize(session, draft(session, customer, 1000).id, now=T0)
    invoices.mark_paid(session, invoice.id, amount=400, now=T0)
    assert (invoice.status, invoice.amount_paid, invoice.paid_at) == ("open", 400, None)
    invoices.mark_paid(session, invoice.id, amount=600, now=T0.replace(hour=13))
    assert (invoice.status, invoice.amount_paid, invoice.paid_at) == ("paid", 1000, T0.replace(hour=13))
    with pytest.raises(DomainError, match="is paid: it cannot take a payment"):
        invoices.mark_paid(session, invoice.id, amount=1)


def test_overpaying_and_odd_amounts_are_refused(session, customer):
    invoice = invoices.finalize(session, draft(session, customer, 1000).id, now=T0)
    invoices.mark_paid(session, invoice.id, amount=400, now=T0)
    before = snapshot(session, invoice.id)
    with pytest.raises(DomainError, match="more than what the invoice still owes"):
        invoices.mark_paid(session, invoice.id, amount=601, now=T0)  # 400 + 601 > 1000
    for amount in (0, -1, True, 1.5, "600"):
        with pytest.raises(DomainError, match="positive whole amount"):
            invoices.mark_paid(session, invoice.id, amount=amount, now=T0)
    assert snapshot(session, invoice.id) == before


def test_a_draft_or_void_invoice_takes_no_payment(session, customer):
    pending = draft(session, customer)
    with pytest.raises(DomainError, match=r"^Invoice \(draft\) is draft: it cannot take a payment.$"):
        invoices.mark_paid(session, pending.id, amount=1000)
    voided = invoices.void(session, invoices.finalize(session, draft(session, customer).id, now=T0).id, now=T0)
    assert (voided.status, voided.voided_at, voided.number) == ("void", T0, "INV-2026-000001")  # the number stays used
    with pytest.raises(DomainError, match="^Invoice INV-2026-000001 is void: it cannot take a payment.$"):
        invoices.mark_paid(session, voided.id, amount=1000)
    assert (pending.amount_paid, voided.amount_paid) == (0, 0)


def test_void_is_refused_once_money_was_paid_and_for_drafts(session, customer):
    invoice = invoices.finalize(session, draft(session, customer).id, now=T0)
    invoices.mark_paid(session, invoice.id, amount=1, now=T0)
    before = snapshot(session, invoice.id)
    with pytest.raises(DomainError, match="refund it instead of voiding"):
        invoices.void(session, invoice.id, now=T0)
    assert snapshot(session, invoice.id) == before
    with pytest.raises(DomainError, match="Only an open invoice can be voided; this one is draft"):
        invoices.void(session, draft(session, customer).id, now=T0)


# --- billing snapshot ------------------------------------------------------------------------


def test_the_billing_details_are_frozen_at_finalization(session, customer):
    invoice = draft(session, customer)
    customer.company, customer.city = "Lima Studio", "Lisbon"  # edited before finalizing: shown
    session.add(customer)
    session.flush()
    invoices.finalize(session, invoice.id, now=T0)

    customer.name, customer.company, customer.city, customer.country = "Ana Souza", "Other Co", "Porto", "PT"
    session.add(customer)
    session.flush()
    session.expire_all()
    details = session.get(Invoice, invoice.id).billing_details
    assert (details["name"], details["company"], details["city"], details["country"], details["email"]) == (
        "Ana Lima", "Lima Studio", "Lisbon", "", "ana@example.com",
    )
    assert session.get(Customer, customer.id).name == "Ana Souza"


# --- numbers under concurrency and rollback --------------------------------------------------


def _drafts(engine, count: int) -> list[int]:
    with Session(engine, expire_on_commit=False) as s:
        customer = make_customer(s)
        ids = [draft(s, customer, 100 + n).id for n in range(count)]
        s.commit()
    return ids


def _finalize_in_own_transaction(engine, invoice_id: int) -> str:
    with Session(engine, expire_on_commit=False) as s:
        number = invoices.finalize(s, invoice_id, now=T0).number
        s.commit()
        return number


def test_50_concurrent_finalizations_take_exactly_000001_to_000050(engine, db_url):
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has a single writer; row-lock concurrency is tested on PostgreSQL")
    ids = _drafts(engine, 50)
    # One connection per thread, so all 50 transactions really run at the same time; the first
    # number of the prefix is contended too (the counter row does not exist yet).
    wide = create_engine(db_url, pool_size=50, max_overflow=0)
    barrier = threading.Barrier(50)

    def finalize(invoice_id: int) -> tuple[int, str]:
        barrier.wait(timeout=30)
        return invoice_id, _finalize_in_own_transaction(wide, invoice_id)

    try:
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(finalize, ids))
    finally:
        wide.dispose()
    numbers = [number for _, number in results]
    assert len(set(numbers)) == 50
    assert sorted(numbers) == [f"INV-2026-{n:06d}" for n in range(1, 51)]
    with Session(engine) as s:
        stored = dict(s.exec(select(Invoice.id, Invoice.number)).all())
        assert stored == dict(results)
        assert s.get(InvoiceNumberSequence, "INV-2026").last_value == 50


def test_a_rolled_back_finalization_gives_its_number_back(engine):
    first, second, third = _drafts(engine, 3)
    assert _finalize_in_own_transaction(engine, first) == "INV-2026-000001"
    with Session(engine) as s:
        assert invoices.finalize(s, second, now=T0).number == "INV-2026-000002"
        s.rollback()  # e.g. the payment step after it failed
    assert _finalize_in_own_transaction(engine, third) == "INV-2026-000002"
    assert _finalize_in_own_transaction(engine, second) == "INV-2026-000003"
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(InvoiceLine)).one() == 3


def test_a_waiting_finalization_takes_the_number_a_rollback_gives_back(engine):
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has a single writer; row-lock concurrency is tested on PostgreSQL")
    first, second, third = _drafts(engine, 3)
    assert _finalize_in_own_transaction(engine, first) == "INV-2026-000001"
    taken, release = threading.Event(), threading.Event()

    def take_then_roll_back() -> str:
        with Session(engine) as s:
            number = invoices.finalize(s, second, now=T0).number
            taken.set()
            release.wait(timeout=30)
            s.rollback()
            return number

    with ThreadPoolExecutor(max_workers=2) as pool:
        holder = pool.submit(take_then_roll_back)
        assert taken.wait(timeout=30)
        waiter = pool.submit(_finalize_in_own_transaction, engine, third)
        with pytest.raises(TimeoutError):
            waiter.result(timeout=0.3)  # queued behind the counter row lock
        release.set()
        assert (holder.result(timeout=30), waiter.result(timeout=30)) == ("INV-2026-000002", "INV-2026-000002")
