"""The operators' CLI, run as an operator would: a subprocess with DATABASE_URL set."""

import json
import os
import subprocess
import sys

import pytest

from billing_portal.settings import PROJECT_ROOT


def cli(*args: str, db_url: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = os.environ | {"DATABASE_URL": db_url, "BILLING_PORTAL_ENV_FILE": os.devnull}
    return subprocess.run(
        [sys.executable, "-m", "billing_portal", *args],
        input=stdin, capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=120,
    )


@pytest.fixture
def empty_sqlite(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_migrate_seed_and_list_invoices(empty_sqlite):
    assert cli("migrate", db_url=empty_sqlite).returncode == 0
    seeded = cli("seed-demo", db_url=empty_sqlite)
    assert seeded.returncode == 0, seeded.stderr
    assert "demo@example.com" in seeded.stdout and "admin@example.com" in seeded.stdout
    again = cli("seed-demo", db_url=empty_sqlite)
    assert "there already" in again.stdout

    listed = cli("invoices", "list", "--json", db_url=empty_sqlite)
    invoices = json.loads(listed.stdout)
    assert len(invoices) >= 12 and {i["currency"] for i in invoices} == {"KRW"}
    numbers = [i["number"] for i in invoices]
    assert len(set(numbers)) == len(numbers)
    table = cli("invoices", "list", "--limit", "2", db_url=empty_sqlite)
    assert "₩15,000" in table.stdout and len(table.stdout.strip().splitlines()) == 3


def test_create_admin_with_password_from_stdin_and_generated(empty_sqlite):
    cli("migrate", db_url=empty_sqlite)
    given = cli("create-admin", "ops@example.com", "--password-stdin", db_url=empty_sqlite, stdin="a long enough pw\n")
    assert given.returncode == 0 and "Generated" not in given.stdout
    generated = cli("create-admin", "ops2@example.com", db_url=empty_sqlite)
    assert generated.returncode == 0 and "Generated password (shown once):" in generated.stdout
    duplicate = cli("create-admin", "ops@example.com", db_url=empty_sqlite)
    assert duplicate.returncode == 1 and duplicate.stderr.startswith("error: An account with this email")
    assert "Traceback" not in duplicate.stderr


def test_errors_are_one_line_and_non_zero(empty_sqlite):
    unmigrated = cli("invoices", "list", db_url=empty_sqlite)
    assert unmigrated.returncode == 1 and "migrate" in unmigrated.stderr and "Traceback" not in unmigrated.stderr
    bad_flag = cli("invoices", "list", "--limit", "zero", db_url=empty_sqlite)
    assert bad_flag.returncode == 2 and "not a whole number" in bad_flag.stderr
    assert cli("--help", db_url=empty_sqlite).returncode == 0
    for command in (["migrate"], ["seed-demo"], ["create-admin"], ["invoices", "list"], ["reconcile"]):
        assert cli(*command, "--help", db_url=empty_sqlite).returncode == 0


def test_usage_record_and_summary(empty_sqlite):
    cli("migrate", db_url=empty_sqlite)
    cli("seed-demo", db_url=empty_sqlite)
    record = ("usage", "record", "--customer", "demo@example.com", "--metric", "api_calls", "--quantity", "750")
    done = cli(*record, "--idempotency-key", "ops-1", db_url=empty_sqlite)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Recorded: 750 api_calls at ")
    again = cli(*record, "--idempotency-key", "ops-1", db_url=empty_sqlite)
    assert again.returncode == 0 and again.stdout.startswith("Already recorded: 750 api_calls")
    changed = cli(*record[:-1], "751", "--idempotency-key", "ops-1", db_url=empty_sqlite)
    assert changed.returncode == 1 and "used already for 750 api_calls" in changed.stderr
    assert "Traceback" not in changed.stderr
    nobody = cli(*record[:3], "nobody@example.com", *record[4:], "--idempotency-key", "x", db_url=empty_sqlite)
    assert nobody.returncode == 1 and "no customer with the email nobody@example.com" in nobody.stderr
    bad_at = cli(*record, "--idempotency-key", "ops-2", "--at", "soon", db_url=empty_sqlite)
    assert bad_at.returncode == 1 and "ISO 8601" in bad_at.stderr

    summary = json.loads(cli("usage", "summary", "--customer", "demo@example.com", "--json", db_url=empty_sqlite).stdout)
    # The demo's 14,250 calls and these 750: 15,000 on Starter, 5,000 past the 10,000 included = 5 × ₩2,000.
    assert [(m["metric"], m["used"], m["packages"], m["amount"]) for m in summary["metrics"]] == [
        ("api_calls", 15_000, 5, 10_000)
    ]
    assert (summary["currency"], summary["amount"]) == ("KRW", 10_000)
    table = cli("usage", "summary", "--customer", "demo@example.com", db_url=empty_sqlite)
    assert "api_calls" in table.stdout and "₩10,000" in table.stdout
    assert cli("usage", "record", "--help", db_url=empty_sqlite).returncode == 0


def test_reconcile_finds_a_charge_we_never_recorded_and_heals_it(empty_sqlite, localstripe_clean, monkeypatch):
    from sqlmodel import Session, select

    from billing_portal.db import engine_for
    from billing_portal.gateways.stripe_gateway import StripeGateway
    from billing_portal.models import Customer, Payment
    from tests.gateways.conftest import SECRET_KEY, WEBHOOK_SECRET, LocalStripeHelper

    monkeypatch.setenv("STRIPE_API_BASE", localstripe_clean.url)  # cli() passes the environment on

    def run(*args):
        return cli("reconcile", *args, db_url=empty_sqlite)

    assert cli("migrate", db_url=empty_sqlite).returncode == 0
    assert cli("seed-demo", db_url=empty_sqlite).returncode == 0
    clean = run()
    assert clean.returncode == 0 and "0 discrepancies" in clean.stdout, clean.stderr

    gw = StripeGateway(secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET, api_base=localstripe_clean.url)
    stripe_customer = gw.ensure_customer(stripe_customer_id=None, email="demo@example.com", name="Demo", country="KR",
                                         idempotency_key="customer:demo")
    card = gw.attach_payment_method(LocalStripeHelper(localstripe_clean.url).create_payment_method("4242424242424242"),
                                    stripe_customer)
    charged = gw.charge(stripe_customer_id=stripe_customer, payment_method_id=card.id, amount=15000, currency="KRW",
                        idempotency_key="made-in-the-dashboard", off_session=True)
    with Session(engine_for(empty_sqlite)) as session:
        demo = session.exec(select(Customer).where(Customer.invoice_email == "demo@example.com")).one()
        demo.stripe_customer_id = stripe_customer
        session.add(demo)
        session.commit()

    found = run("--json")
    assert found.returncode == 1 and "1 discrepancies remain" in found.stderr
    [item] = json.loads(found.stdout)["discrepancies"]
    assert (item["kind"], item["stripe_id"], item["healable"]) == ("missing_here", charged.payment_intent_id, True)
    healed = run("--heal")
    assert healed.returncode == 0 and "1 healed" in healed.stdout, healed.stdout + healed.stderr
    with Session(engine_for(empty_sqlite)) as session:
        assert session.exec(select(Payment).where(Payment.stripe_payment_intent_id == charged.payment_intent_id)).one()
    assert run("--from", "2026-01-01", "--to", "2025-12-31").stderr.startswith("error: The end date is before")


def test_api_keys_create_list_revoke(empty_sqlite):
    cli("migrate", db_url=empty_sqlite)
    created = cli("api-keys", "create", "--name", "app server", "--scope", "read", db_url=empty_sqlite)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("bps_")
    listed = json.loads(cli("api-keys", "list", "--json", db_url=empty_sqlite).stdout)
    assert [(k["id"], k["name"], k["scope"], k["prefix"]) for k in listed] == [(1, "app server", "read", token[:12])]
    assert token not in cli("api-keys", "list", db_url=empty_sqlite).stdout
    assert cli("api-keys", "revoke", "1", db_url=empty_sqlite).returncode == 0
    assert json.loads(cli("api-keys", "list", "--json", db_url=empty_sqlite).stdout) == []
    assert json.loads(cli("api-keys", "list", "--all", "--json", db_url=empty_sqlite).stdout)[0]["revoked_at"]
    again = cli("api-keys", "revoke", "1", db_url=empty_sqlite)
    assert again.returncode == 1 and again.stderr.strip() == "error: No such live API key."
    assert cli("api-keys", "create", "--name", "x", "--scope", "admin", db_url=empty_sqlite).returncode == 2
