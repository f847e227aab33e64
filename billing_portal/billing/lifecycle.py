"""The subscription state machine, as one table of allowed steps.

A step the table lacks raises InvalidTransition, and the caller changes nothing. Flags such as
cancel_at_period_end are not states: they ride on active, trialing or past_due.
"""

from enum import StrEnum

from billing_portal.billing.errors import InvalidTransition
from billing_portal.models.subscriptions import SubscriptionStatus as S


class Event(StrEnum):
    FIRST_PAYMENT_SUCCEEDED = "first payment succeeded"
    FIRST_PAYMENT_FAILED = "first payment failed"
    TRIAL_STARTED = "trial started"
    TRIAL_CONVERTED = "trial converted"
    PAYMENT_FAILED = "payment failed"
    PAYMENT_RECOVERED = "payment recovered"
    RENEWED = "renewed"
    CHANGE_PLAN = "change plan"
    SCHEDULE_CANCEL = "cancel at period end"
    UNDO_CANCEL = "resume"
    CANCEL_NOW = "cancel"
    PERIOD_END_CANCEL = "end at period end"
    DUNNING_EXHAUSTED = "dunning exhausted"
    PAUSE = "pause"
    UNPAUSE = "unpause"


_LIVE = (S.TRIALING, S.ACTIVE, S.PAST_DUE)

TRANSITIONS: dict[tuple[S, Event], S] = {
    (S.INCOMPLETE, Event.FIRST_PAYMENT_SUCCEEDED): S.ACTIVE,
    (S.INCOMPLETE, Event.FIRST_PAYMENT_FAILED): S.INCOMPLETE,
    (S.INCOMPLETE, Event.TRIAL_STARTED): S.TRIALING,
    (S.INCOMPLETE, Event.CANCEL_NOW): S.CANCELED,
    (S.TRIALING, Event.TRIAL_CONVERTED): S.ACTIVE,
    (S.TRIALING, Event.PAYMENT_FAILED): S.PAST_DUE,
    (S.TRIALING, Event.CHANGE_PLAN): S.TRIALING,
    (S.ACTIVE, Event.RENEWED): S.ACTIVE,
    (S.ACTIVE, Event.PAYMENT_FAILED): S.PAST_DUE,
    (S.ACTIVE, Event.PAYMENT_RECOVERED): S.ACTIVE,
    (S.ACTIVE, Event.CHANGE_PLAN): S.ACTIVE,
    (S.ACTIVE, Event.PAUSE): S.PAUSED,
    (S.PAST_DUE, Event.PAYMENT_FAILED): S.PAST_DUE,
    (S.PAST_DUE, Event.PAYMENT_RECOVERED): S.ACTIVE,
    (S.PAST_DUE, Event.RENEWED): S.PAST_DUE,
    (S.PAST_DUE, Event.DUNNING_EXHAUSTED): S.CANCELED,
    (S.PAUSED, Event.UNPAUSE): S.ACTIVE,
    (S.PAUSED, Event.CANCEL_NOW): S.CANCELED,
}
for _status in _LIVE:
    TRANSITIONS[(_status, Event.SCHEDULE_CANCEL)] = _status
    TRANSITIONS[(_status, Event.UNDO_CANCEL)] = _status
    TRANSITIONS[(_status, Event.CANCEL_NOW)] = S.CANCELED
    TRANSITIONS[(_status, Event.PERIOD_END_CANCEL)] = S.CANCELED


# How each event reads in "You cannot … a paused subscription." ({sub} is where the status goes).
_REFUSAL: dict[Event, str] = {
    Event.FIRST_PAYMENT_SUCCEEDED: "activate {sub}",
    Event.FIRST_PAYMENT_FAILED: "record a failed first payment on {sub}",
    Event.TRIAL_STARTED: "start a trial on {sub}",
    Event.TRIAL_CONVERTED: "end the trial of {sub}",
    Event.PAYMENT_FAILED: "record a failed payment on {sub}",
    Event.PAYMENT_RECOVERED: "record a recovered payment on {sub}",
    Event.RENEWED: "renew {sub}",
    Event.CHANGE_PLAN: "change the plan of {sub}",
    Event.SCHEDULE_CANCEL: "cancel {sub} at period end",
    Event.UNDO_CANCEL: "resume {sub}",
    Event.CANCEL_NOW: "cancel {sub}",
    Event.PERIOD_END_CANCEL: "end {sub} at period end",
    Event.DUNNING_EXHAUSTED: "end {sub} after failed payment retries",
    Event.PAUSE: "pause {sub}",
    Event.UNPAUSE: "unpause {sub}",
}


def next_status(current: str, event: Event) -> S:
    try:
        return TRANSITIONS[(S(current), event)]
    except (KeyError, ValueError):
        label = str(current).replace("_", " ")
        article = "an" if label[:1] in "aeiou" else "a"
        step = _REFUSAL[event].format(sub=f"{article} {label} subscription")
        raise InvalidTransition(f"You cannot {step}.") from None


def allowed_events(current: str) -> set[Event]:
    return {event for (status, event) in TRANSITIONS if status == current}
