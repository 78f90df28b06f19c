"""OpenAPI documentation of error responses, so every status a route returns is declared.

Two layers:
- `responses(404, 409, ...)` on a route declares its own statuses (plus the common ones);
- `install_openapi(app)` post-processes the generated document so every operation lists the
  statuses the platform itself can return, even on routes that forgot `responses=`:
  400 (bad JSON/encoding, bad `Idempotency-Key`), 413/415 on routes with a body, 401/403/429 on
  authenticated routes, 404 on routes with path parameters, 409/422 on POST (idempotency), 422 on
  routes with parameters, 500 and 503 everywhere. POST operations also document the
  `Idempotency-Key` header.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error: `detail` is a message, or for validation errors (422) FastAPI's list."""

    detail: str | list[ValidationErrorItem]
    code: str
    request_id: str | None = Field(default=None, description="Only on 500: quote it when reporting the problem")


# Kept for routes that want to name the validation shape explicitly.
ValidationErrorBody = ErrorBody

_DESCRIPTIONS = {
    400: "Malformed request (invalid JSON, bad encoding, bad header) (`malformed_request`)",
    401: "Missing, invalid, expired or revoked API key (`invalid_api_key`)",
    403: "Missing scope (`insufficient_scope`) or another workspace (`workspace_forbidden`)",
    404: "Not found (`not_found`)",
    405: "Method not allowed (`method_not_allowed`)",
    409: "Conflict with the resource's state, or `idempotency_key_in_use`",
    413: "Body too large (`payload_too_large`)",
    415: "Unsupported media type (`unsupported_media_type`)",
    422: "Validation error (a list of `{loc, msg, type}`), or `idempotency_key_reused`",
    429: "Rate limited (`rate_limited`); see `Retry-After`",
    500: "Internal error (`internal_error`) with `request_id`",
    503: "Service unavailable (`service_unavailable`)",
}

# Statuses any authenticated route can return.
COMMON = (400, 401, 403, 413, 415, 422, 429, 500, 503)
PUBLIC = (400, 413, 415, 422, 500, 503)


def responses(*extra: int, authenticated: bool = True) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the common error statuses plus `extra` ones (404, 409, ...)."""
    codes = set(extra) | set(COMMON if authenticated else PUBLIC)
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS.get(code, "Error")} for code in sorted(codes)}


SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerAuth": {"type": "http", "scheme": "bearer", "description": "The same API key as a bearer token"},
}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe: the same key (1-255 printable ASCII characters) replayed with the same "
        "request within 24 h returns the stored response with `Idempotent-Replayed: true`."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def platform_statuses(route: Any, method: str) -> set[int]:
    """The statuses the platform layers can produce for this operation."""
    from harken.core.auth import route_auth

    codes = {400, 500, 503}
    if route.dependant.path_params:
        codes.add(404)
    if route.dependant.path_params or route.dependant.query_params or route.dependant.header_params:
        codes.add(422)
    if method in {"POST", "PUT", "PATCH"}:
        codes |= {413, 415, 422}
    if method == "POST":
        codes |= {409, 422}
    if route_auth(route.dependant) is not None:
        codes |= {401, 403, 429}
    return codes


def _error_response(code: int) -> dict[str, Any]:
    return {"description": _DESCRIPTIONS.get(code, "Error"), "content": {"application/json": {"schema": _ERROR_REF}}}


def augment_schema(schema: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    from harken.core.auth import route_auth

    schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    components = schema["components"].setdefault("schemas", {})
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in error_schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components["ErrorBody"] = error_schema
    paths = schema.get("paths", {})
    from harken.core.middleware import api_routes

    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods:
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            auth = route_auth(route.dependant)
            if auth is not None:
                operation.setdefault("security", [{"ApiKeyHeader": []}, {"BearerAuth": []}])
                if auth.scope:
                    operation.setdefault("x-required-scope", auth.scope)
            documented = operation.setdefault("responses", {})
            for code in sorted(platform_statuses(route, method)):
                current = documented.get(str(code))
                if current is None or (code == 422 and "HTTPValidationError" in str(current)):
                    documented[str(code)] = _error_response(code)
            if method == "POST":
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name", "").lower() == "idempotency-key" for p in parameters):
                    parameters.append(dict(_IDEMPOTENCY_PARAMETER))
    return schema


def install_openapi(app: FastAPI) -> None:
    """Post-process `/openapi.json` (see the module docstring)."""
    original = app.openapi
    augmented: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        schema = original()  # FastAPI caches it and rebuilds when routes are added
        if augmented.get("schema") is not schema:
            augment_schema(schema, app)
            augmented["schema"] = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
