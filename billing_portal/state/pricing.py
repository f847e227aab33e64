"""The pricing page: one interval and one currency at a time, only the cards the page shows."""

import dataclasses
import logging

import reflex as rx

from billing_portal.billing import catalog
from billing_portal.db import session_scope
from billing_portal.settings import get_settings
from billing_portal.state.auth import AuthState

# Segment value -> (interval, interval_count); values are what the segmented control sends.
INTERVAL_OPTIONS: list[tuple[str, str]] = [
    (f"{interval}-{count}", label) for interval, count, label in catalog.PRICING_INTERVALS
]
_INTERVALS: dict[str, tuple[str, int]] = {
    f"{interval}-{count}": (interval, count) for interval, count, _ in catalog.PRICING_INTERVALS
}
DEFAULT_INTERVAL = INTERVAL_OPTIONS[0][0]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class PlanCardView:
    """What one pricing card shows: strings and flags, no ids beyond the checkout link."""

    slug: str = ""
    name: str = ""
    description: str = ""
    features: list[str] = dataclasses.field(default_factory=list)
    price_label: str = ""
    period_label: str = ""
    monthly_label: str = ""
    savings_label: str = ""
    checkout_href: str = ""
    is_free: bool = False
    is_current: bool = False


def card_view(card: catalog.PricingCard) -> PlanCardView:
    return PlanCardView(
        slug=card.plan_slug,
        name=card.plan_name,
        description=card.description,
        features=list(card.features),
        price_label=card.price_label,
        period_label=card.period_label,
        monthly_label=card.monthly_equivalent_label,
        savings_label=f"Save {card.savings_percent}%" if card.savings_percent > 0 else "",
        checkout_href=f"/checkout?price={card.price_id}" if card.price_id is not None else "",
        is_free=card.is_free,
        is_current=card.is_current,
    )


class PricingState(AuthState):
    currency: str = ""
    interval: str = DEFAULT_INTERVAL
    # [value, label] of the intervals offered in this currency (the half-year only where priced).
    interval_options: list[list[str]] = [[value, label] for value, label in INTERVAL_OPTIONS
                                         if value != "month-6"]
    currencies: list[str] = []
    cards: list[PlanCardView] = []
    loaded: bool = False
    loading: bool = False
    error: str = ""

    def _load_cards(self) -> None:
        interval, count = _INTERVALS[self.interval]
        try:
            with session_scope() as session:
                # The current-plan mark comes from the server-side user, never from the browser.
                user = self._resolve_user(session)
                self.currencies = catalog.pricing_currencies(session)
                if self.currency not in self.currencies:
                    default = user.currency if user else get_settings().default_currency
                    self.currency = (
                        default if default in self.currencies else (self.currencies or [""])[0]
                    )
                offered = catalog.pricing_intervals(session, currency=self.currency) if self.currency else []
                self.interval_options = [[f"{i}-{c}", label] for i, c, label in offered]
                if self.interval not in {value for value, _ in self.interval_options}:
                    self.interval, interval, count = DEFAULT_INTERVAL, *_INTERVALS[DEFAULT_INTERVAL]
                cards = (
                    catalog.pricing_table(
                        session,
                        currency=self.currency,
                        interval=interval,
                        interval_count=count,
                        locale=user.locale if user else get_settings().default_locale,
                        customer_id=user.customer_id if user else None,
                    )
                    if self.currency
                    else []
                )
        except Exception:
            logger.exception("pricing table failed")
            self.cards = []
            self.error = "Prices could not be loaded. Reload the page to try again."
            return
        self.error = ""
        self.cards = [card_view(c) for c in cards]
        self.loaded = True

    @rx.event
    def on_load(self):
        self.loading = False
        self._load_cards()

    @rx.event
    def set_interval(self, value: str | list[str]):
        value = value if isinstance(value, str) else ""
        if value not in _INTERVALS or value == self.interval:
            return
        self.interval = value
        self.loading = True
        yield
        try:
            self._load_cards()
        finally:
            self.loading = False

    @rx.event
    def set_currency(self, value: str | list[str]):
        value = value if isinstance(value, str) else ""
        if value not in self.currencies or value == self.currency:
            return
        self.currency = value
        self.loading = True
        yield
        try:
            self._load_cards()
        finally:
            self.loading = False
