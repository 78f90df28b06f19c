"""Test-only job handlers. Worker subprocesses import this module through
HARKEN_EXTRA_TASK_MODULES=tests.jobs.handlers; every run is recorded in `jobtest_runs` (a table
outside the app's metadata), so tests can count executions per job and detect duplicates."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from harken.core.db import utcnow
from harken.core.jobs import Complete, JobContext, Reschedule, job_handler

test_metadata = MetaData()
runs = Table(
    "jobtest_runs",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(36), nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("n", Integer),
    Column("attempt", Integer, nullable=False),
    Column("phase", String(16), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("at", Float, nullable=False),
)


async def record(ctx: JobContext, phase: str = "done") -> None:
    async with ctx.db.session() as session:
        await session.execute(
            insert(runs).values(
                job_id=ctx.job_id,
                kind=ctx.kind,
                n=ctx.payload.get("n"),
                attempt=ctx.attempt,
                phase=phase,
                pid=os.getpid(),
                at=time.time(),
            )
        )


@job_handler("test.record", max_attempts=3)
async def record_job(ctx: JobContext) -> None:
    await record(ctx)


@job_handler("test.fail", max_attempts=3, backoff_base=0.05)
async def failing_job(ctx: JobContext) -> None:
    await record(ctx, "attempt")
    raise ValueError(f"boom {ctx.payload.get('n')}")


@job_handler("test.flaky", max_attempts=5, backoff_base=0.05)
async def flaky_job(ctx: JobContext) -> None:
    await record(ctx, "attempt")
    if ctx.attempt < ctx.payload["succeed_on"]:
        raise RuntimeError(f"flaky attempt {ctx.attempt}")
    await record(ctx)


@job_handler("test.slow", max_attempts=3)
async def slow_job(ctx: JobContext) -> None:
    """Sleeps `seconds` x JOBTEST_SLEEP_SCALE (default 1), recording its start and its end."""
    await record(ctx, "start")
    await asyncio.sleep(float(ctx.payload.get("seconds", 1)) * float(os.environ.get("JOBTEST_SLEEP_SCALE", "1")))
    await record(ctx)


@job_handler("test.laned", max_attempts=1, slots=lambda settings: 2)
async def laned_job(ctx: JobContext) -> None:
    """Like test.slow, in its own lane of two slots per worker."""
    await record(ctx, "start")
    await asyncio.sleep(float(ctx.payload.get("seconds", 0.3)))
    await record(ctx)


@job_handler("test.reschedule", max_attempts=2)
async def rescheduling_job(ctx: JobContext) -> None:
    """Asks to run again `delay` seconds later on its first run, then finishes."""
    async with ctx.db.session() as session:
        earlier = (await session.execute(select(func.count()).where(runs.c.job_id == ctx.job_id))).scalar_one()
    await record(ctx, "attempt")
    if earlier == 0:
        delay = float(ctx.payload.get("delay", 0.3))
        raise Reschedule(utcnow() + timedelta(seconds=delay), count_attempt=bool(ctx.payload.get("count")))
    await record(ctx)


@job_handler("test.result")
async def result_job(ctx: JobContext) -> dict[str, int]:
    await record(ctx)
    return {"double": 2 * int(ctx.payload["n"])}


@job_handler("test.timeout", max_attempts=1, timeout=0.2)
async def timeout_job(ctx: JobContext) -> None:
    await asyncio.sleep(5)


def _run_row(job_id: str, kind: str, n: int | None, attempt: int, phase: str) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "kind": kind,
        "n": n,
        "attempt": attempt,
        "phase": phase,
        "pid": os.getpid(),
        "at": time.time(),
    }


async def prepare_hooked(
    connection: AsyncConnection, db: Any, settings: Any, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """Writes a `prepared` run in the claim's transaction; fails for a job whose payload says so."""
    for row in rows:
        await connection.execute(
            insert(runs).values(_run_row(row["id"], row["kind"], row["payload"]["n"], row["attempts"], "prepared"))
        )
    if any(row["payload"].get("prepare_fails") for row in rows):
        raise RuntimeError("prepare failed")
    return {row["id"]: f"p{row['payload']['n']}" for row in rows}


async def complete_hooked(connection: AsyncConnection, db: Any, settings: Any, values: list[Any]) -> None:
    """Writes a `completed` run in the transaction that marks the job succeeded; fails on a
    first attempt whose payload says so."""
    for job_id, n, attempt, fails in values:
        await connection.execute(insert(runs).values(_run_row(job_id, "test.hooked", n, attempt, "completed")))
        if fails and attempt == 1:
            raise RuntimeError("complete failed")


@job_handler("test.hooked", max_attempts=3, prepare=prepare_hooked, complete=complete_hooked)
async def hooked_job(ctx: JobContext) -> Complete:
    """Records whether its `prepare` hook's value reached it; leaves a value to its `complete` hook."""
    n = ctx.payload["n"]
    await record(ctx, "saw-prep" if ctx.prepared == f"p{n}" else "no-prep")
    return Complete((ctx.job_id, n, ctx.attempt, bool(ctx.payload.get("complete_fails"))))
