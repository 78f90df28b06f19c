"""API-key authentication, scopes and workspace checks (contract §1).

Every protected route declares one typed dependency, e.g. `auth: InterviewsAuth`; it resolves the
key, checks the scope and `X-Org-Id`, records the workspace for logs and rate limits, and returns
the `Principal`. Services then filter every query by `principal.workspace_id`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from harken.core.context import workspace_id_var
from harken.core.db import utcnow
from harken.core.errors import InsufficientScope, InvalidApiKey, WorkspaceForbidden
from harken.core.session import DbSession

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


async def authenticate(session: AsyncSession, request: Request) -> Principal:
    """Resolve the request's key into a `Principal`, or raise 401/403."""
    from harken.workspaces.models import ApiKey, Workspace

    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    raw = extract_key(request)
    if raw is None or not raw.isascii() or not raw.startswith(KEY_PREFIX):
        raise InvalidApiKey()
    row = (
        await session.execute(
            select(ApiKey, Workspace.rate_limit)
            .join(Workspace, Workspace.id == ApiKey.workspace_id)
            .where(ApiKey.key_hash == hash_api_key(raw))
        )
    ).one_or_none()
    now = utcnow()
    key, rate_limit = row if row is not None else (None, None)
    if key is None or key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise InvalidApiKey()
    principal = Principal(
        api_key_id=key.id,
        workspace_id=key.workspace_id,
        scopes=frozenset(key.scopes or ()),
        user_id=key.user_id,
        key_name=key.name,
        rate_limit=rate_limit,
    )
    org_header = request.headers.get("x-org-id")
    if org_header is not None and org_header.strip() != principal.workspace_id:
        raise WorkspaceForbidden()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        stmt = update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now)
        if request.method in {"GET", "HEAD"}:
            # Reads run in a read-only session (see core.session): write in a short one of its own.
            async with request.app.state.db.session() as writer:
                await writer.execute(stmt)
        else:
            await session.execute(stmt)
    request.state.principal = principal
    workspace_id_var.set(principal.workspace_id)
    return principal


class RequireScope:
    """Dependency: an authenticated principal holding `scope`."""

    def __init__(self, scope: str | None) -> None:
        self.scope = scope

    async def __call__(self, request: Request, session: DbSession) -> Principal:
        principal = await authenticate(session, request)
        limiter = getattr(request.app.state, "rate_limiter", None)
        if limiter is not None:
            await limiter.hit(request, principal)
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
