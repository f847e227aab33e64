"""billing_portal.sandbox.localstripe_server: serves the Stripe API and never touches localstripe's pickle."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import stripe

from billing_portal.sandbox import localstripe_server
from tests.support import stand_ins

# Hard-coded in localstripe.resources.Store (not tempfile.gettempdir()).
PICKLE = Path("/tmp/localstripe.pickle")


def _snapshot(path: Path):
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def test_serves_stripe_api_without_writing_the_pickle(localstripe_clean):
    before = _snapshot(PICKLE)
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": localstripe_clean.url})

    customer = client.v1.customers.create(params={"email": "ada@example.com", "name": "Ada"})
    intent = client.v1.payment_intents.create(params={
        "amount": 1999,
        "currency": "usd",
        "customer": customer["id"],
        "payment_method": "pm_card_visa",
        "confirm": True,
    })

    assert customer["id"].startswith("cus_")
    assert intent["status"] == "succeeded"
    assert intent["amount"] == 1999
    assert client.v1.customers.retrieve(customer["id"])["email"] == "ada@example.com"
    assert _snapshot(PICKLE) == before, f"{PICKLE} was written"


def test_reset_empties_the_store(localstripe_clean):
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": localstripe_clean.url})
    client.v1.customers.create(params={"email": "gone@example.com"})
    status, _ = stand_ins.http_request("DELETE", localstripe_clean.url + "/_config/data")
    assert status == 200
    assert len(client.v1.customers.list()["data"]) == 0


def test_disable_persistence_makes_the_store_memory_only(monkeypatch):
    from localstripe import resources

    # Restore localstripe's own methods after the test.
    monkeypatch.setattr(resources.Store, "dump_to_disk", resources.Store.dump_to_disk)
    monkeypatch.setattr(resources.Store, "try_load_from_disk", resources.Store.try_load_from_disk)

    def no_disk(*args, **kwargs):
        raise AssertionError("localstripe touched the disk")

    localstripe_server.disable_persistence()
    monkeypatch.setattr(resources.pickle, "dump", no_disk)
    monkeypatch.setattr(resources.pickle, "load", no_disk)
    monkeypatch.setattr("builtins.open", no_disk)

    store = resources.Store()
    store.try_load_from_disk()
    store["customer:cus_1"] = object()
    del store["customer:cus_1"]
    store.dump_to_disk()


def test_extra_routes_are_served(tmp_path):
    script = tmp_path / "with_route.py"
    script.write_text(textwrap.dedent("""
        import sys
        from aiohttp import web
        from billing_portal.sandbox import localstripe_server

        async def hello(request):
            return web.json_response({"object": "hello"})

        localstripe_server.main(sys.argv[1:], extra_routes=[web.get("/v1/_hello", hello)])
    """))
    env = dict(os.environ, PYTHONPATH=str(stand_ins.REPO_ROOT), PYTHONUNBUFFERED="1")

    def hello_answers(handle):
        # Added routes sit behind localstripe's middlewares: /v1/... needs an sk_ key.
        status, body = stand_ins.http_request("GET", handle.url + "/v1/_hello",
                                              headers={"Authorization": "Bearer sk_test_x"})
        return status == 200 and b'"hello"' in body

    with stand_ins.start_process(
        "localstripe-extra",
        lambda port, _: [sys.executable, str(script), "--port", str(port)],
        "http://127.0.0.1:{port}",
        hello_answers,
        cwd=stand_ins.REPO_ROOT,
        env=env,
    ) as handle:
        # localstripe's own routes still work next to the added one.
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": handle.url})
        assert client.v1.customers.create(params={})["object"] == "customer"
    assert handle.proc.poll() is not None
