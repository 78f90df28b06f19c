from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from harken.core.db import Base, IdMixin, JSONType, UTCDateTime, utcnow


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


# SQL text of the "unfinished" predicate, shared by the partial indexes and the upsert target. Literal
# constants (not bound parameters) so both planners can prove that a query matches a partial index.
ACTIVE_PREDICATE = "status IN ('queued', 'running')"
QUEUED_PREDICATE = "status = 'queued'"


class Job(IdMixin, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "status", "run_at"),
        # `dedupe_key`: at most one unfinished (queued or running) job per key.
        Index(
            "ux_jobs_dedupe_active",
            "dedupe_key",
            unique=True,
            postgresql_where=text(ACTIVE_PREDICATE),
            sqlite_where=text(ACTIVE_PREDICATE),
        ),
    )

    kind: Mapped[str] = mapped_column(String(128), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    workspace_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.queued)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    locked_by: Mapped[str | None] = mapped_column(String(128), default=None)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # At most one queued-or-running job per key (see `ux_jobs_dedupe_active`); finished jobs free it.
    dedupe_key: Mapped[str | None] = mapped_column(String(255), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


# The claim scan: queued jobs in priority order, then oldest due first. Partial, so finished jobs (the
# bulk of the table until the purge) never enter it. Declared on the bound columns so that Alembic's
# autogenerate sees no difference on SQLite either.
Index(
    "ix_jobs_queue",
    Job.priority.desc(),
    Job.run_at,
    postgresql_where=text(QUEUED_PREDICATE),
    sqlite_where=text(QUEUED_PREDICATE),
)


class JobSchedule(Base):
    """The last slot each periodic job kind was enqueued for: one job per slot across all workers."""

    __tablename__ = "job_schedules"

    kind: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_slot: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
