"""The /api/v1 route table: every operation is one row; the routes, the authorization, the
OpenAPI document, the reference page and the authorization tests are all derived from it.
"""

from billing_portal.api.v1.framework import Call, Operation
from billing_portal.billing.entitlements import service as entitlements
from billing_portal.billing.entitlements.schemas import Entitlements
from billing_portal.billing.portal_sessions import schemas as portal_links
from billing_portal.billing.portal_sessions import service as portal_sessions
from billing_portal.billing.seller_api import schemas as s
from billing_portal.billing.seller_api import service


def _customer(call: Call):
    return service.customer_for(call.session, call.params["customer"])


OPERATIONS: list[Operation] = [
    # customers
    Operation("GET", "/api/v1/customers", "list_customers", "List customers", "Customers",
              lambda c: service.list_customers(c.session, c.query), s.CustomerList, query=s.CustomerListQuery,
              description="Newest first. Filter by `external_id` or `email` to find one."),
    Operation("POST", "/api/v1/customers", "create_customer", "Create a customer", "Customers",
              lambda c: service.create_customer(c.session, c.body), s.Customer, status=201, body=s.CustomerCreate,
              idempotency="optional",
              description="With your `external_id` (unique). The customer's portal account has no password."),
    Operation("GET", "/api/v1/customers/{customer}", "get_customer", "Read a customer", "Customers",
              lambda c: service.get_customer(c.session, c.params["customer"]), s.Customer),
    Operation("POST", "/api/v1/customers/{customer}", "update_customer", "Update a customer", "Customers",
              lambda c: service.update_customer(c.session, c.params["customer"], c.body), s.Customer,
              body=s.CustomerUpdate, idempotency="optional",
              description="Only the fields sent change. Billing details are checked as the portal checks them."),
    Operation("PATCH", "/api/v1/customers/{customer}", "patch_customer", "Update a customer (PATCH)", "Customers",
              lambda c: service.update_customer(c.session, c.params["customer"], c.body), s.Customer,
              body=s.CustomerUpdate),
    Operation("GET", "/api/v1/customers/{customer}/entitlements", "get_entitlements", "What the customer may use now",
              "Entitlements", lambda c: entitlements.entitlements(c.session, _customer(c)), Entitlements,
              description="Plan, status (trial, past_due grace), every limit and feature, usage against "
                          "included units, storage against quota. Check it before creating a project."),
    Operation("GET", "/api/v1/customers/{customer}/credit_ledger", "list_credit_ledger", "The customer's credit ledger",
              "Credits", lambda c: service.credit_ledger(c.session, c.params["customer"], c.query), s.CreditLedger,
              query=s.ListQuery),
    Operation("GET", "/api/v1/customers/{customer}/usage_records", "list_usage_records", "List usage reports",
              "Usage", lambda c: service.list_usage_records(c.session, c.params["customer"], c.query),
              s.UsageRecordList, query=s.ListQuery),
    Operation("POST", "/api/v1/customers/{customer}/usage_records", "create_usage_record", "Report usage",
              "Usage", lambda c: service.record_usage(c.session, c.params["customer"], c.body, c.idempotency_key),
              s.UsageRecord, status=201, body=s.UsageRecordCreate, idempotency="required",
              description="The rules of POST /api/usage: against the running subscription's metered price, "
                          "not before the current period, the Idempotency-Key unique per customer."),
    # catalog
    Operation("GET", "/api/v1/plans", "list_plans", "List plans with their prices", "Catalog",
              lambda c: service.list_plans(c.session, c.query), s.PlanList, query=s.PlanListQuery,
              description="`active=true` is the public catalog."),
    Operation("GET", "/api/v1/plans/{plan}", "get_plan", "Read a plan", "Catalog",
              lambda c: service.get_plan(c.session, c.params["plan"]), s.Plan),
    Operation("GET", "/api/v1/prices", "list_prices", "List prices", "Catalog",
              lambda c: service.list_prices(c.session, c.query), s.PriceList, query=s.PriceListQuery),
    Operation("GET", "/api/v1/prices/{price}", "get_price", "Read a price", "Catalog",
              lambda c: service.get_price(c.session, c.params["price"]), s.PlanPrice),
    # subscriptions
    Operation("GET", "/api/v1/subscriptions", "list_subscriptions", "List subscriptions", "Subscriptions",
              lambda c: service.list_subscriptions(c.session, c.query), s.SubscriptionList,
              query=s.SubscriptionListQuery),
    Operation("GET", "/api/v1/subscriptions/{subscription}", "get_subscription", "Read a subscription",
              "Subscriptions", lambda c: service.get_subscription(c.session, c.params["subscription"]), s.Subscription),
    Operation("POST", "/api/v1/subscriptions/{subscription}/preview", "preview_subscription_change",
              "Preview a plan or interval change (changes nothing)", "Subscriptions",
              lambda c: service.preview_change(c.session, c.params["subscription"], c.body), s.ChangePreview,
              body=s.SubscriptionChange, idempotency="optional"),
    Operation("POST", "/api/v1/subscriptions/{subscription}/change", "change_subscription",
              "Change plan or interval", "Subscriptions",
              lambda c: service.change(c.session, c.params["subscription"], c.body), s.SubscriptionChanged,
              body=s.SubscriptionChange, idempotency="optional",
              description="An upgrade's proration invoice is charged to the default card at once (UPGRADE_APPLY "
                          "decides whether a decline goes to dunning or changes nothing: see `outcome`); "
                          "downgrades apply at the period end."),
    Operation("POST", "/api/v1/subscriptions/{subscription}/cancel", "cancel_subscription",
              "Cancel now or at the period end", "Subscriptions",
              lambda c: service.cancel(c.session, c.params["subscription"], c.body), s.Subscription,
              body=s.SubscriptionCancel, idempotency="optional"),
    Operation("POST", "/api/v1/subscriptions/{subscription}/resume", "resume_subscription",
              "Resume (unpause, or keep one set to end)", "Subscriptions",
              lambda c: service.resume(c.session, c.params["subscription"]), s.Subscription,
              body=s.Empty, idempotency="optional"),
    Operation("POST", "/api/v1/subscriptions/{subscription}/pause", "pause_subscription", "Pause renewals",
              "Subscriptions", lambda c: service.pause(c.session, c.params["subscription"], c.body), s.Subscription,
              body=s.SubscriptionPause, idempotency="optional"),
    # invoices, payments, refunds
    Operation("GET", "/api/v1/invoices", "list_invoices", "List invoices", "Invoices",
              lambda c: service.list_invoices(c.session, c.query), s.InvoiceList, query=s.InvoiceListQuery),
    Operation("GET", "/api/v1/invoices/{invoice}", "get_invoice", "Read an invoice", "Invoices",
              lambda c: service.get_invoice(c.session, c.params["invoice"]), s.Invoice),
    Operation("GET", "/api/v1/invoices/{invoice}/pdf", "get_invoice_pdf_link", "A short-lived link to the PDF",
              "Invoices", lambda c: service.invoice_pdf_link(c.session, c.params["invoice"], c.caller), s.DownloadLink,
              description="The PDF is drawn first when missing."),
    Operation("GET", "/api/v1/payments", "list_payments", "List payments", "Payments",
              lambda c: service.list_payments(c.session, c.query), s.PaymentList, query=s.CustomerScopedListQuery),
    Operation("GET", "/api/v1/payments/{payment}", "get_payment", "Read a payment", "Payments",
              lambda c: service.get_payment(c.session, c.params["payment"]), s.Payment),
    Operation("GET", "/api/v1/refunds", "list_refunds", "List refunds", "Refunds",
              lambda c: service.list_refunds(c.session, c.query), s.RefundList, query=s.CustomerScopedListQuery),
    Operation("GET", "/api/v1/refunds/{refund}", "get_refund", "Read a refund", "Refunds",
              lambda c: service.get_refund(c.session, c.params["refund"]), s.Refund),
    Operation("GET", "/api/v1/refund_requests", "list_refund_requests", "List refund requests", "Refunds",
              lambda c: service.list_refund_requests(c.session, c.query), s.RefundRequestList,
              query=s.CustomerScopedListQuery),
    Operation("POST", "/api/v1/refund_requests", "create_refund_request", "Ask for a refund", "Refunds",
              lambda c: service.request_refund(c.session, c.body), s.RefundRequest, status=201,
              body=s.RefundRequestCreate, idempotency="optional",
              description="A request an admin approves or rejects in the console, as the portal's."),
    # portal sign-in links
    Operation("POST", "/api/v1/portal_sessions", "create_portal_session", "A one-time portal sign-in link",
              "Portal links", lambda c: portal_sessions.create_portal_link(c.session, c.caller, c.body),
              portal_links.PortalSession, status=201, body=portal_links.PortalSessionCreate, idempotency="optional",
              description="Send the customer's browser to `url`: it signs them into the portal with no password, "
                          "once, within PORTAL_LINK_MINUTES, on `flow` (plan, payment_method, pay_invoice with "
                          "`invoice`). The portal links back to `return_url` (an origin of "
                          "PORTAL_RETURN_URL_ALLOWLIST)."),
    Operation("POST", "/api/v1/checkout_sessions", "create_checkout_session", "A one-time link to checkout a price",
              "Portal links", lambda c: portal_sessions.create_checkout_link(c.session, c.caller, c.body),
              portal_links.PortalSession, status=201, body=portal_links.CheckoutSessionCreate, idempotency="optional",
              description="The portal's checkout of `price` for the customer, signed in like a portal link."),
    # stats
    Operation("GET", "/api/v1/stats", "get_stats", "Revenue, MRR, subscribers by plan, per currency", "Stats",
              lambda c: service.stats(c.session, c.query), s.Stats, query=s.StatsQuery,
              description="The admin dashboard's figures, from its rollups (refreshed by the rollup job)."),
]
