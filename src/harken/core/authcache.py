"""A per-process cache of API-key lookups that keeps revocation immediate.

Authenticating every request with a database lookup costs several round trips (pool checkout,
BEGIN, SELECT, COMMIT), which dominated the latency of small authenticated requests (see
`docs/benchmarks/platform.md`). This cache keeps the resolved key for `HARKEN_AUTH_CACHE_SECONDS`,
and is only trusted while an **invalidation signal** is live:

- SQLite (one host): an "auth epoch" file next to the database file. Whoever revokes a key or
  changes a workspace's rate limit (API or CLI, any process) rewrites it right after the commit;
  every request reads it (a few microseconds, no database round trip) and drops the whole cache
  when it changed.
- PostgreSQL (any number of hosts): the same changes run `pg_notify('harken_auth', ...)` inside
  their transaction, so the notification is delivered when they commit; each process LISTENs on a
  connection of its own. While that connection is down the cache is bypassed (every request
  queries the database), so a lost notification can never keep a revoked key alive.

An entry is stored only if the epoch did not change while it was being looked up, so a lookup
racing with a revocation cannot re-insert the revoked key. Expiry (`expires_at`) is checked on
every request against the cached value. Changes made behind the application's back (raw SQL) are
picked up after at most the TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger("harken.auth")

CHANNEL = "harken_auth"
MAX_ENTRIES = 50_000
REREAD_SECONDS = 0.1
_CACHES: weakref.WeakSet[AuthCache] = weakref.WeakSet()


@dataclass(frozen=True)
class CachedKey:
    api_key_id: str
    workspace_id: str
    scopes: tuple[str, ...]
    user_id: str | None
    name: str
    key_prefix: str
    created_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    rate_limit: str | None


def epoch_file_for(database_url: str) -> Path | None:
    """The SQLite auth-epoch file for a database URL (None: not a SQLite file)."""
    if not database_url.startswith("sqlite"):
        return None
    path = make_url(database_url).database
    if not path or path == ":memory:":
        return None
    return Path(path).resolve().with_name(Path(path).name + ".auth-epoch")


def bump_epoch_file(path: Path) -> None:
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(uuid.uuid4().hex)
    os.replace(tmp, path)


def mark_auth_changed(session: AsyncSession) -> None:
    """Call inside a transaction that revokes a key or changes what a key resolves to (scopes,
    workspace rate limit): every process drops its cached lookups once the transaction commits."""
    sync_session = session.sync_session
    if sync_session.info.get("harken_auth_changed"):
        return
    sync_session.info["harken_auth_changed"] = True
    bind = sync_session.get_bind()
    url = bind.url.render_as_string(hide_password=False)
    epoch_file = epoch_file_for(url)

    def after_commit(committed: Any) -> None:
        committed.info.pop("harken_auth_changed", None)
        for cache in list(_CACHES):  # this process: at once, before anything else can run
            cache.local_change()
        if epoch_file is not None:
            try:
                bump_epoch_file(epoch_file)
            except OSError:
                logger.warning("could not bump the auth epoch file %s", epoch_file, exc_info=True)

    def after_rollback(rolled_back: Any) -> None:
        rolled_back.info.pop("harken_auth_changed", None)

    event.listen(sync_session, "after_commit", after_commit, once=True)
    event.listen(sync_session, "after_soft_rollback", after_rollback, once=True)
    return None


async def notify_auth_changed(session: AsyncSession) -> None:
    """`mark_auth_changed` plus, on PostgreSQL, the NOTIFY delivered at commit."""
    mark_auth_changed(session)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


class AuthCache:
    def __init__(self, database_url: str, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self.database_url = database_url
        self._entries: dict[str, tuple[float, Any, CachedKey]] = {}
        self._epoch_file = epoch_file_for(database_url)
        self._is_postgres = database_url.startswith("postgresql")
        self._pg_epoch = 0
        self._pg_live = False
        self._listener: asyncio.Task[None] | None = None
        self._closed = False
        self._local_epoch = 0
        self._epoch_path = str(self._epoch_file) if self._epoch_file is not None else ""
        self._file_signature: tuple[int, int, int] | None = None
        self._file_content = b""
        self._file_read_at = 0.0
        _CACHES.add(self)

    @property
    def enabled(self) -> bool:
        if self.ttl <= 0 or self._closed:
            return False
        if self._is_postgres:
            self._ensure_listener()
            return self._pg_live
        return self._epoch_file is not None

    def epoch(self) -> Any:
        """The current invalidation epoch (cheap: a small file read, or counters)."""
        if self._is_postgres:
            return (self._local_epoch, self._pg_epoch)
        return (self._local_epoch, self._file_epoch())

    def _file_epoch(self) -> bytes:
        """The epoch file's content; re-read when its inode/mtime/size change (one stat per
        request) and at least every `REREAD_SECONDS` (covers an inode reused within one mtime
        tick, the only way a change could hide from the stat)."""
        try:
            st = os.stat(self._epoch_path)
        except FileNotFoundError:
            return b""
        signature = (st.st_ino, st.st_mtime_ns, st.st_size)
        now = time.monotonic()
        if signature != self._file_signature or now - self._file_read_at > REREAD_SECONDS:
            try:
                with open(self._epoch_path, "rb") as handle:
                    self._file_content = handle.read()
            except FileNotFoundError:
                return b""
            self._file_signature = signature
            self._file_read_at = now
        return self._file_content

    def local_change(self) -> None:
        """A change committed in this process: invalidate before the next request runs."""
        self._local_epoch += 1
        self._entries.clear()

    def get(self, key_hash: str) -> tuple[Any, CachedKey | None]:
        """(epoch observed now, the cached key or None). Call `put` with that epoch after a lookup."""
        if not self.enabled:
            return None, None
        epoch = self.epoch()
        entry = self._entries.get(key_hash)
        if entry is None:
            return epoch, None
        stored_at, stored_epoch, cached = entry
        if stored_epoch != epoch or time.monotonic() - stored_at > self.ttl:
            self._entries.pop(key_hash, None)
            return epoch, None
        return epoch, cached

    def put(self, key_hash: str, epoch_before_lookup: Any, cached: CachedKey) -> None:
        if epoch_before_lookup is None or not self.enabled:
            return
        if self.epoch() != epoch_before_lookup:  # something changed while we looked it up
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key_hash] = (time.monotonic(), epoch_before_lookup, cached)

    def invalidate(self) -> None:
        self._entries.clear()

    # --- PostgreSQL LISTEN -------------------------------------------------------------------

    def start(self) -> None:
        """Connect the invalidation listener now (PostgreSQL) rather than on the first request."""
        if self._is_postgres and self.ttl > 0:
            self._ensure_listener()

    def _ensure_listener(self) -> None:
        if self._listener is None and not self._closed:
            with contextlib.suppress(RuntimeError):  # no running loop: stay disabled
                self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        import psycopg

        conninfo = make_url(self.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._closed:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    # Anything that happened before LISTEN was in place is covered by this bump.
                    self._pg_epoch += 1
                    self._entries.clear()
                    self._pg_live = True
                    async for _ in conn.notifies():
                        self._pg_epoch += 1
                        self._entries.clear()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("auth cache listener lost its connection; cache bypassed", exc_info=True)
            finally:
                self._pg_live = False
                self._entries.clear()
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        self._closed = True
        self._pg_live = False
        self._entries.clear()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
