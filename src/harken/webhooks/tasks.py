"""Background jobs of the webhooks domain: sending deliveries, purging old ones."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, delete, exists, select

from harken.core.db import utcnow
from harken.core.jobs import Complete, Job, JobContext, JobStatus, enqueue, job_handler, on_worker_stop, periodic
from harken.webhooks.delivery import complete_jobs, prepare_jobs, run_job
from harken.webhooks.events import DELIVER_JOB
from harken.webhooks.models import OPEN_STATUSES, Event, WebhookAttempt, WebhookDelivery
from harken.webhooks.sending import close_clients


@job_handler(
    DELIVER_JOB,
    max_attempts=25,
    backoff_base=1.0,
    backoff_max=60.0,
    # Light and I/O-bound: their own slots, so they batch well and never wait behind long jobs.
    slots=lambda settings: settings.webhook_delivery_concurrency,
    # Start attempts in the claim's transaction and record successes in the finishing one.
    prepare=prepare_jobs,
    complete=complete_jobs,
)
async def deliver(ctx: JobContext) -> Complete | None:
    """Attempt the deliveries this job owns (see `harken.webhooks.delivery`)."""
    return await run_job(ctx)


on_worker_stop(close_clients)


@periodic("webhooks.purge", every=timedelta(hours=1))
async def purge(ctx: JobContext) -> dict[str, int]:
    """Delete deliveries, attempts and events older than `webhook_retention_days`."""
    cutoff = utcnow() - timedelta(days=ctx.settings.webhook_retention_days)
    async with ctx.db.session() as session:
        old = select(WebhookDelivery.id).where(
            WebhookDelivery.created_at < cutoff, WebhookDelivery.status.not_in(OPEN_STATUSES)
        )
        attempts = await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(old)))
        deliveries = await session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.created_at < cutoff, WebhookDelivery.status.not_in(OPEN_STATUSES)
            )
        )
        events = await session.execute(
            delete(Event).where(
                and_(
                    Event.created_at < cutoff,
                    ~exists().where(WebhookDelivery.event_id == Event.id),
                )
            )
        )
    return {
        "attempts": attempts.rowcount or 0,
        "deliveries": deliveries.rowcount or 0,
        "events": events.rowcount or 0,
    }


@periodic("webhooks.sweep", every=timedelta(minutes=5))
async def sweep(ctx: JobContext) -> dict[str, int]:
    """Safety net: an open delivery whose job no longer exists or has failed for good (e.g. its job
    kept hitting database errors) gets a new job, so nothing stays pending forever."""
    stale = utcnow() - timedelta(minutes=10)
    async with ctx.db.session() as session:
        live_job = exists().where(
            Job.id == WebhookDelivery.job_id, Job.status.in_([JobStatus.queued.value, JobStatus.running.value])
        )
        orphans = list(
            (
                await session.execute(
                    select(WebhookDelivery)
                    .where(
                        WebhookDelivery.status.in_(OPEN_STATUSES),
                        WebhookDelivery.updated_at < stale,
                        ~live_job,
                    )
                    .order_by(WebhookDelivery.created_at)
                    .limit(1000)
                )
            ).scalars()
        )
        for start in range(0, len(orphans), 100):
            chunk = orphans[start : start + 100]
            job_id = await enqueue(
                session, DELIVER_JOB, {"delivery_ids": [d.id for d in chunk]}, workspace_id=chunk[0].workspace_id
            )
            for delivery in chunk:
                delivery.job_id = job_id
    return {"requeued": len(orphans)}
