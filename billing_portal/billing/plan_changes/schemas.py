"""What a paid-for plan change did."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from billing_portal.billing.subscriptions import ChangePreview
from billing_portal.models import Invoice

# applied: in force, nothing (more) to pay; paid: in force and its invoice charged; failed: in force,
# the charge failed and dunning retries it (at_once); refused: nothing changed (when_paid);
# waiting: in force, the invoice is collected later (Stripe did not answer, or under the minimum
# charge, which the next renewal carries); scheduled: a downgrade at the period end.
Outcome = Literal["applied", "paid", "failed", "refused", "waiting", "scheduled"]


@dataclass(frozen=True)
class PlanChange:
    outcome: Outcome
    preview: ChangePreview
    invoice: Invoice | None = None
    failure_message: str = ""  # why the charge failed, in the customer's words
    next_attempt_at: datetime | None = None  # the dunning retry, when it failed at once
