"""Errors raised by the billing engine.

Every rule the engine enforces fails with a subclass of `DomainError`, whose message is written for
the person who caused it: `str(error)` is shown to users as is, so it never carries stack details,
internal ids or Python reprs. Programming mistakes (a float where an int belongs, a naive datetime)
are `TypeError`/`ValueError` instead, because no user can fix them.
"""


class DomainError(Exception):
    """Base of every engine error; `str(error)` is the user-facing message."""


class CurrencyMismatch(DomainError):
    """Two amounts in different currencies were combined."""


class InvalidAmount(DomainError):
    """An amount or currency code the engine cannot accept."""


class InvalidTransition(DomainError):
    """The subscription's state machine does not allow this step from where it is."""


class NotFound(DomainError):
    """No such object, or not one the caller may see: the two answer alike on purpose."""
