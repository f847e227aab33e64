"""The page frame: a slim nav bar and a centred content column."""

import reflex as rx

from billing_portal.state.auth import SIGN_OUT_JS, AuthState

PRODUCT_NAME = "Billing Portal"
BILLING_LINKS = [("Billing", "/billing"), ("Plan", "/billing/plan"), ("History", "/billing/history")]
BILLING_LINKS.append(("Usage", "/billing/usage"))


def link_button(label: str, href: str, **props) -> rx.Component:
    """A link that looks like a button (one <a>, not a button inside a link)."""
    return rx.button(rx.link(label, href=href, underline="none"), as_child=True, **props)


def section_tabs(tabs: list[tuple[str, str]], active: str, label: str) -> rx.Component:
    """A section's own tab links (billing, admin), the active one highlighted; on a phone they wrap
    onto more lines, so the active one is always in sight."""
    return rx.el.nav(
        rx.hstack(
            *[
                rx.link(
                    text,
                    href=href,
                    size="2",
                    weight="medium",
                    underline="none",
                    padding_x="12px",
                    padding_y="6px",
                    border_radius="9999px",
                    white_space="nowrap",
                    color=rx.color("accent", 11) if text == active else rx.color("gray", 11),
                    background_color=rx.color("accent", 3) if text == active else "transparent",
                    aria_current="page" if text == active else None,
                )
                for text, href in tabs
            ],
            spacing="1",
            wrap="wrap",
        ),
        aria_label=label,
    )


def nav_bar() -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.link(
                rx.hstack(
                    rx.image(src="/logo.svg", alt="", width="28px", height="28px"),
                    rx.text(PRODUCT_NAME, weight="bold", size="4", color=rx.color("gray", 12), white_space="nowrap"),
                    align="center",
                    spacing="2",
                ),
                href="/pricing",
                underline="none",
                aria_label=f"{PRODUCT_NAME} home",
            ),
            rx.spacer(),
            rx.hstack(
                # On a phone the logo is the way to pricing: the nav keeps to one line at 390 px.
                rx.link(
                    "Pricing",
                    href="/pricing",
                    size="2",
                    weight="medium",
                    color_scheme="gray",
                    high_contrast=True,
                    underline="hover",
                    display=["none", "block"],
                ),
                rx.cond(
                    AuthState.signed_in,
                    rx.hstack(
                        rx.cond(
                            AuthState.back_url != "",
                            rx.link(
                                rx.hstack(rx.icon("arrow-left", size=14),
                                          rx.text("Back", display=["block", "none"]),  # the phone's short form
                                          rx.text(AuthState.back_label, display=["none", "block"]),
                                          align="center", spacing="1"),
                                href=AuthState.back_url,
                                aria_label=AuthState.back_label,
                                size="2",
                                weight="medium",
                                underline="hover",
                                white_space="nowrap",
                                id="nav-back",
                            ),
                        ),
                        rx.cond(
                            AuthState.user_is_admin,
                            rx.link(
                                "Admin",
                                href="/admin",
                                size="2",
                                weight="medium",
                                color_scheme="gray",
                                high_contrast=True,
                                underline="hover",
                                id="nav-admin",
                            ),
                        ),
                        # The billing pages carry their own tabs, so on a phone these stay hidden.
                        *[
                            rx.link(
                                label,
                                href=href,
                                size="2",
                                weight="medium",
                                color_scheme="gray",
                                high_contrast=True,
                                underline="hover",
                                display=["none", "none", "block"],
                            )
                            for label, href in BILLING_LINKS
                        ],
                        rx.text(
                            AuthState.user_email,
                            size="2",
                            color=rx.color("gray", 11),
                            display=["none", "none", "block"],
                            id="nav-user-email",
                        ),
                        rx.button(
                            "Sign out",
                            on_click=rx.call_script(SIGN_OUT_JS),  # the server ends the session (api/sessions.py)
                            variant="soft",
                            color_scheme="gray",
                            size="2",
                        ),
                        align="center",
                        spacing="3",
                    ),
                    rx.hstack(
                        rx.link(
                            "Sign in",
                            href="/login",
                            size="2",
                            weight="medium",
                            color_scheme="gray",
                            high_contrast=True,
                            underline="hover",
                            white_space="nowrap",
                        ),
                        link_button("Sign up", "/signup", size="2", white_space="nowrap"),
                        align="center",
                        spacing="3",
                    ),
                ),
                align="center",
                spacing="4",
            ),
            align="center",
            width="100%",
            max_width="1120px",
            margin_x="auto",
            padding_x=["16px", "16px", "24px"],
            height="60px",
        ),
        as_="header",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background_color=rx.color("gray", 1),
        position="sticky",
        top="0",
        z_index="10",
        width="100%",
    )


def page_shell(*children: rx.Component, max_width: str = "1120px") -> rx.Component:
    return rx.box(
        nav_bar(),
        rx.el.main(
            rx.box(
                *children,
                width="100%",
                max_width=max_width,
                margin_x="auto",
                padding_x=["16px", "16px", "24px"],
                padding_y=["24px", "32px", "48px"],
            ),
        ),
        min_height="100vh",
        background_color=rx.color("gray", 2),
    )
