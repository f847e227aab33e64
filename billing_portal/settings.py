"""Every setting of the portal, read from the environment (and `.env`) by pydantic-settings.

Each field is documented in `.env.example`; a test keeps the two in step.
"""

import os
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RATE_PATTERN = r"^[1-9][0-9]{0,6}/(second|minute|hour|day)$"


class TaxRule(BaseModel):
    """The tax charged to customers of one country: a percent rate, included in prices or added."""

    rate: Decimal = Field(ge=0, le=100)
    inclusive: bool = False


class Settings(BaseSettings):
    # BILLING_PORTAL_ENV_FILE lets the test suite ignore a developer's .env.
    model_config = SettingsConfigDict(
        env_file=os.environ.get("BILLING_PORTAL_ENV_FILE", ".env"),
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # `REDIS_URL=` in .env means "not set", not the empty string
        extra="ignore",
        hide_input_in_errors=True,  # a refused SMTP_URL or key must not print its secret
    )

    database_url: str = f"sqlite:///{PROJECT_ROOT / '.data' / 'billing.db'}"
    redis_url: str | None = None
    public_url: str = "http://localhost:3000"
    api_url: str = "http://localhost:8000"
    allowed_origins: list[str] = Field(default_factory=lambda: ["http://localhost:3000"])
    session_days: int = Field(default=14, ge=1, le=365)

    stripe_secret_key: SecretStr = SecretStr("sk_test_sandbox")
    stripe_publishable_key: str = "pk_test_sandbox"
    stripe_webhook_secret: SecretStr = SecretStr("whsec_sandbox")
    stripe_api_base: str | None = "http://localhost:8420"
    stripe_js_url: str = "http://localhost:8420/js.stripe.com/v3/"
    # Per try: how long to wait for Stripe's answer, and how many times the SDK tries again (with
    # the same Idempotency-Key) after a timeout, a dropped connection, a 409, 429 or 5xx.
    stripe_timeout_seconds: float = Field(default=30.0, gt=0, le=120)
    stripe_max_network_retries: int = Field(default=3, ge=0, le=10)
    # Webhook events whose object we do not know yet are retried: tries, and the first wait in
    # seconds (doubled after each try, at most an hour). After the last try: status "failed".
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_retry_base_seconds: int = Field(default=30, ge=1, le=3600)
    # embedded: the card form in our /checkout page (Stripe.js); hosted: Stripe Checkout's page.
    checkout_mode: Literal["embedded", "hosted"] = "embedded"
    # Offer Alipay (redirect) and WeChat Pay (QR code) as PaymentIntent payment methods.
    alipay_enabled: bool = False
    wechat_pay_enabled: bool = False

    storage_backend: Literal["local", "s3"] = "local"
    storage_dir: Path = PROJECT_ROOT / ".data" / "files"
    s3_bucket: str = "billing-portal"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_connect_timeout: float = Field(default=2.0, gt=0)
    s3_read_timeout: float = Field(default=20.0, gt=0)
    s3_max_attempts: int = Field(default=3, ge=1, le=10)
    cdn_domain: str | None = None
    # Signs local-disk download links; unset: a random key kept in STORAGE_DIR (shared by workers).
    download_signing_secret: SecretStr | None = Field(default=None, min_length=32)
    # Largest customer upload in bytes (checked on the server while streaming).
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    # Storage quota of a customer without a live subscription (plans carry their own).
    free_storage_quota_bytes: int = Field(default=1024 * 1024 * 1024, ge=0)

    smtp_url: SecretStr | None = None  # may carry a password
    # Sender of every email; "Name <address>" or an address.
    mail_from: str = "Billing Portal <billing@localhost>"
    # A message the server did not take is tried again after MAIL_RETRY_BASE_SECONDS, doubling
    # (at most an hour apart), MAIL_MAX_ATTEMPTS tries in all; then "failed" in the outbox.
    mail_max_attempts: int = Field(default=8, ge=1, le=50)
    mail_retry_base_seconds: int = Field(default=60, ge=1, le=3600)

    # Outgoing webhooks to the SaaS app (billing/outgoing_webhooks/, gateways/webhook_sender.py):
    # seconds to connect and to wait for each read; private and loopback addresses are refused
    # unless allowed (tests, a receiver on the same host); an endpoint whose every delivery failed
    # for this many days is disabled and the admins are emailed.
    outgoing_webhooks_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    outgoing_webhooks_allow_private: bool = False
    outgoing_webhooks_disable_after_days: int = Field(default=5, ge=1, le=60)

    # Logs are JSON lines on stderr with secrets masked (billing_portal/logs.py).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Rate limits per client IP ("N/second|minute|hour|day", moving window), shared by every
    # worker through REDIS_URL when it is set.
    rate_limit_sign_in: str = Field(default="20/minute", pattern=RATE_PATTERN)
    rate_limit_sign_up: str = Field(default="10/hour", pattern=RATE_PATTERN)
    rate_limit_checkout: str = Field(default="30/minute", pattern=RATE_PATTERN)
    rate_limit_usage_api: str = Field(default="600/minute", pattern=RATE_PATTERN)
    rate_limit_webhook: str = Field(default="60000/minute", pattern=RATE_PATTERN)
    # Per seller API key (/api/v1), not per IP: one SaaS backend sends from few addresses.
    rate_limit_seller_api: str = Field(default="6000/minute", pattern=RATE_PATTERN)
    # What GET /api/info reports as the build (e.g. the git commit the image was built from).
    build_id: str = Field(default="dev", max_length=100)

    # Run due jobs (renewals, ...) inside the app process; false when separate workers run them.
    jobs_in_process: bool = True
    # embedded: the in-process runner and `jobs work` loop; procrastinate: workers on PostgreSQL
    # (billing_portal/jobs/queue.py), each periodic job deferred once however many workers run.
    jobs_backend: Literal["embedded", "procrastinate"] = "embedded"

    invoice_number_prefix: str = Field(default="INV", pattern=r"^[A-Z0-9]{1,12}$")
    # Country code (ISO 3166 alpha-2) -> tax rule; countries not listed are not taxed.
    tax_rates: dict[str, TaxRule] = Field(default_factory=dict)
    kr_vat_rounding: Literal["half_up", "truncate"] = "half_up"
    downgrade_at_period_end: bool = True
    # Failed renewal charges are retried this many days after the first failure ("1,3,5,7");
    # after the last failed retry the final action runs: cancel, or move to the Free plan.
    dunning_retry_days: Annotated[tuple[int, ...], NoDecode] = (1, 3, 5, 7)
    dunning_final_action: Literal["cancel", "free"] = "cancel"
    default_currency: str = "USD"
    default_locale: str = "en_US"

    seller_name: str = "Billing Portal Inc."
    seller_address: str = "1 Market Street, San Francisco, CA 94105, US"
    seller_tax_id: str = ""
    seller_country: str = Field(default="", pattern=r"^([A-Za-z]{2})?$")

    # Revenue alerts (billing/analytics/), in percent of a month's payment attempts or subscribers.
    alert_payment_failure_rate: Decimal = Field(default=Decimal("5"), ge=0, le=100)
    alert_payment_success_rate: Decimal = Field(default=Decimal("95"), ge=0, le=100)
    alert_churn_rate: Decimal = Field(default=Decimal("10"), ge=0, le=100)

    # Fraud guard at checkout (billing/fraud.py): each card charge gets a score, the sum of the
    # points of the signals that fire; at FRAUD_FLAG_SCORE it is charged and flagged for admins,
    # at FRAUD_BLOCK_SCORE it is refused without a charge. Attempts count within the window.
    fraud_window_minutes: int = Field(default=60, ge=1, le=10_080)
    fraud_flag_score: int = Field(default=50, ge=1)
    fraud_block_score: int = Field(default=100, ge=1)
    fraud_customer_attempts: int = Field(default=5, ge=1)
    fraud_customer_attempts_points: int = Field(default=30, ge=0)
    fraud_ip_attempts: int = Field(default=10, ge=1)
    fraud_ip_attempts_points: int = Field(default=30, ge=0)
    fraud_card_attempts: int = Field(default=5, ge=1)
    fraud_card_attempts_points: int = Field(default=30, ge=0)
    fraud_declines_allowed: int = Field(default=1, ge=0)
    fraud_decline_points: int = Field(default=25, ge=0)
    fraud_country_mismatch_points: int = Field(default=20, ge=0)

    @field_validator("allowed_origins")
    @classmethod
    def _explicit_origins(cls, origins: list[str]) -> list[str]:
        # The websocket carries signed-in sessions: a wildcard would let any site drive them.
        if not origins or any(origin.strip() in ("*", "") or "*" in origin for origin in origins):
            raise ValueError("list the exact origins, e.g. [\"https://billing.example.com\"]; \"*\" is refused")
        return [origin.strip().rstrip("/") for origin in origins]

    @model_validator(mode="after")
    def _block_above_flag(self):
        if self.fraud_block_score < self.fraud_flag_score:
            raise ValueError("FRAUD_BLOCK_SCORE must be at least FRAUD_FLAG_SCORE")
        return self

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, url: SecretStr | None) -> SecretStr | None:
        from billing_portal.gateways.mailer import parse_smtp_url  # its errors never echo the password

        if url is not None:
            parse_smtp_url(url.get_secret_value())
        return url

    @field_validator("dunning_retry_days", mode="before")
    @classmethod
    def _retry_days(cls, value):
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        days = tuple(int(day) for day in value)
        if not days or any(day < 1 for day in days) or list(days) != sorted(set(days)):
            raise ValueError("give increasing whole days after the first failure, e.g. 1,3,5,7")
        return days

    @model_validator(mode="after")
    def _procrastinate_needs_postgres(self):
        if self.jobs_backend == "procrastinate" and not self.database_url.startswith("postgresql"):
            raise ValueError("JOBS_BACKEND=procrastinate keeps its queue in PostgreSQL: set DATABASE_URL to "
                             "postgresql+psycopg://..., or use JOBS_BACKEND=embedded with SQLite")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
