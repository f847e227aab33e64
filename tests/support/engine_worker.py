"""One engine operation in a process of its own, for crash tests to SIGKILL in the middle of it.

    python -m tests.support.engine_worker pay '{"user": {...}, "setup_intent_id": "seti_…", "price_id": 1}'
    python -m tests.support.engine_worker approve_refund '{"admin": {...}, "request_id": 3}'
    python -m tests.support.engine_worker renew '{"now": "2026-03-03T12:00:00+00:00"}'
    python -m tests.support.engine_worker finalize '{"invoice_id": 7}'

Each runs as the pages and jobs run it (one `session_scope` transaction, or the job function), with
the settings of the environment (DATABASE_URL, STRIPE_API_BASE...). `spawn` starts one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from datetime import datetime

from tests.support.stand_ins import REPO_ROOT


def spawn(operation: str, **arguments) -> subprocess.Popen:
    """Start `operation` in a child process with this process's environment (settings included)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    payload = json.dumps(arguments, default=lambda value: asdict(value))
    return subprocess.Popen([sys.executable, "-m", "tests.support.engine_worker", operation, payload],
                            cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def _run(operation: str, arguments: dict) -> object:
    # Imports per operation: a worker starts faster with less to import.
    from billing_portal.billing.accounts import CurrentUser
    from billing_portal.db import session_scope

    if operation == "renew":
        from billing_portal.jobs import tasks

        return tasks.renew_due_subscriptions(datetime.fromisoformat(arguments["now"]))
    with session_scope() as session:
        if operation == "pay":
            from billing_portal.billing import checkout

            return checkout.pay(session, user=CurrentUser(**arguments["user"]),
                                setup_intent_id=arguments["setup_intent_id"], price_id=arguments["price_id"]).status
        if operation == "approve_refund":
            from billing_portal.billing import refund_decisions

            return refund_decisions.approve(session, request_id=arguments["request_id"],
                                            admin=CurrentUser(**arguments["admin"])).status
        if operation == "finalize":
            from billing_portal.billing import invoices

            return invoices.finalize(session, arguments["invoice_id"]).number
    raise SystemExit(f"unknown operation {operation!r}")


if __name__ == "__main__":
    print(json.dumps(_run(sys.argv[1], json.loads(sys.argv[2]))), flush=True)
