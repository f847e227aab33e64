"""Payment history at 1,000,000 rows for one customer, on PostgreSQL.

The customer has 300,000 invoices, 600,000 payments and 100,000 refunds over five years (plus
1,000 other customers with about eighty rows each around them). /billing/history's read model
(billing/portal.py `history_page`: merge, filters, count and page in SQL) is timed for the first,
a middle and the last page, unfiltered and with each kind of filter, each reached the way the
page reaches it (CASES): p95 per case, goal < 20 ms.
The baseline replays the same SQL through a raw psycopg cursor (no ORM, no row formatting).

    .venv/bin/python -m bench.history             # BENCH_HISTORY_RUNS (200) per case
"""

import os
import time
from datetime import UTC, date, datetime

from sqlmodel import Session, create_engine

from bench.dataset import (
    bulk_load,
    Step,
    StatementRecorder,
    connect,
    insert_select,
    migrated_database,
    replay,
    reset_sequences,
    vacuum_analyze,
)
from bench.report import emit, percentile
from billing_portal.billing import portal

NOW = datetime(2026, 12, 1, 6, tzinfo=UTC)
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
INVOICES, PAYMENTS = int(300_000 * SCALE), int(600_000 * SCALE)  # refunds: the rest of 1M
ROWS = int(1_000_000 * SCALE)
OTHERS = 1000
RUNS = int(os.environ.get("BENCH_HISTORY_RUNS", "200"))
LOCALE = "ko_KR"  # the customer's: the page passes it from the signed-in user it has already read
GOAL_MS = 20
CUSTOMER = 1


def generate(url: str, step: Step) -> dict[str, int]:
    now = f"timestamptz '{NOW.isoformat()}'"
    with connect(url) as conn:
        conn.execute("SELECT setseed(0.17)")
        with bulk_load(conn, ["users", "customers", "invoices", "payments", "refunds"]):
            with step("customers"):
                insert_select(conn, "users", {"id": "g", "email": "'history' || g || '@example.com'", "password_hash": "'-'",
                                              "created_at": f"{now} - interval '6 years'"},
                              f"FROM generate_series(1, {OTHERS + 1}) g")
                insert_select(conn, "customers", {"id": "g", "user_id": "g", "name": "'Customer ' || g",
                                                  "preferred_currency": "'KRW'", "locale": f"'{LOCALE}'",
                                                  "created_at": f"{now} - interval '6 years'"},
                              f"FROM generate_series(1, {OTHERS + 1}) g")
            with step("invoices"):
                # Customer 1 owns the first INVOICES rows; each other customer 30 more.
                conn.execute(f"""
                    CREATE TEMP TABLE inv AS
                    SELECT g AS id, CASE WHEN g <= {INVOICES} THEN 1 ELSE 2 + (g - {INVOICES}) % {OTHERS} END AS customer_id,
                           {now} - random() * interval '5 years' AS at, random() AS r
                    FROM generate_series(1, {INVOICES + 30 * OTHERS}) g""")
                insert_select(conn, "invoices", {
                    "id": "id", "customer_id": "customer_id", "number": "'INV-' || lpad(id::text, 8, '0')",
                    "status": "CASE WHEN r < 0.90 THEN 'paid' WHEN r < 0.94 THEN 'open' WHEN r < 0.97 THEN 'void'"
                              " WHEN r < 0.995 OR customer_id = 1 THEN 'uncollectible' ELSE 'draft' END",
                    "currency": "'KRW'", "subtotal": "15000", "total": "15000", "billing_details": "'{}'",
                    "billing_reason": "CASE WHEN r < 0.5 THEN 'subscription_cycle' ELSE 'manual' END",
                    "idempotency_key": "'history:' || id", "created_at": "at", "finalized_at": "at",
                }, "FROM inv")
            with step("payments"):
                # Half of the customer's payments pay an invoice (made a minute after it), half are one-off.
                conn.execute(f"""
                    CREATE TEMP TABLE pay AS
                    SELECT g AS id, coalesce(i.customer_id, CASE WHEN g <= {PAYMENTS} THEN 1 ELSE 2 + g % {OTHERS} END) AS customer_id,
                           i.id AS invoice_id, coalesce(i.at + interval '1 minute', {now} - random() * interval '5 years') AS at,
                           random() AS r
                    FROM generate_series(1, {PAYMENTS + 50 * OTHERS}) g
                    LEFT JOIN inv i ON i.id = CASE WHEN g <= {PAYMENTS} AND g % 2 = 0 THEN g / 2 END""")
                insert_select(conn, "payments", {
                    "id": "id", "customer_id": "customer_id", "invoice_id": "invoice_id",
                    "stripe_payment_intent_id": "'pi_history_' || id", "amount": "15000", "currency": "'KRW'",
                    "status": "CASE WHEN r < 0.62 THEN 'succeeded' WHEN r < 0.72 THEN 'failed' WHEN r < 0.74 THEN 'canceled'"
                              " WHEN r < 0.745 THEN 'requires_action' WHEN r < 0.87 THEN 'refunded' ELSE 'partially_refunded' END",
                    "card_brand": "'visa'", "card_last4": "'4242'",
                    "failure_message": "CASE WHEN r >= 0.62 AND r < 0.72 THEN 'Your card was declined.' ELSE '' END",
                    "idempotency_key": "'history:' || id", "created_at": "at", "updated_at": "at",
                }, "FROM pay")
            with step("refunds"):
                # One refund per refunded payment of the customer, up to 1M rows in all; others get a few.
                conn.execute(f"""
                    INSERT INTO refunds (id, payment_id, customer_id, amount, currency, reason, status, rejection_reason, created_at,
                                         decided_at)
                    SELECT row_number() OVER (ORDER BY p.id), p.id, p.customer_id, 7500, 'KRW', 'Not needed',
                           CASE WHEN p.id % 100 < 86 THEN 'succeeded' WHEN p.id % 100 < 90 THEN 'requested' ELSE 'rejected' END, '',
                           p.created_at + interval '2 days', p.created_at + interval '2 days'
                    FROM payments p WHERE p.status IN ('refunded', 'partially_refunded')
                      AND (p.customer_id <> 1 OR p.id <= (SELECT max(id) FROM (
                           SELECT id FROM payments WHERE customer_id = 1 AND status IN ('refunded', 'partially_refunded')
                           ORDER BY id LIMIT {ROWS - INVOICES - PAYMENTS}) wanted))""")
        reset_sequences(conn, ["users", "customers", "invoices", "payments", "refunds"])
        counts = {
            "invoices": conn.execute("SELECT count(*) FROM invoices WHERE customer_id = 1 AND status <> 'draft'").fetchone()[0],
            "payments": conn.execute("SELECT count(*) FROM payments WHERE customer_id = 1").fetchone()[0],
            "refunds": conn.execute("SELECT count(*) FROM refunds r JOIN payments p ON p.id = r.payment_id"
                                    " WHERE p.customer_id = 1").fetchone()[0],
        }
    with step("vacuum analyze"):
        vacuum_analyze(url)
    return counts


MONTH = {"date_from": date(2024, 6, 1), "date_to": date(2024, 6, 30)}
# Name -> (filters, page, how the page is reached): "number" is a fresh load (counts, then the page
# by number: what the first page and every filter change do); "next" / "previous" is what the page's
# buttons do (the keyset page after the last row / before the first row of the page next to it, with
# the first page's count). Page 10_000 means the last page.
CASES: dict[str, tuple[dict, int, str]] = {
    "first_page": ({}, 1, "number"),
    "second_page_next": ({}, 2, "next"),
    "middle_page_next": ({}, 250, "next"),
    "middle_page_previous": ({}, 250, "previous"),
    "last_page_next": ({}, 10_000, "next"),
    "paid_first_page": ({"status": "paid"}, 1, "number"),
    "paid_last_page_next": ({"status": "paid"}, 10_000, "next"),
    "failed_first_page": ({"status": "failed"}, 1, "number"),
    "failed_last_page_next": ({"status": "failed"}, 10_000, "next"),
    "refunds_first_page": ({"kind": "refund"}, 1, "number"),
    "refunds_last_page_next": ({"kind": "refund"}, 10_000, "next"),
    "open_first_page": ({"status": "open"}, 1, "number"),
    "one_month_first_page": (MONTH, 1, "number"),
    "one_month_last_page_next": (MONTH, 10_000, "next"),
    "month_failed_payments_page_2": ({**MONTH, "status": "failed", "kind": "payment"}, 2, "next"),
}


def arguments(engine, filters: dict, page: int, how: str) -> dict:
    """history_page's arguments for the case, with the keys the page next to it gives."""
    with Session(engine) as session:
        pages = portal.history_page(session, CUSTOMER, **filters).pages
        page = max(1, min(page, pages))
        if how == "number":
            return {**filters, "page": page}
        if how == "previous" and page == pages:
            raise ValueError("no page after the last one to come back from")
        beside = portal.history_page(session, CUSTOMER, **filters, page=page if how == "next" else page + 1)
    counted = (beside.total, beside.total_is_exact)
    if how == "next":
        return {**filters, "page": page, "after": beside.starts_after, "counted": counted}
    return {**filters, "page": page, "before": beside.first, "counted": counted}


def time_case(engine, recorder: StatementRecorder, raw, name: str, arguments: dict) -> None:
    def run() -> portal.HistoryPage:
        with Session(engine) as session:
            return portal.history_page(session, CUSTOMER, locale=LOCALE, **arguments)

    for _ in range(3):
        page = run()
    ours, bare = [], []
    for _ in range(RUNS):
        with recorder.recording() as statements:
            began = time.perf_counter()
            run()
            ours.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        replay(raw, list(statements))
        bare.append((time.perf_counter() - began) * 1000)
    p95, bare95 = percentile(ours, 95), percentile(bare, 95)
    shown = {k: v.isoformat() if isinstance(v, date) else v for k, v in arguments.items()
             if k not in ("after", "before", "counted")}
    emit(f"history_{name}_p95", p95, "ms", f"p95 < {GOAL_MS} ms", bare95, p95 < GOAL_MS,
         p50=round(percentile(ours, 50), 3), runs=RUNS, page=page.page, pages=page.pages, total=page.total,
         rows=len(page.rows), filters=shown, by=next((k for k in ("after", "before") if k in arguments), "number"))


def main() -> None:
    step = Step()
    with migrated_database("bench_history") as url:
        with step("total"):
            counts = generate(url, step)
        engine = create_engine(url)
        emit("history_rows", sum(counts.values()), "rows", "1,000,000 rows of one customer", None, True,
             generated=counts, generation_seconds=step.summary())
        recorder = StatementRecorder(engine)
        with connect(url) as raw:
            for name, (filters, page, how) in CASES.items():
                time_case(engine, recorder, raw, name, arguments(engine, filters, page, how))
        engine.dispose()


if __name__ == "__main__":
    main()
