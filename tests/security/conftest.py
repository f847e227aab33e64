"""What the security tests share: cheap password hashing, and the world of two customers, an admin
and a visitor that they probe (tests/security/authz_world.py)."""

import pytest
from argon2 import PasswordHasher

from billing_portal.billing import accounts
from tests.billing.test_checkout import ls  # noqa: F401  (fixture)
from tests.billing.test_files import local_store  # noqa: F401  (fixture)
from tests.security.authz_world import World, build_world


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def world(engine, ls, local_store) -> World:  # noqa: F811
    return build_world(engine, ls)
