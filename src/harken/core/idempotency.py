"""`Idempotency-Key` on every POST (contract §2, seed 001), as pure-ASGI middleware.

- The key is 1-255 printable ASCII characters, else 400 `malformed_request`.
- It is scoped to the workspace of the API key that sent it. The middleware resolves the key with
  one indexed lookup; a request without a valid API key passes straight through (to its 401).
- The request's fingerprint is sha256 over method, path, query string and body.
- The first request claims the key by inserting an in-progress row (unique per workspace and key)
  in its own committed transaction, then runs. Its response (status, headers, body) is stored
  before the last body chunk goes out, so once a client holds the whole response a retry replays
  it. 5xx responses are not stored (the request rolled back, so a retry is safe), and neither are
  401/403/429, which did nothing: the row is deleted instead.
- Within `HARKEN_IDEMPOTENCY_TTL_SECONDS` (24 h) a replay returns the stored status, body and
  headers plus `Idempotent-Replayed: true` and runs nothing. Same key, different fingerprint: 422
  `idempotency_key_reused`. Same key while the first request still runs: 409
  `idempotency_key_in_use`. Expired rows (and in-progress rows abandoned by a crashed process for
  longer than `ABANDONED_AFTER`) are replaced. `core.maintenance` purges expired rows.
- Replays and the middleware's own 409/422 count against the workspace's rate limit and carry
  fresh rate-limit headers, like every authenticated response.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harken.core.auth import KEY_PREFIX, extract_key, hash_api_key
from harken.core.db import Database, new_id, utcnow
from harken.core.idempotency_models import IdempotencyRecord

logger = logging.getLogger("harken.idempotency")

HEADER = b"idempotency-key"
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")
# An in-progress row older than this belongs to a request whose process died; it may be replaced.
ABANDONED_AFTER = timedelta(minutes=10)
# Responses larger than this are not stored (the key is released instead).
MAX_STORED_BODY = 8 * 1024 * 1024
# Not stored: these responses did nothing, so a retry must run again.
_NOT_STORED = {401, 403, 429}
# Response headers that are per-response, not part of the stored result.
_VOLATILE_HEADERS = {
    b"x-request-id",
    b"date",
    b"server",
    b"retry-after",
    b"ratelimit",
    b"ratelimit-policy",
    b"x-ratelimit-limit",
    b"x-ratelimit-remaining",
    b"x-ratelimit-reset",
    b"idempotent-replayed",
}


@dataclass(frozen=True)
class _Caller:
    workspace_id: str
    rate_limit: str | None


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


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode("utf-8", "surrogateescape"), query):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    digest.update(body)
    return digest.hexdigest()


async def resolve_caller(db: Database, scope: Scope) -> _Caller | None:
    """The workspace of a valid (known, unrevoked, unexpired) API key on the request, else None."""
    from harken.workspaces.models import ApiKey, Workspace

    raw = extract_key(Request(scope))
    if raw is None or not raw.isascii() or not raw.startswith(KEY_PREFIX):
        return None
    async with db.read_sessionmaker() as session:
        row = (
            await session.execute(
                select(ApiKey.workspace_id, ApiKey.revoked_at, ApiKey.expires_at, Workspace.rate_limit)
                .join(Workspace, Workspace.id == ApiKey.workspace_id)
                .where(ApiKey.key_hash == hash_api_key(raw))
            )
        ).one_or_none()
    if row is None:
        return None
    workspace_id, revoked_at, expires_at, rate_limit = row
    if revoked_at is not None or (expires_at is not None and expires_at <= utcnow()):
        return None
    return _Caller(workspace_id, rate_limit)


class _Claimed:
    def __init__(self, record_id: str) -> None:
        self.record_id = record_id


async def claim(
    db: Database, workspace_id: str, key: str, print_: str, ttl_seconds: int
) -> _Claimed | IdempotencyRecord:
    """Insert the in-progress row, or return the existing live row for (workspace, key)."""
    make_insert = sqlite_insert if db.is_sqlite else pg_insert
    for _ in range(5):
        now = utcnow()
        record_id = new_id()
        async with db.session() as session:
            stmt = (
                make_insert(IdempotencyRecord)
                .values(
                    id=record_id,
                    workspace_id=workspace_id,
                    key=key,
                    fingerprint=print_,
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl_seconds),
                )
                .on_conflict_do_nothing(index_elements=["workspace_id", "key"])
                .returning(IdempotencyRecord.id)
            )
            if (await session.execute(stmt)).scalar_one_or_none() is not None:
                return _Claimed(record_id)
            existing = (
                await session.execute(
                    select(IdempotencyRecord).where(
                        IdempotencyRecord.workspace_id == workspace_id, IdempotencyRecord.key == key
                    )
                )
            ).scalar_one_or_none()
            if existing is None:
                continue  # deleted between our insert and select: try again
            abandoned = existing.response_status is None and existing.created_at < now - ABANDONED_AFTER
            if existing.expires_at <= now or abandoned:
                await session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.id == existing.id,
                        IdempotencyRecord.created_at == existing.created_at,
                    )
                )
                continue
            return existing
    raise RuntimeError("could not claim the idempotency key")


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        values = [value for name, value in scope["headers"] if name == HEADER]
        if not values:
            await self.app(scope, receive, send)
            return
        try:
            key = values[0].decode("ascii").strip()
        except UnicodeDecodeError:
            key = ""
        if len(values) > 1 or not _VALID_KEY.fullmatch(key):
            await _send_json(
                send,
                400,
                {
                    "detail": "Idempotency-Key must be one header of 1-255 printable ASCII characters",
                    "code": "malformed_request",
                },
                [],
            )
            return
        app_state = scope["app"].state
        db: Database = app_state.db
        caller = await resolve_caller(db, scope)
        if caller is None:  # no valid key: let the app answer 401
            await self.app(scope, receive, send)
            return

        # Read the whole body (the body-size middleware outside us enforces the limit).
        chunks: list[bytes] = []
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more_body = message.get("more_body", False)
        body = b"".join(chunks)
        print_ = fingerprint(scope["method"], scope["path"], scope.get("query_string", b""), body)

        settings = app_state.settings
        outcome = await claim(db, caller.workspace_id, key, print_, settings.idempotency_ttl_seconds)
        if isinstance(outcome, IdempotencyRecord):
            await self._answer_existing(scope, send, caller, outcome, print_)
            return
        await self._run_first(scope, receive, send, db, outcome.record_id, body)

    async def _answer_existing(
        self, scope: Scope, send: Send, caller: _Caller, record: IdempotencyRecord, print_: str
    ) -> None:
        limiter = getattr(scope["app"].state, "rate_limiter", None)
        if limiter is not None:
            decision = await limiter.check(caller.workspace_id, caller.rate_limit)
            scope.setdefault("state", {})["rate_limit_headers"] = decision.headers
            if not decision.allowed:
                error = decision.error()
                extra = [(b"retry-after", error.headers["Retry-After"].encode())]
                await _send_json(send, 429, error.body(), extra)
                return
        if record.fingerprint != print_:
            await _send_json(
                send,
                422,
                {
                    "detail": "This Idempotency-Key was already used with a different request",
                    "code": "idempotency_key_reused",
                },
                [],
            )
            return
        if record.response_status is None:
            await _send_json(
                send,
                409,
                {
                    "detail": "A request with this Idempotency-Key is still being processed; retry later",
                    "code": "idempotency_key_in_use",
                },
                [(b"retry-after", b"1")],
            )
            return
        stored = (record.response_headers or {}).get("headers", [])
        headers = [(str(name).encode("latin-1"), str(value).encode("latin-1")) for name, value in stored]
        headers.append((b"idempotent-replayed", b"true"))
        await send({"type": "http.response.start", "status": record.response_status, "headers": headers})
        await send({"type": "http.response.body", "body": record.response_body or b""})

    async def _run_first(
        self, scope: Scope, receive: Receive, send: Send, db: Database, record_id: str, body: bytes
    ) -> None:
        body_sent = False

        async def replay_receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 500
        headers: list[tuple[bytes, bytes]] = []
        collected: list[bytes] = []
        size = 0
        settled = False  # the row was stored or released

        async def settle(store: bool) -> None:
            nonlocal settled
            settled = True
            with anyio.CancelScope(shield=True):
                try:
                    async with db.session() as session:
                        if store:
                            kept = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in headers]
                            await session.execute(
                                update(IdempotencyRecord)
                                .where(IdempotencyRecord.id == record_id)
                                .values(
                                    response_status=status,
                                    response_headers={"headers": kept},
                                    response_body=b"".join(collected),
                                )
                            )
                        else:
                            await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
                except Exception:
                    logger.exception("could not settle idempotency key %s", record_id)

        async def capture_send(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.extend(
                    (name.lower(), value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in _VOLATILE_HEADERS
                )
            elif message["type"] == "http.response.body" and not settled:
                chunk = message.get("body", b"")
                size += len(chunk)
                collected.append(chunk)
                if not message.get("more_body", False):
                    storable = status < 500 and status not in _NOT_STORED and size <= MAX_STORED_BODY
                    await settle(storable)
            await send(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        finally:
            if not settled:  # the app raised, or never finished its response
                await settle(False)
