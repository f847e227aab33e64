"""What the plan page tells the customer about a plan change and its charge."""

from billing_portal.billing.money import format_money
from billing_portal.billing.plan_changes.schemas import PlanChange
from billing_portal.billing.portal import format_day


def outcome_text(change: PlanChange, name: str, current_name: str, locale: str) -> tuple[str, str]:
    """(notice, error): what went well, and what the customer must know went wrong."""
    invoice = change.invoice
    amount = format_money(invoice.total, invoice.currency, locale) if invoice is not None else ""
    if change.outcome == "scheduled":
        return f"{name} starts on {format_day(change.preview.effective_at)}. Until then nothing changes.", ""
    if change.outcome == "applied":
        return f"Your plan is now {name}.", ""
    if change.outcome == "paid":
        return f"Your plan is now {name}. {amount} was charged to your card (invoice {invoice.number}).", ""
    if change.outcome == "refused":
        return "", f"{change.failure_message} Your plan did not change: you are still on {current_name}."
    if change.outcome == "failed":
        retry = (f"We try again on {format_day(change.next_attempt_at)}; update your card to pay it sooner."
                 if change.next_attempt_at else "Update your card to pay it.")
        return "", (f"Your plan is now {name}, but the charge of {amount} for invoice {invoice.number} failed: "
                    f"{change.failure_message} {retry}")
    return f"Your plan is now {name}. Invoice {invoice.number} ({amount}) is charged to your card shortly.", ""
