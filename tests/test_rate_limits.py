"""Rate limits: sliding windows per action and client, in memory or shared through Redis."""

import pytest

from billing_portal import rate_limits
from billing_portal.rate_limits import RateLimited, hit
from billing_portal.settings import get_settings


@pytest.fixture
def three_sign_ins_a_minute(monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_SIGN_IN", "3/minute")
    get_settings.cache_clear()


def test_the_attempt_over_the_limit_is_refused_with_the_wait(three_sign_ins_a_minute):
    for _ in range(3):
        hit("sign_in", "203.0.113.7")
    with pytest.raises(RateLimited) as refused:
        hit("sign_in", "203.0.113.7")
    assert 1 <= refused.value.retry_after <= 60
    assert str(refused.value) == f"Too many requests. Try again in {refused.value.retry_after} seconds."


def test_clients_and_actions_are_counted_apart(three_sign_ins_a_minute):
    for _ in range(3):
        hit("sign_in", "203.0.113.7")
    hit("sign_in", "203.0.113.8")  # another address
    hit("sign_up", "203.0.113.7")  # another action, its own limit


def test_workers_sharing_redis_share_the_count(three_sign_ins_a_minute, redis, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis.url)
    get_settings.cache_clear()
    client = "198.51.100.1-shared"
    for _ in range(3):
        hit("sign_in", client)
    rate_limits._limiter.cache_clear()  # a second worker: a new limiter on the same Redis
    with pytest.raises(RateLimited):
        hit("sign_in", client)


@pytest.mark.parametrize("value", ["", "10", "0/minute", "10/fortnight", "-1/hour", "1.5/minute"])
def test_a_malformed_limit_is_a_settings_error(value, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_CHECKOUT", value or " ")
    get_settings.cache_clear()
    with pytest.raises(ValueError):
        get_settings()
