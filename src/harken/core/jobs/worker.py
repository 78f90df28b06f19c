"""The job worker: claims due jobs, runs them under a renewed lease, retries or fails them.

Claiming is one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, so any number of
workers (in-process or `harken worker`, on any number of machines) share one PostgreSQL table
without double-claims. On SQLite the statement runs inside a `BEGIN IMMEDIATE` transaction, which
serializes claimers. A job whose lease expires (its worker died) is claimed again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import traceback
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from harken.core.db import Database, new_id, utcnow
from harken.core.jobs.models import Job, JobStatus
from harken.core.jobs.queue import (
    JobContext,
    Reschedule,
    add_wake_listener,
    registered_handlers,
    registered_periodics,
    remove_wake_listener,
)
from harken.core.settings import Settings

logger = logging.getLogger("harken.jobs")


class Worker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        concurrency: int | None = None,
        name: str | None = None,
        kinds: list[str] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.concurrency = concurrency or settings.worker_concurrency
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{new_id()[:8]}"
        self.kinds = kinds
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.processed = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def _on_wake(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Run until `stop()`; then wait for running jobs (graceful shutdown)."""
        import harken.tasks  # noqa: F401 - registers every domain's handlers

        self._loop = asyncio.get_running_loop()
        add_wake_listener(self._on_wake)
        logger.info("worker %s started (concurrency %d)", self.name, self.concurrency)
        try:
            while not self._stopping.is_set():
                try:
                    await self._schedule_periodics()
                    claimed = await self._claim_and_start()
                except Exception:
                    logger.exception("worker %s: claim failed", self.name)
                    claimed = 0
                if claimed == 0 or len(self._running) >= self.concurrency:
                    self._wake.clear()
                    waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(self._stopping.wait())]
                    await asyncio.wait(
                        waiters, timeout=self.settings.worker_poll_interval, return_when=asyncio.FIRST_COMPLETED
                    )
                    for waiter in waiters:
                        waiter.cancel()
        finally:
            remove_wake_listener(self._on_wake)
            await self._drain()
            logger.info("worker %s stopped after %d jobs", self.name, self.processed)

    def stop(self) -> None:
        self._stopping.set()

    async def _drain(self, grace: float = 30.0) -> None:
        if not self._running:
            return
        _done, pending = await asyncio.wait(list(self._running.values()), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # -- claiming ------------------------------------------------------------------------------

    async def _schedule_periodics(self) -> None:
        periodics = registered_periodics()
        if not periodics:
            return
        now = utcnow()
        async with self.db.session() as session:
            factory = sqlite_insert if self.db.is_sqlite else pg_insert
            for spec in periodics.values():
                seconds = spec.every.total_seconds()
                slot = int(now.timestamp() // seconds)
                stmt = (
                    factory(Job)
                    .values(
                        id=new_id(),
                        kind=spec.kind,
                        payload={},
                        status=JobStatus.queued.value,
                        run_at=now,
                        attempts=0,
                        max_attempts=1,
                        dedupe_key=f"periodic:{spec.kind}:{slot}",
                        created_at=now,
                        priority=0,
                    )
                    .on_conflict_do_nothing(index_elements=["dedupe_key"])
                )
                await session.execute(stmt)

    async def _claim_and_start(self) -> int:
        free = self.concurrency - len(self._running)
        if free <= 0:
            return 0
        rows = await self.claim(free)
        for row in rows:
            task = asyncio.create_task(self._execute(row))
            self._running[row["id"]] = task
            task.add_done_callback(lambda _t, job_id=row["id"]: self._running.pop(job_id, None))
        return len(rows)

    async def claim(self, limit: int) -> list[dict[str, Any]]:
        now = utcnow()
        lease = timedelta(seconds=self.settings.job_lease_seconds)
        due = or_(
            and_(Job.status == JobStatus.queued.value, Job.run_at <= now),
            and_(Job.status == JobStatus.running.value, Job.locked_until < now),
        )
        candidates = select(Job.id).where(due)
        if self.kinds:
            candidates = candidates.where(Job.kind.in_(self.kinds))
        candidates = candidates.order_by(Job.priority.desc(), Job.run_at).limit(limit)
        if not self.db.is_sqlite:
            candidates = candidates.with_for_update(skip_locked=True)
        stmt = (
            update(Job)
            .where(Job.id.in_(candidates.scalar_subquery()))
            .values(
                status=JobStatus.running.value,
                locked_by=self.name,
                locked_until=now + lease,
                attempts=Job.attempts + 1,
                started_at=now,
            )
            .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts, Job.workspace_id)
            .execution_options(synchronize_session=False)
        )
        async with self.db.session() as session:
            result = await session.execute(stmt)
            return [dict(row._mapping) for row in result]

    # -- running -------------------------------------------------------------------------------

    async def _execute(self, row: dict[str, Any]) -> None:
        job_id, kind = row["id"], row["kind"]
        spec = registered_handlers().get(kind)
        if spec is None:
            await self._finish(job_id, JobStatus.failed, error=f"no handler registered for job kind {kind!r}")
            return
        if row["attempts"] > row["max_attempts"]:
            # The lease of the last allowed attempt expired: its worker died. Give up.
            await self._finish(job_id, JobStatus.failed, error="lease expired on the last attempt")
            return
        ctx = JobContext(
            job_id=job_id,
            kind=kind,
            payload=row["payload"] or {},
            attempt=row["attempts"],
            max_attempts=row["max_attempts"],
            workspace_id=row["workspace_id"],
            db=self.db,
            settings=self.settings,
        )
        renewer = asyncio.create_task(self._renew_lease(job_id))
        try:
            if spec.timeout:
                result = await asyncio.wait_for(spec.handler(ctx), timeout=spec.timeout)
            else:
                result = await spec.handler(ctx)
        except Reschedule as signal:
            await self._reschedule(job_id, signal)
        except asyncio.CancelledError:
            # Shutdown: hand the job back untouched so another worker runs it at once.
            await asyncio.shield(self._release(job_id))
            raise
        except Exception as exc:
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            logger.warning("job %s (%s) attempt %d failed: %s", job_id, kind, ctx.attempt, error)
            if ctx.attempt >= ctx.max_attempts:
                await self._finish(job_id, JobStatus.failed, error=error)
            else:
                await self._retry(job_id, spec.backoff(ctx.attempt), error)
        else:
            await self._finish(job_id, JobStatus.succeeded, result=result if isinstance(result, dict) else None)
        finally:
            renewer.cancel()
            self.processed += 1

    async def _renew_lease(self, job_id: str) -> None:
        interval = max(0.5, self.settings.job_lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.db.session() as session:
                    await session.execute(
                        update(Job)
                        .where(Job.id == job_id, Job.locked_by == self.name)
                        .values(locked_until=utcnow() + timedelta(seconds=self.settings.job_lease_seconds))
                    )
            except Exception:
                logger.exception("lease renewal failed for job %s", job_id)

    def _owned(self, job_id: str) -> Any:
        return and_(Job.id == job_id, Job.locked_by == self.name, Job.status == JobStatus.running.value)

    async def _finish(
        self, job_id: str, status: JobStatus, *, error: str | None = None, result: dict[str, Any] | None = None
    ) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(Job)
                .where(self._owned(job_id))
                .values(
                    status=status.value,
                    finished_at=utcnow(),
                    locked_by=None,
                    locked_until=None,
                    last_error=error,
                    result=result,
                )
            )

    async def _retry(self, job_id: str, delay: float, error: str) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(Job)
                .where(self._owned(job_id))
                .values(
                    status=JobStatus.queued.value,
                    run_at=utcnow() + timedelta(seconds=delay),
                    locked_by=None,
                    locked_until=None,
                    last_error=error,
                )
            )

    async def _reschedule(self, job_id: str, signal: Reschedule) -> None:
        values: dict[str, Any] = {
            "status": JobStatus.queued.value,
            "run_at": signal.run_at,
            "locked_by": None,
            "locked_until": None,
        }
        if not signal.count_attempt:
            values["attempts"] = Job.attempts - 1
        async with self.db.session() as session:
            await session.execute(update(Job).where(self._owned(job_id)).values(**values))

    async def _release(self, job_id: str) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(Job)
                .where(self._owned(job_id))
                .values(
                    status=JobStatus.queued.value,
                    attempts=Job.attempts - 1,
                    locked_by=None,
                    locked_until=None,
                )
            )
