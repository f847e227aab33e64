"""/signup: create an account and land on the pricing page signed in."""

import reflex as rx

from billing_portal.components.forms import auth_card, error_callout, labeled_input
from billing_portal.components.layout import page_shell
from billing_portal.state.auth import SignUpState

ROUTE = "/signup"
TITLE = "Create your account · Billing Portal"


def signup_page() -> rx.Component:
    form = rx.form(
        rx.vstack(
            error_callout(SignUpState.error),
            labeled_input("Name", "name", auto_complete="name", max_length=200),
            labeled_input("Email", "email", type="email", auto_complete="email", max_length=320),
            labeled_input(
                "Password",
                "password",
                type="password",
                auto_complete="new-password",
                min_length=10,
                max_length=256,
                hint="At least 10 characters.",
            ),
            rx.button(
                "Create account",
                type="submit",
                size="3",
                width="100%",
                loading=SignUpState.submitting,
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=SignUpState.submit,
        width="100%",
        aria_label="Create account",
    )
    footer = rx.text(
        "Already have an account? ",
        rx.link("Sign in", href="/login", weight="medium"),
        size="2",
        color=rx.color("gray", 11),
    )
    return page_shell(auth_card("Create your account", "Start on any plan; change it whenever you like.", form, footer))
