"""Ids that arrive as text (URLs, pages, Stripe metadata): plain ASCII digits that fit a BIGINT.

`str.isdigit()` also says yes to "²" or "١", which `int()` then refuses or reads, and a long run
of digits overflows the database's integer: both used to end in "something went wrong".
"""

MAX_DIGITS = 18  # every 18-digit number fits a signed 64-bit column


def parse_id(value: object) -> int | None:
    """The id written in `value` (an int or its digits), else None."""
    if isinstance(value, bool):
        return None
    text = str(value) if isinstance(value, (int, str)) else ""
    if not (text.isascii() and text.isdecimal()) or len(text) > MAX_DIGITS:
        return None
    return int(text)
