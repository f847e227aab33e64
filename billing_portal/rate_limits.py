"""Rate limits for the doors anyone can knock on: sign-in, sign-up, checkout, the usage API and the
webhook route. Built on the `limits` library (sliding window counters), stored in Redis when
REDIS_URL is set so every backend worker counts together, in process memory otherwise.
"""

import math
import time
from functools import lru_cache
from typing import Literal

from limits import parse, storage, strategies

from billing_portal.billing.errors import DomainError
from billing_portal.settings import get_settings

Action = Literal["sign_in", "sign_up", "checkout", "usage_api", "webhook", "seller_api"]


class RateLimited(DomainError):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"Too many requests. Try again in {retry_after} seconds.")


def hit(action: Action, client: str) -> None:
    """Count one attempt of `action` by `client` (an IP address); RateLimited when over the limit."""
    settings = get_settings()
    limit = _parse(getattr(settings, f"rate_limit_{action}"))
    limiter = _limiter(settings.redis_url or "memory://")
    key = (action, client or "unknown")
    if not limiter.hit(limit, *key):
        reset_at, _remaining = limiter.get_window_stats(limit, *key)
        raise RateLimited(max(1, math.ceil(reset_at - time.time())))


# Every webhook and usage request passes here: parse each "N/period" setting once.
_parse = lru_cache(maxsize=16)(parse)


@lru_cache(maxsize=4)
def _limiter(storage_uri: str) -> strategies.SlidingWindowCounterRateLimiter:
    # Two counters per key (this window and the last, weighted): O(1) a hit. The moving window
    # kept one timestamp per hit and, in memory, copied that list every 10 ms on a timer thread,
    # which cut webhook throughput by a third at 1,000 events/s (bench/webhook_ingest.py).
    return strategies.SlidingWindowCounterRateLimiter(storage.storage_from_string(storage_uri))
