"""Background jobs of the knowledge domain.

- `knowledge.ingest_conversation` `{"conversation_id"}`: the per-conversation pipeline (resumable).
- `knowledge.synthesize` `{"interview_id"}`: campaign synthesis, then `synthesis.completed`.
"""

from __future__ import annotations

from harken.core.jobs import JobContext, job_handler
from harken.knowledge.pipeline import ingest_conversation
from harken.knowledge.service import run_synthesis


@job_handler("knowledge.ingest_conversation", max_attempts=4, backoff_base=2.0, timeout=600)
async def ingest(ctx: JobContext) -> str:
    return await ingest_conversation(ctx.db, ctx.settings, str(ctx.payload["conversation_id"]))


@job_handler("knowledge.synthesize", max_attempts=3, backoff_base=5.0, timeout=1800)
async def synthesize(ctx: JobContext) -> str:
    # waits (rescheduling itself, not counting attempts) while ingest jobs of the campaign run
    return await run_synthesis(
        ctx.db, ctx.settings, str(ctx.payload["interview_id"]), final_attempt=ctx.is_last_attempt, wait_for_jobs=True
    )
