"""/admin/risk: checkout charges the fraud guard flagged or blocked, with the signals behind each
score, and clearing a flag (billing/fraud.py).

Every handler checks the admin on the server first (`_admin`). The browser sends only an
assessment id (one of the page's rows) and an optional note; the row is read again and locked on
the server, and the clearing is audited.
"""

import dataclasses
from typing import ClassVar

import reflex as rx

from billing_portal.billing import fraud
from billing_portal.state.admin import AdminPagedState, AdminState, row_id

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


class RiskAdminState(AdminPagedState, AdminState):
    COUNTED: ClassVar[tuple[str, str]] = ("charge", "charges")
    status_filter: str = "flagged"
    rows: list[AssessmentView] = []
    loaded: bool = False
    error: str = ""
    notice: str = ""
    # The "clear flag" dialog: which row, and what went wrong there.
    selected_id: str = ""
    dialog_error: str = ""
    clearing: bool = False

    @rx.var
    def selected_row(self) -> AssessmentView:
        return next((row for row in self.rows if row.id == self.selected_id), AssessmentView())

    def _reload(self, session, admin) -> None:
        rows = self._page_of(lambda page, per_page: fraud.assessment_page(
            session, admin=admin, status=self.status_filter, page=page, per_page=per_page), PER_PAGE)
        self.rows = [assessment_view(row) for row in rows]
        self.loaded = True

    @rx.event
    def on_load(self):
        self.error = self.notice = self.selected_id = ""
        self.loaded = False
        self.page = 1
        return self._as_admin(self._reload, route=ROUTE)

    @rx.event
    def set_status_filter(self, value: str | list[str]):
        self.status_filter = value if value in fraud.STATUS_FILTERS else "flagged"
        self.page = 1
        self.notice = ""
        return self._as_admin(self._reload)

    @rx.event
    def open_clear(self, assessment_id: str):
        def work(session, admin):
            if any(row.id == assessment_id and row.can_clear for row in self.rows):
                self.selected_id, self.dialog_error = assessment_id, ""

        return self._as_admin(work)

    @rx.event
    def close_clear(self, _open: bool = False):
        def work(session, admin):
            if not self.clearing:
                self.selected_id = self.dialog_error = ""

        return self._as_admin(work)

    @rx.event
    def clear_flag(self, form: dict[str, str]):
        """Clear the flag of the row in the dialog, with the typed note."""
        def work(session, admin):
            assessment_id = row_id(self.selected_id)
            fraud.clear_flag(session, admin=admin, assessment_id=assessment_id, note=str(form.get("note", "")))
            self._reload(session, admin)
            self.selected_id = ""
            self.notice = f"Flag {assessment_id} cleared."

        self.dialog_error = self.notice = ""
        yield from self._busy("clearing", work, error="dialog_error")
