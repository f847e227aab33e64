"""The customer billing pages: /billing, /billing/plan, /billing/history.

Every handler resolves the signed-in user on the server (`_customer`) and works only on that
user's customer: the subscription is always the customer's own live subscription, looked up by
the server, and a price sent by the browser is checked against the options the page may offer.
State keeps display strings and one page of rows, never ORM objects.
"""

import dataclasses
import logging
from datetime import date
from urllib.parse import quote, urlencode

import reflex as rx

from billing_portal.api.documents import credit_note_path, invoice_pdf_path
from billing_portal.billing import plan_changes, portal, refund_requests, repository, subscriptions
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError
from billing_portal.billing.money import format_money
from billing_portal.billing.plan_changes.wording import outcome_text
from billing_portal.db import session_scope
from billing_portal.ids import parse_id
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings
from billing_portal.state.auth import AuthState
from billing_portal.state.checkout import invoice_path

logger = logging.getLogger(__name__)

UNEXPECTED = "Something went wrong on our side. Reload the page and try again."
PDF_PREPARING = "Your PDF is being prepared. Try again in a minute."
ALL = "all"  # the "no filter" value of the selects (Radix selects cannot hold "")


def login_redirect(path: str):
    return rx.redirect(f"/login?next={quote(path, safe='/')}", replace=True)


@dataclasses.dataclass(frozen=True)
class BannerView:
    kind: str = ""
    tone: str = ""
    title: str = ""
    message: str = ""
    pay_url: str = ""  # "Pay now" (past_due): the checkout of the unpaid invoice


@dataclasses.dataclass(frozen=True)
class UsageView:
    label: str = ""
    used_label: str = ""
    limit_label: str = ""
    percent: int = 0
    over: bool = False


@dataclasses.dataclass(frozen=True)
class PlanOptionView:
    price_id: str = ""
    name: str = ""
    slug: str = ""
    price_label: str = ""
    period_label: str = ""
    is_current: bool = False


@dataclasses.dataclass(frozen=True)
class PreviewLineView:
    description: str = ""
    period: str = ""
    amount: str = ""


@dataclasses.dataclass(frozen=True)
class HistoryRowView:
    key: str = ""
    date_label: str = ""
    kind: str = ""
    kind_label: str = ""
    reference: str = ""
    description: str = ""
    status_label: str = ""
    status_group: str = ""
    amount_label: str = ""
    pdf_url: str = ""  # the owner-checked link (api/documents.py); "" when the row has no PDF
    object_id: str = ""  # the payment id the refund dialog asks about (checked on the server)
    can_request_refund: bool = False
    refund_requested_label: str = ""
    pay_url: str = ""  # the checkout of an open invoice


@dataclasses.dataclass(frozen=True)
class LedgerRowView:
    key: str = ""
    date_label: str = ""
    reason: str = ""
    delta_label: str = ""
    balance_label: str = ""
    grant: bool = False


@dataclasses.dataclass(frozen=True)
class PackView:
    slug: str = ""
    name: str = ""
    credits_label: str = ""
    price_label: str = ""
    href: str = ""


def banner_view(banner: portal.Banner) -> BannerView:
    pay_url = invoice_path(banner.invoice_id) if banner.invoice_id else ""
    return BannerView(banner.kind, banner.tone, banner.title, banner.message, pay_url)


def row_view(row: portal.HistoryRow) -> HistoryRowView:
    return HistoryRowView(
        key=f"{row.kind}-{row.id}",
        date_label=row.date_label,
        kind=row.kind,
        kind_label=row.kind_label,
        reference=row.reference,
        description=row.description,
        status_label=row.status_label,
        status_group=row.status_group,
        amount_label=row.amount_label,
        pdf_url=_pdf_url(row),
        object_id=str(row.id),
        can_request_refund=row.can_request_refund,
        refund_requested_label=row.refund_requested_label,
        pay_url=f"/checkout?{urlencode({'invoice': row.id})}" if row.can_pay else "",
    )


def _pdf_url(row: portal.HistoryRow) -> str:
    if not row.has_pdf:
        return ""
    path = invoice_pdf_path(row.id) if row.kind == "invoice" else credit_note_path(row.id)
    return get_settings().api_url.rstrip("/") + path


class BillingState(AuthState):
    """Who may see the billing pages: "" while loading, "ok", or "no_customer" (e.g. an admin
    account without a customer record)."""

    access: str = ""

    def _customer(self, session) -> CurrentUser | None:
        """The signed-in user with a customer record, or None (access says why)."""
        user = self._resolve_user(session)
        if user is None:
            self.access = ""
            return None
        if user.customer_id is None:
            self.access = "no_customer"
            return None
        self.access = "ok"
        return user


class OverviewState(BillingState):
    loaded: bool = False
    error: str = ""
    notice: str = ""
    resuming: bool = False
    has_subscription: bool = False
    plan_name: str = ""
    status: str = ""
    status_label: str = ""
    price_label: str = ""
    period_label: str = ""
    next_renewal_label: str = ""
    next_renewal_amount_label: str = ""
    renewal_note: str = ""
    banners: list[BannerView] = []
    usage: list[UsageView] = []
    limits: list[str] = []
    pay_href: str = ""  # "Pay now" of the open-invoice banner

    def _show(self, view: portal.Overview) -> None:
        self.has_subscription = view.has_subscription
        self.plan_name, self.status, self.status_label = view.plan_name, view.status, view.status_label
        self.price_label, self.period_label = view.price_label, view.period_label
        self.next_renewal_label = view.next_renewal_label
        self.next_renewal_amount_label = view.next_renewal_amount_label
        self.renewal_note = view.renewal_note
        self.banners = [banner_view(b) for b in view.banners]
        self.usage = [UsageView(u.label, u.used_label, u.limit_label, u.percent, u.over) for u in view.usage]
        self.limits = list(view.limits)
        self.pay_href = invoice_path(view.open_invoice_id) if view.open_invoice_id else ""
        self.loaded = True

    def _reload(self, session, user: CurrentUser) -> None:
        self._show(portal.overview(session, user.customer_id, utcnow()))

    @rx.event
    def on_load(self):
        self.error = self.notice = ""
        self.loaded = False
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return None if self.access else login_redirect("/billing")
                self._reload(session, user)
        except Exception:
            logger.exception("billing overview failed")
            self.error = UNEXPECTED

    @rx.event
    def resume(self):
        """Take back a cancellation at period end (the banner's button)."""
        self.error = self.notice = ""
        self.resuming = True
        yield
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return
                live = repository.live_subscription(session, user.customer_id)
                if live is None:
                    raise DomainError("You have no subscription to resume.")
                subscriptions.resume(session, live.id)
                self._reload(session, user)
            self.notice = "Your plan continues: it renews as usual."
        except DomainError as exc:
            self.error = str(exc)
        except Exception:
            logger.exception("resume failed")
            self.error = UNEXPECTED
        finally:
            self.resuming = False


class PlanState(BillingState):
    loaded: bool = False
    error: str = ""
    notice: str = ""
    has_subscription: bool = False
    plan_name: str = ""
    status: str = ""
    status_label: str = ""
    price_label: str = ""
    quantity_now: int = 1
    period_end_label: str = ""
    cancel_at_period_end: bool = False
    resume_at_label: str = ""
    scheduled_note: str = ""
    can_change: bool = False
    can_cancel: bool = False
    can_schedule_cancel: bool = False
    can_resume: bool = False
    can_pause: bool = False
    can_unpause: bool = False
    pay_href: str = ""  # an open invoice (e.g. an upgrade's proration) to pay now

    interval: str = portal.interval_key("month", 1)
    options: list[PlanOptionView] = []
    selected: str = ""
    quantity: str = "1"
    previewing: bool = False
    preview_sentence: str = ""
    preview_lines: list[PreviewLineView] = []
    confirm_label: str = ""
    applying: bool = False

    cancel_when: str = "period_end"
    cancelling: bool = False
    pausing: bool = False
    resuming: bool = False

    def _load(self, session, user: CurrentUser, *, interval: str | None) -> None:
        page = portal.plan_page(session, user.customer_id, interval=interval, now=utcnow())
        self.has_subscription = page.has_subscription
        self.plan_name, self.status, self.status_label = page.plan_name, page.status, page.status_label
        self.price_label, self.quantity_now = page.price_label, page.quantity
        self.period_end_label, self.cancel_at_period_end = page.period_end_label, page.cancel_at_period_end
        self.resume_at_label, self.scheduled_note = page.resume_at_label, page.scheduled_note
        self.can_change, self.can_cancel, self.can_resume = page.can_change, page.can_cancel, page.can_resume
        self.can_pause, self.can_unpause = page.can_pause, page.can_unpause
        self.can_schedule_cancel = page.can_schedule_cancel
        self.pay_href = invoice_path(page.open_invoice_id) if page.open_invoice_id else ""
        if not page.can_schedule_cancel:
            self.cancel_when = "now"
        if interval is None:
            self.interval = page.current_interval
        self.options = [
            PlanOptionView(str(o.price_id), o.plan_name, o.plan_slug, o.price_label, o.period_label, o.is_current)
            for o in page.options
        ]
        self.loaded = True

    def _clear_preview(self) -> None:
        self.selected = ""
        self.preview_sentence = self.confirm_label = ""
        self.preview_lines = []

    def _price_and_quantity(self) -> tuple[int, int]:
        price_id = parse_id(self.selected)
        if price_id is None:
            raise DomainError("Pick a plan first.")
        try:
            quantity = int(self.quantity.strip())
        except ValueError:
            raise DomainError(f"The quantity is a whole number from 1 to {subscriptions.MAX_QUANTITY}.") from None
        return price_id, quantity

    def _own_subscription(self, session, user: CurrentUser):
        live = repository.live_subscription(session, user.customer_id)
        if live is None:
            raise DomainError("You have no subscription yet. Pick a plan on the pricing page.")
        return live

    @rx.event
    def on_load(self):
        self.error = self.notice = ""
        self.loaded = False
        self._clear_preview()
        self.quantity = "1"
        self.cancel_when = "period_end"  # _load switches to "now" where only that is allowed
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return None if self.access else login_redirect("/billing/plan")
                self._load(session, user, interval=None)
                self.quantity = str(self.quantity_now)
        except Exception:
            logger.exception("plan page failed")
            self.error = UNEXPECTED

    @rx.event
    def set_interval(self, value: str | list[str]):
        value = value if isinstance(value, str) else ""
        if value not in portal.INTERVAL_KEYS or value == self.interval:
            return
        self.interval = value
        self._clear_preview()
        self.error = ""
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return login_redirect("/billing/plan") if not self.access else None
                self._load(session, user, interval=value)
        except Exception:
            logger.exception("plan options failed")
            self.error = UNEXPECTED

    def _checked_change(self, session):
        """The signed-in customer, their subscription and the change they picked, checked on the
        server; None when nobody is signed in (the handler then does nothing)."""
        user = self._customer(session)
        if user is None:
            return None
        live = self._own_subscription(session, user)
        price_id, quantity = self._price_and_quantity()
        if not portal.is_change_option(session, live, price_id):
            raise DomainError("This price is not available. Pick one of the plans shown.")
        return user, live, price_id, quantity

    def _preview(self):
        self.error = ""
        self.preview_sentence = self.confirm_label = ""
        self.preview_lines = []
        if not self.selected:
            return
        self.previewing = True
        yield
        try:
            with session_scope() as session:
                checked = self._checked_change(session)
                if checked is None:
                    return
                user, live, price_id, quantity = checked
                preview = subscriptions.preview(session, live.id, price_id=price_id, quantity=quantity)
                text = portal.describe_preview(session, user.customer_id, preview, trialing=live.status == "trialing")
                session.rollback()  # a preview changes nothing
            self.preview_sentence = text.sentence
            self.preview_lines = [PreviewLineView(line.description, line.period, line.amount) for line in text.lines]
            self.confirm_label = text.confirm_label
        except DomainError as exc:
            self.error = str(exc)
        except Exception:
            logger.exception("preview failed")
            self.error = UNEXPECTED
        finally:
            self.previewing = False

    @rx.event
    def select_option(self, value: str | list[str]):
        value = value if isinstance(value, str) else ""
        if value not in {o.price_id for o in self.options}:
            return
        self.selected = value
        self.notice = ""
        yield from self._preview()

    @rx.event
    def set_quantity(self, value: str):
        self.quantity = str(value)[:6]
        if self.selected:
            yield from self._preview()

    @rx.event
    def confirm_change(self):
        self.error = self.notice = ""
        self.applying = True
        yield
        try:
            with session_scope() as session:
                checked = self._checked_change(session)
                if checked is None:
                    return
                user, live, price_id, quantity = checked
                changed = plan_changes.change_plan(session, live.id, price_id=price_id, quantity=quantity)
                name = next((o.name for o in self.options if o.price_id == self.selected), "the new plan")
                notice, error = outcome_text(changed, name, self.plan_name, user.locale)
                self._load(session, user, interval=self.interval)
            self._clear_preview()
            self.notice, self.error = notice, error
        except DomainError as exc:
            self.error = str(exc)
        except Exception:
            logger.exception("plan change failed")
            self.error = UNEXPECTED
        finally:
            self.applying = False

    @rx.event
    def cancel_preview(self):
        self._clear_preview()
        self.error = ""

    @rx.event
    def set_cancel_when(self, value: str):
        self.cancel_when = "now" if value == "now" or not self.can_schedule_cancel else "period_end"

    def _act(self, busy: str, action, done: str):
        """Run one subscription step on the customer's own subscription, then reload the page."""
        self.error = self.notice = ""
        setattr(self, busy, True)
        yield
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return
                live = self._own_subscription(session, user)
                action(session, live.id)
                self._load(session, user, interval=self.interval)
            self._clear_preview()
            self.notice = done
        except DomainError as exc:
            self.error = str(exc)
        except Exception:
            logger.exception("%s failed", busy)
            self.error = UNEXPECTED
        finally:
            setattr(self, busy, False)

    @rx.event
    def cancel(self, form: dict[str, str]):
        reason = str(form.get("reason", ""))
        at_period_end = self.cancel_when != "now"
        if not reason.strip():
            self.error = "Tell us why you are leaving (one line is enough)."
            return
        yield from self._act(
            "cancelling",
            lambda session, sid: subscriptions.cancel(session, sid, at_period_end=at_period_end, reason=reason),
            "Your plan ends at the end of this period." if at_period_end else "Your subscription is canceled.",
        )

    @rx.event
    def resume(self):
        yield from self._act("resuming", subscriptions.resume, "Your plan continues: it renews as usual.")

    @rx.event
    def pause(self, form: dict[str, str]):
        try:
            resume_on = portal.parse_day(str(form.get("resume_on", "")), "resume date")
        except DomainError as exc:
            self.error = str(exc)
            return
        resume_at = portal.start_of_day(resume_on) if resume_on else None
        yield from self._act(
            "pausing",
            lambda session, sid: subscriptions.pause(session, sid, resume_at=resume_at),
            "Your subscription is paused. Nothing is charged until it resumes.",
        )

    @rx.event
    def unpause(self):
        yield from self._act("pausing", subscriptions.unpause, "Your subscription is active again.")


class PagedState(rx.State, mixin=True):
    """A list shown one page at a time; the state class defines `_load(page)`, a generator handler."""

    page: int = 1
    pages: int = 1
    total: int = 0

    @rx.event
    def next_page(self):
        if self.page < self.pages:
            yield from self._load(self.page + 1)

    @rx.event
    def previous_page(self):
        if self.page > 1:
            yield from self._load(self.page - 1)


class HistoryState(PagedState, BillingState):
    loaded: bool = False
    loading: bool = False
    exporting: bool = False
    error: str = ""
    notice: str = ""
    pdf_note: str = ""  # the PDF could not be handed out yet (storage busy): try again shortly
    # The refund request dialog: the payment it is about (its id is checked again on submit).
    refund_open: bool = False
    refund_payment: str = ""
    refund_title: str = ""
    refund_max_label: str = ""
    refund_amount: str = ""
    refund_error: str = ""
    refund_sending: bool = False
    status_filter: str = ALL
    kind_filter: str = ALL
    date_from: str = ""
    date_to: str = ""
    total_is_exact: bool = True
    rows: list[HistoryRowView] = []
    # Keyset bounds of the page shown (server only): next and previous pages start from them.
    _starts_after: portal.HistoryKey | None = None
    _first: portal.HistoryKey | None = None
    _last: portal.HistoryKey | None = None

    @rx.var
    def filtered(self) -> bool:
        return self.status_filter != ALL or self.kind_filter != ALL or self.date_from != "" or self.date_to != ""

    @rx.var
    def summary(self) -> str:
        if self.total == 0:
            return ""
        more = "" if self.total_is_exact else "+"
        entries = "entry" if self.total == 1 else "entries"
        return f"{self.total:,}{more} {entries} · page {self.page} of {self.pages}{more}"

    def _filters(self) -> portal.HistoryFilters:
        return portal.HistoryFilters(
            status="" if self.status_filter == ALL else self.status_filter,
            kind="" if self.kind_filter == ALL else self.kind_filter,
            date_from=portal.parse_day(self.date_from, "start date"),
            date_to=portal.parse_day(self.date_to, "end date"),
        )

    def _load(self, page: int, *, after=None, before=None, counted=None):
        self.error = ""
        self.loading = True
        yield
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    if not self.access:
                        yield login_redirect("/billing/history")
                    return
                f = self._filters()
                result = portal.history_page(
                    session, user.customer_id, status=f.status, kind=f.kind,
                    date_from=f.date_from, date_to=f.date_to, page=page,
                    after=after, before=before, counted=counted, locale=user.locale,
                )
            self.rows = [row_view(r) for r in result.rows]
            self.page, self.pages, self.total = result.page, result.pages, result.total
            self.total_is_exact = result.total_is_exact
            self._starts_after, self._first, self._last = result.starts_after, result.first, result.last
            self.loaded = True
        except DomainError as exc:
            self.error = str(exc)
        except Exception:
            logger.exception("history failed")
            self.error = UNEXPECTED
            self.loaded = True  # show the error and the empty state, not an endless spinner
        finally:
            self.loading = False

    @rx.event
    def on_load(self):
        self.loaded = False
        self.rows = []
        self.status_filter = self.kind_filter = ALL
        self.date_from = self.date_to = ""
        self.refund_open = False
        # api/documents.py sends the customer back here when storage could not give the PDF.
        preparing = self.router.url.query_parameters.get("pdf") == "preparing"
        self.pdf_note = PDF_PREPARING if preparing else ""
        self.notice = ""
        yield from self._load(1)

    @rx.event
    def next_page(self):
        """The rows right after this page's last one (keyset), counted once on the first page."""
        if self.page < self.pages:
            yield from self._load(self.page + 1, after=self._last, counted=(self.total, self.total_is_exact))

    @rx.event
    def previous_page(self):
        if self.page > 1:
            yield from self._load(self.page - 1, before=self._first, counted=(self.total, self.total_is_exact))

    @rx.event
    def set_status_filter(self, value: str):
        self.status_filter = value if value in portal.STATUS_GROUPS else ALL
        yield from self._load(1)

    @rx.event
    def set_kind_filter(self, value: str):
        self.kind_filter = value if value in portal.KINDS else ALL
        yield from self._load(1)

    @rx.event
    def set_date_from(self, value: str):
        self.date_from = str(value)[:10]
        yield from self._load(1)

    @rx.event
    def set_date_to(self, value: str):
        self.date_to = str(value)[:10]
        yield from self._load(1)

    @rx.event
    def clear_filters(self):
        self.status_filter = self.kind_filter = ALL
        self.date_from = self.date_to = ""
        yield from self._load(1)

    @rx.event
    def export_csv(self):
        """The filtered rows as CSV (at most portal.CSV_MAX_ROWS, newest first)."""
        self.error = ""
        self.exporting = True
        yield
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return
                text = portal.history_csv(session, user.customer_id, self._filters())
            yield rx.download(
                data=text,
                filename=f"billing-history-{date.today().isoformat()}.csv",
                mime_type="text/csv",
            )
        except DomainError as exc:
            self.error = str(exc)
        except Exception:
            logger.exception("CSV export failed")
            self.error = UNEXPECTED
        finally:
            self.exporting = False

    # ---- refund requests -------------------------------------------------------------------

    def _row(self, payment_id: str) -> HistoryRowView | None:
        return next((r for r in self.rows if r.kind == "payment" and r.object_id == payment_id), None)

    @rx.event
    def open_refund(self, payment_id: str):
        """The dialog for one of the payments on this page, prefilled with what is refundable."""
        self.error = self.notice = self.refund_error = ""
        row = self._row(str(payment_id))
        if row is None:
            return
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return
                offer = refund_requests.offer(session, customer_id=user.customer_id, payment_id=parse_id(row.object_id))
        except DomainError as exc:
            self.error = str(exc)
            return
        except Exception:
            logger.exception("refund offer failed")
            self.error = UNEXPECTED
            return
        self.refund_payment = row.object_id
        self.refund_title = f"{row.description} · {row.date_label}" + (f" · {row.reference}" if row.reference else "")
        self.refund_max_label = offer.refundable_label
        self.refund_amount = offer.refundable_label
        self.refund_open = True

    @rx.event
    def set_refund_open(self, value: bool):
        self.refund_open = bool(value) and self.refund_payment != ""
        if not self.refund_open:
            self.refund_error = ""

    @rx.event
    def set_refund_amount(self, value: str):
        self.refund_amount = str(value)[:40]

    @rx.event
    def submit_refund(self, form: dict[str, str]):
        self.refund_error = ""
        row = self._row(self.refund_payment)
        if row is None:
            self.refund_open = False
            return
        self.refund_sending = True
        yield
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return
                request = refund_requests.request_refund(
                    session, customer_id=user.customer_id, payment_id=parse_id(row.object_id),
                    amount=self.refund_amount, reason=str(form.get("reason", ""))[:2000],
                )
                amount_label = format_money(request.amount, request.currency, user.locale)
        except DomainError as exc:
            self.refund_error = str(exc)
            return
        except Exception:
            logger.exception("refund request failed")
            self.refund_error = UNEXPECTED
            return
        finally:
            self.refund_sending = False
        self.refund_open = False
        self.refund_payment = ""
        yield from self._load(self.page, after=self._starts_after)
        self.notice = f"Refund of {amount_label} requested. Its status shows on the payment until it is decided."


class CreditsState(PagedState, BillingState):
    """/billing/credits: the balance, one page of the ledger, the packs on sale."""

    loaded: bool = False
    loading: bool = False
    error: str = ""
    balance_label: str = "0"
    rows: list[LedgerRowView] = []
    packs: list[PackView] = []

    def _load(self, page: int):
        self.error = ""
        self.loading = True
        yield
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    if not self.access:
                        yield login_redirect("/billing/credits")
                    return
                view = portal.credits_page(session, user.customer_id, page=page)
            self.balance_label = view.balance_label
            self.rows = [
                LedgerRowView(str(r.id), r.date_label, r.reason, r.delta_label, r.balance_label, r.grant)
                for r in view.rows
            ]
            self.packs = [
                PackView(p.slug, p.name, p.credits_label, p.price_label, f"/checkout?{urlencode({'pack': p.slug})}")
                for p in view.packs
            ]
            self.page, self.pages, self.total = view.page, view.pages, view.total
            self.loaded = True
        except Exception:
            logger.exception("credits page failed")
            self.error = UNEXPECTED
            self.loaded = True
        finally:
            self.loading = False

    @rx.event
    def on_load(self):
        self.loaded = False
        self.rows, self.packs = [], []
        yield from self._load(1)
