"""Background jobs of the surveys domain."""

from __future__ import annotations

from harken.core.jobs import JobContext, job_handler
from harken.surveys.programming import JOB_KIND, run_job


@job_handler(JOB_KIND, max_attempts=3, backoff_base=1.0, backoff_max=30.0)
async def program_from_file(ctx: JobContext) -> None:
    """Program a survey from an uploaded questionnaire (idempotent: only the owning job writes)."""
    await run_job(ctx.db, ctx.settings, ctx.job_id, ctx.payload, last_attempt=ctx.is_last_attempt)
