"""SQLModel tables, one module per aggregate. Importing this package registers them all."""

from billing_portal.models.analytics import AnalyticsAlert, MrrMonth, MrrSnapshot, PaymentDay, RollupCursor
from billing_portal.models.audit import AuditEntry
from billing_portal.models.catalog import CreditPack, Interval, MeteredPrice, Plan, Price
from billing_portal.models.credits import CreditLedgerEntry
from billing_portal.models.customers import Customer
from billing_portal.models.email import OutboxEmail
from billing_portal.models.files import StoredFile
from billing_portal.models.invoices import Invoice, InvoiceLine, InvoiceNumberSequence, InvoiceStatus
from billing_portal.models.outgoing_webhooks import (
    OutgoingEvent, OutgoingObjectVersion, WebhookDelivery, WebhookEndpoint,
)
from billing_portal.models.payments import Payment, PaymentStatus, Refund, RefundStatus
from billing_portal.models.portal_sessions import PortalSession
from billing_portal.models.refund_requests import RefundRequest, RefundRequestStatus
from billing_portal.models.payment_methods import PaymentMethod
from billing_portal.models.risk import RiskAssessment, RiskDecision
from billing_portal.models.seller_keys import ApiIdempotencyRecord, SellerApiKey
from billing_portal.models.subscriptions import Subscription, SubscriptionStatus
from billing_portal.models.usage import ApiKey, UsageRecord
from billing_portal.models.users import AuthSession, LoginThrottle, Role, SessionGrant, User
from billing_portal.models.webhooks import WebhookEvent

__all__ = [
    "AuditEntry", "AuthSession", "CreditLedgerEntry", "CreditPack", "Customer", "Interval",
    "Invoice", "InvoiceLine", "InvoiceNumberSequence", "InvoiceStatus", "LoginThrottle", "Payment",
    "PaymentMethod", "PaymentStatus", "Plan", "Price", "Refund", "RefundStatus", "Role", "StoredFile",
    "Subscription", "SubscriptionStatus", "UsageRecord", "User", "WebhookEvent",
    "AnalyticsAlert", "MrrMonth", "MrrSnapshot", "PaymentDay", "RollupCursor",
    "RefundRequest", "RefundRequestStatus",
    "ApiKey", "MeteredPrice",
    "RiskAssessment", "RiskDecision",
    "OutboxEmail",
    "ApiIdempotencyRecord", "SellerApiKey",
    "OutgoingEvent", "OutgoingObjectVersion", "WebhookDelivery", "WebhookEndpoint",
    "PortalSession", "SessionGrant",
]
