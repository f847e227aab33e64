"""/admin/reconciliation: compare a range of days with Stripe, and heal what is safe.

Every handler checks the admin on the server first. The browser sends only the two dates and
whether to heal; the comparison runs on the server (billing/reconciliation.py) and is audited.
"""

import dataclasses
from datetime import date, timedelta

import reflex as rx

from billing_portal.billing import reconciliation
from billing_portal.billing.errors import DomainError
from billing_portal.billing.portal import FIRST_DAY, LAST_DAY, parse_day
from billing_portal.models.types import utcnow
from billing_portal.state.admin import AdminState

ROUTE = "/admin/reconciliation"


@dataclasses.dataclass(frozen=True)
class DiscrepancyView:
    key: str = ""
    kind: str = ""
    kind_label: str = ""
    object_type: str = ""
    stripe_id: str = ""
    ours: str = ""
    theirs: str = ""
    outcome: str = ""  # "healed", "healable", "manual"
    note: str = ""


def discrepancy_view(found: reconciliation.Discrepancy) -> DiscrepancyView:
    return DiscrepancyView(
        key=found.key, kind=found.kind, kind_label=reconciliation.KIND_LABELS[found.kind],
        object_type=found.object_type, stripe_id=found.stripe_id, ours=found.ours or "—", theirs=found.theirs or "—",
        outcome="healed" if found.healed else "healable" if found.healable else "manual", note=found.note,
    )


def _day(text: str, what: str) -> date:
    try:
        day = parse_day(str(text), f"{what} date")  # also refuses days the engine cannot count with
    except DomainError:
        day = None
    if day is None:
        raise DomainError(f"Enter the {what} date as YYYY-MM-DD, between {FIRST_DAY.year} and {LAST_DAY.year}.")
    return day


class ReconciliationAdminState(AdminState):
    default_from: str = ""
    default_to: str = ""
    rows: list[DiscrepancyView] = []
    summary: str = ""
    ran: bool = False
    clean: bool = False
    running: bool = False
    error: str = ""

    @rx.event
    def on_load(self):
        self.error = self.summary = ""
        self.ran = self.clean = False
        self.rows = []

        def work(session, admin):
            today = utcnow().date()
            self.default_from, self.default_to = (today - timedelta(days=1)).isoformat(), today.isoformat()

        return self._as_admin(work, route=ROUTE)

    @rx.event
    def run(self, form: dict[str, str]):
        def work(session, admin):
            first, last = _day(form.get("from", ""), "start"), _day(form.get("to", ""), "end")
            start, end = reconciliation.day_range(first, last)
            report = reconciliation.reconcile(session, start=start, end=end, actor=admin,
                                              heal=form.get("heal") in ("on", "true", True))
            self.default_from, self.default_to = first.isoformat(), last.isoformat()
            self.rows = [discrepancy_view(d) for d in report.discrepancies]
            self.clean, self.ran = report.clean, True
            self.summary = (
                f"{first} to {last}: {report.payments_checked} payments and {report.refunds_checked} refunds "
                f"checked, {len(report.discrepancies)} discrepancies, {report.healed} healed."
            )

        self.error = ""
        yield from self._busy("running", work)
