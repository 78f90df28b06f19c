"""Periodic housekeeping of core tables."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from harken.core.db import utcnow
from harken.core.idempotency_models import IdempotencyRecord
from harken.core.jobs import Job, JobContext, JobStatus, periodic


@periodic("core.purge", every=timedelta(minutes=15))
async def purge(ctx: JobContext) -> dict[str, int]:
    """Drop expired idempotency records and finished jobs past their retention."""
    now = utcnow()
    job_cutoff = now - timedelta(hours=ctx.settings.job_retention_hours)
    async with ctx.db.session() as session:
        keys = await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now))
        jobs = await session.execute(
            delete(Job).where(
                Job.status.in_([JobStatus.succeeded.value, JobStatus.cancelled.value]),
                Job.finished_at < job_cutoff,
            )
        )
    return {"idempotency_keys": keys.rowcount or 0, "jobs": jobs.rowcount or 0}
