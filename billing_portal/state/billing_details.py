"""/billing/details: the billing details future invoices show, edited by the signed-in customer.

The form is uncontrolled: it is drawn once the stored values are loaded and drawn again (a new
`form_version`) after a save, so the saved, normalised values show (a tax id as 123-45-67890).
The engine's message for each refused field is shown next to that field.
"""

import dataclasses
import logging

import reflex as rx

from billing_portal.billing import billing_details
from billing_portal.billing.billing_details import FORM_FIELDS, InvalidBillingDetails
from billing_portal.billing.errors import DomainError
from billing_portal.db import session_scope
from billing_portal.state.billing import UNEXPECTED, BillingState, login_redirect

logger = logging.getLogger(__name__)

ROUTE = "/billing/details"
MESSAGES_ID = "details-messages"  # where the outcome of a save shows, scrolled into view


def form_values(details: billing_details.BillingDetails) -> dict[str, str]:
    return {name: value for name, value in dataclasses.asdict(details).items() if name in FORM_FIELDS}


def saved_notice(refreshed: int) -> str:
    notice = "Saved. Future invoices use these details."
    if refreshed:
        notice += f" {refreshed} unpaid invoice{'s' if refreshed > 1 else ''} now show{'s' if refreshed == 1 else ''} them too."
    return notice


class DetailsState(BillingState):
    loaded: bool = False
    saving: bool = False
    error: str = ""
    notice: str = ""
    values: dict[str, str] = {}
    field_errors: dict[str, str] = {}
    form_version: int = 0

    @rx.event
    def on_load(self):
        self.loaded = False
        self.error = self.notice = ""
        self.field_errors = {}
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return None if self.access else login_redirect(ROUTE)
                details = billing_details.billing_details(session, customer_id=user.customer_id)
            self.values = form_values(details)
            self.form_version += 1
            self.loaded = True
        except Exception:
            logger.exception("billing details page failed")
            self.error = UNEXPECTED
        return None

    @rx.event
    def save(self, form: dict[str, str]):
        self.error = self.notice = ""
        self.field_errors = {}
        self.saving = True
        yield
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return
                updated = billing_details.save_billing_details(session, user=user, form=form)
            self.values = form_values(updated.details)
            self.form_version += 1
            self.notice = saved_notice(len(updated.refreshed_invoice_ids))
        except InvalidBillingDetails as exc:
            self.field_errors = {name: text for name, text in exc.errors.items() if name in FORM_FIELDS}
            others = [text for name, text in exc.errors.items() if name not in FORM_FIELDS]
            self.error = " ".join(["Nothing was saved: check the fields marked below.", *others])
        except DomainError as exc:
            self.error = str(exc)
        except Exception:
            logger.exception("saving billing details failed")
            self.error = UNEXPECTED
        finally:
            self.saving = False
        yield rx.scroll_to(MESSAGES_ID)
