"""Scale-out mode: two backend workers keeping every session's state in Redis (REDIS_URL).

A person signs in and pages through the history in the browser; then the same session, spoken to
over Reflex's event protocol (tests/support/reflex_client.py), reconnects until another worker
process serves it (the pid owning the server end of the socket): that worker hands back the state
the first one left (signed in, page 2 of the history) and pages on. Without Redis each worker keeps
its own sessions and the second would know nothing of it.
"""

import re

import pytest
from playwright.sync_api import Browser, expect

from billing_portal.state.auth import AuthState, SignInState
from billing_portal.state.billing import HistoryState
from tests.e2e.people import DESKTOP, patient_expectations  # noqa: F401 (a fixture)
from tests.e2e.test_billing_pages import DEMO, rows, sign_in
from tests.support.event_loops import run_to_completion
from tests.support.reflex_client import ReflexSession, state_name

AUTH, SIGN_IN, HISTORY = state_name(AuthState), state_name(SignInState), state_name(HistoryState)
ON_LOAD = "reflex___state____state.reflex___state____on_load_internal_state.on_load_internal"

pytestmark = pytest.mark.usefixtures("patient_expectations")


def _on_page(number: int):
    return lambda s: s.state(HISTORY).get("page_rx_state_") == number and s.state(HISTORY).get("loaded_rx_state_") \
        and not s.state(HISTORY).get("loading_rx_state_")


async def _session_across_workers(url: str) -> dict:
    first = ReflexSession(url)
    await first.sign_in(SIGN_IN, *DEMO, "/billing/history")
    await first.event(ON_LOAD, {}, "/billing/history", until=_on_page(1))
    await first.event(f"{HISTORY}.next_page", {}, "/billing/history", until=_on_page(2))
    first_pid = first.server_pid()
    await first.close()

    for attempt in range(40):  # the kernel spreads new connections over the workers
        other = ReflexSession(url, first.token)
        other.cookies = dict(first.cookies)
        # Reconnect on a page whose on_load leaves the history alone (the history's resets it).
        await other.connect("/pricing")
        if (pid := other.server_pid()) != first_pid:
            found = other.snapshot
            await other.event(ON_LOAD, {}, "/billing/history", until=_on_page(1))
            await other.event(f"{HISTORY}.next_page", {}, "/billing/history", until=_on_page(2))
            paged = other.state(HISTORY)["summary_rx_state_"]
            await other.close()
            return {"pids": (first_pid, pid), "attempts": attempt + 1, "found": found, "paged": paged}
        await other.close()
    raise AssertionError(f"40 connections all landed on worker {first_pid}")


def test_two_backend_workers_on_redis_share_a_session(browser: Browser, app_server, redis, screenshots_dir):
    url = app_server.ensure({"REDIS_URL": redis.url, "GRANIAN_WORKERS": "2"})

    page = browser.new_page(base_url=url, viewport=DESKTOP)
    page.goto("/billing/history")
    expect(page).to_have_url(re.compile(r"/login"))
    sign_in(page, *DEMO)
    expect(page).to_have_url(re.compile(r"/billing/history/?$"))
    expect(page.locator("#history-summary")).to_contain_text("page 1 of 2")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#history-page")).to_have_text("Page 2 of 2")
    expect(rows(page).first).to_be_visible()  # how many depends on what earlier tests added to the demo account
    page.screenshot(path=screenshots_dir / "scaled-history-page-2-desktop.png", full_page=True)
    page.close()

    seen = run_to_completion(_session_across_workers(url))
    first_pid, second_pid = seen["pids"]
    assert first_pid and second_pid and first_pid != second_pid
    # What the second worker handed back on connecting: the first worker's state, from Redis.
    assert seen["found"][AUTH]["user_email_rx_state_"] == DEMO[0]
    assert seen["found"][HISTORY]["page_rx_state_"] == 2
    assert seen["found"][HISTORY]["summary_rx_state_"].endswith("page 2 of 2")
    assert seen["paged"].endswith("page 2 of 2")
