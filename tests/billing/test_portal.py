"""The customer portal's read models on SQLite and PostgreSQL: overview, plan options and preview
sentences, and the merged history (filters, pages, CSV) built from real engine calls.

Dates: T0 is Sat 31 Jan 2026 12:00 UTC; a monthly KRW subscription renews on the last day of each
month (28 Feb, 31 Mar, …) at 12:00.
"""

import csv
import io
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher

from billing_portal.billing import accounts, payments, portal, repository, subscriptions
from billing_portal.billing.errors import DomainError
from billing_portal.models import StoredFile
from tests.support.builders import T0, make_customer, make_plan

KRW_M, KRW_Q, USD_M = ("KRW", "month", 1), ("KRW", "month", 3), ("USD", "month", 1)
GB = 1024**3


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def prices(session):
    _, starter = make_plan(session, "starter", tier=1, prices={KRW_M: 15000, KRW_Q: 40500, USD_M: 1200})
    _, pro = make_plan(session, "pro", tier=2, prices={KRW_M: 39000, KRW_Q: 105300, USD_M: 2900})
    for plan_slug, quota in (("starter", 10 * GB), ("pro", 100 * GB)):
        plan = repository.plan_by_slug(session, plan_slug)
        plan.storage_quota_bytes, plan.max_projects, plan.max_users = quota, 5, None
        session.add(plan)
    _, team = make_plan(session, "team", tier=3, prices={KRW_M: 99000}, trial_days=14)
    session.flush()
    return SimpleNamespace(
        starter=starter[KRW_M], starter_q=starter[KRW_Q], pro=pro[KRW_M], pro_q=pro[KRW_Q], team=team[KRW_M]
    )


def _customer(session, email="kim@example.com"):
    customer = make_customer(session, email, currency="KRW")
    customer.locale = "ko_KR"
    session.add(customer)
    session.flush()
    return customer


def _pay(session, invoice, at, *, ok=True, key=None):
    return payments.record_payment(
        session, invoice_id=invoice.id, idempotency_key=key or f"t:{invoice.id}:{ok}:{at.isoformat()}",
        succeeded=ok, card_brand="visa", card_last4="4242" if ok else "0341",
        failure_message="" if ok else "Your card was declined.", now=at,
    )


@pytest.fixture
def history(session, prices):
    """Four paid months, one failed attempt before the third was paid, a partial refund on the second."""
    customer = _customer(session)
    sub = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.starter.id, now=T0)
    _pay(session, sub.invoice, T0)
    paid = []
    for month in range(3):
        invoice = subscriptions.renew(session, sub.subscription.id, now=sub.subscription.current_period_end)
        at = invoice.finalized_at
        if month == 1:
            _pay(session, invoice, at, ok=False)
            at += timedelta(days=1)
        paid.append(_pay(session, invoice, at))
    payments.record_refund(session, payment_id=paid[0].id, amount=5000, reason="=HYPERLINK(outage)", now=paid[0].created_at + timedelta(days=3))
    return SimpleNamespace(customer=customer, subscription=sub.subscription)


def test_history_merges_invoices_payments_and_refunds_newest_first(session, history):
    page = portal.history_page(session, history.customer.id, page_size=50)
    # 4 invoices + 4 paid payments + 1 failed payment + 1 refund
    assert page.total == 10 and page.pages == 1
    kinds = [(r.kind, r.status_group) for r in page.rows]
    assert kinds[:2] == [("payment", "paid"), ("invoice", "paid")]  # the payment follows its invoice
    stamps = [r.created_at for r in page.rows]
    assert stamps == sorted(stamps, reverse=True)
    refund = next(r for r in page.rows if r.kind == "refund")
    assert refund.amount == -5000 and refund.amount_label == "-₩5,000" and refund.status_group == "refunded"
    assert refund.reference.startswith("INV-") and refund.status_label == "Refunded"
    failed = next(r for r in page.rows if r.status_group == "failed")
    assert failed.kind == "payment" and "declined" in failed.description
    partly = next(r for r in page.rows if r.status == "partially_refunded")
    assert partly.status_group == "refunded"
    assert all(r.currency == "KRW" for r in page.rows)
    assert {r.date_label for r in page.rows} >= {"31 January 2026", "28 February 2026"}


def test_history_filters_status_type_and_dates_in_sql(session, history):
    cid = history.customer.id
    assert [r.kind for r in portal.history_page(session, cid, status="failed").rows] == ["payment"]
    assert {r.kind for r in portal.history_page(session, cid, status="refunded").rows} == {"payment", "refund"}
    assert portal.history_page(session, cid, status="void").total == 0
    invoices = portal.history_page(session, cid, kind="invoice")
    assert invoices.total == 4 and {r.kind for r in invoices.rows} == {"invoice"}
    assert portal.history_page(session, cid, kind="refund", status="paid").total == 0  # no such pair
    february = portal.history_page(session, cid, date_from=date(2026, 2, 28), date_to=date(2026, 2, 28))
    assert {r.date_label for r in february.rows} == {"28 February 2026"}
    assert february.total == 2  # the renewal invoice and its payment on 28 Feb (date_to is inclusive)
    with pytest.raises(DomainError, match="start date"):
        portal.history_page(session, cid, date_from=date(2026, 3, 2), date_to=date(2026, 3, 1))
    with pytest.raises(DomainError):
        portal.history_page(session, cid, status="everything")
    with pytest.raises(DomainError):
        portal.history_page(session, cid, kind="credit")


def test_drafts_and_other_customers_rows_never_show(session, history, prices):
    other = _customer(session, "other@example.com")
    sub = subscriptions.subscribe(session, customer_id=other.id, price_id=prices.pro.id, now=T0)
    _pay(session, sub.invoice, T0)
    from billing_portal.billing import invoices
    from billing_portal.billing.invoices import DraftLine

    invoices.create_draft(session, customer_id=history.customer.id, currency="KRW", lines=[DraftLine("Draft", 100)])
    page = portal.history_page(session, history.customer.id, page_size=100)
    assert page.total == 10
    assert all(r.amount != 39000 for r in page.rows)
    assert portal.history_page(session, other.id).total == 2


def test_pages_split_the_merged_list_without_gaps_or_repeats(session, history):
    cid = history.customer.id
    everything = [(r.kind, r.id) for r in portal.history_page(session, cid, page_size=100).rows]
    paged = []
    for number in (1, 2, 3, 4):
        page = portal.history_page(session, cid, page=number, page_size=3)
        assert page.pages == 4 and page.page == number
        paged += [(r.kind, r.id) for r in page.rows]
    assert paged == everything
    assert portal.history_page(session, cid, page=99, page_size=3).page == 4  # clamped to the last page
    assert portal.history_page(session, cid, page=0, page_size=3).page == 1


def test_csv_has_a_header_the_filtered_rows_and_no_formulas(session, history):
    text = portal.history_csv(session, history.customer.id, portal.HistoryFilters(status="refunded"))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == portal.CSV_HEADER == ["date", "type", "reference", "description", "status", "amount", "currency"]
    assert [row[1] for row in rows[1:]] == ["refund", "payment"]
    refund = rows[1]
    assert refund[5] == "-5000" and refund[6] == "KRW" and refund[4] == "succeeded"
    assert refund[3] == "Refund: =HYPERLINK(outage)"  # not a leading "=": no formula
    assert all(not row[3].startswith(("=", "+", "@")) for row in rows[1:])


def test_csv_is_capped(session, history, monkeypatch):
    monkeypatch.setattr(portal, "CSV_MAX_ROWS", 3)
    lines = list(portal.history_csv_lines(session, history.customer.id, portal.HistoryFilters()))
    assert len(lines) == 1 + 3


def test_overview_shows_plan_next_renewal_storage_and_limits(session, history, prices):
    cid = history.customer.id
    session.add(StoredFile(
        owner_id=cid, storage_key="k1", display_name="a.pdf", size_bytes=3 * GB // 2,
        content_type="application/pdf", category="file", sha256="0" * 64,
    ))
    session.add(StoredFile(
        owner_id=cid, storage_key="k2", display_name="gone.pdf", size_bytes=5 * GB,
        content_type="application/pdf", category="file", sha256="0" * 64, deleted_at=T0,
    ))
    session.flush()
    view = portal.overview(session, cid, T0 + timedelta(days=100))
    assert view.has_subscription and view.plan_name == "Starter" and view.status_label == "Active"
    assert view.price_label == "₩15,000 per month"
    assert view.next_renewal_label == "31 May 2026" and view.next_renewal_amount_label == "₩15,000"
    assert view.banners == ()
    storage = view.usage[0]
    assert (storage.used_label, storage.limit_label, storage.percent) == ("1.5 GB", "10 GB", 15)
    assert "Projects: up to 5" in view.limits and "Users: unlimited" in view.limits


def test_overview_banners(session, history, prices):
    cid, sid = history.customer.id, history.subscription.id
    now = T0 + timedelta(days=100)
    subscriptions.cancel(session, sid, at_period_end=True, reason="Too expensive", now=now)
    view = portal.overview(session, cid, now)
    assert [b.kind for b in view.banners] == ["cancel_scheduled"]
    assert view.banners[0].title == "Your plan ends on 31 May 2026" and view.next_renewal_label == ""
    subscriptions.resume(session, sid, now=now)
    assert portal.overview(session, cid, now).banners == ()

    # A failed renewal: past due, with the open invoice waiting.
    invoice = subscriptions.renew(session, sid, now=history.subscription.current_period_end)
    _pay(session, invoice, invoice.finalized_at, ok=False)
    view = portal.overview(session, cid, invoice.finalized_at)
    assert [b.kind for b in view.banners] == ["past_due", "open_invoice"]
    assert "₩15,000" in view.banners[1].message
    # The past-due banner says what failed, why, when the next retry is, and which invoice to pay.
    invoice.next_collection_at = invoice.finalized_at + timedelta(days=1)
    session.add(invoice)
    failed = portal.overview(session, cid, invoice.finalized_at).banners[0]
    assert failed.title == "Your payment failed" and failed.invoice_id == invoice.id
    assert failed.message == (
        f"We could not collect ₩15,000 for invoice {invoice.number}. Your card was declined. "
        f"We will try again on {portal.format_day(invoice.next_collection_at)}; your plan keeps running "
        "until then. Update your card, or pay the invoice now."
    )
    later = portal.overview(session, cid, invoice.next_collection_at).banners[0]
    assert "We will try again shortly; your plan keeps running." in later.message


def test_overview_trial_ending_and_no_subscription(session, prices):
    customer = _customer(session)
    assert portal.overview(session, customer.id, T0).has_subscription is False
    subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.team.id, now=T0)
    early = portal.overview(session, customer.id, T0 + timedelta(days=1))
    assert early.status_label == "Trial" and early.banners == ()
    late = portal.overview(session, customer.id, T0 + timedelta(days=8))
    assert [b.kind for b in late.banners] == ["trial_ending"]
    assert "14 February 2026" in late.banners[0].message and "₩99,000" in late.banners[0].message


def test_plan_page_offers_prices_in_the_subscription_currency_per_interval(session, history, prices):
    page = portal.plan_page(session, history.customer.id, interval=None, now=T0)
    assert page.currency == "KRW" and page.current_interval == "month-1"
    assert [(o.plan_name, o.price_label, o.is_current) for o in page.options] == [
        ("Starter", "₩15,000", True), ("Pro", "₩39,000", False), ("Team", "₩99,000", False),
    ]
    quarterly = portal.plan_page(session, history.customer.id, interval="month-3", now=T0)
    assert [(o.plan_name, o.period_label) for o in quarterly.options] == [
        ("Starter", "every 3 months"), ("Pro", "every 3 months"),
    ]
    assert page.can_change and page.can_cancel and page.can_pause and not page.can_resume and not page.can_unpause
    assert portal.is_change_option(session, history.subscription, prices.pro.id)
    usd = repository.active_prices(session, currency="USD")[0]
    assert not portal.is_change_option(session, history.subscription, usd.id)


def test_preview_sentences(session, prices):
    customer = _customer(session)
    sub = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices.starter.id, now=T0)
    _pay(session, sub.invoice, T0)
    sid = sub.subscription.id
    half = T0 + timedelta(days=14)  # half of the 28-day first period

    up = subscriptions.preview(session, sid, price_id=prices.pro.id, quantity=1, now=half)
    text = portal.describe_preview(session, customer.id, up, trialing=False)
    # -7,500 for unused Starter, +19,500 for the rest on Pro
    assert text.sentence == "You pay ₩12,000 now, then ₩39,000 every month from 28 February 2026."
    assert [line.amount for line in text.lines] == ["-₩7,500", "₩19,500"]
    assert text.confirm_label == "Confirm change" and text.due_now_label == "₩12,000"

    quarterly = subscriptions.preview(session, sid, price_id=prices.pro_q.id, quantity=1, now=half)
    sentence = portal.describe_preview(session, customer.id, quarterly, trialing=False).sentence
    assert sentence.endswith("then ₩105,300 every 3 months from 14 May 2026.")

    with pytest.raises(DomainError, match="current plan"):
        subscriptions.preview(session, sid, price_id=prices.starter.id, quantity=1, now=half)
    changed = subscriptions.change(session, sid, price_id=prices.pro.id, quantity=1, now=half)
    assert changed.invoice.status == "open"
    down = subscriptions.preview(session, sid, price_id=prices.starter.id, quantity=1, now=half)
    text = portal.describe_preview(session, customer.id, down, trialing=False)
    assert text.sentence == "Nothing changes until 28 February 2026. From 28 February 2026 you pay ₩15,000 every month."
    # The open proration invoice is in the history, amber.
    row = portal.history_page(session, customer.id, status="open").rows[0]
    assert row.kind == "invoice" and row.description == "Plan change (prorated)" and row.amount_label == "₩12,000"


def test_format_helpers():
    assert portal.format_day(T0) == "31 January 2026"
    assert portal.format_bytes(0) == "0 B"
    assert portal.format_bytes(10 * GB) == "10 GB"
    assert portal.format_bytes(1024 * GB) == "1 TB"
    assert portal.parse_day("2026-03-01", "start date") == date(2026, 3, 1)
    assert portal.parse_day("", "start date") is None
    with pytest.raises(DomainError, match="YYYY-MM-DD"):
        portal.parse_day("tomorrow", "start date")


def test_history_window_reads_a_bounded_window(session, history):
    """Each branch is cut to offset + limit rows before the merge (checked on the SQL)."""
    from sqlalchemy.dialects import sqlite

    captured = []
    original = session.exec

    def spy(statement, *a, **k):
        captured.append(str(statement.compile(dialect=sqlite.dialect())))
        return original(statement, *a, **k)

    session.exec = spy
    try:
        repository.history_window(
            session, history.customer.id, branches={"invoice": None, "payment": None, "refund": None},
            start=None, end=None, limit=20, offset=40,
        )
    finally:
        session.exec = original
    sql = captured[0]
    assert sql.count("LIMIT") == 4 and "UNION ALL" in sql


def test_a_huge_history_is_counted_only_as_far_as_pages_reach(session, history, monkeypatch):
    monkeypatch.setattr(portal, "MAX_PAGE", 2)
    page = portal.history_page(session, history.customer.id, page=9, page_size=3)
    assert (page.total, page.pages, page.page, page.total_is_exact) == (6, 2, 2, False)
    assert len(page.rows) == 3
    assert portal.history_page(session, history.customer.id, page_size=50).total_is_exact


def test_history_rows_say_which_have_a_pdf_and_which_payments_can_be_refunded(session, history):
    from billing_portal.billing import refund_requests

    cid = history.customer.id
    rows = portal.history_page(session, cid, page_size=50).rows
    assert all(r.has_pdf for r in rows if r.kind == "invoice")
    assert not any(r.can_pay for r in rows)  # every invoice is paid
    assert all(r.has_pdf for r in rows if r.kind == "refund")  # the credit note of a succeeded refund
    assert not any(r.has_pdf or r.refund_requested_label for r in rows if r.kind == "payment")
    paid = [r for r in rows if r.kind == "payment" and r.status in ("succeeded", "partially_refunded")]
    assert len(paid) == 4 and all(r.can_request_refund for r in paid)
    assert not any(r.can_request_refund for r in rows if r.kind != "payment" or r.status == "failed")

    # Ids of different kinds overlap: ask on a payment whose id an invoice shares; only the payment
    # carries the request.
    target = next(p for p in paid if any(r.kind == "invoice" and r.id == p.id for r in rows))
    refund_requests.request_refund(session, customer_id=cid, payment_id=target.id, amount=3000, reason="outage")
    rows = portal.history_page(session, cid, page_size=50).rows
    assert [(r.kind, r.id) for r in rows if r.refund_requested_label] == [("payment", target.id)]
    again = {r.id: r for r in rows if r.kind == "payment"}
    assert again[target.id].refund_requested_label == "Refund requested: ₩3,000"
    assert not again[target.id].can_request_refund
    assert sum(r.can_request_refund for r in again.values()) == 3


def test_credits_page_shows_the_balance_a_ledger_page_and_packs_in_the_billing_currency(session, history):
    from billing_portal.billing import credits
    from billing_portal.models import CreditPack

    cid = history.customer.id
    session.add_all([
        CreditPack(slug="c-krw", name="1,000 credits", currency="KRW", amount=12000, credits=1000, bonus_credits=100),
        CreditPack(slug="c-usd", name="1,000 credits", currency="USD", amount=1000, credits=1000),
        CreditPack(slug="c-old", name="Old", currency="KRW", amount=1, credits=1, active=False),
    ])
    for i in range(25):
        credits.grant(session, customer_id=cid, amount=100, reason=f"grant {i}", idempotency_key=f"g{i}", now=T0)
    credits.spend(session, customer_id=cid, amount=1300, reason="export", idempotency_key="s", now=T0)

    first = portal.credits_page(session, cid)
    assert (first.balance, first.balance_label, first.total, first.pages) == (1200, "1,200", 26, 2)
    assert first.rows[0].reason == "export" and first.rows[0].delta_label == "-1,300" and not first.rows[0].grant
    assert first.rows[1].delta_label == "+100" and first.rows[1].balance_label == "2,500"
    assert [p.slug for p in first.packs] == ["c-krw"]  # the subscription's currency, active packs only
    assert first.packs[0].credits_label == "1,000 credits + 100 bonus" and first.packs[0].price_label == "₩12,000"
    second = portal.credits_page(session, cid, page=2)
    assert len(second.rows) == 6 and second.rows[-1].reason == "grant 0"
    assert {r.id for r in first.rows}.isdisjoint({r.id for r in second.rows})
    assert portal.credits_page(session, cid, page=99).page == 2

    other = _customer(session, "nobody@example.com")
    empty = portal.credits_page(session, other.id)
    assert (empty.balance_label, empty.rows, empty.pages) == ("0", (), 1)


def _keys(page):
    return [(r.kind, r.id) for r in page.rows]


def test_keyset_pages_match_numbered_pages_forward_and_back(session, history):
    """Next and previous pages found from a row's key are the numbered pages, ties included: several
    failed attempts share one instant with each other and with their invoice's payment."""
    cid = history.customer.id
    invoice = subscriptions.renew(session, history.subscription.id, now=history.subscription.current_period_end)
    for attempt in range(4):
        _pay(session, invoice, invoice.finalized_at, ok=False, key=f"tie:{attempt}")
    numbered = [portal.history_page(session, cid, page=n, page_size=3) for n in range(1, 6)]
    assert numbered[0].pages == 5 and numbered[0].starts_after is None
    assert all(page.starts_after == before.last for before, page in zip(numbered, numbered[1:]))

    page, forward = numbered[0], [numbered[0]]
    while page.page < page.pages:
        page = portal.history_page(session, cid, page=page.page + 1, page_size=3, after=page.last,
                                   counted=(page.total, page.total_is_exact))
        forward.append(page)
    assert [_keys(p) for p in forward] == [_keys(p) for p in numbered]
    assert [p.starts_after for p in forward] == [p.starts_after for p in numbered]

    backward = [page]
    while page.page > 1:
        page = portal.history_page(session, cid, page=page.page - 1, page_size=3, before=page.first,
                                   counted=(page.total, page.total_is_exact))
        backward.append(page)
    assert [(p.page, _keys(p), p.starts_after) for p in reversed(backward)] == [
        (p.page, _keys(p), p.starts_after) for p in numbered]


def test_keyset_pages_keep_the_filters_and_fall_back_to_numbers(session, history):
    cid = history.customer.id
    payments_only = portal.history_page(session, cid, kind="payment", page_size=2)
    second = portal.history_page(session, cid, kind="payment", page=2, page_size=2, after=payments_only.last)
    assert {r.kind for r in second.rows} == {"payment"} and second.page == 2
    assert _keys(second) == _keys(portal.history_page(session, cid, kind="payment", page=2, page_size=2))
    # Past the last row there is nothing to show by key: the page is found by its number instead.
    last = portal.history_page(session, cid, page=99, page_size=3)
    beyond = portal.history_page(session, cid, page=last.page, page_size=3, after=last.last)
    assert _keys(beyond) == _keys(last) and beyond.starts_after == last.starts_after
    # Nothing newer than the first row: the first page.
    top = portal.history_page(session, cid, page=2, page_size=3, before=payments_only.first)
    assert top.page == 1 and top.starts_after is None
