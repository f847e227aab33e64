"""A plan change that is paid for: the proration invoice of an upgrade is charged at once to the
default card, with the rule UPGRADE_APPLY chooses (README "Billing rules"):

- `at_once` (default): the new plan applies now and its invoice is charged now; a failure goes to
  the renewals' dunning (past_due with access kept, the retries of DUNNING_RETRY_DAYS, then
  DUNNING_FINAL_ACTION). Stripe not answering leaves the invoice in collection for the dunning job.
- `when_paid` (Polar's rule): the new plan applies only if the charge succeeds there and then; a
  declined card, or a bank that wants the customer to confirm, changes nothing at all (no plan, no
  invoice, no dunning) and the customer is told so.
"""

from billing_portal.billing.plan_changes.schemas import PlanChange
from billing_portal.billing.plan_changes.service import change_plan

__all__ = ["PlanChange", "change_plan"]
