"""The job worker: claims due jobs in batches, runs them under a renewed lease, retries or fails them.

Claiming is one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING`, so any
number of workers (in-process or `harken worker`, on any number of machines) share one PostgreSQL
table without double-claims. On SQLite every write transaction is `BEGIN IMMEDIATE`, which
serializes claimers across processes (they queue on `busy_timeout`, never fail).

Per worker process there are four loops: the claim loop (claims as many jobs as it has free slots,
then sleeps until a slot frees up while the queue has more, a wake-up, or the poll interval), a lease
renewer (one UPDATE for all running jobs every lease/3), a completion flusher (successes are written
in batches: one UPDATE per group, like a group commit) and, on PostgreSQL, a LISTEN connection on
`harken_jobs` (a trigger NOTIFYs on every committed INSERT into `jobs`). Housekeeping in the claim
loop requeues jobs whose lease expired (their worker died) and enqueues periodic jobs, one per slot
across all workers (`job_schedules`).

Execution is at-least-once: a worker that dies after running a handler but before its outcome is
written leaves the job to be run again once the lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, case, literal, literal_column, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from harken.core.bulk import one_of
from harken.core.context import workspace_id_var
from harken.core.db import Database, UTCDateTime, new_id, utcnow
from harken.core.jobs.models import ACTIVE_PREDICATE, Job, JobSchedule, JobStatus
from harken.core.jobs.queue import (
    Complete,
    JobContext,
    JobSpec,
    Reschedule,
    add_wake_listener,
    load_task_modules,
    registered_handlers,
    registered_periodics,
    remove_wake_listener,
    worker_stop_hooks,
)
from harken.core.metrics import JOBS_PROCESSED
from harken.core.settings import Settings

logger = logging.getLogger("harken.jobs")

NOTIFY_CHANNEL = "harken_jobs"
_QUEUED = literal_column("'queued'")
_RUNNING = literal_column("'running'")


def _format_error(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[:4000]


@dataclass(eq=False)  # compared and hashed by identity: lanes key the claim results
class Lane:
    """A set of job kinds sharing `limit` slots in one worker."""

    kinds: list[str]
    limit: int
    own: bool = False  # one kind's own slots (else the worker's shared concurrency)
    running: set[str] = field(default_factory=set)

    @property
    def free(self) -> int:
        return self.limit - len(self.running)


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
        self.concurrency = max(1, concurrency or settings.worker_concurrency)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{new_id()[:8]}"
        self.kinds = kinds
        self.processed = 0
        self.outcomes: dict[str, int] = {}
        self.listening = False  # True while the PostgreSQL LISTEN connection is up
        self._stopping = asyncio.Event()
        self._force = asyncio.Event()
        self._event = asyncio.Event()  # "look at the queue now"
        self._notified = False  # new jobs were announced while every slot was busy
        self._enqueued = False  # ... by a commit of this process
        self._more = False  # the last claim filled every free slot: the queue may hold more
        self._running: dict[str, asyncio.Task[None]] = {}
        self._lanes: list[Lane] = []
        self._lane_of: dict[str, Lane] = {}  # running job id -> its lane
        self._done: list[str] = []  # succeeded jobs whose outcome is not written yet
        self._results: dict[str, dict[str, Any]] = {}  # the result of each of those that returned one
        # what each of those that returned `Complete(value)` leaves to its kind's `complete` hook
        self._completions: dict[str, tuple[JobSpec, Any]] = {}
        self._flush_event = asyncio.Event()
        self._flush_closing = False
        self._batching = False  # successes are written in batches while `run()` is active
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_slot: dict[str, int] = {}
        self._next_reap = 0.0
        self._handled: list[str] = []

    # -- lifecycle -----------------------------------------------------------------------------

    def _on_wake(self) -> None:
        """New jobs were committed in this process (called from any thread)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._signal_new_jobs, True)

    def _signal_new_jobs(self, enqueued: bool = False) -> None:
        """Look at the queue soon; `enqueued`: this process committed new jobs (a LISTEN or
        `data_version` wake-up may be any commit)."""
        self._notified = True
        self._enqueued = self._enqueued or enqueued
        if any(lane.free > 0 for lane in self._lanes):
            self._event.set()

    def stop(self, *, now: bool = False) -> None:
        """Stop claiming; running jobs get `job_shutdown_grace_seconds` (or none with `now`), then
        are released back to the queue untouched."""
        self._stopping.set()
        if now:
            self._force.set()
        self._event.set()

    async def run(self) -> None:
        """Run until `stop()`; then finish or release running jobs (graceful shutdown)."""
        load_task_modules(self.settings)
        self._loop = asyncio.get_running_loop()
        handlers = registered_handlers()
        self._handled = sorted(set(self.kinds) & set(handlers)) if self.kinds else sorted(handlers)
        self._lanes = self._make_lanes(handlers)
        add_wake_listener(self._on_wake)
        helpers = [
            asyncio.create_task(self._renew_loop(), name="jobs-renew"),
        ]
        flusher = asyncio.create_task(self._flush_loop(), name="jobs-flush")
        self._batching = True
        if self.settings.worker_listen:
            watch = self._sqlite_watch_loop() if self.db.is_sqlite else self._listen_loop()
            helpers.append(asyncio.create_task(watch, name="jobs-listen"))
        own = ", ".join(f"{lane.kinds[0]} {lane.limit}" for lane in self._lanes if lane.own)
        logger.info("worker %s started (concurrency %d; own slots: %s)", self.name, self.concurrency, own or "none")
        try:
            await self._claim_loop()
        finally:
            remove_wake_listener(self._on_wake)
            await self._drain()
            self._flush_closing = True
            self._batching = False
            self._flush_event.set()
            with contextlib.suppress(Exception):
                await flusher
            try:
                await self._flush()  # anything the flusher could not write
            except Exception:
                logger.exception("worker %s: %d finished jobs not recorded; they run again", self.name, len(self._done))
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            for hook in worker_stop_hooks():
                try:
                    await hook()
                except Exception:
                    logger.exception("worker %s: stop hook %r failed", self.name, hook)
            logger.info("worker %s stopped after %d jobs", self.name, self.processed)

    async def _claim_loop(self) -> None:
        poll = max(0.01, self.settings.worker_poll_interval)
        failures = 0  # consecutive database errors: back off (up to 10 s) while the database is away
        while not self._stopping.is_set():
            try:
                await self._housekeeping()
            except Exception as exc:
                self._log_failure("housekeeping failed", exc, failures)
            free = {lane: lane.free for lane in self._lanes if lane.free > 0}
            if free:
                # Jobs this process enqueued (or a full last claim) are very likely there: skip the
                # read check.
                expected = self._enqueued or self._more
                self._notified = self._enqueued = False
                self._event.clear()
                try:
                    rows = await self._flush_and_claim(free, expected=expected)
                    failures = 0
                except Exception as exc:
                    self._log_failure("claim failed", exc, failures)
                    failures += 1
                    rows = {}
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(min(10.0, poll * 2**failures)):
                            await self._stopping.wait()
                self._more = any(len(rows.get(lane, [])) == n for lane, n in free.items())
                for lane, lane_rows in rows.items():
                    for row in lane_rows:
                        self._start(row, lane)
                if self._stopping.is_set():
                    break
            if not self._event.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(poll):
                        await self._event.wait()
            # Let sibling jobs that finish in the same tick free their slots: claim in batches.
            await asyncio.sleep(0)

    def _log_failure(self, what: str, exc: Exception, failures: int) -> None:
        if failures == 0:
            logger.exception("worker %s: %s", self.name, what)
        elif failures % 20 == 0:
            logger.error("worker %s: %s (%d times in a row): %s", self.name, what, failures + 1, _format_error(exc))

    def _make_lanes(self, handlers: dict[str, JobSpec]) -> list[Lane]:
        """The shared lane (the worker's concurrency) and one lane per kind with its own slots."""
        shared = [kind for kind in self._handled if handlers[kind].slots is None]
        lanes = [Lane(shared, self.concurrency)] if shared else []
        for kind in self._handled:
            slots = handlers[kind].slots
            if slots is not None:
                lanes.append(Lane([kind], max(1, slots(self.settings)), own=True))
        return lanes

    def _start(self, row: dict[str, Any], lane: Lane) -> None:
        job_id = row["id"]
        task = asyncio.create_task(self._execute(row), name=f"job-{job_id}")
        self._running[job_id] = task
        lane.running.add(job_id)
        self._lane_of[job_id] = lane
        task.add_done_callback(lambda _t: self._job_done(job_id))

    def _job_done(self, job_id: str) -> None:
        self._running.pop(job_id, None)
        lane = self._lane_of.pop(job_id, None)
        if lane is not None:
            lane.running.discard(job_id)
        if self._more or self._notified:
            self._event.set()

    async def _drain(self) -> None:
        if not self._running:
            return
        loop = asyncio.get_running_loop()
        pending: set[asyncio.Future[Any]] = set(self._running.values())
        logger.info("worker %s: waiting for %d running jobs", self.name, len(pending))
        deadline = loop.time() + self.settings.job_shutdown_grace_seconds
        force = asyncio.ensure_future(self._force.wait())
        try:
            while pending and not force.done():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                _done, rest = await asyncio.wait(
                    {*pending, force}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                pending = {task for task in rest if task is not force}
        finally:
            force.cancel()
        if pending:
            logger.warning("worker %s: releasing %d jobs still running at shutdown", self.name, len(pending))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _bookkeeping(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A Core transaction on the queue's own state (claims, outcomes, leases): `synchronous_commit
        = off` on PostgreSQL (`Database.bookkeeping_connection`). If the server crashes, the last few
        such writes may be lost, which only means a job runs again (at-least-once already) or is
        requeued. Handlers' own transactions keep full durability."""
        return self.db.bookkeeping_connection()

    # -- housekeeping: periodic jobs and expired leases ----------------------------------------

    async def _housekeeping(self) -> None:
        await self._schedule_periodics()
        if time.monotonic() >= self._next_reap:
            interval = min(15.0, max(0.25, self.settings.job_lease_seconds / 2))
            self._next_reap = time.monotonic() + interval
            await self.reap_expired()

    async def _schedule_periodics(self) -> None:
        now = utcnow()
        due: list[tuple[str, int]] = []
        for spec in registered_periodics().values():
            if spec.kind not in self._handled:
                continue
            slot = int(now.timestamp() // spec.every.total_seconds())
            if slot > self._last_slot.get(spec.kind, -1):
                due.append((spec.kind, slot))
        if not due:
            return
        factory = sqlite_insert if self.db.is_sqlite else pg_insert
        async with self.db.session() as session:
            for kind, slot in due:
                if kind not in self._last_slot:
                    await session.execute(
                        factory(JobSchedule)
                        .values(kind=kind, last_slot=-1, updated_at=now)
                        .on_conflict_do_nothing(index_elements=["kind"])
                    )
                # Row lock (PostgreSQL) / write lock (SQLite): exactly one worker wins each slot.
                won = await session.execute(
                    update(JobSchedule)
                    .where(JobSchedule.kind == kind, JobSchedule.last_slot < slot)
                    .values(last_slot=slot, updated_at=now)
                )
                if won.rowcount == 1:
                    spec = registered_handlers()[kind]
                    await session.execute(
                        factory(Job)
                        .values(
                            id=new_id(),
                            kind=kind,
                            payload={"slot": slot},
                            status=JobStatus.queued.value,
                            run_at=now,
                            attempts=0,
                            max_attempts=spec.max_attempts or 1,
                            # Never pile up: skip the slot while the previous run is unfinished.
                            dedupe_key=f"periodic:{kind}",
                            created_at=now,
                            priority=0,
                        )
                        .on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=text(ACTIVE_PREDICATE))
                    )
        for kind, slot in due:
            self._last_slot[kind] = slot
        self._signal_new_jobs()

    async def reap_expired(self) -> int:
        """Requeue jobs whose lease expired (their worker died or hung); fail them on the last attempt."""
        now = utcnow()
        exhausted = Job.attempts >= Job.max_attempts
        stmt = (
            update(Job)
            .where(Job.status == _RUNNING, Job.locked_until < now)
            .values(
                status=case((exhausted, JobStatus.failed.value), else_=JobStatus.queued.value),
                finished_at=case((exhausted, literal(now, UTCDateTime())), else_=None),
                run_at=now,
                last_error="lease expired: worker " + Job.locked_by + " stopped renewing it",
                locked_by=None,
                locked_until=None,
            )
            .returning(Job.id, Job.kind, Job.status)
            .execution_options(synchronize_session=False)
        )
        async with self._bookkeeping() as session:
            rows = (await session.execute(stmt)).all()
        for row in rows:
            outcome = "lease_expired" if row.status == JobStatus.queued.value else "lease_expired_failed"
            self._count(row.kind, outcome)
            logger.warning("job %s (%s): lease expired, %s", row.id, row.kind, row.status)
        if rows:
            self._signal_new_jobs()
        return len(rows)

    # -- claiming ------------------------------------------------------------------------------

    async def claim(self, limit: int) -> list[dict[str, Any]]:
        """Claim up to `limit` due queued jobs for this worker (attempts + 1, lease set)."""
        async with self._bookkeeping() as session:
            result = await session.execute(self._claim_statement([(self._handled or self.kinds or [], limit)]))
            rows = [dict(row._mapping) for row in result]
            await self._prepare(session, rows)
            return rows

    async def _prepare(self, session: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        """Run the `prepare` hook of each claimed kind that has one, in the claim's transaction; its
        per-job values go into the rows (`prepared`). A failing hook is rolled back to its
        savepoint and its jobs run unprepared."""
        handlers = registered_handlers()
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            spec = handlers.get(row["kind"])
            # (a job past its last attempt is failed unrun: nothing to prepare)
            if spec is not None and spec.prepare is not None and row["attempts"] <= row["max_attempts"]:
                by_kind.setdefault(row["kind"], []).append(row)
        for kind, kind_rows in by_kind.items():
            hook = handlers[kind].prepare
            assert hook is not None
            try:
                async with session.begin_nested():
                    prepared = await hook(session, self.db, self.settings, kind_rows)
            except Exception:
                logger.exception("worker %s: prepare hook of %s failed; its jobs run unprepared", self.name, kind)
                continue
            for row in kind_rows:
                row["prepared"] = prepared.get(row["id"])

    async def _flush_and_claim(
        self, free: dict[Lane, int], *, expected: bool = False
    ) -> dict[Lane, list[dict[str, Any]]]:
        """Write pending successes and claim more for each lane with free slots (`free`: lane to
        free slots), in one transaction (one commit per cycle). `expected`: jobs were announced."""
        if self.db.is_sqlite and not self._done and not expected and not await self._anything_due():
            return {}  # idle polls never take SQLite's write lock
        job_ids, self._done = self._done, []
        claimed: dict[Lane, list[dict[str, Any]]] = {}
        try:
            async with self._bookkeeping() as session:
                if job_ids:
                    await self._write_successes(session, job_ids)
                wanted = [(lane.kinds, limit) for lane, limit in free.items()]
                lane_of_kind = {kind: lane for lane in free for kind in lane.kinds}
                rows = [dict(row._mapping) for row in await session.execute(self._claim_statement(wanted))]
                await self._prepare(session, rows)
                for row in rows:
                    claimed.setdefault(lane_of_kind[row["kind"]], []).append(row)
        except BaseException:
            self._done[:0] = job_ids
            raise
        self._forget_results(job_ids)
        return claimed

    def _due(self, now: Any, kinds: list[str] | None = None) -> Any:
        query = select(Job.id).where(Job.status == _QUEUED, Job.run_at <= now)
        kinds = kinds or self._handled or self.kinds
        return query.where(Job.kind.in_(kinds)) if kinds else query

    async def _anything_due(self) -> bool:
        async with self.db.read_sessionmaker() as session:
            return (await session.execute(self._due(utcnow()).limit(1))).first() is not None

    def _claim_statement(self, wanted: list[tuple[list[str], int]]) -> Any:
        """Claim, in one statement, up to `limit` due jobs of each (kinds, limit) lane."""
        now = utcnow()
        chosen = []
        for kinds, limit in wanted:
            candidates = self._due(now, kinds).order_by(Job.priority.desc(), Job.run_at).limit(limit)
            if not self.db.is_sqlite:
                candidates = candidates.with_for_update(skip_locked=True)
            chosen.append(Job.id.in_(candidates.scalar_subquery()))
        stmt = (
            update(Job)
            .where(or_(*chosen))
            .values(
                status=JobStatus.running.value,
                locked_by=self.name,
                locked_until=now + timedelta(seconds=self.settings.job_lease_seconds),
                attempts=Job.attempts + 1,
                started_at=now,
            )
            .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts, Job.workspace_id)
            .execution_options(synchronize_session=False)
        )
        return stmt

    # -- running -------------------------------------------------------------------------------

    def _count(self, kind: str, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        JOBS_PROCESSED.labels(kind=kind, outcome=outcome).inc()

    async def _execute(self, row: dict[str, Any]) -> None:
        job_id, kind = row["id"], row["kind"]
        spec = registered_handlers().get(kind)
        if spec is None:
            await self._finish(job_id, JobStatus.failed, error=f"no handler registered for job kind {kind!r}")
            self._count(kind, "failed")
            return
        if row["attempts"] > row["max_attempts"]:
            await self._finish(job_id, JobStatus.failed, error="attempts exhausted")
            self._count(kind, "failed")
            return
        workspace_id_var.set(row["workspace_id"])  # this task's context: logs carry the workspace
        ctx = JobContext(
            job_id=job_id,
            kind=kind,
            payload=row["payload"] or {},
            attempt=row["attempts"],
            max_attempts=row["max_attempts"],
            workspace_id=row["workspace_id"],
            db=self.db,
            settings=self.settings,
            prepared=row.get("prepared"),
        )
        try:
            outcome = await self._run_handler(spec, ctx)
        except asyncio.CancelledError:
            # Shutdown past the grace period: hand the job back untouched so another worker runs it.
            await asyncio.shield(self._release(job_id))
            self._count(kind, "released")
            raise
        self.processed += 1
        self._count(kind, outcome)

    async def _run_handler(self, spec: JobSpec, ctx: JobContext) -> str:
        try:
            if spec.timeout:
                result = await asyncio.wait_for(spec.handler(ctx), timeout=spec.timeout)
            else:
                result = await spec.handler(ctx)
        except Reschedule as signal:
            return await self._reschedule(ctx, signal)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = _format_error(exc)
            if isinstance(exc, TimeoutError) and spec.timeout:
                error = f"TimeoutError: the handler ran longer than {spec.timeout:g}s"
            if ctx.attempt >= ctx.max_attempts:
                logger.error("job %s (%s) failed on attempt %d: %s", ctx.job_id, ctx.kind, ctx.attempt, error)
                await self._finish(ctx.job_id, JobStatus.failed, error=error)
                return "failed"
            logger.warning("job %s (%s) attempt %d failed, will retry: %s", ctx.job_id, ctx.kind, ctx.attempt, error)
            await self._retry(ctx.job_id, spec.backoff(ctx.attempt), error)
            return "retried"
        if isinstance(result, dict):
            self._results[ctx.job_id] = result
        elif isinstance(result, Complete) and spec.complete is not None:
            self._completions[ctx.job_id] = (spec, result.value)
        self._done.append(ctx.job_id)
        if self._batching:
            self._flush_event.set()
        else:  # `_execute` called outside `run()` (tests driving a worker by hand): write it now
            await self._flush()
        return "succeeded"

    # -- writing outcomes ----------------------------------------------------------------------

    def _owned(self, job_ids: Sequence[str]) -> Any:
        postgres = not self.db.is_sqlite
        condition = Job.id == job_ids[0] if len(job_ids) == 1 else one_of(Job.id, job_ids, postgres=postgres)
        return condition & (Job.locked_by == self.name) & (Job.status == _RUNNING)

    async def _flush_loop(self) -> None:
        while True:
            await self._flush_event.wait()
            self._flush_event.clear()
            try:
                await self._flush()
            except Exception:
                logger.exception("worker %s: writing finished jobs failed; retrying", self.name)
                await asyncio.sleep(0.5)
                self._flush_event.set()
            if self._flush_closing and not self._done:
                return

    async def flush(self) -> None:
        """Write the successes still held in memory (the run loop batches them)."""
        await self._flush()

    async def _flush(self) -> None:
        if not self._done:
            return
        job_ids, self._done = self._done, []
        try:
            async with self._bookkeeping() as session:
                await self._write_successes(session, job_ids)
        except BaseException:
            self._done[:0] = job_ids
            raise
        self._forget_results(job_ids)

    async def _write_successes(self, session: AsyncConnection, job_ids: list[str]) -> None:
        """Mark jobs succeeded: one statement for all, plus one batched statement for their results,
        after their kinds' `complete` hooks (a job whose hook failed is not marked: it runs again
        when its lease expires)."""
        job_ids = await self._complete(session, job_ids)
        if not job_ids:
            return
        results = [{"b_id": job_id, "b_result": self._results[job_id]} for job_id in job_ids if job_id in self._results]
        if results:
            table = Job.__table__
            await session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"), table.c.locked_by == self.name, table.c.status == _RUNNING)
                .values(result=bindparam("b_result")),
                results,
            )
        await session.execute(self._succeeded_statement(job_ids))

    async def _complete(self, session: AsyncConnection, job_ids: list[str]) -> list[str]:
        """Run the `complete` hooks for these jobs (one call per kind); return the jobs to mark."""
        by_spec: dict[str, tuple[JobSpec, list[str], list[Any]]] = {}
        for job_id in job_ids:
            completion = self._completions.get(job_id)
            if completion is not None:
                spec, value = completion
                entry = by_spec.setdefault(spec.kind, (spec, [], []))
                entry[1].append(job_id)
                entry[2].append(value)
        if not by_spec:
            return job_ids
        failed: set[str] = set()
        for kind, (spec, ids, values) in by_spec.items():
            if await self._run_complete(session, spec, values):
                continue
            # One bad value must not send the whole batch round again: retry job by job.
            for job_id, value in zip(ids, values, strict=True):
                if not await self._run_complete(session, spec, [value], log=True):
                    logger.error("worker %s: job %s (%s) not completed; it runs again", self.name, job_id, kind)
                    failed.add(job_id)
        return [job_id for job_id in job_ids if job_id not in failed] if failed else job_ids

    async def _run_complete(
        self, session: AsyncConnection, spec: JobSpec, values: list[Any], *, log: bool = False
    ) -> bool:
        """Run `spec.complete` on `values` in a savepoint; False (rolled back) if it raised."""
        assert spec.complete is not None
        try:
            async with session.begin_nested():
                await spec.complete(session, self.db, self.settings, values)
        except Exception:
            if log:
                logger.exception("worker %s: complete hook of %s failed", self.name, spec.kind)
            return False
        return True

    def _forget_results(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            self._results.pop(job_id, None)
            self._completions.pop(job_id, None)

    def _succeeded_statement(self, job_ids: list[str]) -> Any:
        return (
            update(Job)
            .where(self._owned(job_ids))
            .values(status=JobStatus.succeeded.value, finished_at=utcnow(), locked_by=None, locked_until=None)
            .execution_options(synchronize_session=False)
        )

    async def _renew_loop(self) -> None:
        lease = self.settings.job_lease_seconds
        while True:
            await asyncio.sleep(max(0.1, lease / 3))
            job_ids = [*self._running, *self._done]
            if not job_ids:
                continue
            try:
                async with self._bookkeeping() as session:
                    await session.execute(
                        update(Job)
                        .where(self._owned(job_ids))
                        .values(locked_until=utcnow() + timedelta(seconds=lease))
                        .execution_options(synchronize_session=False)
                    )
            except Exception:
                logger.exception("worker %s: lease renewal failed", self.name)

    async def _write(self, job_id: str, values: dict[str, Any]) -> None:
        async with self._bookkeeping() as session:
            await session.execute(
                update(Job).where(self._owned([job_id])).values(**values).execution_options(synchronize_session=False)
            )

    async def _finish(
        self, job_id: str, status: JobStatus, *, error: str | None = None, result: dict[str, Any] | None = None
    ) -> None:
        values: dict[str, Any] = {"status": status.value, "finished_at": utcnow(), "locked_by": None}
        values["locked_until"] = None
        if error is not None:
            values["last_error"] = error
        if result is not None:
            values["result"] = result
        await self._write(job_id, values)

    async def _retry(self, job_id: str, delay: float, error: str) -> None:
        run_at = utcnow() + timedelta(seconds=delay)
        await self._write(
            job_id,
            {
                "status": JobStatus.queued.value,
                "run_at": run_at,
                "locked_by": None,
                "locked_until": None,
                "last_error": error,
            },
        )

    async def _reschedule(self, ctx: JobContext, signal: Reschedule) -> str:
        if signal.count_attempt and ctx.attempt >= ctx.max_attempts:
            await self._finish(
                ctx.job_id, JobStatus.failed, error="attempts exhausted (rescheduled on the last attempt)"
            )
            return "failed"
        values: dict[str, Any] = {
            "status": JobStatus.queued.value,
            "run_at": signal.run_at,
            "locked_by": None,
            "locked_until": None,
        }
        if not signal.count_attempt:
            values["attempts"] = Job.attempts - 1
        await self._write(ctx.job_id, values)
        return "rescheduled"

    async def _release(self, job_id: str) -> None:
        values = {
            "status": JobStatus.queued.value,
            "attempts": Job.attempts - 1,
            "run_at": utcnow(),
            "locked_by": None,
            "locked_until": None,
        }
        try:
            await self._write(job_id, values)
        except Exception:
            logger.exception("job %s: release failed; it runs again when its lease expires", job_id)
            return
        if not self.db.is_sqlite:
            with contextlib.suppress(Exception):
                async with self.db.session() as session:
                    await session.execute(select(literal_column(f"pg_notify('{NOTIFY_CHANNEL}', '')")))

    # -- PostgreSQL LISTEN/NOTIFY --------------------------------------------------------------

    async def _listen_loop(self) -> None:
        import psycopg

        url = make_url(self.db.url).set(drivername="postgresql").render_as_string(hide_password=False)
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening = True
                    backoff = 0.5
                    self._signal_new_jobs()  # anything committed while we were not listening
                    while not self._stopping.is_set():
                        async for _notify in conn.notifies(timeout=5.0):
                            self._signal_new_jobs()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("worker %s: LISTEN connection lost (%s); polling meanwhile", self.name, exc)
            finally:
                self.listening = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    # -- SQLite: notice other processes' commits -----------------------------------------------

    async def _sqlite_watch_loop(self) -> None:
        """Standalone workers on SQLite: `PRAGMA data_version` changes when another connection
        commits; checking it every 20 ms is nearly free (no lock), so new jobs are noticed quickly."""
        import aiosqlite

        path = make_url(self.db.url).database
        if not path or path == ":memory:":
            return
        interval = min(0.02, self.settings.worker_poll_interval)
        while not self._stopping.is_set():
            try:
                async with aiosqlite.connect(path) as conn:
                    self.listening = True
                    last = None
                    while not self._stopping.is_set():
                        async with conn.execute("PRAGMA data_version") as cursor:
                            row = await cursor.fetchone()
                        version = row[0] if row else None
                        if last is not None and version != last:
                            self._signal_new_jobs()
                        last = version
                        await asyncio.sleep(interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("worker %s: SQLite change watch failed (%s); polling meanwhile", self.name, exc)
            finally:
                self.listening = False
            await asyncio.sleep(1.0)
