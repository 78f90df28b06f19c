"""Pure-ASGI middleware: request ids, last-resort 500s, body size limits, access logs."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not status_holder["started"]:
                await _send_json(send, 500, internal_error_body(), [header])
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
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
                    raise _BodyTooLarge()
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


class _BodyTooLarge(Exception):
    pass
