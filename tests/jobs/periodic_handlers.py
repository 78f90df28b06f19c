"""A test-only periodic job (every second); loaded only by the workers of the periodic test."""

from __future__ import annotations

from datetime import timedelta

from harken.core.jobs import JobContext, periodic
from tests.jobs.handlers import record


@periodic("test.tick", every=timedelta(seconds=1))
async def tick(ctx: JobContext) -> None:
    await record(ctx)
