"""Background jobs on the application database (contract §6).

    from harken.core.jobs import enqueue, job_handler, periodic, JobContext

    @job_handler("knowledge.ingest", max_attempts=3)
    async def ingest(ctx: JobContext) -> None: ...

    await enqueue(session, "knowledge.ingest", {"conversation_id": cid}, workspace_id=ws)

`enqueue` writes the job in the caller's transaction: rolled back, no job. Handlers must be
idempotent (at-least-once execution) and must open their own short sessions via `ctx.db`.
"""

from harken.core.jobs.models import Job, JobStatus
from harken.core.jobs.queue import (
    Complete,
    JobContext,
    Reschedule,
    enqueue,
    enqueue_many,
    job_handler,
    on_worker_stop,
    periodic,
    registered_handlers,
    registered_periodics,
)
from harken.core.jobs.worker import Worker

__all__ = [
    "Complete",
    "Job",
    "JobContext",
    "JobStatus",
    "Reschedule",
    "Worker",
    "enqueue",
    "enqueue_many",
    "job_handler",
    "on_worker_stop",
    "periodic",
    "registered_handlers",
    "registered_periodics",
]
