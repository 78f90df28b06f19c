"""Real `harken worker` processes: exactly-once under concurrency, crashes, shutdown, periodic slots."""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from pathlib import Path

from harken.core.jobs import Job
from tests.jobs.conftest import JobDB, Workers
from tests.jobs.handlers import runs


def run_once_check(jobdb: JobDB, workers: Workers, *, processes: int, jobs: int) -> None:
    for proc in workers.start(processes, concurrency=8):
        assert proc.proc is not None
    job_ids = jobdb.enqueue("test.record", [{"n": n} for n in range(jobs)])
    try:
        jobdb.wait_until(lambda: jobdb.unfinished("test.record") == 0, timeout=300, what=f"{jobs} jobs to finish")
    except TimeoutError as exc:
        raise AssertionError(f"{jobdb.unfinished('test.record')} unfinished\n{workers.logs()}") from exc
    codes = workers.stop_all()
    logs = workers.logs()
    assert codes == [0] * processes, logs
    assert "database is locked" not in logs and "claim failed" not in logs, logs

    done = jobdb.runs(runs.c.kind == "test.record")
    per_job = Counter(row.job_id for row in done)
    assert set(per_job) == set(job_ids)
    assert max(per_job.values()) == 1, [job for job, count in per_job.items() if count > 1][:10]
    assert sorted(row.n for row in done) == list(range(jobs))
    statuses = Counter(row.status for row in jobdb.jobs(Job.kind == "test.record"))
    assert statuses == {"succeeded": jobs}
    assert all(row.attempts == 1 for row in jobdb.jobs(Job.kind == "test.record"))
    # The work was shared between processes (all of them, unless the machine starved one).
    assert len({row.pid for row in done}) >= 2, Counter(row.pid for row in done)


def test_four_workers_run_2000_jobs_exactly_once_on_postgres(
    postgres_only: None, jobdb: JobDB, workers: Workers
) -> None:
    run_once_check(jobdb, workers, processes=4, jobs=2000)


def test_two_workers_share_sqlite_without_lock_errors(sqlite_jobdb: JobDB, tmp_path: Path) -> None:
    workers = Workers(sqlite_jobdb.url, tmp_path)
    try:
        run_once_check(sqlite_jobdb, workers, processes=2, jobs=400)
    finally:
        workers.stop_all(signal.SIGKILL)


def test_killed_worker_job_runs_again_after_its_lease(jobdb: JobDB, workers: Workers) -> None:
    (doomed,) = workers.start(1)
    (job_id,) = jobdb.enqueue("test.slow", [{"seconds": 60}])
    (last_chance,) = jobdb.enqueue("test.slow", [{"seconds": 60}], max_attempts=1)
    jobdb.wait_until(lambda: jobdb.count_runs(runs.c.phase == "start") == 2, what="both jobs to start")
    assert doomed.proc is not None
    doomed.proc.send_signal(signal.SIGKILL)
    doomed.proc.wait()
    assert jobdb.job(job_id).status == "running"  # nobody released it: it was a crash

    workers.start(1, JOBTEST_SLEEP_SCALE="0")
    jobdb.wait_until(lambda: jobdb.unfinished("test.slow") == 0, timeout=30, what="the lease to expire")
    job = jobdb.job(job_id)
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert (job.last_error or "").startswith("lease expired: worker ")
    phases = [(r.attempt, r.phase, r.pid) for r in jobdb.runs(runs.c.job_id == job_id)]
    assert [(a, p) for a, p, _ in phases] == [(1, "start"), (2, "start"), (2, "done")]
    assert phases[0][2] == doomed.proc.pid and phases[1][2] != doomed.proc.pid
    # Its last allowed attempt died with the worker: failed, with the reason kept.
    failed = jobdb.job(last_chance)
    assert failed.status == "failed" and (failed.last_error or "").startswith("lease expired")
    assert jobdb.count_runs(runs.c.job_id == last_chance) == 1


def test_lease_is_renewed_while_a_long_job_runs(jobdb: JobDB, workers: Workers) -> None:
    # A 1 s lease and a 3.5 s job: without renewal the second worker would take it over.
    workers.start(2, HARKEN_JOB_LEASE_SECONDS="1")
    (job_id,) = jobdb.enqueue("test.slow", [{"seconds": 3.5}])
    jobdb.wait_until(lambda: jobdb.unfinished("test.slow") == 0, timeout=30, what="the slow job")
    assert workers.stop_all() == [0, 0]
    job = jobdb.job(job_id)
    assert (job.status, job.attempts, job.last_error) == ("succeeded", 1, None)
    assert [r.phase for r in jobdb.runs(runs.c.job_id == job_id)] == ["start", "done"]


def test_sigterm_lets_running_jobs_finish(jobdb: JobDB, workers: Workers) -> None:
    (worker,) = workers.start(1)
    job_ids = jobdb.enqueue("test.slow", [{"seconds": 1.5}] * 3)
    jobdb.wait_until(lambda: jobdb.count_runs(runs.c.phase == "start") == 3, what="jobs to start")
    queued_later = jobdb.enqueue("test.record", [{"n": 1}], delay=0.5)
    assert worker.proc is not None
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=20) == 0
    assert {jobdb.job(j).status for j in job_ids} == {"succeeded"}
    assert jobdb.count_runs(runs.c.phase == "done") == 3
    # Nothing new was claimed after the signal; the later job waits for the next worker.
    assert jobdb.job(queued_later[0]).status == "queued"
    # The three slow jobs, and possibly housekeeping jobs the worker scheduled on start (purges)
    # that a loaded machine has not finished yet.
    waiting = re.search(r"waiting for (\d+) running jobs", Workers.log(worker))
    assert waiting is not None and int(waiting.group(1)) >= 3, Workers.log(worker)


def test_sigterm_past_the_grace_period_releases_jobs_to_the_queue(jobdb: JobDB, workers: Workers) -> None:
    (worker,) = workers.start(1, HARKEN_JOB_SHUTDOWN_GRACE_SECONDS="0.5")
    job_ids = jobdb.enqueue("test.slow", [{"seconds": 120}] * 2)
    jobdb.wait_until(lambda: jobdb.count_runs(runs.c.phase == "start") == 2, what="jobs to start")
    assert worker.proc is not None
    started = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=20) == 0
    assert time.monotonic() - started < 10
    for job_id in job_ids:
        job = jobdb.job(job_id)
        assert (job.status, job.attempts, job.locked_by, job.locked_until) == ("queued", 0, None, None)
    # Another worker picks them up at once (no lease to wait for) and they complete.
    workers.start(1, JOBTEST_SLEEP_SCALE="0")
    jobdb.wait_until(lambda: jobdb.unfinished("test.slow") == 0, timeout=10, what="released jobs to run")
    assert {(jobdb.job(j).status, jobdb.job(j).attempts) for j in job_ids} == {("succeeded", 1)}


def test_second_sigterm_releases_at_once(jobdb: JobDB, workers: Workers) -> None:
    (worker,) = workers.start(1)
    (job_id,) = jobdb.enqueue("test.slow", [{"seconds": 120}])
    jobdb.wait_until(lambda: jobdb.count_runs(runs.c.phase == "start") == 1, what="the job to start")
    assert worker.proc is not None
    worker.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=10) == 0
    assert jobdb.job(job_id).status == "queued"


def test_periodic_job_runs_once_per_slot_across_workers(jobdb: JobDB, workers: Workers) -> None:
    workers.start(3, HARKEN_EXTRA_TASK_MODULES="tests.jobs.handlers,tests.jobs.periodic_handlers")
    time.sleep(4.5)
    assert workers.stop_all() == [0, 0, 0]
    ticks = jobdb.jobs(Job.kind == "test.tick")
    slots = Counter(row.payload["slot"] for row in ticks)
    assert len(slots) >= 3, slots
    assert max(slots.values()) == 1, slots
    # A slot is only skipped while the previous tick is unfinished (no pile-up); on an idle machine none is.
    assert len(slots) >= (max(slots) - min(slots) + 1) - 1, slots
    per_job = Counter(row.job_id for row in jobdb.runs(runs.c.kind == "test.tick"))
    assert set(per_job) == {row.id for row in ticks if row.status == "succeeded"}
    assert max(per_job.values()) == 1
    # Housekeeping jobs registered by the app (core.purge, every 15 min) are also scheduled once per
    # slot, not per worker; a run that straddles a quarter hour legitimately sees two slots.
    purges = Counter(row.payload["slot"] for row in jobdb.jobs(Job.kind == "core.purge"))
    assert 1 <= len(purges) <= 2, purges
    assert max(purges.values()) == 1, purges


def test_commits_wake_idle_standalone_workers(jobdb: JobDB, workers: Workers) -> None:
    # With a 30 s poll interval only the wake-up (LISTEN/NOTIFY on PostgreSQL, `PRAGMA data_version`
    # on SQLite) can explain a pickup within seconds.
    workers.start(1, HARKEN_WORKER_POLL_INTERVAL="30")
    time.sleep(0.5)  # the worker is parked on its poll
    started = time.monotonic()
    (job_id,) = jobdb.enqueue("test.record", [{"n": 1}])
    jobdb.wait_until(lambda: jobdb.job(job_id).status == "succeeded", timeout=10, what="a notified pickup")
    assert time.monotonic() - started < 5
    assert workers.stop_all() == [0]


def test_worker_keeps_retrying_while_the_database_is_unreachable(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "x.db"
    workers = Workers(f"sqlite+aiosqlite:///{missing}", tmp_path)
    (worker,) = workers.start(1, wait=False)
    assert worker.proc is not None
    deadline = time.monotonic() + 30
    while "claim failed" not in Workers.log(worker):
        assert worker.proc.poll() is None, Workers.log(worker)
        assert time.monotonic() < deadline, Workers.log(worker)
        time.sleep(0.05)
    time.sleep(0.5)
    assert worker.proc.poll() is None  # a database can come back: it keeps trying (with backoff)
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=20) == 0
    assert Workers.log(worker).count(" ERROR ") <= 4  # backoff: no log flood
