"""/admin/refunds: customers' refund requests, approved (all or part) or rejected with a reason.

Every handler checks the admin on the server first (`_admin`). The browser sends only a request id
and the typed amount/reason; the request, its payment and what is refundable are read again on the
server by billing/refund_decisions.py.
"""

import dataclasses
from typing import ClassVar

import reflex as rx

from billing_portal.billing import refund_decisions
from billing_portal.state.admin import AdminPagedState, AdminState, row_id, string_view

ROUTE = "/admin/refunds"
PER_PAGE = 20


@dataclasses.dataclass(frozen=True)
class RequestView:
    id: str = ""
    status: str = ""
    customer_label: str = ""
    customer_email: str = ""
    invoice_number: str = ""
    amount_label: str = ""
    paid_label: str = ""
    refundable_label: str = ""
    reason: str = ""
    created_label: str = ""
    decided_label: str = ""
    decision_reason: str = ""


class RefundsAdminState(AdminPagedState, AdminState):
    COUNTED: ClassVar[tuple[str, str]] = ("request", "requests")
    status_filter: str = "requested"
    rows: list[RequestView] = []
    loaded: bool = False
    error: str = ""
    notice: str = ""
    # The decision dialog: which request, "approve" or "reject".
    deciding_id: str = ""
    decision: str = ""
    dialog_error: str = ""
    deciding: bool = False

    @rx.var
    def deciding_row(self) -> RequestView:
        return next((row for row in self.rows if row.id == self.deciding_id), RequestView())

    def _reload(self, session, admin) -> None:
        rows = self._page_of(lambda page, per_page: refund_decisions.request_page(
            session, admin=admin, status=self.status_filter, page=page, per_page=per_page), PER_PAGE)
        self.rows = [string_view(row, RequestView) for row in rows]
        self.loaded = True

    @rx.event
    def on_load(self):
        self.error = self.notice = ""
        self.loaded = False
        self.page = 1
        self.deciding_id = self.decision = ""
        return self._as_admin(self._reload, route=ROUTE)

    @rx.event
    def set_status_filter(self, value: str | list[str]):
        self.status_filter = value if value in refund_decisions.STATUS_FILTERS else "requested"
        self.page = 1
        self.notice = ""
        return self._as_admin(self._reload)

    @rx.event
    def open_decision(self, request_id: str, decision: str):
        def work(session, admin):
            if decision in ("approve", "reject") and request_id in {row.id for row in self.rows}:
                self.deciding_id, self.decision, self.dialog_error = request_id, decision, ""

        return self._as_admin(work)

    @rx.event
    def close_decision(self, _open: bool = False):
        def work(session, admin):
            if not self.deciding:
                self.deciding_id = self.decision = self.dialog_error = ""

        return self._as_admin(work)

    @rx.event
    def decide(self, form: dict[str, str]):
        """Approve or reject the request in the dialog with the typed amount / reason."""
        def work(session, admin):
            request_id = row_id(self.deciding_id)
            if self.decision == "approve":
                refund_decisions.approve(session, request_id=request_id, admin=admin,
                                         amount=str(form.get("amount", "")), note=str(form.get("reason", "")))
                notice = f"Refund request {request_id} approved: the money is on its way back."
            elif self.decision == "reject":
                refund_decisions.reject(session, request_id=request_id, admin=admin, reason=str(form.get("reason", "")))
                notice = f"Refund request {request_id} rejected."
            else:
                return
            self._reload(session, admin)
            self.deciding_id = self.decision = ""
            self.notice = notice

        self.dialog_error = self.notice = ""
        yield from self._busy("deciding", work, error="dialog_error")
