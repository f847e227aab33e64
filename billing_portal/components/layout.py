"""The page frame: a slim nav bar and a centred content column."""

import reflex as rx

from billing_portal.state.auth import SIGN_OUT_JS, AuthState

PRODUCT_NAME = "Billing Portal"
# Every page's content column: one width, so the header, the tabs and the page never jump.
CONTENT_WIDTH = "1120px"
PAD_X = ["16px", "16px", "24px"]
# The top bar's billing links on a desktop; the phone menu lists every billing section.
BILLING_LINKS = [("Billing", "/billing"), ("Plan", "/billing/plan"), ("History", "/billing/history"),
                 ("Usage", "/billing/usage")]
BILLING_TABS = [("Overview", "/billing"), ("Plan", "/billing/plan"), ("History", "/billing/history"),
                ("Payment methods", "/billing/payment-methods"), ("Usage", "/billing/usage"),
                ("Credits", "/billing/credits"), ("Files", "/billing/files"), ("Details", "/billing/details")]
ADMIN_TABS = [
    ("Dashboard", "/admin"),
    ("Customers", "/admin/customers"),
    ("Refunds", "/admin/refunds"),
    ("Reconciliation", "/admin/reconciliation"),
    ("Webhooks", "/admin/webhooks"),
    ("Endpoints", "/admin/webhook-endpoints"),
    ("API keys", "/admin/api-keys"),
    ("Catalog", "/admin/catalog"),
    ("Audit", "/admin/audit"),
    ("Alerts", "/admin/alerts"),
    ("Risk", "/admin/risk"),
]
# Below Reflex's md breakpoint (768 px) the bar shows the menu button instead of its links.
PHONE_ONLY = ["flex", "flex", "none"]
DESKTOP_ONLY = ["none", "none", "flex"]


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


def _bar_link(label: str, href: str, **props) -> rx.Component:
    return rx.link(label, href=href, size="2", weight="medium", color_scheme="gray", high_contrast=True,
                   underline="hover", white_space="nowrap", **props)


def _menu_link(label: str, href: str) -> rx.Component:
    # The item is the link itself (as_child): a real <a>, opened by click, Enter or a tap. A plain
    # <a>: Radix's Slot needs one element child, and rx.link renders two (Radix Link, router Link).
    return rx.menu.item(rx.el.a(label, href=href, style={"textDecoration": "none", "color": "inherit"}),
                        as_child=True, class_name="menu-link")


def _menu_heading(text: str) -> rx.Component:
    # Reflex has no menu label: a small heading line between the groups, skipped by arrow keys.
    return rx.text(text, size="1", weight="medium", color=rx.color("gray", 10), padding_x="12px", padding_y="4px",
                   as_="div")


def _phone_menu() -> rx.Component:
    """The header's menu on a phone: every page the top bar links to on a desktop, and more."""
    return rx.box(
        rx.menu.root(
            rx.menu.trigger(
                rx.icon_button(rx.icon("menu", size=20), variant="ghost", color_scheme="gray", size="3",
                               aria_label="Menu", id="nav-menu-button"),
            ),
            rx.menu.content(
                _menu_link("Pricing", "/pricing"),
                rx.cond(
                    AuthState.signed_in,
                    rx.fragment(
                        rx.menu.separator(),
                        _menu_heading("Billing"),
                        *[_menu_link(label, href) for label, href in BILLING_TABS],
                        rx.cond(
                            AuthState.user_is_admin,
                            rx.fragment(
                                rx.menu.separator(),
                                _menu_heading("Admin"),
                                *[_menu_link(label, href) for label, href in ADMIN_TABS],
                            ),
                        ),
                    ),
                    rx.fragment(
                        _menu_link("Sign in", "/login"),
                        _menu_link("Sign up", "/signup"),
                    ),
                ),
                align="end",
                size="2",
                id="nav-menu",
                max_height="calc(100vh - 72px)",
                overflow_y="auto",
            ),
            modal=False,
        ),
        display=PHONE_ONLY,
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
                _bar_link("Pricing", "/pricing", display=DESKTOP_ONLY),
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
                        rx.cond(AuthState.user_is_admin, _bar_link("Admin", "/admin", id="nav-admin",
                                                                  display=DESKTOP_ONLY)),
                        *[_bar_link(label, href, display=DESKTOP_ONLY) for label, href in BILLING_LINKS],
                        rx.text(
                            AuthState.user_email,
                            size="2",
                            color=rx.color("gray", 11),
                            display=["none", "none", "none", "block"],
                            id="nav-user-email",
                            max_width="220px",
                            overflow="hidden",
                            text_overflow="ellipsis",
                            white_space="nowrap",
                        ),
                        rx.button(
                            "Sign out",
                            on_click=rx.call_script(SIGN_OUT_JS),  # the server ends the session (api/sessions.py)
                            variant="soft",
                            color_scheme="gray",
                            size="2",
                        ),
                        align="center",
                        spacing="4",
                    ),
                    rx.hstack(
                        _bar_link("Sign in", "/login", display=DESKTOP_ONLY),
                        link_button("Sign up", "/signup", size="2", white_space="nowrap"),
                        align="center",
                        spacing="4",
                    ),
                ),
                _phone_menu(),
                align="center",
                spacing="4",
            ),
            align="center",
            width="100%",
            max_width=CONTENT_WIDTH,
            margin_x="auto",
            padding_x=PAD_X,
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


def page_shell(*children: rx.Component) -> rx.Component:
    """Every page, customer and admin: the header, then the content in the one content width."""
    return rx.box(
        nav_bar(),
        rx.el.main(
            rx.box(
                *children,
                width="100%",
                max_width=CONTENT_WIDTH,
                margin_x="auto",
                padding_x=PAD_X,
                padding_y=["24px", "32px", "48px"],
            ),
        ),
        min_height="100vh",
        background_color=rx.color("gray", 2),
    )
