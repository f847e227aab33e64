"""/login: sign in, then go to the page that was asked for (?next=/path) or /pricing."""

import reflex as rx

from billing_portal.components.forms import auth_card, error_callout, labeled_input
from billing_portal.components.layout import page_shell
from billing_portal.state.auth import SignInState

ROUTE = "/login"
TITLE = "Sign in · Billing Portal"


def login_page() -> rx.Component:
    form = rx.form(
        rx.vstack(
            error_callout(SignInState.error),
            labeled_input("Email", "email", type="email", auto_complete="email", max_length=320),
            labeled_input("Password", "password", type="password", auto_complete="current-password", max_length=256),
            rx.button(
                "Sign in",
                type="submit",
                size="3",
                width="100%",
                loading=SignInState.submitting,
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=SignInState.submit,
        width="100%",
        aria_label="Sign in",
    )
    footer = rx.text(
        "New here? ",
        rx.link("Create an account", href="/signup", weight="medium"),
        size="2",
        color=rx.color("gray", 11),
    )
    return page_shell(auth_card("Sign in", "Welcome back. Sign in to manage your plan and invoices.", form, footer))
