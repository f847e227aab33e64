"""POST /api/usage: customers report metered usage with an API key (billing/usage.py has the rules).

    Authorization: Bearer bpk_...        (a key from /billing/usage)
    Idempotency-Key: <1–255 visible ASCII characters>, unique per report
    {"metric": "api_calls", "quantity": 120, "timestamp": "2026-12-03T09:00:00Z"}   (timestamp optional)

Answers: 201 with the record; 200 with the same record when the key was used for this same report
(a retry); 401 for a missing, unknown or revoked key, alike, so the answer tells nothing about which
keys exist; 400 with {"error", "message"} for bad input (nothing is stored); 409 when the key was
used for another report; 413 for a body over 16 KB (bodies.py also bounds nesting and numbers: 400); 429 with Retry-After over RATE_LIMIT_USAGE_API.
"""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from billing_portal.api.bodies import BadBody, parse_json, read_body
from billing_portal.api.security import over_rate_limit
from billing_portal.billing import api_keys, usage
from billing_portal.billing.errors import DomainError
from billing_portal.db import session_scope

MAX_BODY_BYTES = 16 * 1024
_NO_STORE = {"Cache-Control": "no-store"}


def _error(status: int, error: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status, headers={**_NO_STORE, **headers})


async def record_usage(request: Request) -> JSONResponse:
    if limited := over_rate_limit("usage_api", request):
        return limited
    try:
        body = await read_body(request, MAX_BODY_BYTES)
    except BadBody as exc:
        return _error(exc.status, exc.code, exc.message)
    return await run_in_threadpool(_record, request.headers, body)


def _record(headers, body: bytes) -> JSONResponse:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    with session_scope() as session:
        key = api_keys.authenticate(session, token.strip()) if scheme.lower() == "bearer" else None
        if key is None:
            return _error(401, "unauthorized", "Send a valid API key: Authorization: Bearer <key>.",
                          **{"WWW-Authenticate": "Bearer"})
        idempotency_key = headers.get("idempotency-key", "")
        if not idempotency_key:
            return _error(400, "idempotency_key_required",
                          "Send an Idempotency-Key header, unique per report; a retry sends the same one.")
        try:
            report = _parse(body)
            done = usage.record_usage(
                session, key.customer_id, report["metric"], report["quantity"], idempotency_key,
                usage.parse_timestamp(report["timestamp"]) if report.get("timestamp") is not None else None,
            )
        except BadBody as exc:  # parse_json's 400s are bad input like any other here
            return _error(400, "invalid_request", f'{exc.message} Send {{"metric": "api_calls", "quantity": 1}}.')
        except usage.IdempotencyConflict as exc:
            return _error(409, "idempotency_conflict", str(exc))
        except DomainError as exc:
            return _error(400, "invalid_request", str(exc))
        record = done.record
        answer = {
            "id": record.id,
            "metric": record.metric,
            "quantity": record.quantity,
            "timestamp": record.recorded_at.isoformat(),
            "idempotency_key": record.idempotency_key,
            "replayed": done.replayed,
        }
    return JSONResponse(answer, status_code=200 if done.replayed else 201, headers=_NO_STORE)


def _parse(body: bytes) -> dict:
    report = parse_json(body)
    if not isinstance(report, dict):
        raise DomainError('The body is a JSON object: {"metric": "api_calls", "quantity": 1}.')
    unknown = set(report) - {"metric", "quantity", "timestamp"}
    if unknown:
        raise DomainError(f"Unknown fields: {', '.join(sorted(unknown))[:200]}. Send metric, quantity and timestamp.")
    if not isinstance(report.get("metric"), str):
        raise DomainError("metric is a string, e.g. \"api_calls\".")
    if "quantity" not in report:
        raise DomainError("quantity is required: a whole number of units.")
    return report
