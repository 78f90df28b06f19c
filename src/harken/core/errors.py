"""Errors in the contract's shape: `{"detail": "<message>", "code": "<machine code>"}`.

Services raise `HarkenError` subclasses; the handlers here turn every failure (ours, FastAPI's,
Starlette's) into that shape. Nothing internal ever reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from harken.core.context import request_id_var

logger = logging.getLogger("harken.errors")


class HarkenError(Exception):
    status_code = 400
    code = "bad_request"
    detail = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.detail
        self.code = code or self.code
        self.status_code = status_code or self.status_code
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "code": self.code, **self.extra}


class MalformedRequest(HarkenError):
    status_code, code, detail = 400, "malformed_request", "Malformed request"


class InvalidApiKey(HarkenError):
    status_code, code, detail = 401, "invalid_api_key", "Missing, invalid, expired or revoked API key"


class InsufficientScope(HarkenError):
    status_code, code, detail = 403, "insufficient_scope", "API key lacks the required scope"


class WorkspaceForbidden(HarkenError):
    status_code, code, detail = 403, "workspace_forbidden", "Workspace not accessible by this API key"


class NotFound(HarkenError):
    status_code, code, detail = 404, "not_found", "Not found"


class Conflict(HarkenError):
    status_code, code, detail = 409, "conflict", "Conflict with the current state"


class CampaignLocked(Conflict):
    code, detail = "campaign_locked", "Action not allowed in the campaign's current status"


class SurveyLocked(Conflict):
    code, detail = "survey_locked", "Survey is locked while programming runs"


class SynthesisPending(Conflict):
    code, detail = "synthesis_pending", "Synthesis has not completed yet"


class GraphNotReady(Conflict):
    code, detail = "graph_not_ready", "The knowledge graph has not been built yet"


class PayloadTooLarge(HarkenError):
    status_code, code, detail = 413, "payload_too_large", "Request body too large"


class UnsupportedMediaType(HarkenError):
    status_code, code, detail = 415, "unsupported_media_type", "Unsupported media type"


class UnprocessableEntity(HarkenError):
    """A semantic 422 with a plain message (validation lists come from FastAPI)."""

    status_code, code, detail = 422, "unprocessable_entity", "Unprocessable entity"


class RateLimited(HarkenError):
    status_code, code, detail = 429, "rate_limited", "Rate limit exceeded"


class ServiceUnavailable(HarkenError):
    status_code, code, detail = 503, "service_unavailable", "Service temporarily unavailable"


def validation_error(loc: list[str | int], msg: str, type_: str = "value_error") -> RequestValidationError:
    """A 422 in FastAPI's list shape, for checks made in services (e.g. an unknown event name)."""
    return RequestValidationError([{"loc": tuple(loc), "msg": msg, "type": type_}])


_STATUS_CODES = {
    400: "malformed_request",
    401: "invalid_api_key",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def error_response(status: int, detail: Any, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def internal_error_body() -> dict[str, Any]:
    return {"detail": "Internal server error", "code": "internal_error", "request_id": request_id_var.get()}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HarkenError)
    async def _harken(_: Request, exc: HarkenError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
            for err in exc.errors()
        ]
        if any(err["type"] in {"json_invalid", "json_type"} for err in errors):
            message = next(e["msg"] for e in errors if e["type"] in {"json_invalid", "json_type"})
            return error_response(400, f"Malformed JSON body: {message}", "malformed_request")
        return JSONResponse({"detail": errors, "code": "validation_error"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        detail = exc.detail
        if exc.status_code == 400:
            detail = "Malformed request body (invalid JSON or encoding)"
        elif exc.status_code == 404 and detail == "Not Found":
            detail = "Not found"
        elif exc.status_code == 405:
            detail = "Method not allowed on this route"
        return error_response(exc.status_code, detail, code, headers=getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeoutError)
    async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
        # The database is down, locked past the busy timeout, or not migrated: retry later.
        logger.warning("database unavailable: %s", exc.__class__.__name__, exc_info=exc)
        return error_response(
            503, "The database is temporarily unavailable; retry shortly", "service_unavailable", {"Retry-After": "1"}
        )

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(_: Request, exc: Exception) -> JSONResponse:
        # A value the route did not bound (a huge `offset`, a string longer than its column) that
        # the database refuses: the client's input, so a 422 rather than a 500.
        logger.info("value rejected by the database: %s", exc.__class__.__name__)
        item = {"loc": ["request"], "msg": "A value is out of the range this server accepts", "type": "value_error"}
        return JSONResponse({"detail": [item], "code": "validation_error"}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        if _is_unique_violation(exc):
            # Two requests raced to create the same thing; the loser gets a clean conflict.
            return error_response(409, "A resource with these values already exists", "conflict")
        logger.error("integrity error", exc_info=exc)
        return JSONResponse(internal_error_body(), status_code=500)


def _is_unique_violation(exc: IntegrityError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if sqlstate is not None:
        return sqlstate == "23505"
    return "UNIQUE constraint failed" in str(exc.orig)
