"""Stripe gateway: the only module of the portal that imports `stripe`.

Our database is the billing engine; Stripe only processes payments. This module turns what the
engine asks for (save a card, charge an amount, refund part of a payment, check a webhook) into
Stripe API calls and hands back plain frozen dataclasses, never Stripe objects.

    gw = StripeGateway.from_settings()          # or gateway(), cached per settings
    result = gw.charge(stripe_customer_id="cus_…", payment_method_id="pm_…", amount=1500,
                       currency="USD", idempotency_key="invoice:42:attempt:1", off_session=True,
                       description="Invoice INV-0042", metadata={"invoice_id": 42})
    result.status    # "succeeded" | "requires_action" | "processing" | "failed"

Rules kept here:

- Retries are the SDK's own (`max_network_retries`): it retries timeouts, connection errors, 409
  and 5xx (and, through `_RetryingHttpClient`, 429) with backoff and the SAME `Idempotency-Key`
  header, so a retried charge cannot charge twice. After the last try the caller gets
  `PaymentProviderUnavailable`, whose message is safe to show and holds no secret.
- Idempotency keys come from the caller and name what is paid (`invoice:42:attempt:1`); charges
  and refunds send the caller's key verbatim and record it in the object's metadata. Creating a
  customer sends `<key>:create:<digest of the parameters>`, so replaying the same creation returns
  the same customer while different details are not refused as a reused key. Writes that set a
  state (customer update, default card, attach, detach) and new SetupIntents carry no key of ours:
  within Stripe's 24 h key window, A -> B -> A (or attach, detach, attach) would replay the first
  answer without doing anything. The SDK gives each of those calls its own key, which keeps its
  retries safe.
- Amounts are our integer minor units (`billing.money`, ISO 4217 exponents). Stripe counts some
  currencies differently (MGA zero-decimal, ISK and UGX in hundredths, three-decimal amounts ending
  in 0): every amount crosses through `stripe_currencies.to_stripe_amount` / `from_stripe_amount`,
  the one conversion, which refuses what Stripe would refuse (gateways/stripe_currencies.py).
- Card declines are results, not exceptions: `charge()` answers status "failed" with a customer
  message from `DECLINE_MESSAGES`. Off-session 3-D Secure answers "requires_action" whether the
  provider says so as a 402 `authentication_required` error (Stripe) or as a `requires_action`
  PaymentIntent (localstripe).
- Nothing secret or card-like is logged: failures are logged with the operation, error class, HTTP
  status, Stripe's error code and request id only. The SDK's own DEBUG records carry request and
  response bodies, so the `stripe` logger is capped at INFO unless the operator set a level.

Stand-ins: localstripe rejects some optional parameters Stripe accepts (`description` on a
PaymentIntent, `reason` on a Refund). When the API base is not Stripe's own host, those are kept in
metadata only (`stand_in=True`); against Stripe they are sent as parameters and in metadata.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

import stripe
from pydantic import SecretStr

from billing_portal.billing import money
from billing_portal.gateways.stripe_currencies import NotChargeable, from_stripe_amount, to_stripe_amount
from billing_portal.ids import parse_id
from billing_portal.settings import Settings, get_settings

__all__ = [
    "DECLINE_MESSAGES",
    "GENERIC_DECLINE_MESSAGE",
    "PROVIDER_UNAVAILABLE_MESSAGE",
    "REQUIRES_ACTION_MESSAGE",
    "WEBHOOK_TOLERANCE_SECONDS",
    "CardDeclined",
    "WALLET_CURRENCIES",
    "CardInfo",
    "ChargeResult",
    "CheckoutSessionInfo",
    "IntentInfo",
    "InvalidWebhook",
    "PaymentProviderUnavailable",
    "RefundRejected",
    "RefundResult",
    "StripeGateway",
    "StripeGatewayError",
    "customer_message_for",
    "checkout_session_info",
    "from_stripe_amount",
    "gateway",
    "intent_record",
    "to_stripe_amount",
]

logger = logging.getLogger(__name__)

_SECRET_PATTERN = re.compile(r"\b(?:sk|rk|whsec)_[A-Za-z0-9_]+")


class _RedactSecrets(logging.Filter):
    """Blank out anything shaped like a Stripe secret in the SDK's log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and _SECRET_PATTERN.search(record.msg):
            record.msg = _SECRET_PATTERN.sub("[redacted]", record.msg)
        return True


_stripe_logger = logging.getLogger("stripe")
_stripe_logger.addFilter(_RedactSecrets())
if _stripe_logger.level == logging.NOTSET:
    # The SDK logs request bodies (emails, client secrets) and response bodies at DEBUG.
    _stripe_logger.setLevel(logging.INFO)

DEFAULT_MAX_NETWORK_RETRIES = 3
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)  # (connect, read) seconds, per try
WEBHOOK_TOLERANCE_SECONDS = 300

STRIPE_API_HOST = "api.stripe.com"


def _timeouts(read_seconds: float) -> tuple[float, float]:
    """(connect, read) for STRIPE_TIMEOUT_SECONDS: connecting never waits longer than reading."""
    return min(DEFAULT_TIMEOUT[0], read_seconds), read_seconds


# Not "nothing was charged": when the connection drops after Stripe took the money we cannot
# know. What we can promise is that trying again (same idempotency key) never charges twice.
PROVIDER_UNAVAILABLE_MESSAGE = (
    "The payment provider is not answering. Try again in a minute: "
    "a payment that already went through is never charged twice."
)
REFUND_UNAVAILABLE_MESSAGE = (
    "The payment provider is not answering. Try again in a minute: "
    "a refund that already went through is never made twice."
)
REQUIRES_ACTION_MESSAGE = "Your bank asks you to confirm this payment."
GENERIC_DECLINE_MESSAGE = "Your card was declined."

# What the customer reads when a card is declined, keyed by Stripe's `decline_code` or `code`
# (the decline code is looked up first). Codes not listed get GENERIC_DECLINE_MESSAGE; so do
# lost/stolen/fraudulent cards on purpose, as Stripe advises.
DECLINE_MESSAGES: dict[str, str] = {
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "invalid_cvc": "Your card's security code is incorrect.",
    "incorrect_number": "Your card number is incorrect.",
    "invalid_number": "Your card number is incorrect.",
    "invalid_expiry_month": "Your card's expiration date is incorrect.",
    "invalid_expiry_year": "Your card's expiration date is incorrect.",
    "authentication_required": REQUIRES_ACTION_MESSAGE,
    "payment_intent_authentication_failure": (
        "Your bank could not confirm this payment. Try again or use another card."
    ),
    "processing_error": "An error occurred while processing your card. Try again in a minute.",
    "card_declined": GENERIC_DECLINE_MESSAGE,
    "generic_decline": GENERIC_DECLINE_MESSAGE,
}

_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})

# Currencies Stripe accepts for each wallet payment method (Stripe's payment method docs; both
# also depend on the account's country, which Stripe checks itself).
WALLET_CURRENCIES: dict[str, frozenset[str]] = {
    "alipay": frozenset({"AUD", "CAD", "CNY", "EUR", "GBP", "HKD", "JPY", "MYR", "NZD", "SGD", "USD"}),
    "wechat_pay": frozenset({"AUD", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "HKD", "JPY", "NOK", "SEK",
                             "SGD", "USD"}),
}


# --------------------------------------------------------------------------------------------
# Errors


class StripeGatewayError(Exception):
    """Stripe refused or could not do what was asked. `str(exc)` is safe to log and show."""

    def __init__(self, message: str, *, code: str | None = None, http_status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status


class PaymentProviderUnavailable(StripeGatewayError):
    """Stripe did not answer (timeouts, connection errors, 5xx, 409, 429) after the SDK's retries."""

    def __init__(self, message: str = PROVIDER_UNAVAILABLE_MESSAGE, **kwargs: Any):
        super().__init__(message, **kwargs)


class CardDeclined(StripeGatewayError):
    """A card was declined while saving it; `customer_message` says why in the customer's terms."""

    def __init__(self, customer_message: str, *, decline_code: str | None = None, **kwargs: Any):
        super().__init__(customer_message, **kwargs)
        self.customer_message = customer_message
        self.decline_code = decline_code


class RefundRejected(StripeGatewayError):
    """A refund cannot be made (more than remains refundable, payment not completed, ...)."""

    def __init__(self, message: str, *, refundable: int | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.refundable = refundable  # what remains refundable, our minor units, when known


class InvalidWebhook(StripeGatewayError):
    """A webhook request is not a genuine, fresh, well-formed Stripe event: answer 400, store nothing.

    `reason` is one of "missing_signature", "bad_signature", "stale_signature", "malformed_body".
    """

    def __init__(self, message: str, *, reason: str):
        super().__init__(message, code=reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------
# Results: plain frozen dataclasses


ChargeStatus = Literal["succeeded", "requires_action", "processing", "failed"]


@dataclass(frozen=True, kw_only=True)
class IntentInfo:
    """A SetupIntent: its client secret goes to the browser's `confirmCardSetup`."""

    id: str
    client_secret: str | None
    status: str
    payment_method_id: str | None = None
    customer_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class CardInfo:
    """What we keep about a saved card: never its number."""

    id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str = ""  # the same card number saved twice has the same fingerprint
    country: str = ""  # where the card was issued (ISO 3166 alpha-2); "" when Stripe does not say


@dataclass(frozen=True, kw_only=True)
class ChargeResult:
    """The outcome of one PaymentIntent, in our terms.

    status: "succeeded" (money taken), "requires_action" (send `client_secret` to the browser's
    `confirmCardPayment`; after Stripe's off-session 402 the PaymentIntent must be confirmed again
    with the same payment method), "processing" (not final: wait for the webhook or retrieve
    later), "failed" (nothing taken; `customer_message` says why). `amount` is in our minor units.
    """

    status: ChargeStatus
    payment_intent_id: str | None = None
    client_secret: str | None = None
    failure_code: str | None = None
    decline_code: str | None = None
    customer_message: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None
    amount: int | None = None
    currency: str | None = None
    stripe_status: str | None = None
    payment_method_id: str | None = None
    # Wallets: where to send the customer (Alipay) or the QR code to show (WeChat Pay).
    redirect_url: str | None = None
    qr_code_data: str | None = None
    qr_image_url: str | None = None

    @property
    def paid(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True, kw_only=True)
class CheckoutSessionInfo:
    """A Stripe Checkout Session in our terms (from the API or from a webhook payload).

    status: "open" | "complete" | "expired"; payment_status: "paid" | "unpaid" |
    "no_payment_required". `amount_total` is our minor units, None when Stripe sent none;
    `invoice_id` is our invoice, from metadata (else client_reference_id).
    """

    id: str
    url: str | None
    status: str
    payment_status: str
    amount_total: int | None
    currency: str | None
    customer_id: str | None
    payment_intent_id: str | None
    invoice_id: int | None


@dataclass(frozen=True, kw_only=True)
class RefundResult:
    id: str
    status: str  # Stripe's: "succeeded", "pending", "requires_action", "failed", "canceled"
    amount: int  # our minor units
    currency: str | None = None


@dataclass(frozen=True, kw_only=True)
class IntentRecord:
    """A PaymentIntent as Stripe keeps it, for reconciliation. `amount` is our minor units."""

    id: str
    status: str  # Stripe's own status: "succeeded", "requires_payment_method", "canceled", ...
    amount: int
    currency: str
    created: datetime
    stripe_customer_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class RefundRecord:
    """A refund as Stripe keeps it, for reconciliation. `amount` is our minor units."""

    id: str
    payment_intent_id: str | None
    charge_id: str | None
    status: str
    amount: int
    currency: str
    created: datetime
    metadata: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Amounts and messages


def customer_message_for(code: str | None, decline_code: str | None = None) -> str:
    """The customer's message for a decline, from DECLINE_MESSAGES (decline_code first)."""
    for key in (decline_code, code):
        if key and key in DECLINE_MESSAGES:
            return DECLINE_MESSAGES[key]
    return GENERIC_DECLINE_MESSAGE


def _scrub(text: str | None) -> str:
    return _SECRET_PATTERN.sub("[redacted]", text or "")


def _digest(params: Mapping[str, Any]) -> str:
    blob = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _require_key(idempotency_key: str) -> str:
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise ValueError("an idempotency key naming what is paid is required")
    if len(idempotency_key) > 255:
        raise ValueError("idempotency keys are at most 255 characters")
    return idempotency_key


def _metadata(extra: Mapping[str, Any] | None, **ours: str | None) -> dict[str, str]:
    """Stripe metadata: string values (max 500 chars), keys max 40 chars, empty values dropped."""
    out: dict[str, str] = {}
    for key, value in {**(extra or {}), **ours}.items():
        if value is None or value == "":
            continue
        out[str(key)[:40]] = str(value)[:500]
    return out


def _is_stand_in(api_base: str | None) -> bool:
    return bool(api_base) and (urlsplit(api_base).hostname or "") != STRIPE_API_HOST


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    return obj.to_dict()


def _card_info(pm: Mapping[str, Any]) -> CardInfo:
    card = pm.get("card") or {}
    return CardInfo(
        id=pm["id"],
        brand=str(card.get("brand") or ""),
        last4=str(card.get("last4") or ""),
        exp_month=int(card.get("exp_month") or 0),
        exp_year=int(card.get("exp_year") or 0),
        fingerprint=str(card.get("fingerprint") or ""),
        country=str(card.get("country") or "").upper()[:2],
    )


def _card_of_intent(pi: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(brand, last4) from an expanded payment_method or latest_charge, else (None, None)."""
    pm = pi.get("payment_method")
    if isinstance(pm, dict) and isinstance(pm.get("card"), dict):
        return pm["card"].get("brand"), pm["card"].get("last4")
    charge = pi.get("latest_charge")
    if isinstance(charge, dict):
        card = (charge.get("payment_method_details") or {}).get("card") or {}
        if card:
            return card.get("brand"), card.get("last4")
    return None, None


_STATUS_FROM_STRIPE: dict[str, ChargeStatus] = {
    "succeeded": "succeeded",
    "requires_action": "requires_action",
    "processing": "processing",
    "requires_confirmation": "processing",  # not final; we always confirm on creation
    "requires_capture": "processing",  # authorised, not captured: we never use manual capture
    "requires_payment_method": "failed",
    "canceled": "failed",
}


def _intent_result(pi: Mapping[str, Any]) -> ChargeResult:
    stripe_status = pi.get("status") or ""
    status = _STATUS_FROM_STRIPE.get(stripe_status, "processing")
    brand, last4 = _card_of_intent(pi)
    currency = (pi.get("currency") or "").upper() or None
    amount = pi.get("amount")
    if amount is not None and currency:
        amount = from_stripe_amount(amount, currency)
    failure_code = decline_code = message = None
    if status == "requires_action":
        message = REQUIRES_ACTION_MESSAGE
    elif status == "processing":
        message = "Your payment is being processed."
    elif status == "failed":
        error = pi.get("last_payment_error") or {}
        failure_code = error.get("code") or ("canceled" if stripe_status == "canceled" else None)
        decline_code = error.get("decline_code")
        if stripe_status == "canceled":
            message = "This payment was canceled."
        else:
            message = customer_message_for(failure_code, decline_code)
    return ChargeResult(
        status=status,
        payment_intent_id=pi.get("id"),
        client_secret=pi.get("client_secret") if status == "requires_action" else None,
        failure_code=failure_code,
        decline_code=decline_code,
        customer_message=message,
        card_brand=brand,
        card_last4=last4,
        amount=amount,
        currency=currency,
        stripe_status=stripe_status or None,
        payment_method_id=pm.get("id") if isinstance(pm := pi.get("payment_method"), dict) else pm,
        **(_next_action(pi) if status == "requires_action" else {}),
    )


def _next_action(pi: Mapping[str, Any]) -> dict[str, str | None]:
    """Where a wallet payment goes next: Alipay's redirect, WeChat Pay's QR code."""
    action = pi.get("next_action") or {}
    redirect = action.get("redirect_to_url") or action.get("alipay_handle_redirect") or {}
    qr = action.get("wechat_pay_display_qr_code") or {}
    return {
        "redirect_url": redirect.get("url") or qr.get("hosted_instructions_url"),
        "qr_code_data": qr.get("data"),
        "qr_image_url": qr.get("image_url_png") or qr.get("image_data_url"),
    }


def checkout_session_info(obj: Mapping[str, Any]) -> CheckoutSessionInfo:
    """Read a Checkout Session (API answer or webhook `data.object`); needs only its `id`."""
    currency = str(obj.get("currency") or "").upper() or None
    amount = obj.get("amount_total")
    if isinstance(amount, bool) or not isinstance(amount, int) or currency is None:
        amount = None
    else:
        amount = from_stripe_amount(amount, currency)
    ref = str((obj.get("metadata") or {}).get("invoice_id") or obj.get("client_reference_id") or "")
    intent = obj.get("payment_intent")
    customer = obj.get("customer")
    return CheckoutSessionInfo(
        id=str(obj["id"]),
        url=obj.get("url"),
        status=str(obj.get("status") or ""),
        payment_status=str(obj.get("payment_status") or ""),
        amount_total=amount,
        currency=currency,
        customer_id=customer.get("id") if isinstance(customer, dict) else customer,
        payment_intent_id=intent.get("id") if isinstance(intent, dict) else intent,
        invoice_id=parse_id(ref),
    )


def _refund_result(refund: Mapping[str, Any], currency: str) -> RefundResult:
    code = (refund.get("currency") or currency).upper()
    return RefundResult(
        id=refund["id"],
        status=str(refund.get("status") or ""),
        amount=from_stripe_amount(refund["amount"], code),
        currency=code,
    )


def _when(timestamp: Any) -> datetime:
    return datetime.fromtimestamp(int(timestamp or 0), UTC)


def _string_metadata(obj: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (obj.get("metadata") or {}).items()}


def intent_record(pi: Mapping[str, Any]) -> IntentRecord:
    """A PaymentIntent (API answer or webhook `data.object`) as an IntentRecord."""
    currency = str(pi.get("currency") or "").upper()
    customer = pi.get("customer")
    return IntentRecord(
        id=pi["id"], status=str(pi.get("status") or ""), currency=currency,
        amount=from_stripe_amount(int(pi.get("amount") or 0), currency), created=_when(pi.get("created")),
        stripe_customer_id=customer if isinstance(customer, str) else None, metadata=_string_metadata(pi),
    )


def _refund_record(refund: Mapping[str, Any]) -> RefundRecord:
    currency = str(refund.get("currency") or "").upper()
    return RefundRecord(
        id=refund["id"], payment_intent_id=refund.get("payment_intent") or None,
        charge_id=refund.get("charge") or None, status=str(refund.get("status") or ""), currency=currency,
        amount=from_stripe_amount(int(refund.get("amount") or 0), currency), created=_when(refund.get("created")),
        metadata=_string_metadata(refund),
    )


# --------------------------------------------------------------------------------------------
# HTTP client


class _RetryingHttpClient(stripe.RequestsClient):
    """The SDK's requests client, also retrying 429 (rate limited) like 409 and 5xx.

    The SDK retries 429 only when Stripe adds `Stripe-Should-Retry: true` (lock timeouts); Stripe
    advises backing off and retrying rate-limited requests too. `Stripe-Should-Retry: false` is
    still obeyed. The retry loop, backoff and idempotency key stay the SDK's.
    """

    def _should_retry(self, response, api_connection_error, num_retries, max_network_retries):
        if response is not None and num_retries < (max_network_retries or 0):
            _body, status_code, headers = response
            if status_code == 429 and not (
                headers is not None and headers.get("stripe-should-retry") == "false"
            ):
                return True
        return super()._should_retry(response, api_connection_error, num_retries, max_network_retries)


# --------------------------------------------------------------------------------------------
# The gateway


class StripeGateway:
    """Stripe calls in the portal's terms. Build with `from_settings()` (or `gateway()`)."""

    def __init__(
        self,
        *,
        secret_key: str | SecretStr,
        webhook_secret: str | SecretStr,
        api_base: str | None = None,
        max_network_retries: int = DEFAULT_MAX_NETWORK_RETRIES,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        stand_in: bool | None = None,
    ):
        key = secret_key.get_secret_value() if isinstance(secret_key, SecretStr) else secret_key
        if not key:
            raise ValueError("STRIPE_SECRET_KEY is empty")
        self._webhook_secret = (
            webhook_secret if isinstance(webhook_secret, SecretStr) else SecretStr(webhook_secret)
        )
        self.api_base = api_base or None
        self.max_network_retries = max_network_retries
        self.stand_in = _is_stand_in(self.api_base) if stand_in is None else stand_in
        self._client = stripe.StripeClient(
            key,
            base_addresses={"api": self.api_base} if self.api_base else None,
            max_network_retries=max_network_retries,
            http_client=_RetryingHttpClient(timeout=timeout),
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> StripeGateway:
        """A gateway from `get_settings()` (or `settings`); keyword overrides win (tests, CLI)."""
        settings = settings or get_settings()
        options: dict[str, Any] = {
            "secret_key": settings.stripe_secret_key,
            "webhook_secret": settings.stripe_webhook_secret,
            "api_base": settings.stripe_api_base,
            "max_network_retries": settings.stripe_max_network_retries,
            "timeout": _timeouts(settings.stripe_timeout_seconds),
        }
        options.update(overrides)
        return cls(**options)

    def __repr__(self) -> str:
        return f"<StripeGateway api_base={self.api_base or 'https://' + STRIPE_API_HOST}>"

    @property
    def _v1(self):
        return self._client.v1

    # ---- error translation

    @contextmanager
    def _translate_errors(
        self, operation: str, unavailable_message: str = PROVIDER_UNAVAILABLE_MESSAGE
    ) -> Iterator[None]:
        try:
            yield
        except stripe.StripeError as exc:
            raise self._translate(operation, exc, unavailable_message) from None

    def _translate(self, operation: str, exc: stripe.StripeError, unavailable_message: str
                   ) -> StripeGatewayError:
        status = exc.http_status
        logger.warning(
            "stripe %s failed: %s http_status=%s code=%s request_id=%s",
            operation, type(exc).__name__, status, exc.code, exc.request_id,
        )
        unavailable = isinstance(exc, (stripe.APIConnectionError, stripe.RateLimitError)) or (
            isinstance(exc, stripe.APIError) and (status is None or status == 409 or status >= 500)
        )
        if unavailable:
            return PaymentProviderUnavailable(unavailable_message, code=exc.code, http_status=status)
        if isinstance(exc, stripe.AuthenticationError):
            return StripeGatewayError(
                "The payment provider refused our API key (check STRIPE_SECRET_KEY).",
                code=exc.code, http_status=status,
            )
        if isinstance(exc, stripe.IdempotencyError):
            return StripeGatewayError(
                "The payment provider refused an idempotency key reused for a different request.",
                code=exc.code or "idempotency_error", http_status=status,
            )
        if isinstance(exc, stripe.CardError):
            error = self._error_body(exc)
            return CardDeclined(
                customer_message_for(exc.code, error.get("decline_code")),
                decline_code=error.get("decline_code"), code=exc.code, http_status=status,
            )
        message = _scrub(self._error_body(exc).get("message")) or "The payment provider refused the request."
        return StripeGatewayError(message, code=exc.code, http_status=status)

    @staticmethod
    def _error_body(exc: stripe.StripeError) -> dict[str, Any]:
        body = exc.json_body
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return body["error"]
        return {}

    # ---- customers

    def ensure_customer(
        self,
        *,
        stripe_customer_id: str | None,
        email: str,
        name: str,
        idempotency_key: str,
        address_line1: str = "",
        address_line2: str = "",
        city: str = "",
        postal_code: str = "",
        region: str = "",
        country: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Create the Stripe customer, or update it when `stripe_customer_id` is given; its id.

        A customer id Stripe no longer knows (deleted, or a reset sandbox) gets a new customer.
        """
        _require_key(idempotency_key)
        address = {
            "line1": address_line1, "line2": address_line2, "city": city,
            "postal_code": postal_code, "state": region, "country": country.upper(),
        }
        meta = _metadata(metadata)
        with self._translate_errors("ensure_customer"):
            if stripe_customer_id:
                # All address fields are sent, empty ones included, so a removed line is cleared.
                params: dict[str, Any] = {"email": email, "name": name, "address": address}
                if meta:
                    params["metadata"] = meta
                try:  # no key of ours: see the module docstring
                    return self._v1.customers.update(stripe_customer_id, params=params).id
                except stripe.InvalidRequestError as exc:
                    if exc.http_status != 404:
                        raise
                    logger.warning("stripe customer %s is gone; creating a new one", stripe_customer_id)
            params = {"email": email, "name": name}
            filled = {key: value for key, value in address.items() if value}
            if filled:
                params["address"] = filled
            if meta:
                params["metadata"] = meta
            key = f"{idempotency_key}:create:{_digest(params)}"
            if stripe_customer_id:
                key += f":replaces:{stripe_customer_id}"
            customer = self._v1.customers.create(params=params, options={"idempotency_key": key})
            return customer.id

    # ---- cards

    def create_setup_intent(self, stripe_customer_id: str) -> IntentInfo:
        """A SetupIntent to save a card for off-session use; the page runs `confirmCardSetup`."""
        params = {"customer": stripe_customer_id, "payment_method_types": ["card"], "usage": "off_session"}
        with self._translate_errors("create_setup_intent"):
            intent = self._v1.setup_intents.create(params=params)
        return self._setup_info(_as_dict(intent))

    def retrieve_setup_intent(self, setup_intent_id: str) -> IntentInfo:
        """The SetupIntent as Stripe sees it (check `status` and `customer_id` before trusting it)."""
        with self._translate_errors("retrieve_setup_intent"):
            intent = self._v1.setup_intents.retrieve(setup_intent_id)
        return self._setup_info(_as_dict(intent))

    @staticmethod
    def _setup_info(intent: Mapping[str, Any]) -> IntentInfo:
        pm = intent.get("payment_method")
        return IntentInfo(
            id=intent["id"],
            client_secret=intent.get("client_secret"),
            status=str(intent.get("status") or ""),
            payment_method_id=pm.get("id") if isinstance(pm, dict) else pm,
            customer_id=intent.get("customer"),
        )

    def attach_payment_method(self, payment_method_id: str, stripe_customer_id: str) -> CardInfo:
        """Attach a card to the customer (a no-op when already theirs); brand, last4, expiry.

        Raises CardDeclined when the bank refuses the card, StripeGatewayError when the card is
        saved for another customer.
        """
        with self._translate_errors("attach_payment_method"):
            pm = _as_dict(self._v1.payment_methods.retrieve(payment_method_id))
            owner = pm.get("customer")
            if owner == stripe_customer_id:
                return _card_info(pm)
            if owner:
                raise StripeGatewayError("This card is saved for another customer.",
                                         code="payment_method_belongs_to_another_customer")
            pm = _as_dict(self._v1.payment_methods.attach(
                payment_method_id, params={"customer": stripe_customer_id}
            ))
        return _card_info(pm)

    def list_cards(self, stripe_customer_id: str) -> list[CardInfo]:
        """The customer's saved cards, as Stripe has them."""
        with self._translate_errors("list_cards"):
            page = self._v1.payment_methods.list(
                params={"customer": stripe_customer_id, "type": "card", "limit": 100}
            )
            return [_card_info(_as_dict(pm)) for pm in page.auto_paging_iter()]

    def set_default_card(self, stripe_customer_id: str, payment_method_id: str) -> None:
        """Make a card (already attached to this customer) the default for invoices."""
        with self._translate_errors("set_default_card"):
            self._require_owned(payment_method_id, stripe_customer_id)
            self._v1.customers.update(
                stripe_customer_id,
                params={"invoice_settings": {"default_payment_method": payment_method_id}},
            )

    def detach_card(self, payment_method_id: str, *, stripe_customer_id: str | None = None) -> None:
        """Remove a saved card; already detached is fine. With `stripe_customer_id`, only theirs."""
        with self._translate_errors("detach_card"):
            pm = _as_dict(self._v1.payment_methods.retrieve(payment_method_id))
            owner = pm.get("customer")
            if owner is None:
                return
            if stripe_customer_id is not None and owner != stripe_customer_id:
                raise StripeGatewayError("This card is not saved for this customer.",
                                         code="payment_method_not_owned")
            self._v1.payment_methods.detach(payment_method_id)

    def _require_owned(self, payment_method_id: str, stripe_customer_id: str) -> None:
        pm = _as_dict(self._v1.payment_methods.retrieve(payment_method_id))
        if pm.get("customer") != stripe_customer_id:
            raise StripeGatewayError("This card is not saved for this customer.",
                                     code="payment_method_not_owned")

    # ---- payments

    def charge(
        self,
        *,
        stripe_customer_id: str,
        payment_method_id: str,
        amount: int,
        currency: str,
        idempotency_key: str,
        off_session: bool,
        description: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> ChargeResult:
        """Charge a saved card: one PaymentIntent, created and confirmed in one call.

        `amount` is our minor units (KRW 15000 is sent as 15000). Declines come back as status
        "failed", 3-D Secure as "requires_action" (on- and off-session); only an unreachable
        provider raises (PaymentProviderUnavailable). The caller's key is sent verbatim.
        """
        money.require_int(amount)
        if amount <= 0:
            raise ValueError("a charge amount must be positive")
        code = money.normalize_currency(currency)
        _require_key(idempotency_key)
        params: dict[str, Any] = {
            "amount": to_stripe_amount(amount, code),
            "currency": code.lower(),
            "customer": stripe_customer_id,
            "payment_method": payment_method_id,
            "confirm": True,
            "payment_method_types": ["card"],
            "metadata": _metadata(metadata, idempotency_key=idempotency_key,
                                  description=description),
            "expand": ["payment_method", "latest_charge"],
        }
        if off_session:
            params["off_session"] = True
        if description and not self.stand_in:
            params["description"] = description[:1000]
        with self._translate_errors("charge"):
            try:
                intent = self._v1.payment_intents.create(
                    params=params, options={"idempotency_key": idempotency_key}
                )
            except stripe.CardError as exc:
                return self._declined(exc, code)
        return _intent_result(_as_dict(intent))

    def _declined(self, exc: stripe.CardError, currency: str) -> ChargeResult:
        """A 402 from a charge: a decline, or Stripe's off-session `authentication_required`."""
        error = self._error_body(exc)
        code = error.get("code") or exc.code
        decline_code = error.get("decline_code")
        logger.info("stripe charge declined: code=%s decline_code=%s request_id=%s",
                    code, decline_code, exc.request_id)
        intent = error.get("payment_intent") if isinstance(error.get("payment_intent"), dict) else None
        if intent is None and isinstance(error.get("charge"), str):
            # localstripe names the failed charge only; find its PaymentIntent (best effort).
            intent = self._best_effort_intent_of_charge(error["charge"])
        result = _intent_result(intent) if intent else ChargeResult(status="failed")
        needs_action = "authentication_required" in (code, decline_code)
        pm = error.get("payment_method")
        brand, last4 = result.card_brand, result.card_last4
        if isinstance(pm, dict) and isinstance(pm.get("card"), dict):
            brand, last4 = pm["card"].get("brand"), pm["card"].get("last4")
        return ChargeResult(
            status="requires_action" if needs_action else "failed",
            payment_intent_id=result.payment_intent_id,
            client_secret=(intent or {}).get("client_secret") if needs_action else None,
            failure_code=code,
            decline_code=decline_code,
            customer_message=customer_message_for(code, decline_code),
            card_brand=brand,
            card_last4=last4,
            amount=result.amount,
            currency=result.currency or currency,
            stripe_status=result.stripe_status,
        )

    def _best_effort_intent_of_charge(self, charge_id: str) -> dict[str, Any] | None:
        try:
            charge = _as_dict(self._v1.charges.retrieve(charge_id))
            intent_id = charge.get("payment_intent")
            if not intent_id:
                return None
            return _as_dict(self._v1.payment_intents.retrieve(
                intent_id, params={"expand": ["payment_method"]}
            ))
        except stripe.StripeError:
            return None

    def start_wallet_payment(
        self,
        *,
        method: Literal["alipay", "wechat_pay"],
        stripe_customer_id: str,
        amount: int,
        currency: str,
        idempotency_key: str,
        return_url: str,
        description: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> ChargeResult:
        """A confirmed Alipay or WeChat Pay PaymentIntent, normally answering "requires_action".

        Alipay: send the customer to `redirect_url` (Stripe's `next_action.redirect_to_url`);
        they come back to `return_url`. WeChat Pay: show `qr_image_url` (`qr_code_data` is what it
        encodes) for the customer to scan. Either way `payment_intent.succeeded` settles it.
        Raises ValueError for a currency the method does not take (check `WALLET_CURRENCIES`).
        """
        money.require_int(amount)
        if amount <= 0:
            raise ValueError("a charge amount must be positive")
        code = money.normalize_currency(currency)
        if method not in WALLET_CURRENCIES:
            raise ValueError(f"unknown wallet payment method {method!r}")
        if code not in WALLET_CURRENCIES[method]:
            raise ValueError(f"{method} does not take {code}")
        _require_key(idempotency_key)
        params: dict[str, Any] = {
            "amount": to_stripe_amount(amount, code),
            "currency": code.lower(),
            "customer": stripe_customer_id,
            "payment_method_types": [method],
            "payment_method_data": {"type": method},
            "confirm": True,
            "metadata": _metadata(metadata, idempotency_key=idempotency_key, description=description),
        }
        if method == "alipay":
            params["return_url"] = return_url
        else:
            params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
        if description and not self.stand_in:
            params["description"] = description[:1000]
        with self._translate_errors("start_wallet_payment"):
            intent = self._v1.payment_intents.create(params=params,
                                                     options={"idempotency_key": idempotency_key})
        return _intent_result(_as_dict(intent))

    # ---- hosted Checkout

    def create_checkout_session(
        self,
        *,
        stripe_customer_id: str,
        invoice_id: int,
        amount: int,
        currency: str,
        description: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> CheckoutSessionInfo:
        """A Checkout Session (mode "payment") collecting `amount` for our invoice `invoice_id`.

        The amount is one line priced inline (our invoice, taxes included, is the source of
        truth); `success_url` may contain `{CHECKOUT_SESSION_ID}`, which Stripe fills in. The card
        is kept for off-session renewals (`setup_future_usage`). The caller's key is sent verbatim.
        """
        money.require_int(amount)
        if amount <= 0:
            raise ValueError("a checkout amount must be positive")
        code = money.normalize_currency(currency)
        _require_key(idempotency_key)
        meta = _metadata(metadata, invoice_id=str(invoice_id), idempotency_key=idempotency_key)
        params: dict[str, Any] = {
            "mode": "payment",
            "customer": stripe_customer_id,
            "client_reference_id": str(invoice_id),
            "line_items": [{
                "price_data": {"currency": code.lower(), "unit_amount": to_stripe_amount(amount, code),
                               "product_data": {"name": description[:250] or f"Invoice {invoice_id}"}},
                "quantity": 1,
            }],
            "metadata": meta,
            "payment_intent_data": {"metadata": meta, "setup_future_usage": "off_session"},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        with self._translate_errors("create_checkout_session"):
            created = self._v1.checkout.sessions.create(params=params,
                                                        options={"idempotency_key": idempotency_key})
        return checkout_session_info(_as_dict(created))

    def retrieve_checkout_session(self, checkout_session_id: str) -> CheckoutSessionInfo:
        """The Checkout Session as Stripe sees it now (after the customer came back)."""
        with self._translate_errors("retrieve_checkout_session"):
            found = self._v1.checkout.sessions.retrieve(checkout_session_id)
        return checkout_session_info(_as_dict(found))

    def expire_checkout_session(self, checkout_session_id: str) -> CheckoutSessionInfo:
        """Close an open Checkout Session so it can no longer be paid."""
        with self._translate_errors("expire_checkout_session"):
            expired = self._v1.checkout.sessions.expire(checkout_session_id)
        return checkout_session_info(_as_dict(expired))

    def retrieve_payment_intent(self, payment_intent_id: str) -> ChargeResult:
        """The PaymentIntent's current outcome (after 3-D Secure, or to reconcile)."""
        with self._translate_errors("retrieve_payment_intent"):
            intent = self._v1.payment_intents.retrieve(
                payment_intent_id, params={"expand": ["payment_method", "latest_charge"]}
            )
        return _intent_result(_as_dict(intent))

    def refund(self, *, payment_intent_id: str, amount: int, idempotency_key: str,
               reason: str | None = None) -> RefundResult:
        """Refund part or all of a succeeded payment, never more than remains refundable.

        Replaying the same key returns the refund already made with it. Raises RefundRejected
        when the payment did not succeed or `amount` exceeds what remains (checked here first, as
        localstripe does not, and by Stripe itself).
        """
        money.require_int(amount)
        if amount <= 0:
            raise ValueError("a refund amount must be positive")
        _require_key(idempotency_key)
        with self._translate_errors("refund", REFUND_UNAVAILABLE_MESSAGE):
            intent = _as_dict(self._v1.payment_intents.retrieve(
                payment_intent_id, params={"expand": ["latest_charge"]}
            ))
            currency = str(intent.get("currency") or "").upper()
            for existing in self._v1.refunds.list(
                params={"payment_intent": payment_intent_id, "limit": 100}
            ).auto_paging_iter():
                existing = _as_dict(existing)
                if (existing.get("metadata") or {}).get("idempotency_key") == idempotency_key:
                    return _refund_result(existing, currency)
            charge = intent.get("latest_charge")
            if intent.get("status") != "succeeded" or not isinstance(charge, dict):
                raise RefundRejected("This payment did not go through; there is nothing to refund.",
                                     code="payment_not_succeeded", refundable=0)
            remaining = int(charge["amount"]) - int(charge.get("amount_refunded") or 0)
            try:
                wanted = to_stripe_amount(amount, currency)
            except NotChargeable as exc:  # e.g. KWD 1.005: Stripe takes only whole tens of fils
                raise RefundRejected(str(exc), code="amount_not_chargeable") from None
            if wanted > remaining:
                raise RefundRejected(
                    "The refund is larger than what remains refundable on this payment.",
                    code="amount_too_large", refundable=from_stripe_amount(max(remaining, 0), currency),
                )
            params: dict[str, Any] = {
                "payment_intent": payment_intent_id,
                "amount": wanted,
                "metadata": _metadata(None, idempotency_key=idempotency_key, reason=reason),
            }
            if reason in _REFUND_REASONS and not self.stand_in:
                params["reason"] = reason
            try:
                refund = self._v1.refunds.create(params=params,
                                                 options={"idempotency_key": idempotency_key})
            except stripe.InvalidRequestError as exc:  # e.g. already refunded, disputed
                message = _scrub(self._error_body(exc).get("message")) or "Stripe refused the refund."
                raise RefundRejected(message, code=exc.code, http_status=exc.http_status) from None
        return _refund_result(_as_dict(refund), currency)

    # ---- reconciliation: what Stripe holds in a time range

    def _listed(self, resource, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """Objects created in [start, end). localstripe refuses the `created` filter, so there the
        whole list is read; the range is applied here either way."""
        params: dict[str, Any] = {"limit": 100}
        if not self.stand_in:
            params["created"] = {"gte": int(start.timestamp()), "lt": int(end.timestamp())}
        for obj in resource.list(params=params).auto_paging_iter():
            obj = _as_dict(obj)
            if start <= _when(obj.get("created")) < end:
                yield obj

    def list_payment_intents(self, start: datetime, end: datetime) -> list[IntentRecord]:
        with self._translate_errors("list_payment_intents"):
            return [intent_record(pi) for pi in self._listed(self._v1.payment_intents, start, end)]

    def list_refunds(self, start: datetime, end: datetime) -> list[RefundRecord]:
        with self._translate_errors("list_refunds"):
            return [_refund_record(r) for r in self._listed(self._v1.refunds, start, end)]

    def intents_for_invoice(self, stripe_customer_id: str, invoice_id: int) -> list[IntentRecord]:
        """The customer's PaymentIntents whose metadata names our invoice `invoice_id` (the newest
        100 at Stripe): a charge made for the invoice whose answer we never got shows up here.
        localstripe refuses the `customer` filter, so there the whole list is read and filtered."""
        with self._translate_errors("intents_for_invoice"):
            if self.stand_in:
                listed = self._v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
            else:
                listed = self._v1.payment_intents.list(params={"customer": stripe_customer_id, "limit": 100}).data
            records = [intent_record(_as_dict(pi)) for pi in listed]
        return [r for r in records
                if r.stripe_customer_id == stripe_customer_id and r.metadata.get("invoice_id") == str(invoice_id)]

    def find_payment_intent(self, payment_intent_id: str) -> IntentRecord | None:
        """The PaymentIntent, or None when Stripe has no such object (404)."""
        with self._translate_errors("find_payment_intent"):
            try:
                return intent_record(_as_dict(self._v1.payment_intents.retrieve(payment_intent_id)))
            except stripe.InvalidRequestError as exc:
                if exc.http_status == 404:
                    return None
                raise

    # ---- webhooks

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> dict[str, Any]:
        """The event (a plain dict) if `Stripe-Signature` is valid for the raw body and fresh.

        Uses `STRIPE_WEBHOOK_SECRET` and a 300 s tolerance; raises InvalidWebhook otherwise.
        """
        if not signature_header:
            raise InvalidWebhook("The Stripe-Signature header is missing.", reason="missing_signature")
        secret = self._webhook_secret.get_secret_value()
        if not secret:
            raise InvalidWebhook("No webhook secret is configured.", reason="bad_signature")
        try:
            # verify_header rather than construct_event: we keep the plain dict, so parse once.
            stripe.WebhookSignature.verify_header(
                payload, signature_header, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
            )
            event = json.loads(payload)
        except stripe.SignatureVerificationError as exc:
            if "tolerance" in str(exc).lower():
                raise InvalidWebhook("The webhook signature is too old.",
                                     reason="stale_signature") from None
            raise InvalidWebhook("The webhook signature does not match.",
                                 reason="bad_signature") from None
        except (ValueError, TypeError, AttributeError, KeyError):  # incl. JSON/Unicode errors
            raise InvalidWebhook("The webhook body is not a Stripe event.",
                                 reason="malformed_body") from None
        if not (isinstance(event, dict) and isinstance(event.get("id"), str)
                and isinstance(event.get("type"), str)):
            raise InvalidWebhook("The webhook body is not a Stripe event.", reason="malformed_body")
        return event


@lru_cache(maxsize=4)
def _cached_gateway(secret_key: str, webhook_secret: str, api_base: str | None, timeout: float,
                    max_network_retries: int) -> StripeGateway:
    return StripeGateway(secret_key=secret_key, webhook_secret=webhook_secret, api_base=api_base,
                         timeout=_timeouts(timeout),
                         max_network_retries=max_network_retries)


def gateway() -> StripeGateway:
    """The gateway for the current settings (one per distinct key/base, so connections are reused)."""
    settings = get_settings()
    return _cached_gateway(
        settings.stripe_secret_key.get_secret_value(),
        settings.stripe_webhook_secret.get_secret_value(),
        settings.stripe_api_base,
        settings.stripe_timeout_seconds,
        settings.stripe_max_network_retries,
    )
