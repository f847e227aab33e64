"""The job functions. Each is idempotent: it finds due work from the database's state, so running
it twice, or from two runners at once, does the work once (row locks and unique keys decide)."""

import logging
from datetime import datetime, timedelta

from billing_portal.billing import dunning, repository, subscriptions
from billing_portal.billing import files, invoice_pdfs
from billing_portal.billing import webhooks
from billing_portal.billing import analytics
from billing_portal.billing import reconciliation
from billing_portal.billing import outbox
from billing_portal.billing.outgoing_webhooks import delivery as outgoing_webhooks
from billing_portal.billing.errors import DomainError
from billing_portal.db import session_scope

logger = logging.getLogger(__name__)


def renew_due_subscriptions(now: datetime) -> int:
    """Roll every subscription whose period has ended, one transaction per subscription, then
    charge each new renewal invoice off-session in its own transaction (billing/dunning.py)."""
    with session_scope() as session:
        due = repository.due_subscription_ids(session, now)
    renewed = 0
    for subscription_id in due:
        issued = []
        try:
            with session_scope() as session:
                # Catch up one period at a time (a runner that was down may owe several).
                while (invoice := subscriptions.renew(session, subscription_id, now=now)) is not None:
                    renewed += 1
                    issued.append(invoice.id)
        except DomainError:
            logger.exception("renewal of subscription %s refused", subscription_id)
            continue
        # Charged after the renewal is committed: what is not charged now stays due for dunning.
        with session_scope() as session:
            dunning.collect_invoices(session, issued, now)
    return renewed


def retry_failed_payments(now: datetime) -> int:
    """Charge the invoices whose next dunning retry is due (billing/dunning.py)."""
    with session_scope() as session:
        return len(dunning.retry_open_invoices(session, now))


def cleanup_files(now: datetime) -> int:
    """Expired files, orphaned objects, rows whose object is gone, abandoned partial writes."""
    return files.cleanup_files(now, session_scope=session_scope).total


def render_missing_invoice_pdfs(now: datetime) -> int:
    """PDFs of finalized invoices that have none (or a stale one), and credit notes of refunds."""
    return invoice_pdfs.render_missing_invoice_pdfs(now, session_scope=session_scope)


def process_webhook_events(now: datetime) -> int:
    """Stripe events received and not processed yet, and retries that are due (billing/webhooks.py)."""
    return webhooks.process_due(now, session_scope=session_scope)


def refresh_revenue_rollups(now: datetime) -> int:
    """The admin dashboard's rollups, when something changed: payment days, open MRR months, alerts."""
    return analytics.refresh_if_due(now, session_scope=session_scope).total


def reconcile_recent(now: datetime) -> int:
    """Yesterday and today against Stripe, report only (healing is an admin's decision): any
    discrepancy writes a `reconciliation.discrepancies` audit entry and raises an alert on the
    admin dashboard pointing at /admin/reconciliation. How many found."""
    start, end = reconciliation.day_range(now.date() - timedelta(days=1), now.date())
    with session_scope() as session:
        report = reconciliation.reconcile(session, start=start, end=end, actor="system", now=now)
        analytics.reconciliation_found(session, discrepancies=len(report.discrepancies), first_day=start.date(),
                                       last_day=(end - timedelta(days=1)).date(), now=now)
    if not report.clean:
        logger.warning("reconciliation found %s discrepancies between %s and %s", len(report.discrepancies),
                       start.date(), end.date())
    return len(report.discrepancies)


def send_queued_mail(now: datetime) -> int:
    """The email outbox: receipts, invoices, dunning notices, refunds (billing/outbox.py)."""
    return outbox.send_due(now, session_scope=session_scope)


def deliver_outgoing_webhooks(now: datetime) -> int:
    """Events to the SaaS app's endpoints, retried with backoff (billing/outgoing_webhooks/delivery.py)."""
    return outgoing_webhooks.deliver_due(now, session_scope=session_scope)
