"""The queue's semantics, with an in-process worker on the session database."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func, select, update

import tests.jobs.handlers  # noqa: F401 - registers the test.* kinds in this process
from harken.core.db import Database, utcnow
from harken.core.jobs import Job, JobStatus, Worker, enqueue
from harken.core.maintenance import purge
from harken.core.settings import Settings
from tests.helpers import wait_for
from tests.jobs.conftest import JobDB
from tests.jobs.handlers import runs


@pytest.fixture
async def db(settings: Settings, jobdb: JobDB) -> AsyncIterator[Database]:
    database = Database(settings.database_url or "")
    yield database
    await database.dispose()


@asynccontextmanager
async def running_worker(db: Database, settings: Settings, **kwargs: object) -> AsyncIterator[Worker]:
    worker = Worker(db, settings, **kwargs)  # type: ignore[arg-type]
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, timeout=30)


async def job_row(db: Database, job_id: str) -> Job:
    async with db.session() as session:
        return (await session.execute(select(Job).where(Job.id == job_id))).scalar_one()


async def status_of(db: Database, job_id: str) -> str:
    return (await job_row(db, job_id)).status


async def test_rolled_back_enqueue_leaves_no_job(db: Database) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db.session() as session:
            await enqueue(session, "test.record", {"n": 1}, dedupe_key="k1")
            raise Boom
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Job))).scalar_one() == 0
        # The rolled-back job did not take the dedupe key either.
        assert await enqueue(session, "test.record", {"n": 2}, dedupe_key="k1") is not None
    async with db.session() as session:
        rows = (await session.execute(select(Job))).scalars().all()
    assert [(r.kind, r.payload, r.status, r.attempts) for r in rows] == [("test.record", {"n": 2}, "queued", 0)]


async def test_enqueue_defaults_and_delay(db: Database, settings: Settings) -> None:
    before = utcnow()
    async with db.session() as session:
        now_id = await enqueue(session, "test.record", workspace_id="ws-1", priority=3)
        later_id = await enqueue(session, "test.fail", {"n": 1}, delay=60)
        other_id = await enqueue(session, "unknown.kind", max_attempts=9)
    now_job, later_job, other_job = [await job_row(db, i) for i in (now_id, later_id, other_id)]  # type: ignore[arg-type]
    assert now_job.max_attempts == 3 and now_job.workspace_id == "ws-1" and now_job.priority == 3
    assert now_job.payload == {} and now_job.run_at <= utcnow()
    assert later_job.max_attempts == 3  # from @job_handler(max_attempts=3)
    assert later_job.run_at >= before + timedelta(seconds=59)
    assert other_job.max_attempts == 9
    assert settings.job_max_attempts == 5


async def test_dedupe_key_allows_one_unfinished_job(db: Database, settings: Settings) -> None:
    async with db.session() as session:
        first = await enqueue(session, "test.record", {"n": 1}, dedupe_key="conv:1")
        assert first is not None
        assert await enqueue(session, "test.record", {"n": 2}, dedupe_key="conv:1") is None
        other = await enqueue(session, "test.record", {"n": 3}, dedupe_key="conv:2")
    # A second transaction sees the key taken too.
    async with db.session() as session:
        assert await enqueue(session, "test.record", {"n": 4}, dedupe_key="conv:1") is None
    async with running_worker(db, settings):
        await wait_for(lambda: _all_done(db, [first, other]), timeout=20)
        # Finished jobs free their key: the thing can be queued again.
        async with db.session() as session:
            again = await enqueue(session, "test.record", {"n": 5}, dedupe_key="conv:1")
        assert again is not None and again != first
        await wait_for(lambda: _all_done(db, [again]), timeout=20)
    async with db.session() as session:
        ns = sorted((await session.execute(select(runs.c.n))).scalars().all())
    assert ns == [1, 3, 5]


async def _all_done(db: Database, job_ids: list[str | None]) -> bool:
    statuses = [await status_of(db, job_id) for job_id in job_ids if job_id]
    return all(s == JobStatus.succeeded for s in statuses)


async def test_commit_wakes_local_worker_and_results_are_kept(db: Database, settings: Settings) -> None:
    slow_poll = settings.model_copy(update={"worker_poll_interval": 30.0})
    async with running_worker(db, slow_poll) as worker:
        await asyncio.sleep(0.3)  # first claim done; now it sleeps on a 30 s poll
        async with db.session() as session:
            job_id = await enqueue(session, "test.result", {"n": 21})
        # Woken by the commit, not the poll interval.
        await wait_for(lambda: _all_done(db, [job_id]), timeout=10)
        assert worker.outcomes.get("succeeded", 0) >= 1
    job = await job_row(db, job_id)  # type: ignore[arg-type]
    assert job.result == {"double": 42} and job.attempts == 1 and job.locked_by is None
    assert job.started_at is not None and job.finished_at is not None


async def test_a_kind_with_its_own_slots_neither_waits_behind_nor_crowds_out_others(
    db: Database, settings: Settings
) -> None:
    async with db.session() as session:
        slow = await enqueue(session, "test.slow", {"seconds": 6})
    async with running_worker(db, settings, concurrency=1):
        await wait_for(lambda: _status_is(db, slow, "running"), timeout=10)
        async with db.session() as session:
            laned = [await enqueue(session, "test.laned", {"n": i, "seconds": 0.4}) for i in range(6)]
            shared = await enqueue(session, "test.record", {"n": 99})
        # test.laned has two slots of its own: all six run while test.slow holds the only shared slot.
        await wait_for(lambda: _all_done(db, laned), timeout=5)
        assert await status_of(db, slow) == JobStatus.running
        assert await status_of(db, shared) == JobStatus.queued  # the shared slot is still busy
        async with db.session() as session:
            rows = (await session.execute(select(runs.c.phase, runs.c.at).where(runs.c.kind == "test.laned"))).all()
    # Never more than two laned jobs at once: walk the start/end events in time order.
    running, most = 0, 0
    for phase, _at in sorted(rows, key=lambda r: (r.at, r.phase != "done")):
        running += 1 if phase == "start" else -1
        most = max(most, running)
    assert most == 2


async def test_prepare_and_complete_hooks_run_inside_the_queue_transactions(db: Database, settings: Settings) -> None:
    short_lease = settings.model_copy(update={"job_lease_seconds": 1.0})
    jobs: dict[str, str] = {}
    async with running_worker(db, short_lease):
        # One at a time: the hooks run once per batch of claimed (or finished) jobs of a kind.
        for name, payload in [
            ("plain", {"n": 1}),
            ("prepare_fails", {"n": 2, "prepare_fails": True}),
            ("complete_fails", {"n": 3, "complete_fails": True}),
        ]:
            async with db.session() as session:
                jobs[name] = await enqueue(session, "test.hooked", payload)  # type: ignore[assignment]
            await wait_for(lambda: _all_done(db, [jobs[name]]), timeout=20)  # noqa: B023
        # Two together: one job's failing completion does not send the other round again.
        async with db.session() as session:
            jobs["pair_ok"] = await enqueue(session, "test.hooked", {"n": 4})  # type: ignore[assignment]
            jobs["pair_bad"] = await enqueue(session, "test.hooked", {"n": 5, "complete_fails": True})  # type: ignore[assignment]
        await wait_for(lambda: _all_done(db, [jobs["pair_ok"], jobs["pair_bad"]]), timeout=20)
    async with db.session() as session:
        rows = (await session.execute(select(runs.c.job_id, runs.c.phase, runs.c.attempt).order_by(runs.c.id))).all()
    phases = {name: [(r.phase, r.attempt) for r in rows if r.job_id == job_id] for name, job_id in jobs.items()}
    # The hook's value reached the handler; its write committed with the claim, the completion
    # with the success.
    assert phases["plain"] == [("prepared", 1), ("saw-prep", 1), ("completed", 1)]
    # A failing prepare hook is rolled back to its savepoint (no `prepared` row) while the claim
    # holds: the job runs unprepared.
    assert phases["prepare_fails"] == [("no-prep", 1), ("completed", 1)]
    # A failing complete hook leaves its write out and the job unmarked: it runs again after its
    # lease expires, and completes then.
    assert phases["complete_fails"] == [
        ("prepared", 1),
        ("saw-prep", 1),
        ("prepared", 2),
        ("saw-prep", 2),
        ("completed", 2),
    ]
    assert (await job_row(db, jobs["complete_fails"])).attempts == 2
    assert phases["pair_ok"] == [("prepared", 1), ("saw-prep", 1), ("completed", 1)]
    assert phases["pair_bad"][-1] == ("completed", 2)
    assert (await job_row(db, jobs["plain"])).attempts == 1


async def _status_is(db: Database, job_id: str | None, status: str) -> bool:
    return job_id is not None and await status_of(db, job_id) == status


async def test_failures_retry_with_backoff_then_fail_keeping_the_error(db: Database, settings: Settings) -> None:
    async with db.session() as session:
        failing = await enqueue(session, "test.fail", {"n": 7})
        flaky = await enqueue(session, "test.flaky", {"n": 8, "succeed_on": 3})
        slow = await enqueue(session, "test.timeout")
    async with running_worker(db, settings):
        await wait_for(
            lambda: _finished(db, [failing, flaky, slow]),  # type: ignore[list-item]
            timeout=30,
        )
    failed = await job_row(db, failing)  # type: ignore[arg-type]
    assert failed.status == "failed" and failed.attempts == 3
    assert failed.last_error == "ValueError: boom 7" and failed.finished_at is not None
    recovered = await job_row(db, flaky)  # type: ignore[arg-type]
    assert recovered.status == "succeeded" and recovered.attempts == 3
    assert recovered.last_error == "RuntimeError: flaky attempt 2"  # history of the last failure kept
    timed_out = await job_row(db, slow)  # type: ignore[arg-type]
    assert timed_out.status == "failed" and "longer than 0.2s" in (timed_out.last_error or "")
    async with db.session() as session:
        attempts = (
            await session.execute(select(runs.c.attempt, runs.c.at).where(runs.c.job_id == failing).order_by(runs.c.id))
        ).all()
    assert [a for a, _ in attempts] == [1, 2, 3]
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(attempts)]
    # backoff_base 0.05 s: attempt 1 → 2 waits 0.025-0.05 s, attempt 2 → 3 waits 0.05-0.1 s (plus polling).
    assert gaps[0] >= 0.025 and gaps[1] >= 0.05


async def _finished(db: Database, job_ids: list[str]) -> bool:
    return all([await status_of(db, job_id) in ("succeeded", "failed") for job_id in job_ids])


async def test_reschedule_does_not_count_an_attempt_unless_asked(db: Database, settings: Settings) -> None:
    async with db.session() as session:
        free = await enqueue(session, "test.reschedule", {"delay": 0.3})
        counted = await enqueue(session, "test.reschedule", {"delay": 0.3, "count": True})
        exhausted = await enqueue(session, "test.reschedule", {"delay": 0.3, "count": True}, max_attempts=1)
    async with running_worker(db, settings):
        await wait_for(lambda: _finished(db, [free, counted, exhausted]), timeout=20)  # type: ignore[list-item]
    free_job, counted_job, exhausted_job = [await job_row(db, i) for i in (free, counted, exhausted)]  # type: ignore[arg-type]
    assert (free_job.status, free_job.attempts) == ("succeeded", 1)
    assert (counted_job.status, counted_job.attempts) == ("succeeded", 2)
    assert exhausted_job.status == "failed" and "rescheduled on the last attempt" in (exhausted_job.last_error or "")
    async with db.session() as session:
        stamps = (
            await session.execute(select(runs.c.at).where(runs.c.job_id == free, runs.c.phase == "attempt"))
        ).all()
    assert len(stamps) == 2 and stamps[1][0] - stamps[0][0] >= 0.25  # it waited for run_at


async def test_priority_and_run_at_order(db: Database, settings: Settings) -> None:
    async with db.session() as session:
        low = await enqueue(session, "test.record", {"n": 1})
        high = await enqueue(session, "test.record", {"n": 2}, priority=10)
        future = await enqueue(session, "test.record", {"n": 3}, priority=100, delay=3600)
    worker = Worker(db, settings, concurrency=1)
    worker._handled = ["test.record"]
    first, second = await worker.claim(1), await worker.claim(1)
    assert [row["id"] for row in first + second] == [high, low]  # priority first
    assert all(row["attempts"] == 1 for row in first + second)
    assert await worker.claim(5) == []  # the future job is not due
    assert (await job_row(db, future)).status == "queued"  # type: ignore[arg-type]


async def test_expired_lease_is_requeued_or_failed_on_last_attempt(db: Database, settings: Settings) -> None:
    async with db.session() as session:
        retry = await enqueue(session, "test.record", {"n": 1})
        last = await enqueue(session, "test.record", {"n": 2}, max_attempts=1)
    dead = Worker(db, settings, name="dead-worker")
    dead._handled = ["test.record"]
    assert len(await dead.claim(10)) == 2
    async with db.session() as session:
        await session.execute(update(Job).values(locked_until=utcnow() - timedelta(seconds=1)))
    reaper = Worker(db, settings)
    assert await reaper.reap_expired() == 2
    requeued, failed = await job_row(db, retry), await job_row(db, last)  # type: ignore[arg-type]
    assert (requeued.status, requeued.attempts, requeued.locked_by) == ("queued", 1, None)
    assert requeued.last_error == "lease expired: worker dead-worker stopped renewing it"
    assert (failed.status, failed.attempts) == ("failed", 1) and failed.finished_at is not None
    # The dead worker's late outcome is ignored: it no longer owns the job.
    await dead._finish(retry, JobStatus.succeeded)  # type: ignore[arg-type]
    assert (await job_row(db, retry)).status == "queued"  # type: ignore[arg-type]


async def test_jobs_without_a_handler_here_are_left_for_other_workers(db: Database, settings: Settings) -> None:
    async with db.session() as session:
        job_id = await enqueue(session, "elsewhere.only", {})
    async with running_worker(db, settings, kinds=["test.record"]):
        await asyncio.sleep(0.3)
    assert (await job_row(db, job_id)).status == "queued"  # type: ignore[arg-type]


async def test_purge_drops_old_finished_jobs_only(db: Database, settings: Settings) -> None:
    async with db.session() as session:
        ids = {name: await enqueue(session, "test.record", {}) for name in ("old_ok", "new_ok", "old_failed", "queued")}
    long_ago = utcnow() - timedelta(hours=settings.job_retention_hours + 1)
    async with db.session() as session:
        for name, status in (("old_ok", "succeeded"), ("new_ok", "succeeded"), ("old_failed", "failed")):
            finished = long_ago if name.startswith("old") else utcnow()
            await session.execute(update(Job).where(Job.id == ids[name]).values(status=status, finished_at=finished))
    from harken.core.jobs import JobContext

    ctx = JobContext("purge", "core.purge", {}, 1, 1, None, db, settings)
    outcome = await purge(ctx)
    assert outcome["jobs"] == 1
    async with db.session() as session:
        left = set((await session.execute(select(Job.id))).scalars().all())
    assert left == {ids["new_ok"], ids["old_failed"], ids["queued"]}  # failed jobs are kept longer
    expired = settings.model_copy(update={"job_failed_retention_hours": 0})
    ctx = JobContext("purge", "core.purge", {}, 1, 1, None, db, expired)
    assert (await purge(ctx))["jobs"] == 1
    async with db.session() as session:
        left = set((await session.execute(select(Job.id))).scalars().all())
    assert left == {ids["new_ok"], ids["queued"]}


async def test_metrics_count_jobs_by_outcome(db: Database, settings: Settings) -> None:
    from harken.app import create_app

    async with db.session() as session:
        await enqueue(session, "test.record", {"n": 1})
        await enqueue(session, "test.fail", {"n": 2}, max_attempts=1)
    app = create_app(settings, run_worker=True)
    async with app.router.lifespan_context(app):
        await wait_for(lambda: _drained(db), timeout=20)
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://testserver") as http:
            text = (await http.get("/metrics")).text
    assert 'harken_jobs_processed_total{kind="test.record",outcome="succeeded"}' in text
    assert 'harken_jobs_processed_total{kind="test.fail",outcome="failed"}' in text
    assert 'harken_jobs{status="failed"} 1.0' in text


async def _drained(db: Database) -> bool:
    async with db.session() as session:
        query = (
            select(func.count()).select_from(Job).where(Job.status.in_(["queued", "running"]), Job.kind != "core.purge")
        )
        return (await session.execute(query)).scalar_one() == 0
