"""States of /admin/api-keys (the seller's server keys for /api/v1) and /admin/webhook-endpoints
(outgoing webhooks: endpoints and each one's delivery log).

Every handler checks the admin on the server first (`ConsoleState._as_admin`). The browser sends
only ids of rows the page showed and typed form values; billing/seller_keys and
billing/outgoing_webhooks/endpoints.py check and apply them. A key's token and an endpoint's
signing secret live in the state only until the page is left or reloaded: shown once.
"""

import dataclasses
from datetime import datetime

import reflex as rx

from billing_portal.billing.errors import NotFound
from billing_portal.billing.outgoing_webhooks import endpoints
from billing_portal.billing.outgoing_webhooks.schemas import EVENT_TYPES
from billing_portal.billing.seller_keys import service as seller_keys
from billing_portal.models import WebhookEndpoint
from billing_portal.state.admin import AdminPagedState, row_id
from billing_portal.state.admin_console import ConsoleState

KEYS_ROUTE = "/admin/api-keys"
ENDPOINTS_ROUTE = "/admin/webhook-endpoints"
PER_PAGE = 20


def _when(moment: datetime | None, never: str = "") -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else never


# ---- API keys


@dataclasses.dataclass(frozen=True)
class KeyView:
    id: str = ""
    name: str = ""
    scope: str = ""
    prefix: str = ""
    created_label: str = ""
    last_used_label: str = ""
    revoked_label: str = ""  # "" while the key works


class ApiKeysAdminState(AdminPagedState, ConsoleState):
    rows: list[KeyView] = []
    new_token: str = ""  # the key just created, shown this once
    new_token_name: str = ""
    creating: bool = False
    revoking_id: str = ""

    @rx.var
    def revoking_row(self) -> KeyView:
        return next((row for row in self.rows if row.id == self.revoking_id), KeyView())

    def _reload(self, session, admin) -> None:
        rows = self._page_of(lambda page, per_page: seller_keys.key_page(
            session, admin=admin, page=page, per_page=per_page), PER_PAGE)
        self.rows = [KeyView(str(k.id), k.name, k.scope, k.prefix, _when(k.created_at), _when(k.last_used_at, "never"),
                             _when(k.revoked_at)) for k in rows]
        self.loaded = True

    @rx.event
    def on_load(self):
        self.page, self.new_token, self.new_token_name, self.revoking_id = 1, "", "", ""
        return self._as_admin(self._reload, route=KEYS_ROUTE)

    @rx.event
    def create_key(self, form: dict[str, str]):
        def work(session, admin):
            created = seller_keys.create(session, actor=admin, name=str(form.get("name", "")),
                                         scope=str(form.get("scope", "")))
            self.page = 1
            self._reload(session, admin)
            self.new_token, self.new_token_name = created.token, created.key.name

        self.new_token = self.new_token_name = ""
        yield from self._busy("creating", work)

    @rx.event
    def dismiss_token(self):
        def work(session, admin):
            self.new_token = self.new_token_name = ""

        return self._as_admin(work)

    @rx.event
    def ask_revoke(self, key_id: str):
        def work(session, admin):
            if any(row.id == key_id and not row.revoked_label for row in self.rows):
                self.revoking_id = key_id

        return self._as_admin(work)

    @rx.event
    def cancel_revoke(self, _open: bool = False):
        def work(session, admin):
            self.revoking_id = ""

        return self._as_admin(work, clear=False)

    @rx.event
    def confirm_revoke(self):
        def work(session, admin):
            key = seller_keys.revoke(session, actor=admin, key_id=row_id(self.revoking_id))
            self.revoking_id = ""
            self._reload(session, admin)
            self.notice = f"Key “{key.name}” revoked: requests with it are refused from now on."

        return self._as_admin(work)


# ---- outgoing webhook endpoints


@dataclasses.dataclass(frozen=True)
class EndpointView:
    id: str = ""
    url: str = ""
    description: str = ""
    events_label: str = ""
    status: str = ""  # enabled / disabled
    disabled_reason: str = ""
    created_label: str = ""


@dataclasses.dataclass(frozen=True)
class DeliveryView:
    id: str = ""
    event_type: str = ""
    event_id: str = ""
    status: str = ""
    attempts: str = ""
    response_code: str = ""  # "" when no answer came (refused, unreachable, timed out)
    duration_label: str = ""
    attempted_label: str = ""
    next_retry_label: str = ""
    last_error: str = ""


def _endpoint_view(endpoint: WebhookEndpoint) -> EndpointView:
    events = ", ".join(endpoint.event_types) if endpoint.event_types else "All events"
    return EndpointView(str(endpoint.id), endpoint.url, endpoint.description, events,
                        "enabled" if endpoint.enabled else "disabled", endpoint.disabled_reason,
                        _when(endpoint.created_at))


class EndpointsAdminState(AdminPagedState, ConsoleState):
    rows: list[EndpointView] = []
    form_open: bool = False
    dialog_error: str = ""
    saving: bool = False
    new_secret: str = ""  # the signing secret of the endpoint just added, shown this once
    new_secret_url: str = ""
    deleting_id: str = ""
    # The delivery log of one endpoint, one page of it.
    log_id: str = ""
    log_url: str = ""
    log_rows: list[DeliveryView] = []
    log_page: int = 1
    log_more: bool = False

    @rx.var
    def deleting_row(self) -> EndpointView:
        return next((row for row in self.rows if row.id == self.deleting_id), EndpointView())

    def _reload(self, session, admin) -> None:
        rows = self._page_of(lambda page, per_page: endpoints.endpoint_page(
            session, admin=admin, page=page, per_page=per_page), PER_PAGE)
        self.rows = [_endpoint_view(e) for e in rows]
        self.loaded = True

    def _reload_log(self, session, admin) -> None:
        endpoint = endpoints.get(session, row_id(self.log_id), admin=admin)
        log = endpoints.delivery_log(session, endpoint.id, admin=admin, page=self.log_page)
        self.log_url, self.log_more = endpoint.url, len(log) == endpoints.LOG_PAGE_SIZE
        self.log_rows = [DeliveryView(
            str(row.id), event.type, event.event_id, row.status, str(row.attempts),
            "" if row.response_code is None else str(row.response_code),
            "" if row.duration_ms is None else f"{row.duration_ms} ms", _when(row.last_attempt_at),
            _when(row.next_attempt_at) if row.status == "pending" else "", row.last_error[:300],
        ) for row, event in log]

    def _close_log(self) -> None:
        self.log_id, self.log_url, self.log_rows, self.log_page, self.log_more = "", "", [], 1, False

    @rx.event
    def on_load(self):
        self.page, self.form_open, self.dialog_error, self.deleting_id = 1, False, "", ""
        self.new_secret = self.new_secret_url = ""
        self._close_log()
        return self._as_admin(self._reload, route=ENDPOINTS_ROUTE)

    @rx.event
    def open_form(self):
        def work(session, admin):
            self.form_open, self.dialog_error = True, ""

        return self._as_admin(work)

    @rx.event
    def close_form(self, _open: bool = False):
        def work(session, admin):
            if not self.saving:
                self.form_open, self.dialog_error = False, ""

        return self._as_admin(work, clear=False)

    @rx.event
    def create_endpoint(self, form: dict[str, str]):
        """URL, description, the ticked event types (`event:<type>` fields) or `every`."""
        def work(session, admin):
            chosen = [name.removeprefix("event:") for name, value in form.items()
                      if name.startswith("event:") and value and name.removeprefix("event:") in EVENT_TYPES]
            data = endpoints.check_form(str(form.get("url", "")), str(form.get("description", "")), chosen,
                                        every=bool(form.get("every")))
            created = endpoints.create(session, admin=admin, data=data)
            self._reload(session, admin)
            self.form_open = False
            self.new_secret, self.new_secret_url = created.secret, created.endpoint.url

        self.dialog_error = self.new_secret = self.new_secret_url = ""
        yield from self._busy("saving", work, error="dialog_error")

    @rx.event
    def dismiss_secret(self):
        def work(session, admin):
            self.new_secret = self.new_secret_url = ""

        return self._as_admin(work)

    @rx.event
    def set_endpoint_enabled(self, endpoint_id: str, enabled: bool):
        def work(session, admin):
            endpoint = endpoints.set_enabled(session, row_id(endpoint_id), admin=admin, enabled=bool(enabled))
            self._reload(session, admin)
            self.notice = f"{endpoint.url} {'enabled: events go to it again' if enabled else 'disabled: nothing is sent to it'}."

        return self._as_admin(work)

    @rx.event
    def ask_delete(self, endpoint_id: str):
        def work(session, admin):
            if endpoint_id in {row.id for row in self.rows}:
                self.deleting_id = endpoint_id

        return self._as_admin(work)

    @rx.event
    def cancel_delete(self, _open: bool = False):
        def work(session, admin):
            self.deleting_id = ""

        return self._as_admin(work, clear=False)

    @rx.event
    def confirm_delete(self):
        def work(session, admin):
            endpoint_id = row_id(self.deleting_id)
            url = self.deleting_row.url
            endpoints.delete(session, endpoint_id, admin=admin)
            self.deleting_id = ""
            if self.log_id == str(endpoint_id):
                self._close_log()
            self._reload(session, admin)
            self.notice = f"Endpoint {url} deleted, with its delivery log."

        return self._as_admin(work)

    @rx.event
    def open_log(self, endpoint_id: str):
        def work(session, admin):
            self.log_id, self.log_page = str(row_id(endpoint_id)), 1
            self._reload_log(session, admin)

        self._close_log()
        return self._as_admin(work)

    @rx.event
    def close_log(self):
        def work(session, admin):
            self._close_log()

        return self._as_admin(work)

    @rx.event
    def refresh_log(self):
        return self._as_admin(self._reload_log)

    @rx.event
    def older_log(self):
        return self._turn_log(self.log_page + 1 if self.log_more else self.log_page)

    @rx.event
    def newer_log(self):
        return self._turn_log(max(1, self.log_page - 1))

    def _turn_log(self, page: int):
        def work(session, admin):
            self.log_page = page
            self._reload_log(session, admin)

        return self._as_admin(work)

    @rx.event
    def redeliver(self, delivery_id: str):
        def work(session, admin):
            row = next((r for r in self.log_rows if r.id == delivery_id), None)
            if row is None:
                raise NotFound("Pick a delivery from the log.")
            endpoints.redeliver(session, row_id(delivery_id), admin=admin)
            self._reload_log(session, admin)
            self.notice = f"{row.event_type} ({row.event_id}) queued for redelivery: it is sent within seconds."

        return self._as_admin(work)
