"""The one denial view: what a signed-in person sees instead of a page or an object that is not
theirs (an admin page, another customer's invoice or receipt, a PDF link of someone else's).

It says no and nothing else: whether the object exists, and anything of it, stays on the server.
Pages show it when their state's server-side check said no; /denied is where api/documents.py
sends a refused PDF link (pages/denied.py).
"""

import reflex as rx

DEFAULT_MESSAGE = (
    "This page or document is not available to your account. If you followed a link, it may "
    "belong to someone else or no longer exist."
)


def access_denied(title: str = "You do not have access to this", message: str = DEFAULT_MESSAGE, *,
                  heading_level: str = "h1") -> rx.Component:
    """`heading_level` h2 inside a page that has its own h1."""
    return rx.card(
        rx.vstack(
            rx.icon("shield_x", size=32, color=rx.color("red", 9)),
            rx.heading(title, size="5", as_=heading_level),
            rx.text(message, size="2", color=rx.color("gray", 11)),
            rx.hstack(
                rx.button(rx.link("Go to your billing", href="/billing", underline="none"), as_child=True, size="2"),
                rx.button(rx.link("Billing history", href="/billing/history", underline="none"), as_child=True,
                          size="2", variant="soft", color_scheme="gray"),
                spacing="3",
                wrap="wrap",
            ),
            spacing="3",
            align="start",
        ),
        size="3",
        width="100%",
        max_width="560px",
        margin_x="auto",
        id="access-denied",
        role="alert",
    )

