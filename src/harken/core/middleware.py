"""Pure-ASGI middleware: request ids, last-resort 500s, metrics and access logs, body size limits,
content types.

Order (outermost first), set in `app.create_app`: RequestContext → BodySizeLimit → ContentType →
Idempotency (core.idempotency) → the routes.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from email.message import Message as MimeMessage
from typing import Any, Literal

from fastapi import params
from fastapi.routing import APIRoute, iter_route_contexts
from starlette._utils import get_route_path
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harken.core import metrics
from harken.core.context import request_id_var, workspace_id_var
from harken.core.errors import internal_error_body

logger = logging.getLogger("harken.http")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RequestContextMiddleware:
    """Outermost layer: every response gets `X-Request-Id`; an unhandled error becomes a clean 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        rid_token = request_id_var.set(request_id)
        ws_token = workspace_id_var.set(None)
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                extra = [header]
                # Set by the rate limiter once the request is authenticated (see core.ratelimit).
                present = {name.lower() for name, _ in message.get("headers", [])}
                for name, value in (scope.get("state") or {}).get("rate_limit_headers", {}).items():
                    if name.lower().encode() not in present:
                        extra.append((name.lower().encode(), value.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            _adopt_workspace(scope)
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not status_holder["started"]:
                status_holder["status"] = 500
                limits = (scope.get("state") or {}).get("rate_limit_headers", {})
                extra = [(name.lower().encode(), value.encode()) for name, value in limits.items()]
                await _send_json(send, 500, internal_error_body(), [header, *extra])
        finally:
            elapsed = time.perf_counter() - started
            duration_ms = elapsed * 1000
            _adopt_workspace(scope)
            route = route_template(scope)
            metrics.HTTP_REQUESTS.labels(method=scope.get("method"), route=route, status=status_holder["status"]).inc()
            metrics.HTTP_LATENCY.labels(method=scope.get("method"), route=route).observe(elapsed)
            logger.info(
                "%s %s %s %.1fms",
                scope.get("method"),
                scope.get("path"),
                status_holder["status"],
                duration_ms,
                extra={
                    "status": status_holder["status"],
                    "duration_ms": round(duration_ms, 2),
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "route": route,
                },
            )
            request_id_var.reset(rid_token)
            workspace_id_var.reset(ws_token)


class BodySizeLimitMiddleware:
    """413 before a handler sees a body over the limit (multipart uploads get the larger limit)."""

    def __init__(self, app: ASGIApp, *, json_limit: int, upload_limit: int) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS", "DELETE"}:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        # Multipart carries boundaries and part headers on top of the file itself.
        limit = self.upload_limit + 64 * 1024 if content_type.startswith("multipart/") else self.json_limit
        declared = headers.get(b"content-length")
        too_large = {"detail": f"Request body exceeds the limit of {limit} bytes", "code": "payload_too_large"}
        if declared is not None:
            try:
                if int(declared) > limit:
                    await _send_json(send, 413, too_large, [])
                    return
            except ValueError:
                await _send_json(send, 400, {"detail": "Invalid Content-Length", "code": "malformed_request"}, [])
                return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await _send_json(send, 413, too_large, [])


class _BodyTooLarge(HTTPException):
    """Raised from `receive` once the body passes the limit. An HTTPException, so FastAPI's body
    reader re-raises it (instead of turning it into a 400) and the handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body exceeds the limit of {limit} bytes")


def _adopt_workspace(scope: Scope) -> None:
    """Make the authenticated workspace visible to log lines written outside the route's context."""
    principal = (scope.get("state") or {}).get("principal")
    if principal is not None and workspace_id_var.get() is None:
        workspace_id_var.set(principal.workspace_id)


_CONVERTOR = re.compile(r"{(\w+):[^}]+}")


def route_template(scope: Scope) -> str:
    """The matched route's full path template (a bounded label set for metrics), else "unmatched"."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not path:
        return "unmatched"
    included = (scope.get("fastapi") or {}).get("included_router")
    prefix = getattr(getattr(included, "include_context", None), "prefix", "") or ""
    return _CONVERTOR.sub(r"{\1}", f"{scope.get('root_path', '').rstrip('/')}{prefix}{path}")


def api_routes(app: Any) -> list[Any]:
    """Every API route of the app with its effective (prefixed) path, methods and dependant.

    FastAPI 0.16x nests included routers, so `app.routes` no longer lists the APIRoutes directly;
    `fastapi.routing.iter_route_contexts` flattens them. Cached per version of the route table.
    """
    router = app.router
    version_of = getattr(router, "_get_routes_version", None)
    version = version_of() if version_of is not None else None
    cached = getattr(app.state, "_harken_api_routes", None)
    if cached is not None and version is not None and cached[0] == version:
        return cached[1]
    routes = [rc for rc in iter_route_contexts(app.routes) if isinstance(rc.original_route, APIRoute)]
    app.state._harken_api_routes = (version, routes)
    return routes


def resolve_route(scope: Scope) -> Any | None:
    """The API route that will handle this request (path and method match), if any."""
    app = scope.get("app")
    if app is None:
        return None
    path = get_route_path(scope)
    method = scope["method"]
    for route in api_routes(app):
        if method in (route.methods or ()) and route.path_regex.match(path):
            return route
    return None


BodyKind = Literal["json", "form", "none"]
_BODY_KINDS: dict[int, tuple[Any, BodyKind]] = {}


def body_kind(route: Any) -> BodyKind:
    """What a route's declared body parameters expect: JSON, a form/multipart, or nothing."""
    cached = _BODY_KINDS.get(id(route))
    if cached is not None and cached[0] is route:
        return cached[1]
    field = route.body_field
    kind: BodyKind
    if field is None:
        kind = "none"
    elif isinstance(field.field_info, params.Form):  # File is a Form
        kind = "form"
    else:
        kind = "json"
    _BODY_KINDS[id(route)] = (route, kind)
    return kind


def _media_type(content_type: str) -> str:
    message = MimeMessage()
    message["content-type"] = content_type
    return message.get_content_type()


def media_type_allowed(kind: BodyKind, content_type: str) -> bool:
    media = _media_type(content_type)
    if kind == "json":
        return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
    if kind == "form":
        return media in {"multipart/form-data", "application/x-www-form-urlencoded"}
    return True


class ContentTypeMiddleware:
    """415 `unsupported_media_type` when a body's Content-Type is not what the route reads.

    Generic: the route's declared body parameters decide (JSON model → `application/json` or
    `application/*+json`; `Form`/`File` → multipart or urlencoded form). Routes that declare no
    body parameter (actions, or routes that read `Request` themselves) are not checked. An empty
    body is left to validation (a missing required body is a 422).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in {"POST", "PUT", "PATCH"}:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").decode("latin-1").strip()
        has_body = headers.get(b"content-length", b"0").strip() not in {b"0", b""} or b"transfer-encoding" in headers
        if not content_type and not has_body:
            await self.app(scope, receive, send)
            return
        route = resolve_route(scope)
        kind = body_kind(route) if route is not None else "none"
        if kind != "none" and not media_type_allowed(kind, content_type):
            expected = "application/json" if kind == "json" else "multipart/form-data"
            shown = content_type or "none"
            await _send_json(
                send,
                415,
                {
                    "detail": f"Unsupported Content-Type '{shown[:100]}'; this route takes {expected}",
                    "code": "unsupported_media_type",
                },
                [],
            )
            return
        await self.app(scope, receive, send)
