"""OpenAPI documentation of error responses, so every status a route returns is declared."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorBody(BaseModel):
    detail: str
    code: str


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    detail: list[ValidationErrorItem]
    code: str = "validation_error"


_DESCRIPTIONS = {
    400: "Malformed request (invalid JSON, bad encoding, bad header)",
    401: "Missing, invalid, expired or revoked API key (`invalid_api_key`)",
    403: "Missing scope (`insufficient_scope`) or another workspace (`workspace_forbidden`)",
    404: "Not found (`not_found`)",
    409: "Conflict with the resource's state",
    413: "Body too large (`payload_too_large`)",
    415: "Unsupported media type (`unsupported_media_type`)",
    422: "Validation error",
    429: "Rate limited (`rate_limited`); see `Retry-After`",
    500: "Internal error (`internal_error`) with `request_id`",
    503: "Service unavailable (`service_unavailable`)",
}

# Statuses any authenticated route can return.
COMMON = (400, 401, 403, 413, 415, 422, 429, 500, 503)


def responses(*extra: int, authenticated: bool = True) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the common error statuses plus `extra` ones (404, 409, ...)."""
    codes = set(extra) | set(COMMON if authenticated else (400, 413, 415, 422, 500, 503))
    out: dict[int | str, dict[str, Any]] = {}
    for code in sorted(codes):
        model = ValidationErrorBody if code == 422 else ErrorBody
        out[code] = {"model": model, "description": _DESCRIPTIONS.get(code, "Error")}
    return out
