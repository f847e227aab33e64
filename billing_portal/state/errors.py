"""What happens when a state handler raises: Reflex calls `event_error` (rx.App(backend_exception_handler=)).

The error is logged once, as one redacted JSON line with its traceback and a reference (the
`request_id` field, as for HTTP requests: api/middleware.py), and the person sees a toast with the same
reference instead of Reflex's default multi-line log entry and "Contact the website administrator".
"""

import logging

import reflex as rx
from reflex.event import EventSpec

from billing_portal import logs

logger = logging.getLogger(__name__)
MESSAGE = "Something went wrong on our side. Try again in a moment."


def event_error(exception: Exception) -> EventSpec:
    reference = logs.request_id() or logs.new_request_id()
    logger.error("unhandled error in an event handler", exc_info=exception, extra={"request_id": reference})
    return rx.toast.error(MESSAGE, description=f"If it keeps happening, tell us this reference: {reference}",
                          id="backend_error", position="top-center")
