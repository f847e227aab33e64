"""The operators' CLI: `python -m billing_portal COMMAND`. Every command has --help and exits
non-zero with a one-line message on failure (no traceback for errors a person can fix)."""

import argparse
import getpass
import json
import secrets
import sys
from collections.abc import Callable

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from billing_portal import logs
from billing_portal.billing.accounts import create_user
from billing_portal.billing.errors import DomainError
from billing_portal.billing.money import format_money
from billing_portal.db import session_scope
from billing_portal.models import Role
from billing_portal.settings import get_settings


class CommandError(Exception):
    """A failure to report in one line and exit 1."""


def cmd_migrate(_args: argparse.Namespace) -> None:
    from billing_portal.migrations import upgrade_to_head

    upgrade_to_head()
    print("Database is at the latest migration.")
    if get_settings().database_url.startswith("postgresql"):
        from billing_portal.jobs.queue import ensure_schema

        # procrastinate's own tables, so JOBS_BACKEND=procrastinate workers can start any time.
        if ensure_schema():
            print("Installed the job queue's tables (procrastinate).")


def cmd_seed_demo(_args: argparse.Namespace) -> None:
    from billing_portal.demo import DEMO_ADMIN, DEMO_CUSTOMER, seed_demo

    with session_scope() as session:
        report = seed_demo(session)
    created = [name for name, done in (("catalog", report.created_catalog), ("demo customer", report.created_customer),
                                       ("demo admin", report.created_admin)) if done]
    print(f"Demo data: created {', '.join(created)}." if created else "Demo data was there already.")
    print(f"  customer: {DEMO_CUSTOMER[0]} / {DEMO_CUSTOMER[1]}")
    print(f"  admin:    {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}")


def cmd_create_admin(args: argparse.Namespace) -> None:
    generated = False
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password (empty to generate one): ")
        if password and password != getpass.getpass("Repeat it: "):
            raise CommandError("The two passwords differ.")
    else:
        password = ""
    if not password:
        password, generated = secrets.token_urlsafe(18), True
    with session_scope() as session:
        user = create_user(session, email=args.email, password=password, name=args.name, role=Role.ADMIN)
    print(f"Admin {user.email} created.")
    if generated:
        print(f"Generated password (shown once): {password}")


def cmd_invoices_list(args: argparse.Namespace) -> None:
    from billing_portal.billing import repository

    with session_scope() as session:
        rows = repository.all_invoices(session, limit=args.limit, status=args.status)
    data = [
        {
            "number": inv.number,
            "status": inv.status,
            "customer_id": inv.customer_id,
            "currency": inv.currency,
            "total": inv.total,
            "amount_paid": inv.amount_paid,
            "amount_refunded": inv.amount_refunded,
            "created_at": inv.created_at.isoformat(),
        }
        for inv in rows
    ]
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not data:
        print("No invoices.")
        return
    print(f"{'NUMBER':<20} {'STATUS':<14} {'TOTAL':>16} {'CREATED':<10}")
    for row in data:
        total = format_money(row["total"], row["currency"])
        print(f"{row['number'] or '(draft)':<20} {row['status']:<14} {total:>16} {row['created_at'][:10]:<10}")


def cmd_invoices_pdf(args: argparse.Namespace) -> None:
    import os
    import tempfile
    from pathlib import Path

    from billing_portal.billing.invoice_pdfs import invoice_pdf_bytes

    with session_scope() as session:
        data = invoice_pdf_bytes(session, args.number)
    out = Path(args.out)
    if out.is_dir():
        raise CommandError(f"{out} is a directory; give a file name, e.g. {out / (args.number + '.pdf')}")
    tmp = None
    try:  # write beside the target, then rename: no half-written PDF under the name
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".invoice-", suffix=".pdf")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, out)
    except OSError as exc:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
        raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"Wrote {out} ({len(data):,} bytes).")


def cmd_webhooks_list(args: argparse.Namespace) -> None:
    from billing_portal.billing import webhooks

    with session_scope() as session:
        rows = webhooks.list_events(session, status=args.status, limit=args.limit)
    data = [
        {
            "id": row.stripe_event_id,
            "type": row.type,
            "status": row.status,
            "attempts": row.attempts,
            "created": row.created.isoformat(),
            "received_at": row.received_at.isoformat(),
            "processed_at": row.processed_at.isoformat() if row.processed_at else None,
            "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
            "last_error": row.last_error,
        }
        for row in rows
    ]
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not data:
        print("No webhook events.")
        return
    print(f"{'EVENT':<32} {'TYPE':<34} {'STATUS':<10} {'TRIES':>5} {'RECEIVED':<19}  LAST ERROR")
    for row in data:
        print(f"{row['id']:<32} {row['type']:<34} {row['status']:<10} {row['attempts']:>5} "
              f"{row['received_at'][:19]:<19}  {row['last_error'][:60]}")


def cmd_webhooks_replay(args: argparse.Namespace) -> None:
    from billing_portal.billing import webhooks

    with session_scope() as session:
        row = webhooks.replay(session, args.event_id)
        status, error = row.status, row.last_error
    print(f"{args.event_id}: {status}" + (f" ({error})" if error else ""))
    if status in ("failed", "retrying"):
        raise CommandError(f"event {args.event_id} did not process: {error or status}")


def _chosen_jobs(args: argparse.Namespace) -> set[str] | None:
    from billing_portal.jobs.runner import JOBS

    only = set(args.job) if args.job else None
    unknown = (only or set()) - {job.name for job in JOBS}
    if unknown:
        raise CommandError(f"unknown job(s): {', '.join(sorted(unknown))}; known: {', '.join(j.name for j in JOBS)}")
    return only


def cmd_jobs_work(args: argparse.Namespace) -> None:
    import asyncio
    import signal

    from billing_portal.jobs.runner import run_forever

    only = _chosen_jobs(args)
    if get_settings().jobs_backend == "procrastinate":
        from billing_portal.jobs.queue import run_worker

        print("procrastinate job worker running (Ctrl-C or SIGTERM stops it)", flush=True)
        run_worker(name=args.name, only=only)
        return

    async def work() -> None:
        task = asyncio.ensure_future(run_forever(only=only))
        for stop in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(stop, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    print("job worker running (Ctrl-C or SIGTERM stops it)", flush=True)
    asyncio.run(work())


def cmd_jobs_run_once(args: argparse.Namespace) -> None:
    from billing_portal.jobs.runner import run_once

    done = run_once(only=_chosen_jobs(args))
    for name, count in done.items():
        print(f"{name}: {'FAILED (see log)' if count < 0 else count}")
    if any(count < 0 for count in done.values()):
        raise CommandError("some jobs failed")


def _customer_id(session, email: str) -> int:
    from billing_portal.billing import repository
    from billing_portal.billing.accounts import normalize_email

    customer = repository.customer_by_email(session, normalize_email(email))
    if customer is None:
        raise CommandError(f"no customer with the email {email}")
    return customer.id


def cmd_usage_record(args: argparse.Namespace) -> None:
    from billing_portal.billing import usage

    with session_scope() as session:
        at = usage.parse_timestamp(args.at) if args.at else None
        done = usage.record_usage(session, _customer_id(session, args.customer), args.metric, args.quantity,
                                  args.idempotency_key, at)
        record = done.record
        print(f"{'Already recorded' if done.replayed else 'Recorded'}: {record.quantity:,} {record.metric} at "
              f"{record.recorded_at.isoformat()} (key {record.idempotency_key}).")


def cmd_usage_summary(args: argparse.Namespace) -> None:
    from billing_portal.billing import usage

    with session_scope() as session:
        summary = usage.summary(session, _customer_id(session, args.customer))
    if not summary.has_subscription:
        raise CommandError(f"{args.customer} has no running subscription")
    data = {
        "currency": summary.currency,
        "period_start": summary.period_start.isoformat(),
        "period_end": summary.period_end.isoformat(),
        "trial": summary.trial,
        "amount": summary.amount,
        "metrics": [
            {"metric": m.metric, "label": m.label, "used": m.used, "included": m.included,
             "package_size": m.package_size, "package_amount": m.package_amount, "packages": m.packages,
             "amount": m.amount}
            for m in summary.metrics + summary.earlier
        ],
    }
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    print(f"Period {data['period_start'][:10]} – {data['period_end'][:10]}" + (" (trial: not charged)" if summary.trial else ""))
    print(f"{'METRIC':<24} {'USED':>14} {'INCLUDED':>14} {'ADDS':>16}")
    for m in summary.metrics + summary.earlier:
        print(f"{m.metric:<24} {m.used:>14,} {m.included:>14,} {format_money(m.amount, m.currency):>16}")
    print(f"{'total before tax':<24} {'':>14} {'':>14} {format_money(summary.amount, summary.currency):>16}")


def cmd_api_keys_create(args: argparse.Namespace) -> None:
    from billing_portal.billing.seller_keys import service

    with session_scope() as session:
        created = service.create(session, actor="cli", name=args.name, scope=args.scope)
    print(f"API key {created.key.id} ({created.key.scope}) created. The token, shown once:")
    print(created.token)


def cmd_api_keys_list(args: argparse.Namespace) -> None:
    from billing_portal.billing.seller_keys import service

    with session_scope() as session:
        keys = service.list_keys(session, include_revoked=args.all)
    if args.json:
        print(json.dumps([{"id": k.id, "name": k.name, "scope": k.scope, "prefix": k.prefix,
                           "created_at": k.created_at.isoformat(),
                           "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                           "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None} for k in keys], indent=2))
        return
    print(f"{'ID':>5}  {'SCOPE':<6} {'PREFIX':<13} {'LAST USED':<17} NAME")
    for k in keys:
        used = k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "never"
        print(f"{k.id:>5}  {k.scope:<6} {k.prefix:<13} {used:<17} {k.name}{'  (revoked)' if k.revoked_at else ''}")


def cmd_api_keys_revoke(args: argparse.Namespace) -> None:
    from billing_portal.billing.seller_keys import service

    with session_scope() as session:
        key = service.revoke(session, actor="cli", key_id=args.key_id)
    print(f"API key {key.id} ({key.name}) revoked.")


def cmd_reconcile(args: argparse.Namespace) -> None:
    from datetime import timedelta

    from billing_portal.billing import reconciliation
    from billing_portal.models.types import utcnow

    today = utcnow().date()
    first, last = args.date_from or today - timedelta(days=1), args.date_to or today
    start, end = reconciliation.day_range(first, last)
    with session_scope() as session:
        report = reconciliation.reconcile(session, start=start, end=end, actor="cli", heal=args.heal)
    if args.json:
        print(json.dumps({
            "from": first.isoformat(), "to": last.isoformat(), "payments_checked": report.payments_checked,
            "refunds_checked": report.refunds_checked, "healed": report.healed,
            "discrepancies": [{"kind": d.kind, "object": d.object_type, "stripe_id": d.stripe_id, "our_id": d.our_id,
                               "ours": d.ours, "stripe": d.theirs, "healable": d.healable, "healed": d.healed,
                               "note": d.note} for d in report.discrepancies],
        }, ensure_ascii=False, indent=2))
    else:
        print(f"{first} to {last}: {report.payments_checked} payments and {report.refunds_checked} refunds checked, "
              f"{len(report.discrepancies)} discrepancies, {report.healed} healed.")
        for d in report.discrepancies:
            state = "healed" if d.healed else "healable (--heal)" if d.healable else "needs a person"
            print(f"  {d.kind:<18} {d.object_type:<8} {d.stripe_id:<30} ours: {d.ours or '-'} | stripe: {d.theirs or '-'}"
                  f" | {state}{' · ' + d.note if d.note else ''}")
    if report.open:
        raise CommandError(f"{report.open} discrepancies remain")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m billing_portal", description="Billing Portal operations.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("migrate", help="apply database migrations up to the latest").set_defaults(run=cmd_migrate)
    commands.add_parser("seed-demo", help="load demo plans, prices, a demo customer and admin (idempotent)").set_defaults(
        run=cmd_seed_demo
    )

    admin = commands.add_parser("create-admin", help="create an admin user")
    admin.add_argument("email")
    admin.add_argument("--name", default="Administrator", help="display name (default: Administrator)")
    admin.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    admin.set_defaults(run=cmd_create_admin)

    invoices = commands.add_parser("invoices", help="invoice commands")
    invoice_commands = invoices.add_subparsers(dest="invoice_command", required=True, metavar="ACTION")
    listing = invoice_commands.add_parser("list", help="list invoices, newest first")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.add_argument("--limit", type=_positive_int, default=50, help="at most this many (default 50)")
    listing.add_argument("--status", choices=["draft", "open", "paid", "void", "uncollectible"])
    listing.set_defaults(run=cmd_invoices_list)
    pdf = invoice_commands.add_parser("pdf", help="render an invoice's PDF from the stored invoice")
    pdf.add_argument("number", metavar="NUMBER", help="the invoice number, e.g. INV-2026-000001")
    pdf.add_argument("--out", required=True, metavar="FILE", help="where to write the PDF")
    pdf.set_defaults(run=cmd_invoices_pdf)

    hooks = commands.add_parser("webhooks", help="Stripe webhook events")
    hook_commands = hooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    hook_list = hook_commands.add_parser("list", help="list received events, newest first")
    hook_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    hook_list.add_argument("--limit", type=_positive_int, default=50, help="at most this many (default 50)")
    hook_list.add_argument("--status", choices=["received", "retrying", "processed", "ignored", "failed"])
    hook_list.set_defaults(run=cmd_webhooks_list)
    hook_replay = hook_commands.add_parser("replay", help="process a stored event again")
    hook_replay.add_argument("event_id", metavar="EVENT_ID", help="Stripe's event id, e.g. evt_1N...")
    hook_replay.set_defaults(run=cmd_webhooks_replay)

    reconcile = commands.add_parser("reconcile", help="compare our payments and refunds with Stripe's")
    reconcile.add_argument("--from", dest="date_from", type=_day, metavar="YYYY-MM-DD", help="first day (default: yesterday, UTC)")
    reconcile.add_argument("--to", dest="date_to", type=_day, metavar="YYYY-MM-DD", help="last day, included (default: today)")
    reconcile.add_argument("--heal", action="store_true", help="fix what can be fixed safely (each fix is audited)")
    reconcile.add_argument("--json", action="store_true", help="print JSON instead of lines")
    reconcile.set_defaults(run=cmd_reconcile)

    jobs = commands.add_parser("jobs", help="background jobs")
    job_commands = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    once = job_commands.add_parser("run-once", help="run the due jobs once and exit")
    once.add_argument("--job", action="append", help="run only this job (repeatable)")
    once.set_defaults(run=cmd_jobs_run_once)
    work = job_commands.add_parser("work", help="run jobs on their schedules until stopped (a job worker)")
    work.add_argument("--job", action="append", help="run only this job (repeatable)")
    work.add_argument("--name", help="the worker's name in procrastinate's logs (JOBS_BACKEND=procrastinate)")
    work.set_defaults(run=cmd_jobs_work)

    metered = commands.add_parser("usage", help="metered usage of a customer")
    usage_commands = metered.add_subparsers(dest="usage_command", required=True, metavar="ACTION")
    record = usage_commands.add_parser("record", help="record usage (idempotent per customer and key)")
    record.add_argument("--customer", required=True, metavar="EMAIL", help="the customer's sign-in email")
    record.add_argument("--metric", required=True, help="e.g. api_calls")
    record.add_argument("--quantity", required=True, type=int, help="a positive whole number of units")
    record.add_argument("--idempotency-key", required=True, metavar="KEY", help="unique per report; a retry reuses it")
    record.add_argument("--at", metavar="TIMESTAMP", help="when it happened, ISO 8601 with a zone (default now)")
    record.set_defaults(run=cmd_usage_record)
    usage_summary = usage_commands.add_parser("summary", help="the current period's usage and what it will add")
    usage_summary.add_argument("--customer", required=True, metavar="EMAIL", help="the customer's sign-in email")
    usage_summary.add_argument("--json", action="store_true", help="print JSON instead of a table")
    usage_summary.set_defaults(run=cmd_usage_summary)

    keys = commands.add_parser("api-keys", help="the seller's server keys for the REST API (/api/v1)")
    key_commands = keys.add_subparsers(dest="api_keys_command", required=True, metavar="ACTION")
    key_create = key_commands.add_parser("create", help="create a key (its token is printed once)")
    key_create.add_argument("--name", required=True, help="what uses it, e.g. 'app server'")
    key_create.add_argument("--scope", required=True, choices=["read", "write"])
    key_create.set_defaults(run=cmd_api_keys_create)
    key_list = key_commands.add_parser("list", help="list live keys, newest first")
    key_list.add_argument("--all", action="store_true", help="include revoked keys")
    key_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    key_list.set_defaults(run=cmd_api_keys_list)
    key_revoke = key_commands.add_parser("revoke", help="revoke a key at once")
    key_revoke.add_argument("key_id", type=_positive_int_id, metavar="ID")
    key_revoke.set_defaults(run=cmd_api_keys_revoke)
    return parser


def _positive_int_id(text: str) -> int:
    from billing_portal.ids import parse_id

    value = parse_id(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"not a key id: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("must be between 1 and 10000")
    return value


def _day(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:  # a setting a person can fix: name it, no traceback
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]).upper()
            print(f"error: settings: {field + ': ' if field else ''}{error['msg']}", file=sys.stderr)
        return 1
    logs.configure(settings.log_level)
    run: Callable[[argparse.Namespace], None] = args.run
    try:
        run(args)
    except (CommandError, DomainError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        print(f"error: the database is not reachable or not migrated ({exc.orig.__class__.__name__}); "
              "run `python -m billing_portal migrate` and check DATABASE_URL.", file=sys.stderr)
        return 1
    return 0
