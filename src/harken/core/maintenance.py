"""Periodic housekeeping of core tables."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from harken.core.db import Database, utcnow
from harken.core.idempotency_models import IdempotencyRecord
from harken.core.jobs import Job, JobContext, JobStatus, periodic

PURGE_BATCH = 5000


async def _delete_in_batches(db: Database, model: Any, *where: Any) -> int:
    """Delete matching rows a batch per short transaction (never one huge lock-holding delete)."""
    total = 0
    while True:
        async with db.session() as session:
            ids = select(model.id).where(*where).limit(PURGE_BATCH).scalar_subquery()
            result = await session.execute(
                delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False)
            )
        deleted = result.rowcount or 0
        total += deleted
        if deleted < PURGE_BATCH:
            return total


@periodic("core.purge", every=timedelta(minutes=15))
async def purge(ctx: JobContext) -> dict[str, int]:
    """Drop expired idempotency records and finished jobs past their retention
    (`job_retention_hours` for succeeded/cancelled, `job_failed_retention_hours` for failed)."""
    now = utcnow()
    done_cutoff = now - timedelta(hours=ctx.settings.job_retention_hours)
    failed_cutoff = now - timedelta(hours=ctx.settings.job_failed_retention_hours)
    keys = await _delete_in_batches(ctx.db, IdempotencyRecord, IdempotencyRecord.expires_at < now)
    jobs = await _delete_in_batches(
        ctx.db,
        Job,
        Job.status.in_([JobStatus.succeeded.value, JobStatus.cancelled.value]),
        Job.finished_at < done_cutoff,
    )
    jobs += await _delete_in_batches(ctx.db, Job, Job.status == JobStatus.failed.value, Job.finished_at < failed_cutoff)
    return {"idempotency_keys": keys, "jobs": jobs}
