"""Every /api/v1 operation (the route table, so a new route without a row here fails) × every
caller that is not a seller key allowed to do it: no key, a revoked key, a customer's usage key
(bpk_), a browser's session cookie → the same 401; a read key on a write → the same 403. Nothing
changes. Then the write key makes each request for real (the rows are not vacuous)."""

import pytest

from billing_portal.api.v1.operations import OPERATIONS
from tests.api.v1.conftest import start_api, table_counts


@pytest.fixture
def server(engine, db_url, tmp_path):
    """The API with upgrades applied only once paid: Ana has no card, so the write key's upgrade
    changes nothing (under at_once it would make her past_due, and the pause after it a 409)."""
    handle = start_api(db_url, STORAGE_DIR=str(tmp_path / "files"), UPGRADE_APPLY="when_paid")
    yield handle
    handle.stop()


def _without_request_id(response) -> str:
    """The answer as the client reads it, but for its request id (each request's own: the header's)."""
    request_id = response.headers["x-request-id"]
    assert f'"request_id":"{request_id}"' in response.text
    return response.text.replace(f',"request_id":"{request_id}"', "")

APP = "http://localhost:5100/account"  # PORTAL_RETURN_URL_ALLOWLIST's default origin

# operation_id -> the world's ids -> (path parameters, body): a request that works with a write key.
REQUESTS = {
    "list_customers": lambda i: ({}, None),
    "create_customer": lambda i: ({}, {"external_id": "app-user-9", "email": "new@example.com", "name": "New One"}),
    "get_customer": lambda i: ({"customer": i["ana"]}, None),
    "update_customer": lambda i: ({"customer": i["ana"]}, {"name": "Ana Maria"}),
    "patch_customer": lambda i: ({"customer": "ext_app-user-1"}, {"company": "Lima Ltd"}),
    "get_entitlements": lambda i: ({"customer": "ext_app-user-1"}, None),
    "list_credit_ledger": lambda i: ({"customer": i["ana"]}, None),
    "list_usage_records": lambda i: ({"customer": i["ana"]}, None),
    "create_usage_record": lambda i: ({"customer": i["ana"]}, {"metric": "api_calls", "quantity": 5}),
    "list_plans": lambda i: ({}, None),
    "get_plan": lambda i: ({"plan": i["basic"]}, None),
    "list_prices": lambda i: ({}, None),
    "get_price": lambda i: ({"price": i["monthly"]}, None),
    "list_subscriptions": lambda i: ({}, None),
    "get_subscription": lambda i: ({"subscription": i["subscription"]}, None),
    "preview_subscription_change": lambda i: ({"subscription": i["subscription"]}, {"price_id": i["pro_monthly"]}),
    "change_subscription": lambda i: ({"subscription": i["subscription"]}, {"price_id": i["pro_monthly"]}),
    "pause_subscription": lambda i: ({"subscription": i["subscription"]}, {}),
    "resume_subscription": lambda i: ({"subscription": i["subscription"]}, {}),
    "cancel_subscription": lambda i: ({"subscription": i["subscription"]}, {"at_period_end": True, "reason": "test"}),
    "list_invoices": lambda i: ({}, None),
    "get_invoice": lambda i: ({"invoice": i["invoice"]}, None),
    "get_invoice_pdf_link": lambda i: ({"invoice": i["invoice"]}, None),
    "list_payments": lambda i: ({}, None),
    "get_payment": lambda i: ({"payment": i["payment"]}, None),
    "list_refunds": lambda i: ({}, None),
    "get_refund": lambda i: ({"refund": i["refund"]}, None),
    "list_refund_requests": lambda i: ({}, None),
    "create_refund_request": lambda i: ({}, {"payment_id": i["payment"], "amount": 100, "reason": "Outage"}),
    "get_stats": lambda i: ({}, None),
    "create_portal_session": lambda i: ({}, {"customer": "ext_app-user-1", "return_url": APP, "flow": "plan"}),
    "create_checkout_session": lambda i: ({}, {"customer": str(i["bob"]), "price": i["monthly"], "return_url": APP}),
}


def test_every_operation_has_a_row():
    assert {op.operation_id for op in OPERATIONS} == set(REQUESTS), "add a row for each new /api/v1 operation"


@pytest.fixture
def rows(world):
    made = [(op, *REQUESTS[op.operation_id](world.ids)) for op in OPERATIONS]
    return [(op, op.path.format(**params), body) for op, params, body in made]


def _send(api, operation, path, body, *, token=None, cookie=None):
    headers = {"Idempotency-Key": f"k-{operation.operation_id}"} if operation.method == "POST" else {}
    if cookie:
        headers["Cookie"] = f"bp_session={cookie}"
    return api.call(operation.method, path, token=token, json=body if operation.writes else None,
                    headers=headers)


def test_anyone_but_a_seller_key_is_refused_alike_and_nothing_changes(api, world, engine, rows):
    before = table_counts(engine)
    answers = set()
    for operation, path, body in rows:
        for token, cookie in ((None, None), ("revoked", None), ("usage", None), (None, world.tokens["session"]),
                              ("bps_" + "A" * 43, None)):
            response = _send(api, operation, path, body, token=token, cookie=cookie)
            answers.add((response.status_code, _without_request_id(response), response.headers.get("www-authenticate")))
    assert answers == {(401, '{"error":{"type":"authentication_error","code":"invalid_api_key","message":'
                             '"Send a valid seller API key: Authorization: Bearer bps_...","param":null}}', "Bearer")}
    assert table_counts(engine) == before


def test_a_read_key_may_only_read(api, world, engine, rows):
    before = table_counts(engine)
    writes = set()
    for operation, path, body in rows:
        response = _send(api, operation, path, body, token="read")
        if operation.writes:
            writes.add((response.status_code, _without_request_id(response)))
        else:
            assert response.status_code == 200, (operation.operation_id, response.text)
    assert writes == {(403, '{"error":{"type":"permission_error","code":"read_only_key","message":'
                            '"This key is read-only; this operation needs a write key.","param":null}}')}
    assert table_counts(engine) == before


def test_the_write_key_does_each_request(api, rows):
    for operation, path, body in rows:
        response = _send(api, operation, path, body, token="write")
        assert response.status_code == operation.status, (operation.operation_id, response.text)
