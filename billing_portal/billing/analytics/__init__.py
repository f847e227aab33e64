"""Revenue analytics: MRR, its movements, revenue, churn, ARPU, LTV, trials, payment rates, alerts.

Definitions (the README's "Revenue metrics" repeats them for operators):

- **MRR** of a subscription at an instant: the recurring amount its period invoice bills for the
  period running then, net of tax (tax-inclusive lines count without their tax) and after any
  discount lines on that invoice, divided by the months of the period (a quarter /3, a year /12;
  quantity is on the line) and rounded half up per subscription. Proration invoices are one-off
  revenue, not MRR: a mid-period plan change shows from the next period invoice on.
  A subscription counts while its period invoice is paid, or open after a failed renewal
  (past_due counts); trials (no invoice), incomplete subscriptions (first invoice unpaid, also the
  first invoice after a trial), paused ones (from `paused_at`) and canceled ones (from
  `canceled_at`) do not. MRR is per currency and never summed across currencies.
- **ARR** = 12 × MRR.
- **Subscribers**: customers with MRR above zero (free plans are not counted).
- **Movements** of a month, per customer and currency, month end against the month end before:
  new (0 → more, never paid before), reactivation (0 → more, paid in an earlier month), expansion
  (up), contraction (down, still above 0), churn (down to 0).
- **Logo churn** = customers churned / subscribers at the start; **revenue churn** (gross) =
  (churned + contraction MRR) / MRR at the start. Over several months both are pooled: the sums of
  the months' numerators over the sums of their denominators, i.e. a monthly rate.
- **ARPU** = MRR / subscribers; **LTV** = ARPU / monthly revenue churn (none while churn is 0).
- **Trial conversion**: trials that ended in the period whose subscription has a paid invoice,
  over all trials that ended in it.
- **Payment success / failure rate**: succeeded / attempts and failed / attempts, an attempt being
  a payment that succeeded, failed or was canceled (abandoned 3-D Secure), by the UTC day it was
  made. **Revenue** = succeeded payments − succeeded refunds (by the day they were decided), per
  currency and per plan (the subscription's plan; "one-off" for invoices without a subscription).

Everything is read from rollup tables (models/analytics.py) that `rollups.refresh` keeps up to
date incrementally (the "revenue-rollups" job), so the dashboard never scans payments.
"""

from billing_portal.billing.analytics.alerts import acknowledge, alerts_page, reconciliation_found
from billing_portal.billing.analytics.dashboard import Dashboard, dashboard
from billing_portal.billing.analytics.rollups import as_of, refresh, refresh_if_due, refresh_in

__all__ = ["Dashboard", "acknowledge", "alerts_page", "as_of", "dashboard", "reconciliation_found", "refresh",
           "refresh_if_due", "refresh_in"]
