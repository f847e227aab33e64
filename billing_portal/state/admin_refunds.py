"""/admin/refunds: customers' refund requests, approved (all or part) or rejected with a reason.

Every handler checks the admin on the server first (`_admin`). The browser sends only a request id
and the typed amount/reason; the request, its payment and what is refundable are read again on the
server by billing/refund_decisions.py.
"""

import dataclasses
import logging
import math

import reflex as rx

from billing_portal.billing import refund_decisions
from billing_portal.billing.errors import DomainError
from billing_portal.db import session_scope
from billing_portal.ids import parse_id
from billing_portal.state.admin import AdminState
from billing_portal.state.billing import UNEXPECTED

logger = logging.getLogger(__name__)

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


def request_view(row: refund_decisions.RequestRow) -> RequestView:
    fields = {f.name for f in dataclasses.fields(RequestView)}
    return RequestView(**{k: str(v) for k, v in dataclasses.asdict(row).items() if k in fields})


class RefundsAdminState(AdminState):
    status_filter: str = "requested"
    rows: list[RequestView] = []
    total: int = 0
    page: int = 1
    loaded: bool = False
    error: str = ""
    notice: str = ""
    # The decision dialog: which request, "approve" or "reject".
    deciding_id: str = ""
    decision: str = ""
    dialog_error: str = ""
    deciding: bool = False

    @rx.var
    def pages(self) -> int:
        return max(1, math.ceil(self.total / PER_PAGE))

    @rx.var
    def deciding_row(self) -> RequestView:
        return next((row for row in self.rows if row.id == self.deciding_id), RequestView())

    def _reload(self, session, admin) -> None:
        rows, self.total = refund_decisions.request_page(
            session, admin=admin, status=self.status_filter, page=self.page, per_page=PER_PAGE
        )
        if not rows and self.page > 1:
            self.page = 1
            rows, self.total = refund_decisions.request_page(
                session, admin=admin, status=self.status_filter, page=1, per_page=PER_PAGE
            )
        self.rows = [request_view(row) for row in rows]
        self.loaded = True

    def _load(self):
        try:
            with session_scope() as session:
                admin = self._admin(session)
                if admin is None:
                    return self._turn_away(ROUTE)
                self._reload(session, admin)
        except Exception:
            logger.exception("refund requests failed")
            self.error = UNEXPECTED

    @rx.event
    def on_load(self):
        self.error = self.notice = ""
        self.loaded = False
        self.page = 1
        self.deciding_id = self.decision = ""
        return self._load()

    @rx.event
    def set_status_filter(self, value: str | list[str]):
        self.status_filter = value if value in refund_decisions.STATUS_FILTERS else "requested"
        self.page = 1
        self.notice = ""
        return self._load()

    @rx.event
    def next_page(self):
        self.page += 1
        return self._load()

    @rx.event
    def previous_page(self):
        self.page = max(1, self.page - 1)
        return self._load()

    @rx.event
    def open_decision(self, request_id: str, decision: str):
        with session_scope() as session:
            if self._admin(session) is None:
                return
        if decision not in ("approve", "reject") or request_id not in {row.id for row in self.rows}:
            return
        self.deciding_id, self.decision, self.dialog_error = request_id, decision, ""

    @rx.event
    def close_decision(self, _open: bool = False):
        with session_scope() as session:
            if self._admin(session) is None:
                return
        if not self.deciding:
            self.deciding_id = self.decision = self.dialog_error = ""

    @rx.event
    def decide(self, form: dict[str, str]):
        """Approve or reject the request in the dialog with the typed amount / reason."""
        self.dialog_error = self.notice = ""
        self.deciding = True
        yield
        try:
            with session_scope() as session:
                admin = self._admin(session)
                if admin is None:
                    return
                request_id = parse_id(self.deciding_id)
                if request_id is None:
                    raise ValueError("not a request id")
                if self.decision == "approve":
                    refund_decisions.approve(
                        session, request_id=request_id, admin=admin, amount=str(form.get("amount", "")),
                        note=str(form.get("reason", "")),
                    )
                    notice = f"Refund request {request_id} approved: the money is on its way back."
                elif self.decision == "reject":
                    refund_decisions.reject(
                        session, request_id=request_id, admin=admin, reason=str(form.get("reason", ""))
                    )
                    notice = f"Refund request {request_id} rejected."
                else:
                    return
                self._reload(session, admin)
            self.deciding_id = self.decision = ""
            self.notice = notice
        except (DomainError, ValueError) as exc:
            self.dialog_error = str(exc) if isinstance(exc, DomainError) else "Pick a request from the list."
        except Exception:
            logger.exception("refund decision failed")
            self.dialog_error = UNEXPECTED
        finally:
            self.deciding = False
