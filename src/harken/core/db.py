"""Database access: one `Database` per process (engine + session factory), shared column types.

SQLite is the embedded default, PostgreSQL the scale-out path. On SQLite every transaction starts
with `BEGIN IMMEDIATE`, so a transaction that reads and then writes can never fail half-way with
"database is locked" on the upgrade; writers queue on `busy_timeout` instead.
Rule for every caller: never hold a transaction open across network I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, String, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def isoformat(value: datetime | None) -> str | None:
    """ISO-8601 UTC with a `Z`, the wire format of every timestamp."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL, JSON text elsewhere.
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType, list[Any]: JSONType}


class IdMixin:
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so we can issue BEGIN IMMEDIATE ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


@asynccontextmanager
async def committing(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session from `factory` whose transaction commits on success and rolls back on error."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


class Database:
    """Engine and session factory for one database URL."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
            # SQLite has one writer at a time. One write connection per process makes this process's
            # writers queue FIFO on the pool instead of in SQLite's busy handler, whose backoff sleeps
            # (up to 100 ms each) made commit→job-start p99 ~250 ms under a steady 200 writes/s
            # (bench/jobs.py); other processes still queue on busy_timeout. Reads get their own pool.
            kwargs.update(pool_size=1, max_overflow=0, pool_timeout=60)
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Read-only work (GET requests) may start deferred transactions: readers never queue
        # behind writers in WAL mode. Anything that writes must use `sessionmaker`.
        self._read_engine: AsyncEngine | None = None
        read_engine = self.engine
        if self.is_sqlite:
            self._read_engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
            _configure_sqlite(self._read_engine)
            read_engine = self._read_engine.execution_options(sqlite_begin="DEFERRED")
        self.read_sessionmaker = async_sessionmaker(read_engine, expire_on_commit=False)
        self._pool_size = pool_size
        self._bookkeeping_pool: tuple[AsyncEngine, async_sessionmaker[AsyncSession]] | None = None

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error."""
        return committing(self.sessionmaker)

    def bookkeeping_session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """Like `session()`, for writes that may be lost in a database server crash without harm:
        the job queue's and the webhook engine's own state (claims, leases, outcomes), whose loss
        only means something runs again. On PostgreSQL its connections have `synchronous_commit =
        off` (a commit does not wait for the WAL flush; a crash loses at most the last few such
        commits, in order); set per connection, so a transaction costs no extra round trip.
        On SQLite it is `session()`."""
        return self.session() if self.is_sqlite else committing(self._bookkeeping()[1])

    def bookkeeping_connection(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """`bookkeeping_session()` as a Core connection in a transaction: no ORM unit of work, for
        the hottest bookkeeping paths (a transaction costs about half the CPU of an ORM session's)."""
        return (self.engine if self.is_sqlite else self._bookkeeping()[0]).begin()

    def _bookkeeping(self) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
        """The bookkeeping engine and its session factory (PostgreSQL), created on first use."""
        if self._bookkeeping_pool is None:
            engine = create_async_engine(
                self.url,
                pool_size=4,
                max_overflow=self._pool_size,
                # No ping per checkout (a round trip per transaction): callers retry a failed
                # bookkeeping write, and a disconnect error invalidates the whole pool.
                pool_pre_ping=False,
                connect_args={"options": "-c synchronous_commit=off"},
            )
            self._bookkeeping_pool = (engine, async_sessionmaker(engine, expire_on_commit=False))
        return self._bookkeeping_pool

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._bookkeeping_pool is not None:
            await self._bookkeeping_pool[0].dispose()
        if self._read_engine is not None:
            await self._read_engine.dispose()


def sync_url(url: str) -> str:
    """The synchronous driver URL for the same database (Alembic runs synchronously)."""
    return url.replace("sqlite+aiosqlite", "sqlite").replace("postgresql+asyncpg", "postgresql+psycopg")
