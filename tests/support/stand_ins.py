"""The tests' stand-ins (localstripe, moto, PostgreSQL, Redis) live in billing_portal/sandbox/services.py,
shared with `make run-scaled`, which starts PostgreSQL and Redis the same way with kept data."""

from billing_portal.sandbox.services import (
    LOOPBACK,
    PostgresStandIn,
    REPO_ROOT,
    StandIn,
    StandInError,
    create_database,
    free_port,
    http_request,
    libpq_url,
    start_localstripe,
    start_moto,
    start_postgres,
    start_process,
    start_redis,
    stop_group,
)

__all__ = [
    'LOOPBACK',
    'PostgresStandIn',
    'REPO_ROOT',
    'StandIn',
    'StandInError',
    'create_database',
    'free_port',
    'http_request',
    'libpq_url',
    'start_localstripe',
    'start_moto',
    'start_postgres',
    'start_process',
    'start_redis',
    'stop_group',
]
