"""Revenue dashboard at scale: 1,000,000 payments and 100,000 subscriptions on PostgreSQL.

1. Generates 24 months of billing: 100,000 customers, one subscription each across four plans and
   five currencies (USD, EUR, GBP, KRW, JPY), monthly (85 %) or yearly, some with a trial, some
   canceled, a few past due; their period invoices and lines; one payment per paid invoice, a
   failed attempt before some; one-off payments (no invoice) up to exactly 1,000,000; refunds.
2. Runs the rollup refresh (billing/analytics/rollups.py) from scratch and reports its time.
3. Times every query /admin and /admin/alerts run (billing/analytics/dashboard.py, queries.py)
   over varied date ranges: p95 per panel, goal < 50 ms. The baseline replays the same SQL through
   a raw psycopg cursor (no ORM).

    .venv/bin/python -m bench.dashboard            # BENCH_DASHBOARD_RUNS (200) ranges per panel
"""

import os
import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

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
from billing_portal.billing.analytics import alerts_page, dashboard, queries, rollups
from billing_portal.billing.analytics.mrr import month_start

NOW = datetime(2026, 12, 1, 6, tzinfo=UTC)
# BENCH_SCALE shrinks the data for a quick try (0.01: 1,000 subscriptions, 10,000 payments).
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
SUBSCRIPTIONS = int(100_000 * SCALE)
PAYMENTS = int(1_000_000 * SCALE)
RUNS = int(os.environ.get("BENCH_DASHBOARD_RUNS", "200"))
GOAL_MS = 50

# plan number -> (slug, name, monthly price per currency); yearly is ten months.
PLANS = {
    1: ("starter", "Starter", {"USD": 1900, "EUR": 1900, "GBP": 1500, "KRW": 25000, "JPY": 2800}),
    2: ("team", "Team", {"USD": 4900, "EUR": 4500, "GBP": 3900, "KRW": 65000, "JPY": 7200}),
    3: ("business", "Business", {"USD": 9900, "EUR": 9500, "GBP": 7900, "KRW": 130000, "JPY": 14500}),
    4: ("enterprise", "Enterprise", {"USD": 29900, "EUR": 27900, "GBP": 23900, "KRW": 390000, "JPY": 44000}),
}
CURRENCIES = ("USD", "EUR", "GBP", "KRW", "JPY")
# Drawn by index: USD 30 %, EUR 20 %, GBP 10 %, KRW 20 %, JPY 20 %.
CURRENCY_DRAW = "ARRAY['USD','USD','USD','EUR','EUR','GBP','KRW','KRW','JPY','JPY']"


def generate(url: str, step: Step) -> dict[str, int]:
    now = f"timestamptz '{NOW.isoformat()}'"
    with connect(url) as conn:
        conn.execute("SELECT setseed(0.42)")
        with bulk_load(conn, ["users", "customers", "subscriptions", "invoices", "invoice_lines", "payments", "refunds"]):
            with step("catalog"):
                for number, (slug, name, amounts) in PLANS.items():
                    insert_select(conn, "plans", {"id": str(number), "slug": f"'{slug}'", "name": f"'{name}'",
                                                  "tier": str(number), "features": "'[]'", "created_at": f"{now} - interval '3 years'"}, "")
                    for c, currency in enumerate(CURRENCIES):
                        for y, (interval, months) in enumerate((("month", 1), ("year", 10))):
                            insert_select(conn, "prices", {
                                "id": str(number * 100 + c * 10 + y), "plan_id": str(number), "currency": f"'{currency}'",
                                "interval": f"'{interval}'", "unit_amount": str(amounts[currency] * months),
                                "created_at": f"{now} - interval '3 years'",
                            }, "")
            with step("customers"):
                # One row of random draws per subscription, so every table agrees on them.
                conn.execute(f"""
                    CREATE TEMP TABLE draw AS
                    SELECT g AS id,
                           ({CURRENCY_DRAW})[1 + floor(random() * 10)::int] AS currency,
                           1 + floor(power(random(), 1.6) * 4)::int AS plan_no,
                           random() < 0.85 AS monthly,
                           {now} - power(random(), 1.3) * interval '730 days' AS started,
                           random() AS churn, random() AS churn_at, random() AS trial, random() AS late
                    FROM generate_series(1, {SUBSCRIPTIONS}) g""")
                insert_select(conn, "users", {"id": "id", "email": "'bench' || id || '@example.com'",
                                              "password_hash": "'-'", "created_at": "started"}, "FROM draw")
                insert_select(conn, "customers", {
                    "id": "id", "user_id": "id", "name": "'Customer ' || id", "preferred_currency": "currency",
                    "locale": "CASE currency WHEN 'KRW' THEN 'ko_KR' WHEN 'JPY' THEN 'ja_JP' WHEN 'EUR' THEN 'de_DE'"
                              " WHEN 'GBP' THEN 'en_GB' ELSE 'en_US' END",
                    "created_at": "started",
                }, "FROM draw")
            with step("subscriptions"):
                # 10 % start with a 14-day trial (a third of those never convert); 22 % cancel later.
                conn.execute(f"""
                    CREATE TEMP TABLE sub AS
                    SELECT d.*, p.id AS price_id, p.unit_amount,
                           CASE WHEN d.monthly THEN interval '1 month' ELSE interval '1 year' END AS step,
                           CASE WHEN d.trial < 0.10 THEN d.started + interval '14 days' END AS trial_end,
                           CASE WHEN d.trial < 0.033 THEN d.started + interval '14 days'
                                WHEN d.churn < 0.22 THEN d.started + d.churn_at * ({now} - d.started) END AS canceled_at
                    FROM draw d JOIN prices p
                      ON p.plan_id = d.plan_no AND p.currency = d.currency AND p.interval = CASE WHEN d.monthly THEN 'month' ELSE 'year' END""")
                conn.execute(f"""
                    CREATE TEMP TABLE period AS
                    SELECT s.id AS sub, k, coalesce(s.trial_end, s.started) + k * s.step AS pstart,
                           coalesce(s.trial_end, s.started) + (k + 1) * s.step AS pend
                    FROM sub s, generate_series(0, 24) k
                    WHERE coalesce(s.trial_end, s.started) + k * s.step < least(coalesce(s.canceled_at, {now}), {now})""")
                conn.execute("CREATE INDEX ON period (sub, k)")
                insert_select(conn, "subscriptions", {
                    "id": "s.id", "customer_id": "s.id", "price_id": "s.price_id",
                    "status": f"CASE WHEN s.canceled_at IS NOT NULL AND s.canceled_at <= {now} THEN 'canceled'"
                              f" WHEN s.trial_end > {now} THEN 'trialing' WHEN s.late < 0.03 THEN 'past_due' ELSE 'active' END",
                    "current_period_start": "coalesce(last.pstart, s.started)",
                    "current_period_end": "coalesce(last.pend, s.trial_end, s.started + s.step)",
                    "billing_anchor": "coalesce(s.trial_end, s.started)", "canceled_at": "s.canceled_at",
                    "trial_end": "s.trial_end", "created_at": "s.started",
                }, "FROM sub s LEFT JOIN LATERAL (SELECT pstart, pend FROM period p WHERE p.sub = s.id"
                   " ORDER BY k DESC LIMIT 1) last ON true")
            with step("invoices"):
                # Ids in time order, as a live system hands them out. The last invoice of a past-due
                # subscription is open; every other one is paid.
                conn.execute(f"""
                    CREATE TEMP TABLE inv AS
                    SELECT row_number() OVER (ORDER BY p.pstart, p.sub) AS id, p.sub, p.k, p.pstart, p.pend,
                           s.currency, s.unit_amount, s.late,
                           NOT (s.late < 0.03 AND (s.canceled_at IS NULL OR s.canceled_at > {now})
                                AND p.pend > {now}) AS paid
                    FROM period p JOIN sub s ON s.id = p.sub""")
                insert_select(conn, "invoices", {
                    "id": "id", "customer_id": "sub", "subscription_id": "sub", "number": "'INV-' || lpad(id::text, 8, '0')",
                    "status": "CASE WHEN paid THEN 'paid' ELSE 'open' END", "currency": "currency",
                    "subtotal": "unit_amount", "total": "unit_amount", "amount_paid": "CASE WHEN paid THEN unit_amount ELSE 0 END",
                    "billing_details": "'{}'", "billing_reason": "CASE WHEN k = 0 THEN 'subscription_create' ELSE 'subscription_cycle' END",
                    "idempotency_key": "'bench:' || sub || ':' || k", "created_at": "pstart", "finalized_at": "pstart",
                    "due_at": "pstart", "paid_at": "CASE WHEN paid THEN pstart + interval '5 minutes' END",
                    "collection_attempts": "CASE WHEN paid THEN 1 ELSE 2 END",
                }, "FROM inv")
                insert_select(conn, "invoice_lines", {
                    "id": "id", "invoice_id": "id", "description": "'Subscription'", "unit_amount": "unit_amount",
                    "amount": "unit_amount", "period_start": "pstart", "period_end": "pend",
                }, "FROM inv")
            with step("payments"):
                # A failed attempt before 8 % of the paid invoices and before every open one.
                conn.execute("""
                    CREATE TEMP TABLE pay AS
                    SELECT * FROM (
                        SELECT i.id AS invoice_id, i.sub AS customer_id, i.currency, i.unit_amount AS amount,
                               'failed' AS status, i.pstart + interval '1 minute' AS at, ':failed' AS suffix
                        FROM inv i WHERE NOT i.paid OR random() < 0.08
                        UNION ALL
                        SELECT i.id, i.sub, i.currency, i.unit_amount, 'succeeded', i.pstart + interval '5 minutes', ''
                        FROM inv i WHERE i.paid) attempts""")
                invoiced = conn.execute("SELECT count(*) FROM pay").fetchone()[0]
                if invoiced > PAYMENTS:
                    raise RuntimeError(f"{invoiced} invoice payments: more than {PAYMENTS}; lower SUBSCRIPTIONS")
                # Credit packs and other one-off charges make up the rest, at random times and customers.
                conn.execute(f"""
                    INSERT INTO pay
                    SELECT NULL, c.id, c.preferred_currency,
                           CASE WHEN c.preferred_currency IN ('KRW', 'JPY') THEN 10000 ELSE 1000 END * (1 + floor(random() * 5)),
                           CASE WHEN r < 0.90 THEN 'succeeded' WHEN r < 0.97 THEN 'failed' ELSE 'canceled' END,
                           {now} - random() * interval '730 days', ':oneoff:' || g
                    FROM (SELECT g, 1 + floor(random() * {SUBSCRIPTIONS})::int AS customer, random() AS r
                          FROM generate_series(1, {PAYMENTS - invoiced}) g) o
                    JOIN customers c ON c.id = o.customer""")
                insert_select(conn, "payments", {
                    "id": "row_number() OVER (ORDER BY at, customer_id, suffix)", "customer_id": "customer_id",
                    "invoice_id": "invoice_id", "stripe_payment_intent_id": "'pi_bench_' || md5(concat_ws('/', invoice_id, customer_id, suffix))",
                    "amount": "amount", "currency": "currency", "status": "status", "card_brand": "'visa'", "card_last4": "'4242'",
                    "failure_code": "CASE WHEN status = 'failed' THEN 'card_declined' ELSE '' END",
                    "failure_message": "CASE WHEN status = 'failed' THEN 'Your card was declined.' ELSE '' END",
                    "idempotency_key": "'bench:' || coalesce('invoice:' || invoice_id, 'customer:' || customer_id) || suffix",
                    "created_at": "at", "updated_at": "at", "stripe_updated_at": "at",
                }, "FROM pay")
            with step("refunds"):
                # 1.5 % of succeeded payments: two thirds in full, the rest half, decided three days later.
                conn.execute("""
                    CREATE TEMP TABLE ref AS
                    SELECT id AS payment_id, customer_id, currency, created_at, CASE WHEN random() < 0.67 THEN amount ELSE amount / 2 END AS amount,
                           amount AS paid
                    FROM payments WHERE status = 'succeeded' AND random() < 0.015""")
                insert_select(conn, "refunds", {
                    "id": "row_number() OVER (ORDER BY created_at, payment_id)", "payment_id": "payment_id",
                    "customer_id": "customer_id", "amount": "amount",
                    "currency": "currency", "reason": "'requested_by_customer'", "status": "'succeeded'",
                    "stripe_refund_id": "'re_bench_' || payment_id", "created_at": "created_at + interval '3 days'",
                    "decided_at": "created_at + interval '3 days'",
                }, "FROM ref")
                conn.execute("""
                    UPDATE payments p SET status = CASE WHEN r.amount = r.paid THEN 'refunded' ELSE 'partially_refunded' END
                    FROM ref r WHERE p.id = r.payment_id""")
        reset_sequences(conn, ["plans", "prices", "users", "customers", "subscriptions", "invoices", "invoice_lines",
                               "payments", "refunds"])
        counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("subscriptions", "invoices", "payments", "refunds")}
    with step("vacuum analyze"):
        vacuum_analyze(url)
    return counts


def ranges(count: int) -> list[tuple[date, date]]:
    """The dashboard's presets and random spans of 7 days to 2 years inside the data."""
    rng = random.Random(7)
    today = NOW.date()
    fixed = [(today - timedelta(days=29), today), (date(today.year, 1, 1), today),
             (month_start(today - timedelta(days=335)), today)]
    spans = [7, 30, 90, 365, 730]
    drawn = []
    while len(fixed) + len(drawn) < count:
        days = rng.choice(spans)
        end = today - timedelta(days=rng.randrange(0, max(1, 730 - days)))
        drawn.append((end - timedelta(days=days - 1), end))
    return fixed + drawn


def time_panel(engine, recorder: StatementRecorder, raw, name: str, run: Callable[[Session, date, date], object],
               spans: list[tuple[date, date]], **extra) -> None:
    ours, bare = [], []
    for start, end in spans[:3]:  # warm the plan cache and the buffer cache
        with Session(engine) as session:
            run(session, start, end)
    for start, end in spans:
        with recorder.recording() as statements:
            began = time.perf_counter()
            with Session(engine) as session:
                run(session, start, end)
            ours.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        replay(raw, list(statements))
        bare.append((time.perf_counter() - began) * 1000)
    p95, bare95 = percentile(ours, 95), percentile(bare, 95)
    emit(f"dashboard_{name}_p95", p95, "ms", f"p95 < {GOAL_MS} ms", bare95, p95 < GOAL_MS,
         p50=round(percentile(ours, 50), 3), runs=len(ours), **extra)


PANELS: dict[str, Callable[[Session, date, date], object]] = {
    # MRR/ARR trend and the movements chart: the month rows of the range.
    "mrr_months": lambda s, start, end: queries.months_between(s, month_start(start), month_start(end)),
    # MRR, ARR, subscribers, ARPU cards: each currency's latest month up to the end.
    "mrr_latest": lambda s, start, end: queries.latest_months_up_to(s, month_start(end)),
    # Payment success/failure, refunds, revenue per currency and per plan: the day rows.
    "payment_totals": lambda s, start, end: queries.payment_totals_between(s, start, end),
    "plan_names": lambda s, start, end: queries.plan_names(s, set(PLANS)),
    "open_alerts": lambda s, start, end: queries.open_alert_count(s),
    # /admin/alerts: the newest open alerts.
    "alerts_page": lambda s, start, end: alerts_page(s, open_only=True, limit=50),
    # Everything /admin loads at once (the panels above together, plus the Python figures).
    "whole_page": lambda s, start, end: dashboard(s, start=start, end=end),
}


def main() -> None:
    step = Step()
    with migrated_database("bench_dashboard") as url:
        with step("total"):
            counts = generate(url, step)
        engine = create_engine(url)
        began = time.perf_counter()
        with Session(engine) as session:
            refreshed = rollups.refresh_in(session, NOW)
            session.commit()
        refresh_seconds = time.perf_counter() - began
        emit("dashboard_rollup_refresh_full", refresh_seconds, "s", "reported", None, True,
             days=refreshed.days, months=refreshed.months, alerts=refreshed.alerts, generated=counts,
             generation_seconds=step.summary())
        vacuum_analyze(url)
        recorder = StatementRecorder(engine)
        spans = ranges(RUNS)
        with connect(url) as raw:
            for name, run in PANELS.items():
                time_panel(engine, recorder, raw, name, run, spans)
        engine.dispose()


if __name__ == "__main__":
    main()
