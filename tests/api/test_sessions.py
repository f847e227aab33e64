"""POST /api/session/start and /api/session/end over real HTTP (Starlette's test client): the cookie
is httpOnly, SameSite=Lax, Secure on HTTPS; a grant works once; a post from another origin is
refused and changes nothing; sign-out ends the session on the server, everywhere when asked."""

import pytest
from argon2 import PasswordHasher
from sqlmodel import Session, select
from starlette.testclient import TestClient

from billing_portal.api import build_api
from billing_portal.api.sessions import END_ROUTE, SESSION_COOKIE, START_ROUTE
from billing_portal.billing import accounts
from billing_portal.models import AuthSession
from billing_portal.settings import get_settings

PORTAL = "http://portal.test"
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _portal(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setenv("PUBLIC_URL", PORTAL)
    monkeypatch.setenv("API_URL", "http://api.portal.test")
    monkeypatch.setenv("ALLOWED_ORIGINS", f'["{PORTAL}"]')
    get_settings.cache_clear()


@pytest.fixture
def grant(engine):
    with Session(engine) as session:
        accounts.sign_up(session, email="ana@example.com", password=PASSWORD, name="Ana")
        session.commit()
    return lambda: _grant(engine)


def _grant(engine) -> str:
    with Session(engine) as session:
        grant = accounts.sign_in(session, email="ana@example.com", password=PASSWORD)
        session.commit()
    return grant


def client(base_url: str = "http://api.portal.test") -> TestClient:
    return TestClient(build_api(), base_url=base_url, follow_redirects=False)


def post(c: TestClient, route: str, data: dict, origin: str | None = PORTAL):
    return c.post(route, data=data, headers={"Origin": origin} if origin else {})


def sessions(engine) -> list[AuthSession]:
    with Session(engine) as session:
        return list(session.exec(select(AuthSession)))


def set_cookie(response) -> str:
    return next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION_COOKIE))


def test_a_grant_becomes_an_httponly_lax_cookie_and_a_redirect_to_the_page_asked_for(engine, grant):
    response = post(client(), START_ROUTE, {"grant": grant(), "next": "/billing/history?page=2"})
    assert response.status_code == 303
    assert response.headers["location"] == f"{PORTAL}/billing/history?page=2"
    cookie = set_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    with Session(engine) as session:
        assert accounts.user_for_token(session, token).email == "ana@example.com"


def test_on_https_the_cookie_is_secure(engine, grant):
    response = post(client("https://api.portal.test"), START_ROUTE, {"grant": grant(), "next": "/billing"})
    assert "Secure" in set_cookie(response)


@pytest.mark.parametrize("next_path", ["//evil.example/x", "https://evil.example/", "javascript:alert(1)", "", "/login"])
def test_only_same_site_paths_are_followed(engine, grant, next_path):
    response = post(client(), START_ROUTE, {"grant": grant(), "next": next_path})
    assert response.headers["location"] == f"{PORTAL}/pricing"


def test_a_grant_works_once_and_a_made_up_one_never(engine, grant):
    code = grant()
    assert post(client(), START_ROUTE, {"grant": code, "next": "/billing"}).status_code == 303
    for again in (code, "made-up", ""):
        response = post(client(), START_ROUTE, {"grant": again, "next": "/billing"})
        assert response.headers["location"] == f"{PORTAL}/login?next=/billing"
        assert "set-cookie" not in response.headers
    assert len(sessions(engine)) == 1


@pytest.mark.parametrize("origin", ["https://evil.example", "null", None])
def test_a_post_from_another_origin_is_refused_and_changes_nothing(engine, grant, origin):
    code = grant()
    response = post(client(), START_ROUTE, {"grant": code, "next": "/billing"}, origin=origin)
    assert response.status_code == 403 and "set-cookie" not in response.headers
    assert sessions(engine) == []
    # The refused grant is still good for the real page.
    signed_in = client()
    assert post(signed_in, START_ROUTE, {"grant": code}).status_code == 303
    assert post(signed_in, END_ROUTE, {}, origin=origin).status_code == 403
    assert len(sessions(engine)) == 1


def test_a_null_origin_passes_only_when_the_browser_says_the_page_was_ours(engine, grant):
    refused = client().post(START_ROUTE, data={"grant": grant()}, headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    taken = client().post(START_ROUTE, data={"grant": grant()}, headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
    assert taken.status_code == 303 and len(sessions(engine)) == 1


def test_an_oversized_form_is_refused(engine, grant):
    response = post(client(), START_ROUTE, {"grant": grant(), "next": "/" + "x" * 5000})
    assert response.status_code == 403 and sessions(engine) == []


def test_signing_in_again_rotates_the_browsers_session(engine, grant):
    browser = client()
    post(browser, START_ROUTE, {"grant": grant()})
    first = browser.cookies[SESSION_COOKIE]
    post(browser, START_ROUTE, {"grant": grant()})
    second = browser.cookies[SESSION_COOKIE]
    assert second != first
    with Session(engine) as session:
        assert accounts.user_for_token(session, first) is None
        assert accounts.user_for_token(session, second) is not None
    assert len(sessions(engine)) == 1


def test_sign_out_ends_the_session_on_the_server_and_a_kept_copy_is_refused(engine, grant):
    browser = client()
    post(browser, START_ROUTE, {"grant": grant()})
    stolen = browser.cookies[SESSION_COOKIE]
    response = post(browser, END_ROUTE, {})
    assert response.status_code == 303 and response.headers["location"] == f"{PORTAL}/login"
    assert 'bp_session=""' in set_cookie(response) and "Max-Age=0" in set_cookie(response)
    with Session(engine) as session:
        assert accounts.user_for_token(session, stolen) is None
    assert sessions(engine) == []


def test_sign_out_everywhere_ends_the_other_browsers_too(engine, grant):
    laptop, phone = client(), client()
    post(laptop, START_ROUTE, {"grant": grant()})
    post(phone, START_ROUTE, {"grant": grant()})
    assert len(sessions(engine)) == 2
    post(phone, END_ROUTE, {"everywhere": "1"})
    assert sessions(engine) == []
