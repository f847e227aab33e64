"""States of /admin/webhooks, /admin/catalog, /admin/audit and /admin/customers.

Each handler runs its work through `ConsoleState._as_admin`, which resolves the admin on the
server first: a customer's call does nothing. The browser sends only filter text, ids of rows the
page showed and typed form values; billing/admin_console.py checks and applies them.
"""

import dataclasses
from collections.abc import Callable
from datetime import date
from typing import ClassVar

import reflex as rx

from billing_portal.billing import admin_console
from billing_portal.billing.admin_console import AuditFilters, EventFilters
from billing_portal.billing.webhooks import STATUSES
from billing_portal.state.admin import AdminPagedState, AdminState, row_id, string_view
from billing_portal.state.billing import ALL

PER_PAGE = 25


class ConsoleState(AdminState):
    error: str = ""
    notice: str = ""
    loaded: bool = False

    def _as_admin(self, work: Callable, *, route: str | None = None, clear: bool = True, **options):
        """AdminState._as_admin, clearing the last message first unless `clear` is False."""
        if clear:
            self.error = self.notice = ""
        return super()._as_admin(work, route=route, **options)

    def _reload(self, session, admin) -> None:
        raise NotImplementedError


# ---- webhooks


@dataclasses.dataclass(frozen=True)
class EventView:
    id: str = ""
    stripe_event_id: str = ""
    type: str = ""
    status: str = ""
    attempts: str = ""
    created_label: str = ""
    received_label: str = ""
    processed_label: str = ""
    last_error: str = ""


@dataclasses.dataclass(frozen=True)
class TypeCountView:
    type: str = ""
    counts: str = ""  # "processed 3 · failed 1"


class WebhooksAdminState(AdminPagedState, ConsoleState):
    COUNTED: ClassVar[tuple[str, str]] = ("event", "events")
    type_filter: str = ALL
    status_filter: str = ALL
    rows: list[EventView] = []
    types: list[TypeCountView] = []
    payload_id: str = ""
    payload: str = ""
    replaying: bool = False

    def _reload(self, session, admin) -> None:
        filters = EventFilters(type="" if self.type_filter == ALL else self.type_filter,
                               status="" if self.status_filter == ALL else self.status_filter)
        rows = self._page_of(lambda page, per_page: admin_console.event_page(
            session, admin=admin, filters=filters, page=page, per_page=per_page), PER_PAGE)
        self.rows = [string_view(r, EventView) for r in rows]
        self.types = [TypeCountView(t, " · ".join(f"{s} {n}" for s, n in sorted(c.items())))
                      for t, c in admin_console.event_types(session, admin=admin)]
        self.loaded = True

    @rx.event
    def on_load(self):
        self.page, self.payload_id, self.payload = 1, "", ""
        return self._as_admin(self._reload, route="/admin/webhooks")

    def _filter(self, field: str, value, allowed) -> None:
        setattr(self, field, value if isinstance(value, str) and value in allowed else ALL)
        self.page = 1

    @rx.event
    def set_type_filter(self, value: str):
        def work(session, admin):
            self._filter("type_filter", value, {ALL, *(t.type for t in self.types)})
            self._reload(session, admin)

        return self._as_admin(work)

    @rx.event
    def set_status_filter(self, value: str):
        def work(session, admin):
            self._filter("status_filter", value, {ALL, *STATUSES})
            self._reload(session, admin)

        return self._as_admin(work)

    @rx.event
    def show_payload(self, event_id: str):
        def work(session, admin):
            self.payload = admin_console.event_payload(session, admin=admin, event_id=row_id(event_id))
            self.payload_id = event_id

        return self._as_admin(work)

    @rx.event
    def close_payload(self, _open: bool = False):
        def work(session, admin):
            self.payload_id = self.payload = ""

        return self._as_admin(work, clear=False)

    @rx.event
    def replay(self, event_id: str):
        def work(session, admin):
            row = admin_console.replay_event(session, admin=admin, event_id=row_id(event_id))
            self._reload(session, admin)
            self.notice = f"{row.stripe_event_id} replayed: {row.status}" + (f" ({row.last_error})" if row.last_error else ".")

        yield from self._busy("replaying", work)


# ---- catalog


@dataclasses.dataclass(frozen=True)
class PlanView:
    id: str = ""
    slug: str = ""
    name: str = ""
    tier: str = ""
    active: bool = True


@dataclasses.dataclass(frozen=True)
class PriceView:
    id: str = ""
    plan_name: str = ""
    label: str = ""
    currency: str = ""
    trial_days: str = ""
    active: bool = True
    used: bool = False


PERIODS = [("month-1", "Monthly"), ("month-3", "Every 3 months"), ("month-6", "Every 6 months"), ("year-1", "Yearly")]


class CatalogAdminState(ConsoleState):
    plans: list[PlanView] = []
    prices: list[PriceView] = []

    def _reload(self, session, admin) -> None:
        plans = admin_console.catalog_rows(session, admin=admin)
        self.plans = [PlanView(str(p.id), p.slug, p.name, str(p.tier), p.active) for p in plans]
        self.prices = [PriceView(str(pr.id), p.name, pr.label, pr.currency, str(pr.trial_days), pr.active, pr.used)
                       for p in plans for pr in p.prices]
        self.loaded = True

    @rx.event
    def on_load(self):
        return self._as_admin(self._reload, route="/admin/catalog")

    @rx.event
    def create_plan(self, form: dict):
        def work(session, admin):
            plan = admin_console.create_plan(
                session, admin=admin, slug=str(form.get("slug", "")), name=str(form.get("name", "")),
                tier=str(form.get("tier", "")), description=str(form.get("description", "")),
                features=str(form.get("features", "")))
            self._reload(session, admin)
            self.notice = f"Plan {plan.name} created. Add its prices below."

        return self._as_admin(work)

    @rx.event
    def create_price(self, form: dict):
        def work(session, admin):
            price = admin_console.create_price(
                session, admin=admin, plan_id=row_id(form.get("plan_id", "")), currency=str(form.get("currency", "")),
                period=str(form.get("period", "")), amount=str(form.get("amount", "")),
                trial_days=str(form.get("trial_days", "") or "0"))
            self._reload(session, admin)
            self.notice = f"Price {price.id} created."

        return self._as_admin(work)

    @rx.event
    def archive_plan(self, plan_id: str):
        def work(session, admin):
            plan = admin_console.archive_plan(session, admin=admin, plan_id=row_id(plan_id))
            self._reload(session, admin)
            self.notice = f"Plan {plan.name} archived: no new subscriptions; current ones keep it."

        return self._as_admin(work)

    @rx.event
    def archive_price(self, price_id: str):
        def work(session, admin):
            price = admin_console.archive_price(session, admin=admin, price_id=row_id(price_id))
            self._reload(session, admin)
            self.notice = f"Price {price.id} archived."

        return self._as_admin(work)


# ---- audit log


@dataclasses.dataclass(frozen=True)
class AuditView:
    id: str = ""
    at_label: str = ""
    actor: str = ""
    action: str = ""
    subject: str = ""
    change: str = ""


class AuditAdminState(AdminPagedState, ConsoleState):
    COUNTED: ClassVar[tuple[str, str]] = ("entry", "entries")
    rows: list[AuditView] = []
    f_actor: str = ""
    f_action: str = ""
    f_subject_type: str = ""
    f_subject_id: str = ""
    f_from: str = ""
    f_to: str = ""
    exporting: bool = False

    @rx.var
    def filtered(self) -> bool:
        return any((self.f_actor, self.f_action, self.f_subject_type, self.f_subject_id, self.f_from, self.f_to))

    def _filters(self) -> AuditFilters:
        return AuditFilters(self.f_actor, self.f_action, self.f_subject_type, self.f_subject_id, self.f_from, self.f_to)

    def _reload(self, session, admin) -> None:
        rows = self._page_of(lambda page, per_page: admin_console.audit_page(
            session, admin=admin, filters=self._filters(), page=page, per_page=per_page), PER_PAGE)
        self.rows = [string_view(r, AuditView) for r in rows]
        self.loaded = True

    @rx.event
    def on_load(self):
        self.page = 1
        return self._as_admin(self._reload, route="/admin/audit")

    @rx.event
    def apply_filters(self, form: dict):
        def work(session, admin):
            for name in ("actor", "action", "subject_type", "subject_id", "from", "to"):
                setattr(self, f"f_{name}", str(form.get(name, "")).strip()[:200])
            self.page = 1
            self._reload(session, admin)

        return self._as_admin(work)

    @rx.event
    def clear_filters(self):
        def work(session, admin):
            self.f_actor = self.f_action = self.f_subject_type = self.f_subject_id = self.f_from = self.f_to = ""
            self.page = 1
            self._reload(session, admin)

        return self._as_admin(work)

    @rx.event
    def export_csv(self):
        def work(session, admin):
            text = "".join(admin_console.audit_csv_lines(session, admin=admin, filters=self._filters()))
            return rx.download(data=text, filename=f"audit-log-{date.today().isoformat()}.csv", mime_type="text/csv")

        yield from self._busy("exporting", work)


# ---- customers


@dataclasses.dataclass(frozen=True)
class CustomerView:
    id: str = ""
    name: str = ""
    company: str = ""
    email: str = ""
    plan: str = ""
    status: str = ""
    created_label: str = ""


@dataclasses.dataclass(frozen=True)
class OptionView:
    value: str = ""
    label: str = ""


class CustomersAdminState(AdminPagedState, ConsoleState):
    COUNTED: ClassVar[tuple[str, str]] = ("customer", "customers")
    query: str = ""
    rows: list[CustomerView] = []
    detail_id: str = ""
    d_name: str = ""
    d_company: str = ""
    d_email: str = ""
    d_country: str = ""
    d_credits: str = ""
    d_plan: str = ""
    d_status: str = ""
    d_period: str = ""
    d_cancel_at_period_end: bool = False
    d_has_subscription: bool = False
    d_subscriptions: list[str] = []
    d_invoices: list[str] = []
    d_payments: list[str] = []
    d_files: list[str] = []
    d_audit: list[str] = []
    d_price_options: list[OptionView] = []
    d_emails: list[str] = []
    d_invoice_options: list[OptionView] = []

    def _reload(self, session, admin) -> None:
        rows = self._page_of(lambda page, per_page: admin_console.customer_page(
            session, admin=admin, query=self.query, page=page, per_page=per_page), PER_PAGE)
        self.rows = [string_view(r, CustomerView) for r in rows]
        self.loaded = True

    def _show(self, session, admin, customer_id: int) -> None:
        d = admin_console.customer_detail(session, admin=admin, customer_id=customer_id)
        self.detail_id = str(d.id)
        self.d_name, self.d_company, self.d_email, self.d_country = d.name, d.company, d.email, d.country
        self.d_credits, self.d_plan, self.d_status, self.d_period = f"{d.credits:,}", d.plan, d.status, d.period_label
        self.d_cancel_at_period_end, self.d_has_subscription = d.cancel_at_period_end, d.subscription_id is not None
        self.d_subscriptions, self.d_invoices, self.d_payments = list(d.subscriptions), list(d.invoices), list(d.payments)
        self.d_files, self.d_audit = list(d.files), list(d.audit)
        self.d_price_options = [OptionView(v, label) for v, label in d.price_options]
        self.d_emails = list(d.emails)
        self.d_invoice_options = [OptionView(v, label) for v, label in d.invoice_options]

    @rx.event
    def on_load(self):
        self.page, self.detail_id = 1, ""
        return self._as_admin(self._reload, route="/admin/customers")

    @rx.event
    def search(self, form: dict):
        def work(session, admin):
            self.query, self.page, self.detail_id = str(form.get("query", "")).strip()[:200], 1, ""
            self._reload(session, admin)

        return self._as_admin(work)

    @rx.event
    def open_customer(self, customer_id: str):
        return self._as_admin(lambda session, admin: self._show(session, admin, row_id(customer_id)))

    @rx.event
    def back_to_list(self):
        def work(session, admin):
            self.detail_id = ""
            self._reload(session, admin)

        return self._as_admin(work)

    def _act(self, action: Callable, done: str):
        """One action on the open customer, then the detail again."""
        def work(session, admin):
            customer_id = row_id(self.detail_id)
            action(session, admin, customer_id)
            self._show(session, admin, customer_id)
            self.notice = done

        return self._as_admin(work)

    @rx.event
    def change_plan(self, form: dict):
        return self._act(lambda s, a, c: admin_console.change_plan(s, admin=a, customer_id=c,
                                                                   price_id=row_id(form.get("price_id", ""))),
                         "Plan changed.")

    @rx.event
    def cancel(self, form: dict):
        return self._act(lambda s, a, c: admin_console.cancel_subscription(
            s, admin=a, customer_id=c, at_period_end=form.get("when") != "now", reason=str(form.get("reason", ""))),
            "Subscription canceled.")

    @rx.event
    def grant_credits(self, form: dict):
        return self._act(lambda s, a, c: admin_console.grant_credits(
            s, admin=a, customer_id=c, amount=str(form.get("amount", "")), reason=str(form.get("reason", ""))),
            "Credits granted.")

    @rx.event
    def record_payment(self, form: dict):
        return self._act(lambda s, a, c: admin_console.record_manual_payment(
            s, admin=a, customer_id=c, invoice_number=str(form.get("invoice_number", "")),
            received_from=str(form.get("received_from", "")), reason=str(form.get("reason", ""))),
            "Payment recorded.")

    @rx.event
    def resend_invoice(self, form: dict):
        return self._act(lambda s, a, c: admin_console.resend_invoice(
            s, admin=a, customer_id=c, invoice_id=row_id(form.get("invoice_id", ""))),
            "Invoice queued for sending; it shows under Emails.")
