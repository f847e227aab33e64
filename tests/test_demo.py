"""Demo data: idempotent, and a year of KRW history with a refund and a failed payment."""

from sqlmodel import func, select

from billing_portal.billing import catalog
from billing_portal.demo import seed_demo
from billing_portal.models import CreditPack, Invoice, Payment, Plan, Refund, Subscription
from tests.support.builders import T0


def test_seed_builds_catalog_and_a_year_of_history(session):
    report = seed_demo(session, now=T0)
    assert report.created_catalog and report.created_customer and report.created_admin
    assert [p.slug for p in session.exec(select(Plan).order_by(Plan.tier))] == ["free", "starter", "pro", "enterprise"]
    assert session.exec(select(func.count()).select_from(CreditPack)).one() == 4

    annual = catalog.pricing_table(session, currency="USD", interval="year", interval_count=1, locale="en_US")
    assert [c.savings_percent for c in annual if not c.is_free] == [20, 20, 20]

    invoices = session.exec(select(Invoice).order_by(Invoice.id)).all()
    assert len(invoices) >= 12 and all(i.status == "paid" and i.currency == "KRW" for i in invoices)
    statuses = [p.status for p in session.exec(select(Payment))]
    assert statuses.count("failed") == 1 and "partially_refunded" in statuses
    refund = session.exec(select(Refund)).one()
    assert refund.amount == 5000
    subscription = session.exec(select(Subscription)).one()
    assert subscription.status == "active" and subscription.current_period_end > T0


def test_seed_is_idempotent(session):
    seed_demo(session, now=T0)
    counts = [session.exec(select(func.count()).select_from(m)).one() for m in (Plan, Invoice, Payment)]
    report = seed_demo(session, now=T0)
    assert not (report.created_catalog or report.created_customer or report.created_admin)
    assert [session.exec(select(func.count()).select_from(m)).one() for m in (Plan, Invoice, Payment)] == counts


def test_the_demo_customer_has_metered_api_calls_this_period(session):
    from billing_portal.billing import repository, usage
    from billing_portal.models import MeteredPrice, UsageRecord

    seed_demo(session, now=T0)
    customer = repository.customer_by_email(session, "demo@example.com")
    summary = usage.summary(session, customer.id)
    # 14,250 calls on Starter: 4,250 past the 10,000 included = 5 started packages × ₩2,000.
    assert [(m.metric, m.used, m.included, m.packages, m.amount) for m in summary.metrics] == [
        ("api_calls", 14_250, 10_000, 5, 10_000)
    ]
    assert summary.period_start <= min(r.recorded_at for r in session.exec(select(UsageRecord))) < T0
    counts = [session.exec(select(func.count()).select_from(m)).one() for m in (MeteredPrice, UsageRecord)]
    assert counts == [6, 5]
    seed_demo(session, now=T0)
    assert [session.exec(select(func.count()).select_from(m)).one() for m in (MeteredPrice, UsageRecord)] == counts
