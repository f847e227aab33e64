"""The OpenAPI 3.1 document of /api/v1, generated from the route table (operations.py) and the
pydantic models' JSON Schema (which is OpenAPI 3.1's dialect), and the reference page drawn from it.

A generator of our own over the table, not a framework: the API is plain Starlette routes mounted
in Reflex's app, and the framework's checks (auth, idempotency, one error shape) are what the
document must describe, which a table of rows describes exactly.
"""

import html
from functools import cache

from pydantic import BaseModel

from billing_portal.api.v1.framework import Operation
from billing_portal.billing.seller_api.schemas import Error

API_VERSION = "2026-12-07"
IDEMPOTENCY_PATTERN = "^[!-~]{1,255}$"
_STATUS_TEXT = {
    400: "Malformed request (not JSON, bad Idempotency-Key)", 401: "No valid seller key",
    403: "A read key on a write", 404: "No such object", 409: "Conflict (state, uniqueness, Idempotency-Key reuse)",
    422: "A parameter is refused (`param` names it)", 429: "Rate limited (see Retry-After)",
}


class _Components:
    def __init__(self) -> None:
        self.schemas: dict[str, dict] = {}

    def ref(self, model: type[BaseModel], mode: str) -> dict:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
        self.schemas.update(schema.pop("$defs", {}))
        self.schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}


def _parameters(operation: Operation) -> list[dict]:
    found = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 140},
              "description": "Our id (digits)" + ("; or ext_ + your external_id" if name == "customer" else "")}
             for name in operation.path_params]
    if operation.query is not None:
        schema = operation.query.model_json_schema(mode="validation")
        required = set(schema.get("required", ()))
        for name, prop in schema["properties"].items():
            entry = {"name": name, "in": "query", "required": name in required,
                     "schema": {k: v for k, v in prop.items() if k not in ("title", "description")}}
            if prop.get("description"):
                entry["description"] = prop["description"]
            found.append(entry)
    if operation.idempotency is not None:
        found.append({"name": "Idempotency-Key", "in": "header", "required": operation.idempotency == "required",
                      "schema": {"type": "string", "pattern": IDEMPOTENCY_PATTERN},
                      "description": "Unique per request: a retry with the same key and body replays the first answer."})
    return found


def _operation(operation: Operation, components: _Components) -> dict:
    error = {"content": {"application/json": {"schema": components.ref(Error, "serialization")}}}
    responses: dict[str, dict] = {
        str(operation.status): {"description": "OK" if operation.status == 200 else "Created",
                                "content": {"application/json": {"schema": components.ref(operation.response,
                                                                                          "serialization")}}},
    }
    for status in operation.errors:
        if status == 403 and not operation.writes:
            continue
        responses[str(status)] = {"description": _STATUS_TEXT[status], **error}
        if status == 429:
            responses[str(status)]["headers"] = {"Retry-After": {"schema": {"type": "string"},
                                                                 "description": "Seconds to wait"}}
    responses["default"] = {"description": "Any other error, in the same shape", **error}
    found = {"operationId": operation.operation_id, "summary": operation.summary, "tags": [operation.tag],
             "parameters": _parameters(operation), "responses": responses}
    if operation.description:
        found["description"] = operation.description
    if operation.body is not None:
        schema = operation.body.model_json_schema(mode="validation")
        found["requestBody"] = {"required": bool(schema.get("required")),
                                "content": {"application/json": {"schema": components.ref(operation.body, "validation")}}}
    return found


@cache
def document() -> dict:
    from billing_portal.api.v1.operations import OPERATIONS

    components = _Components()
    paths: dict[str, dict] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Billing Portal API", "version": API_VERSION,
                 "description": "The seller's REST API. Authenticate with a seller key: `Authorization: Bearer bps_...`. "
                                "Every error is `{\"error\": {\"type\", \"code\", \"message\", \"param\"}}`. Lists are "
                                "newest first: pass `next_cursor` as `starting_after`. Money is integer minor units."},
        "servers": [{"url": "/"}],
        "security": [{"sellerKey": []}],
        "paths": paths,
        "components": {"schemas": dict(sorted(components.schemas.items())),
                       "securitySchemes": {"sellerKey": {"type": "http", "scheme": "bearer",
                                                         "description": "A seller API key (bps_...), from /admin/api-keys"}}},
    }


def _type(schema: dict) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}))}"
    return str(schema.get("type", "any"))


def _fields_table(schema: dict) -> str:
    required = set(schema.get("required", ()))
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(_type(prop))}</td>"
        f"<td>{'required' if name in required else ''}</td><td>{html.escape(prop.get('description', ''))}</td></tr>"
        for name, prop in schema.get("properties", {}).items()
    )
    return f"<table><tr><th>field</th><th>type</th><th></th><th></th></tr>{rows}</table>" if rows else ""


def reference_page() -> str:
    """Every operation of the document, server-rendered: no scripts, no external assets."""
    doc = document()
    schemas = doc["components"]["schemas"]
    parts = [f"<h1>{html.escape(doc['info']['title'])} <small>{doc['info']['version']}</small></h1>",
             f"<p>{html.escape(doc['info']['description'])}</p>",
             '<p>Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1).</p>']
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            parts.append(f'<section id="{op["operationId"]}"><h2><span class="m">{method.upper()}</span> '
                         f"<code>{html.escape(path)}</code></h2><p><b>{html.escape(op['summary'])}</b>. "
                         f"{html.escape(op.get('description', ''))}</p>")
            params = "".join(
                f"<tr><td><code>{html.escape(p['name'])}</code></td><td>{p['in']}</td><td>{html.escape(_type(p['schema']))}</td>"
                f"<td>{'required' if p['required'] else ''}</td><td>{html.escape(p.get('description', ''))}</td></tr>"
                for p in op["parameters"])
            if params:
                parts.append(f"<h3>Parameters</h3><table>{params}</table>")
            if "requestBody" in op:
                name = _type(op["requestBody"]["content"]["application/json"]["schema"])
                parts.append(f"<h3>Body: {html.escape(name)}</h3>{_fields_table(schemas[name])}")
            ok = next(code for code in op["responses"] if code.startswith("2"))
            name = _type(op["responses"][ok]["content"]["application/json"]["schema"])
            errors = ", ".join(code for code in op["responses"] if not code.startswith("2"))
            parts.append(f"<h3>{ok}: {html.escape(name)}</h3>{_fields_table(schemas[name])}<p>Errors: {errors}.</p></section>")
    style = ("body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2937}"
             "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #d1d5db;padding:.2rem .5rem;"
             "text-align:left;vertical-align:top}.m{background:#1f2937;color:#fff;padding:0 .4rem;border-radius:4px}"
             "section{border-top:1px solid #e5e7eb;margin-top:1.5rem}")
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Billing Portal API reference</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
