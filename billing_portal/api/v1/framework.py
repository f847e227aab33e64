"""The machinery every /api/v1 operation runs through, so each route is one row of data
(operations.py) and no route can skip a check:

1. Authorization: Bearer <seller key> (billing/seller_keys): missing, unknown, revoked keys,
   customers' usage keys (bpk_) and session cookies all get the same 401. A read key may only GET
   (403 otherwise).
2. Rate limit per key (RATE_LIMIT_SELLER_API, billing_portal/rate_limits.py): 429 with Retry-After.
3. Query and JSON body validated by the operation's pydantic models: 400 for a body that is not a
   JSON object (or nests too deep, or has a number too long: api/bodies.py), 422 naming the parameter
   for anything a model refuses. Bodies over 64 KB: 413, read no further.
4. POST with Idempotency-Key: the first successful answer is kept per key (api_idempotency_records)
   in the transaction of the change; the same key with the same method, path and body replays it
   (header Idempotent-Replayed: true), with another body it is 409. A failed request changed
   nothing and is not kept, so it may be retried with the same key. Two racing twins: the second
   waits on the unique index, then replays the first.
5. The handler runs in one transaction; every write is audited with the key id in it.
6. One error shape for every 4xx and 5xx: {"error": {"type", "code", "message", "param", "request_id"}}
   (the id is also the X-Request-Id header and in our log lines: api/middleware.py).
"""

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from billing_portal import logs, rate_limits
from billing_portal.api.bodies import BadBody, parse_json, read_body
from billing_portal.billing import usage
from billing_portal.billing.errors import DomainError, InvalidTransition, NotFound
from billing_portal.billing.files import StorageFailed
from billing_portal.billing.seller_api import repository
from billing_portal.billing.seller_api.service import Conflict, Invalid
from billing_portal.billing.seller_keys import service as seller_keys
from billing_portal.billing.seller_keys.schemas import Caller
from billing_portal.db import session_scope
from billing_portal.models import ApiIdempotencyRecord

logger = logging.getLogger(__name__)

PREFIX = "/api/v1"
MAX_BODY_BYTES = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True)
class Call:
    """What a handler gets: its transaction, the key, and the request already validated."""

    session: Session
    caller: Caller
    params: dict[str, str]
    query: Any
    body: Any
    idempotency_key: str | None


@dataclass(frozen=True)
class Operation:
    method: Literal["GET", "POST", "PATCH"]
    path: str  # Starlette and OpenAPI alike: /api/v1/customers/{customer}
    operation_id: str
    summary: str
    tag: str
    handler: Callable[[Call], BaseModel]
    response: type[BaseModel]
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    # POST only: "optional" (a retry-safe header), or "required" where the engine needs one (usage).
    idempotency: Literal["optional", "required"] | None = None
    description: str = ""
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404, 409, 422, 429))

    @property
    def writes(self) -> bool:
        """Needs a write key: everything but GET (a preview changes nothing, yet is a POST of a change)."""
        return self.method != "GET"

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)


class ApiError(Exception):
    def __init__(self, status: int, type_: str, code: str, message: str, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.type, self.code, self.message, self.param = status, type_, code, message, param
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return error_response(self.status, self.type, self.code, self.message, self.param, self.headers)


def error_response(status: int, type_: str, code: str, message: str, param: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": type_, "code": code, "message": message, "param": param,
                                   "request_id": logs.request_id()}},
                        status_code=status, headers={**NO_STORE, **(headers or {})})


UNAUTHORIZED = ApiError(401, "authentication_error", "invalid_api_key",
                        "Send a valid seller API key: Authorization: Bearer bps_...", headers={"WWW-Authenticate": "Bearer"})


def http_exception(request: Request, exc: HTTPException) -> Response:
    """Starlette's own 404 (no route) and 405 (wrong method): our shape under /api/v1, as before elsewhere."""
    if request.url.path.startswith(PREFIX + "/") or request.url.path == PREFIX:
        code = {404: "route_not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        type_ = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        message = {404: "No such route; see /api/v1/docs.", 405: "This route does not take this method."}.get(
            exc.status_code, str(exc.detail))
        return error_response(exc.status_code, type_, code, message, headers=exc.headers)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


def endpoint(operations: dict[str, Operation]):
    """One Starlette endpoint per path; the router has answered 405 for methods not in `operations`."""

    async def run(request: Request) -> Response:
        operation = operations["GET" if request.method == "HEAD" else request.method]
        try:
            raw = await read_body(request, MAX_BODY_BYTES) if operation.body is not None else b""
        except BadBody as exc:
            return error_response(exc.status, "invalid_request_error", exc.code, exc.message)
        return await run_in_threadpool(_run, operation, request.headers, dict(request.path_params),
                                       request.query_params.multi_items(), raw, request.url.path)

    return run


def _run(operation: Operation, headers, params: dict[str, str], query_items, raw: bytes, path: str) -> Response:
    try:
        return _answer(operation, headers, params, query_items, raw, path)
    except ApiError as exc:
        return exc.response()
    except Exception:  # a bug: logged with its traceback, answered in the one shape without it
        logger.exception("unexpected error in %s %s", operation.method, operation.path)
        return error_response(500, "api_error", "internal_error", "Something went wrong on our side; try again later.")


def _answer(operation: Operation, headers, params: dict[str, str], query_items, raw: bytes, path: str) -> Response:
    caller = authenticate(headers)
    if operation.writes and not caller.can_write:
        raise ApiError(403, "permission_error", "read_only_key", "This key is read-only; this operation needs a write key.")
    try:
        rate_limits.hit("seller_api", f"seller_key:{caller.key_id}")
    except rate_limits.RateLimited as exc:
        raise ApiError(429, "rate_limit_error", "rate_limited", str(exc),
                       headers={"Retry-After": str(exc.retry_after)}) from None
    query = _validate(operation.query, dict(query_items), "query") if operation.query else None
    body = _validate(operation.body, _json_object(raw), "body") if operation.body else None
    idempotency_key = _idempotency_key(operation, headers)

    def work(session: Session) -> dict:
        answer = operation.handler(Call(session, caller, params, query, body, idempotency_key))
        if operation.writes:
            seller_keys.audit_write(session, caller, operation=operation.operation_id, method=operation.method,
                                    path=path, status=operation.status)
        return answer.model_dump(mode="json")

    try:
        if idempotency_key is not None:
            return _idempotent(operation, caller, idempotency_key, _request_hash(operation.method, path, raw), work)
        with session_scope() as session:
            payload = work(session)
    except DomainError as exc:
        raise _translate(exc) from None
    except IntegrityError:
        raise ApiError(409, "conflict_error", "concurrent_change",
                       "Another request changed this at the same time; read it again and retry.") from None
    except StorageFailed:
        raise ApiError(503, "api_error", "storage_unavailable", "The document store is not reachable now; retry shortly.",
                       headers={"Retry-After": "30"}) from None
    return JSONResponse(payload, status_code=operation.status, headers=NO_STORE)


def authenticate(headers) -> Caller:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        raise UNAUTHORIZED
    with session_scope() as session:  # its own transaction: the use is noted even if the request fails
        caller = seller_keys.authenticate(session, token.strip())
    if caller is None:
        raise UNAUTHORIZED
    return caller


def _validate(model: type[BaseModel], data: dict, where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        raise ApiError(422, "invalid_request_error", "validation_error",
                       f"{param or where}: {first['msg']}"[:500], param) from None


def _json_object(raw: bytes) -> dict:
    if not raw.strip():
        return {}
    try:
        data = parse_json(raw)
    except BadBody as exc:
        raise ApiError(exc.status, "invalid_request_error", exc.code, exc.message) from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request_error", "invalid_json", "The body is a JSON object.")
    return data


def _idempotency_key(operation: Operation, headers) -> str | None:
    if operation.method != "POST":
        return None
    key = headers.get("idempotency-key")
    if key is None:
        if operation.idempotency == "required":
            raise ApiError(400, "invalid_request_error", "idempotency_key_required",
                           "Send an Idempotency-Key header, unique per request; a retry sends the same one.",
                           "Idempotency-Key")
        return None
    if not _IDEMPOTENCY_KEY.match(key):
        raise ApiError(400, "invalid_request_error", "invalid_idempotency_key",
                       "The Idempotency-Key is 1–255 visible ASCII characters without spaces.", "Idempotency-Key")
    return key


def _request_hash(method: str, path: str, raw: bytes) -> str:
    """Same request = same method, path and JSON body (key order and spacing do not matter)."""
    try:
        body = json.dumps(parse_json(raw), sort_keys=True, separators=(",", ":")).encode() if raw.strip() else b""
    except BadBody:
        body = raw
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def _idempotent(operation: Operation, caller: Caller, key: str, request_hash: str, work) -> Response:
    for attempt in (1, 2):
        try:
            with session_scope() as session:
                kept = repository.idempotency_record(session, caller.key_id, key)
                if kept is not None:
                    if kept.request_hash != request_hash:
                        raise ApiError(409, "idempotency_error", "idempotency_key_reused",
                                       "This Idempotency-Key was used for another request; send a new key for a new request.",
                                       "Idempotency-Key")
                    return JSONResponse(kept.response, status_code=kept.status_code,
                                        headers={**NO_STORE, "Idempotent-Replayed": "true"})
                record = ApiIdempotencyRecord(key_id=caller.key_id, idempotency_key=key, request_hash=request_hash)
                session.add(record)
                session.flush()  # a racing twin with this key waits here until we commit, then fails
                payload = work(session)
                record.status_code, record.response = operation.status, payload
                session.add(record)
            return JSONResponse(payload, status_code=operation.status, headers=NO_STORE)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _translate(exc: DomainError) -> ApiError:
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found_error", "resource_missing", str(exc))
    if isinstance(exc, Invalid):
        return ApiError(422, "invalid_request_error", "invalid_value", str(exc), exc.param)
    if isinstance(exc, Conflict):
        return ApiError(409, "conflict_error", "already_exists", str(exc), exc.param)
    if isinstance(exc, usage.IdempotencyConflict):
        return ApiError(409, "idempotency_error", "idempotency_key_reused", str(exc), "Idempotency-Key")
    if isinstance(exc, InvalidTransition):
        return ApiError(409, "conflict_error", "invalid_state", str(exc))
    return ApiError(422, "invalid_request_error", "refused", str(exc))
