"""Workspaces and API keys: creation, listing, revocation, first-start bootstrap."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from harken.core.auth import KEY_PREFIX, generate_api_key, hash_api_key
from harken.core.authcache import notify_auth_changed
from harken.core.db import Database, utcnow
from harken.core.errors import NotFound, UnprocessableEntity
from harken.workspaces.models import ApiKey, Workspace

DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 6


async def create_workspace(session: AsyncSession, name: str, *, rate_limit: str | None = None) -> Workspace:
    workspace = Workspace(name=name, rate_limit=rate_limit)
    session.add(workspace)
    await session.flush()
    return workspace


async def set_rate_limit(session: AsyncSession, workspace_id: str, rate_limit: str | None) -> Workspace:
    """Set (or with None, clear) the workspace's own limit, e.g. "1200/minute"."""
    workspace = await get_workspace(session, workspace_id)
    workspace.rate_limit = rate_limit
    await session.flush()
    await notify_auth_changed(session)  # cached lookups carry the limit: drop them on commit
    return workspace


async def list_workspaces(session: AsyncSession) -> list[Workspace]:
    return list((await session.execute(select(Workspace).order_by(Workspace.created_at))).scalars())


async def get_workspace(session: AsyncSession, workspace_id: str) -> Workspace:
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("Workspace not found")
    return workspace


async def create_api_key(
    session: AsyncSession,
    workspace_id: str,
    *,
    name: str,
    scopes: list[str],
    expires_in_days: int | None = None,
    user_id: str | None = None,
    raw_key: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the full key (the only time it exists in clear)."""
    await get_workspace(session, workspace_id)
    raw = raw_key.strip() if raw_key else generate_api_key()
    if not raw.startswith(KEY_PREFIX) or len(raw) < len(KEY_PREFIX) + 32 or not raw.isascii():
        raise UnprocessableEntity(f"An API key must be '{KEY_PREFIX}' followed by at least 32 characters")
    now = utcnow()
    key = ApiKey(
        workspace_id=workspace_id,
        name=name,
        key_prefix=raw[:DISPLAY_PREFIX_LENGTH],
        key_hash=hash_api_key(raw),
        scopes=sorted(set(scopes)),
        user_id=user_id,
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(key)
    await session.flush()
    return key, raw


async def list_api_keys(
    session: AsyncSession, workspace_id: str, *, limit: int | None = None, offset: int = 0
) -> list[ApiKey]:
    query = (
        select(ApiKey)
        .where(ApiKey.workspace_id == workspace_id)
        .order_by(ApiKey.created_at, ApiKey.id)
        .limit(limit)
        .offset(offset)
    )
    return list((await session.execute(query)).scalars())


async def get_api_key(session: AsyncSession, workspace_id: str, key_id: str) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None or key.workspace_id != workspace_id:
        raise NotFound("API key not found")
    return key


async def revoke_api_key(session: AsyncSession, workspace_id: str, key_id: str) -> ApiKey:
    key = await get_api_key(session, workspace_id, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
        await notify_auth_changed(session)  # every process drops cached lookups on commit
    return key


async def bootstrap(db: Database, data_dir: Path, bootstrap_key: str | None) -> tuple[str, str] | None:
    """On an empty database, create the default workspace and a `*` key.

    Returns (workspace_id, key) when it created them, else None. The generated key is also written
    to `<data_dir>/bootstrap.json`, readable by the owner only.
    """
    async with db.session() as session:
        if (await session.execute(select(func.count()).select_from(Workspace))).scalar_one() > 0:
            return None
        workspace = await create_workspace(session, "Default workspace")
        _, raw = await create_api_key(session, workspace.id, name="bootstrap", scopes=["*"], raw_key=bootstrap_key)
    _write_owner_only(data_dir / "bootstrap.json", json.dumps({"workspace_id": workspace.id, "api_key": raw}))
    return workspace.id, raw


def _write_owner_only(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as handle:
        handle.write(content + "\n")
