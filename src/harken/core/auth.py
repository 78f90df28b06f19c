"""API-key authentication, scopes and workspace checks (contract §1).

Every protected route declares one typed dependency, e.g. `auth: InterviewsAuth`; it resolves the
key, checks the scope and `X-Org-Id`, records the workspace for logs and rate limits, and returns
the `Principal`. Services then filter every query by `principal.workspace_id`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from harken.core.authcache import AuthCache, CachedKey
from harken.core.context import workspace_id_var
from harken.core.db import utcnow
from harken.core.errors import InsufficientScope, InvalidApiKey, WorkspaceForbidden

KEY_PREFIX = "ont_live_"
SCOPES = ("interviews", "exports", "webhooks", "surveys", "mcp", "admin", "*")
# last_used_at is written at most this often per key, so reads don't turn into writes.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class Principal:
    api_key_id: str
    workspace_id: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    user_id: str | None = None
    key_name: str = ""
    rate_limit: str | None = None
    key_prefix: str = ""
    created_at: datetime | None = None
    expires_at: datetime | None = None

    def has_scope(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes

    def check_workspace(self, workspace_id: str | None) -> None:
        """A `workspace_id` named in a body or query must be the key's own."""
        if workspace_id is not None and workspace_id != self.workspace_id:
            raise WorkspaceForbidden()


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(raw_key: str) -> str:
    # Keys carry 256 bits of entropy, so a fast unsalted hash is the right tool (no brute force).
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def extract_key(request: Request) -> str | None:
    raw = request.headers.get("x-api-key")
    if not raw:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer":
            raw = token
    raw = (raw or "").strip()
    return raw or None


async def authenticate(session: AsyncSession | None, request: Request) -> Principal:
    """Resolve the request's key into a `Principal`, count it against the workspace's rate limit,
    and check `X-Org-Id`; raises 401, 429 or 403. Cached on the request, so it runs once.

    Lookups go through the process's `AuthCache` (core.authcache), which keeps revocation
    immediate; without a live invalidation signal every request queries the database.
    """
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    raw = extract_key(request)
    if raw is None or not raw.isascii() or not raw.startswith(KEY_PREFIX):
        raise InvalidApiKey()
    key_hash = hash_api_key(raw)
    cache: AuthCache | None = getattr(request.app.state, "auth_cache", None)
    epoch, key = cache.get(key_hash) if cache is not None else (None, None)
    if key is None:
        if session is None:
            # A short read of its own: no pooled connection is held while the route runs, and on
            # SQLite the lookup never sits inside the request's write transaction.
            async with request.app.state.db.read_sessionmaker() as own:
                key = await _lookup(own, key_hash)
        else:
            key = await _lookup(session, key_hash)
        if key is None:
            raise InvalidApiKey()
        if cache is not None:
            cache.put(key_hash, epoch, key)
    now = utcnow()
    if key.expires_at is not None and key.expires_at <= now:
        raise InvalidApiKey()
    principal = Principal(
        api_key_id=key.api_key_id,
        workspace_id=key.workspace_id,
        scopes=frozenset(key.scopes),
        user_id=key.user_id,
        key_name=key.name,
        rate_limit=key.rate_limit,
        key_prefix=key.key_prefix,
        created_at=key.created_at,
        expires_at=key.expires_at,
    )
    request.state.principal = principal
    workspace_id_var.set(principal.workspace_id)
    _touch_last_used(request, key.api_key_id, key.last_used_at, now)
    # Every authenticated response carries the rate-limit headers, errors after this point included.
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        await limiter.hit(request, principal)
    org_header = request.headers.get("x-org-id")
    if org_header is not None and org_header.strip() != principal.workspace_id:
        raise WorkspaceForbidden()
    return principal


async def _lookup(session: AsyncSession, key_hash: str) -> CachedKey | None:
    """The unrevoked key with this hash, joined with its workspace's rate limit."""
    from harken.workspaces.models import ApiKey, Workspace

    row = (
        await session.execute(
            select(ApiKey.id, ApiKey.workspace_id, ApiKey.scopes, ApiKey.user_id, ApiKey.name, ApiKey.key_prefix)
            .add_columns(ApiKey.created_at, ApiKey.expires_at, ApiKey.last_used_at, Workspace.rate_limit)
            .join(Workspace, Workspace.id == ApiKey.workspace_id)
            .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )
    ).one_or_none()
    if row is None:
        return None
    key_id, workspace_id, scopes, user_id, name, prefix, created_at, expires_at, last_used_at, rate_limit = row
    return CachedKey(
        api_key_id=key_id,
        workspace_id=workspace_id,
        scopes=tuple(scopes or ()),
        user_id=user_id,
        name=name,
        key_prefix=prefix,
        created_at=created_at,
        expires_at=expires_at,
        last_used_at=last_used_at,
        rate_limit=rate_limit,
    )


# key id -> when this process last wrote its last_used_at
_last_touch: dict[str, datetime] = {}
_touch_tasks: set[asyncio.Task[None]] = set()


def _touch_last_used(request: Request, key_id: str, last_used_at: datetime | None, now: datetime) -> None:
    """Record `last_used_at` at most once per `LAST_USED_RESOLUTION` per key and process.

    Written in the background on a connection of its own: the request never waits for it and never
    holds two pooled connections at once (which could exhaust the pool under a burst).
    """
    if last_used_at is not None and now - last_used_at <= LAST_USED_RESOLUTION:
        return
    previous = _last_touch.get(key_id)
    if previous is not None and now - previous <= LAST_USED_RESOLUTION:
        return
    _last_touch[key_id] = now
    if len(_last_touch) > 100_000:
        _last_touch.clear()
    db = request.app.state.db

    async def write() -> None:
        from harken.workspaces.models import ApiKey

        try:
            async with db.session() as writer:
                await writer.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
        except Exception:
            logging.getLogger("harken.auth").warning("could not record last_used_at", exc_info=True)

    task = asyncio.create_task(write())
    _touch_tasks.add(task)
    task.add_done_callback(_touch_tasks.discard)


class RequireScope:
    """Dependency: an authenticated principal holding `scope`."""

    def __init__(self, scope: str | None) -> None:
        self.scope = scope

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticate(None, request)
        if (
            self.scope is not None
            and not principal.has_scope(self.scope)
            and not _mcp_grants(request, principal, self.scope)
        ):
            raise InsufficientScope(f"This route needs the '{self.scope}' scope")
        return principal


# Scopes whose read and query routes the MCP server's tools expose to an `mcp` key.
MCP_READABLE_SCOPES = frozenset({"interviews", "exports", "surveys"})


def _mcp_grants(request: Request, principal: Principal, scope: str) -> bool:
    """A call made by Harken's own MCP server (marked in the ASGI scope, which clients cannot set)
    for an `mcp` key: reads, plus the graph query, of the scopes its tools expose."""
    if scope not in MCP_READABLE_SCOPES or request.scope.get("harken.via") != "mcp" or not principal.has_scope("mcp"):
        return False
    return request.method == "GET" or request.url.path.endswith("/graph/query")


AnyAuth = Annotated[Principal, Depends(RequireScope(None))]
InterviewsAuth = Annotated[Principal, Depends(RequireScope("interviews"))]
ExportsAuth = Annotated[Principal, Depends(RequireScope("exports"))]
WebhooksAuth = Annotated[Principal, Depends(RequireScope("webhooks"))]
SurveysAuth = Annotated[Principal, Depends(RequireScope("surveys"))]
McpAuth = Annotated[Principal, Depends(RequireScope("mcp"))]
AdminAuth = Annotated[Principal, Depends(RequireScope("admin"))]


def route_auth(dependant: object) -> RequireScope | None:
    """The `RequireScope` a route's dependency tree uses (None: the route is public).

    Used by the OpenAPI post-processing (which statuses a route can return) and by the tests that
    walk the route table.
    """
    stack = [dependant]
    while stack:
        current = stack.pop()
        call = getattr(current, "call", None)
        if isinstance(call, RequireScope):
            return call
        stack.extend(getattr(current, "dependencies", ()))
    return None
