"""/admin/risk: checkout charges the fraud guard flagged or blocked, with the signals behind each
score, and clearing a flag (billing/fraud.py).

Every handler checks the admin on the server first (`_admin`). The browser sends only an
assessment id (one of the page's rows) and an optional note; the row is read again and locked on
the server, and the clearing is audited.
"""

import dataclasses
import logging
import math

import reflex as rx

from billing_portal.billing import fraud
from billing_portal.billing.errors import DomainError
from billing_portal.db import session_scope
from billing_portal.state.admin import AdminState
from billing_portal.state.billing import UNEXPECTED

logger = logging.getLogger(__name__)

ROUTE = "/admin/risk"
PER_PAGE = 20


@dataclasses.dataclass(frozen=True)
class AssessmentView:
    id: str = ""
    created_label: str = ""
    customer_label: str = ""
    customer_email: str = ""
    amount_label: str = ""
    card_label: str = ""
    card_country: str = ""
    billing_country: str = ""
    client_ip: str = ""
    score: int = 0
    decision: str = ""
    signals: list[str] = dataclasses.field(default_factory=list)
    payment_label: str = ""
    invoice_number: str = ""
    cleared_label: str = ""
    clear_note: str = ""
    can_clear: bool = False


def assessment_view(row: fraud.AssessmentRow) -> AssessmentView:
    return AssessmentView(**{**dataclasses.asdict(row), "id": str(row.id), "signals": list(row.signals)})


class RiskAdminState(AdminState):
    status_filter: str = "flagged"
    rows: list[AssessmentView] = []
    total: int = 0
    page: int = 1
    loaded: bool = False
    error: str = ""
    notice: str = ""
    # The "clear flag" dialog: which row, and what went wrong there.
    selected_id: str = ""
    dialog_error: str = ""
    clearing: bool = False

    @rx.var
    def pages(self) -> int:
        return max(1, math.ceil(self.total / PER_PAGE))

    @rx.var
    def selected_row(self) -> AssessmentView:
        return next((row for row in self.rows if row.id == self.selected_id), AssessmentView())

    def _fill(self, session, admin) -> None:
        rows, self.total = fraud.assessment_page(session, admin=admin, status=self.status_filter, page=self.page,
                                                 per_page=PER_PAGE)
        if not rows and self.page > 1:  # the last row of the last page went away
            self.page = 1
            rows, self.total = fraud.assessment_page(session, admin=admin, status=self.status_filter, page=1,
                                                     per_page=PER_PAGE)
        self.rows = [assessment_view(row) for row in rows]
        self.loaded = True

    def _load(self):
        try:
            with session_scope() as session:
                admin = self._admin(session)
                if admin is None:
                    return self._turn_away(ROUTE)
                self._fill(session, admin)
        except Exception:
            logger.exception("risk assessments failed")
            self.error = UNEXPECTED

    @rx.event
    def on_load(self):
        self.error = self.notice = self.selected_id = ""
        self.loaded = False
        self.page = 1
        return self._load()

    @rx.event
    def set_status_filter(self, value: str | list[str]):
        self.status_filter = value if value in fraud.STATUS_FILTERS else "flagged"
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
    def open_clear(self, assessment_id: str):
        with session_scope() as session:
            if self._admin(session) is None:
                return
        if any(row.id == assessment_id and row.can_clear for row in self.rows):
            self.selected_id, self.dialog_error = assessment_id, ""

    @rx.event
    def close_clear(self, _open: bool = False):
        with session_scope() as session:
            if self._admin(session) is None:
                return
        if not self.clearing:
            self.selected_id = self.dialog_error = ""

    @rx.event
    def clear_flag(self, form: dict[str, str]):
        """Clear the flag of the row in the dialog, with the typed note."""
        self.dialog_error = self.notice = ""
        self.clearing = True
        yield
        try:
            with session_scope() as session:
                admin = self._admin(session)
                if admin is None:
                    return
                assessment_id = int(self.selected_id)
                fraud.clear_flag(session, admin=admin, assessment_id=assessment_id, note=str(form.get("note", "")))
                self._fill(session, admin)
            self.selected_id = ""
            self.notice = f"Flag {assessment_id} cleared."
        except (DomainError, ValueError) as exc:
            self.dialog_error = str(exc) if isinstance(exc, DomainError) else "Pick a flagged payment from the list."
        except Exception:
            logger.exception("clearing a risk flag failed")
            self.dialog_error = UNEXPECTED
        finally:
            self.clearing = False
