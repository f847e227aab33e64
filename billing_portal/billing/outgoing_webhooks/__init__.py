"""Outgoing webhooks to the SaaS app (Standard Webhooks): service.py writes events in the caller's
transaction, delivery.py sends them (the "outgoing-webhooks" job), endpoints.py is the admins' side."""
from billing_portal.billing.outgoing_webhooks import service  # noqa: F401  (the engine calls outgoing_webhooks.service.emit)
