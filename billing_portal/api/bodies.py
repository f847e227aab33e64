"""Reading request bodies, for every API route that takes one (usage, the Stripe webhook, /api/v1).

- `read_body`: the body streamed chunk by chunk, refused as soon as it passes the route's limit (a
  declared Content-Length over it is refused before anything is read), so no client makes us hold
  more than the limit.
- `check_bounds`: on the raw bytes, before any parser sees them: nesting at most MAX_DEPTH deep
  (deeper exhausts the parser's recursion) and numbers of at most MAX_NUMBER_DIGITS digits (Python
  refuses to convert ints past 4,300 digits, and nothing we take is near 40). Alone, for a body
  another parser reads: the Stripe webhook, which the gateway parses once its signature is verified.
- `parse_json`: JSON within those bounds, and no NaN or Infinity (not JSON; 1e999 reads as one).

All raise `BadBody` with the status and a message for the client; its `code` names what failed.
"""

import json
import math
import re
from typing import Any

from starlette.requests import Request

MAX_DEPTH = 64
MAX_NUMBER_DIGITS = 40

# A JSON string: what sits between its quotes is skipped when counting brackets.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_OPENERS = frozenset(b"[{")
_LONG_NUMBER = re.compile(rb"[0-9]{%d}" % (MAX_NUMBER_DIGITS + 1))


class BadBody(ValueError):
    """A body refused before it reached the route's logic."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def too_large(limit: int) -> BadBody:
    return BadBody(413, "body_too_large", f"The body is at most {limit // 1024} KB.")


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, read until it passes `limit` bytes (then BadBody 413, the rest never read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and len(declared) < 20 and int(declared) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def check_bounds(raw: bytes, max_depth: int = MAX_DEPTH) -> bytes:
    """`raw`, unless its brackets nest past `max_depth` or a number has more than MAX_NUMBER_DIGITS
    digits in a row (BadBody 400). Checked on the bytes, strings skipped, nothing parsed."""
    outside_strings = _STRING.sub(b"", raw)
    if _deeper_than(outside_strings.translate(None, _NOT_BRACKETS), max_depth):
        raise BadBody(400, "too_deep", f"The JSON is nested more than {max_depth} levels deep.")
    if _LONG_NUMBER.search(outside_strings):
        raise BadBody(400, "number_too_long", f"Numbers in the body have at most {MAX_NUMBER_DIGITS} digits.")
    return raw


def parse_json(raw: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of `raw`, or BadBody 400 (invalid, too deep, a number too long or infinite)."""
    check_bounds(raw, max_depth)
    try:
        return json.loads(raw, parse_float=_finite, parse_constant=_constant)
    except BadBody:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise BadBody(400, "invalid_json", "The body is not valid JSON.") from None


def _deeper_than(brackets: bytes, limit: int) -> bool:
    if len(brackets) <= limit:
        return False
    depth = 0
    for byte in brackets:
        depth += 1 if byte in _OPENERS else -1
        if depth > limit:
            return True
    return False


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise BadBody(400, "number_too_long", "Numbers in the body must be finite.")
    return value


def _constant(name: str):
    raise BadBody(400, "invalid_json", f"{name} is not a JSON number.")
