"""The subscription state machine: one table of allowed steps, every other step refused.

The expected table is written out here by hand (not read from the code), so a step added to or
dropped from billing/lifecycle.py fails a test instead of silently changing what customers can do.
"""

import itertools
import re

import pytest

from billing_portal.billing.errors import DomainError, InvalidTransition
from billing_portal.billing.lifecycle import TRANSITIONS, Event, allowed_events, next_status
from billing_portal.models.subscriptions import SubscriptionStatus as S

E = Event

EXPECTED: dict[tuple[S, Event], S] = {
    # The first payment decides whether an incomplete subscription starts.
    (S.INCOMPLETE, E.FIRST_PAYMENT_SUCCEEDED): S.ACTIVE,
    (S.INCOMPLETE, E.FIRST_PAYMENT_FAILED): S.INCOMPLETE,
    (S.INCOMPLETE, E.TRIAL_STARTED): S.TRIALING,
    (S.INCOMPLETE, E.CANCEL_NOW): S.CANCELED,
    # Trialing.
    (S.TRIALING, E.TRIAL_CONVERTED): S.ACTIVE,
    (S.TRIALING, E.PAYMENT_FAILED): S.PAST_DUE,
    (S.TRIALING, E.CHANGE_PLAN): S.TRIALING,
    (S.TRIALING, E.SCHEDULE_CANCEL): S.TRIALING,
    (S.TRIALING, E.UNDO_CANCEL): S.TRIALING,
    (S.TRIALING, E.CANCEL_NOW): S.CANCELED,
    (S.TRIALING, E.PERIOD_END_CANCEL): S.CANCELED,
    # Active.
    (S.ACTIVE, E.RENEWED): S.ACTIVE,
    (S.ACTIVE, E.PAYMENT_FAILED): S.PAST_DUE,
    (S.ACTIVE, E.PAYMENT_RECOVERED): S.ACTIVE,
    (S.ACTIVE, E.CHANGE_PLAN): S.ACTIVE,
    (S.ACTIVE, E.PAUSE): S.PAUSED,
    (S.ACTIVE, E.SCHEDULE_CANCEL): S.ACTIVE,
    (S.ACTIVE, E.UNDO_CANCEL): S.ACTIVE,
    (S.ACTIVE, E.CANCEL_NOW): S.CANCELED,
    (S.ACTIVE, E.PERIOD_END_CANCEL): S.CANCELED,
    # Past due: dunning retries, then recovery or the end.
    (S.PAST_DUE, E.PAYMENT_FAILED): S.PAST_DUE,
    (S.PAST_DUE, E.PAYMENT_RECOVERED): S.ACTIVE,
    (S.PAST_DUE, E.RENEWED): S.PAST_DUE,
    (S.PAST_DUE, E.DUNNING_EXHAUSTED): S.CANCELED,
    (S.PAST_DUE, E.SCHEDULE_CANCEL): S.PAST_DUE,
    (S.PAST_DUE, E.UNDO_CANCEL): S.PAST_DUE,
    (S.PAST_DUE, E.CANCEL_NOW): S.CANCELED,
    (S.PAST_DUE, E.PERIOD_END_CANCEL): S.CANCELED,
    # Paused.
    (S.PAUSED, E.UNPAUSE): S.ACTIVE,
    (S.PAUSED, E.CANCEL_NOW): S.CANCELED,
    # Canceled is terminal: no row starts from it.
}

ALL_PAIRS = list(itertools.product(S, Event))
REFUSED = [pair for pair in ALL_PAIRS if pair not in EXPECTED]


def _id(pair: tuple[S, Event]) -> str:
    return f"{pair[0].value}-{pair[1].name.lower()}"


def test_the_table_is_exactly_the_expected_one():
    assert TRANSITIONS == EXPECTED
    # 6 statuses × 15 events = 90 pairs: 4 + 7 + 9 + 8 + 2 + 0 = 30 allowed, 60 refused.
    assert (len(ALL_PAIRS), len(EXPECTED), len(REFUSED)) == (90, 30, 60)


@pytest.mark.parametrize("pair", list(EXPECTED), ids=_id)
def test_every_allowed_step(pair):
    status, event = pair
    assert next_status(status, event) is EXPECTED[pair]
    # Statuses arrive from the database as plain strings.
    assert next_status(status.value, event) is EXPECTED[pair]


# "You cannot <verb phrase> a|an <status in words> subscription." with no internal names in it.
READABLE = re.compile(
    r"^You cannot [a-z][a-z ]+ (a|an) (incomplete|trialing|active|past due|paused|canceled) subscription"
    r"( [a-z ]+)?\.$"
)


@pytest.mark.parametrize("pair", REFUSED, ids=_id)
def test_every_step_not_in_the_table_is_refused_readably(pair):
    status, event = pair
    with pytest.raises(InvalidTransition) as refused:
        next_status(status.value, event)
    message = str(refused.value)
    assert READABLE.match(message), message
    assert "_" not in message and "Event" not in message and "<" not in message
    assert isinstance(refused.value, DomainError)  # shown to the user as is


@pytest.mark.parametrize(
    ("status", "event", "message"),
    [
        (S.TRIALING, E.PAUSE, "You cannot pause a trialing subscription."),
        (S.CANCELED, E.CANCEL_NOW, "You cannot cancel a canceled subscription."),
        (S.INCOMPLETE, E.UNDO_CANCEL, "You cannot resume an incomplete subscription."),
        (S.PAST_DUE, E.CHANGE_PLAN, "You cannot change the plan of a past due subscription."),
        (S.ACTIVE, E.UNPAUSE, "You cannot unpause an active subscription."),
        (S.CANCELED, E.RENEWED, "You cannot renew a canceled subscription."),
        (S.ACTIVE, E.FIRST_PAYMENT_SUCCEEDED, "You cannot activate an active subscription."),
        (S.PAUSED, E.PAYMENT_FAILED, "You cannot record a failed payment on a paused subscription."),
    ],
)
def test_refusals_read_as_sentences(status, event, message):
    with pytest.raises(InvalidTransition, match=f"^{re.escape(message)}$"):
        next_status(status, event)


def test_an_unknown_status_is_refused_not_crashed():
    with pytest.raises(InvalidTransition, match="^You cannot renew a bogus subscription.$"):
        next_status("bogus", E.RENEWED)


def test_canceled_is_terminal_and_allowed_events_follow_the_table():
    assert allowed_events(S.CANCELED) == set()
    assert allowed_events("paused") == {E.UNPAUSE, E.CANCEL_NOW}
    for status in S:
        assert allowed_events(status) == {event for (s, event) in EXPECTED if s == status}
