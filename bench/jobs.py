"""Job-queue benchmark: no-op job throughput and commit→start latency with real `harken worker`
processes, beside a baseline measured in the same run on the same database.

    .venv/bin/python -m bench.jobs                       # SQLite, plus PostgreSQL if reachable
    .venv/bin/python -m bench.jobs --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.jobs --jobs 4000 --no-pg

Scenarios per backend (fresh database each):
- baseline: one asyncio loop in this process running the same claim UPDATE with LIMIT 1 and the same
  finish UPDATE, one transaction each per job (what a naive queue does, with no worker overhead);
- throughput: N no-op jobs committed in one transaction, then drained by 1 and by 4 worker processes;
  jobs/s = N / (commit → last job finished);
- latency: one job per transaction at a steady rate (default 200/s) with 4 idle workers (poll
  interval 1 s, so on PostgreSQL only LISTEN/NOTIFY explains fast pickups); commit → claim p50/p99.

Worker processes import this module (HARKEN_EXTRA_TASK_MODULES=bench.jobs) for the `bench.noop` kind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text, update

from bench._databases import throwaway_postgres
from harken.core.db import Database, sync_url, utcnow
from harken.core.jobs import Job, JobContext, JobStatus, Worker, enqueue, enqueue_many, job_handler
from harken.core.migrate import upgrade
from harken.core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
KIND = "bench.noop"


@job_handler(KIND, max_attempts=3)
async def noop(ctx: JobContext) -> None:
    """Does nothing: the benchmark measures the queue, not the work."""


# -- databases -------------------------------------------------------------------------------------


class Backend:
    def __init__(self, label: str, url: str, drop: Any = None) -> None:
        self.label, self.url, self._drop = label, url, drop
        self.engine = create_engine(sync_url(url))

    def scalar(self, query: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def reset(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM jobs"))
            conn.execute(text("DELETE FROM job_schedules"))
        if not self.url.startswith("sqlite"):
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE jobs"))

    def unfinished(self) -> int:
        """Unfinished benchmark jobs (the app's own periodic chores are not counted)."""
        return self.scalar(
            select(func.count()).select_from(Job).where(Job.kind == KIND, Job.status.in_(["queued", "running"]))
        )

    def close(self) -> None:
        self.engine.dispose()
        if self._drop:
            self._drop()


def sqlite_backend(tmp: Path) -> Backend:
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    return Backend("SQLite", url)


def postgres_backend(admin_url: str) -> Backend:
    url, drop = throwaway_postgres(admin_url)
    return Backend("PostgreSQL", url, drop)


# -- worker processes ------------------------------------------------------------------------------


def start_workers(backend: Backend, count: int, concurrency: int, log_dir: Path, **env: str) -> list[Any]:
    environ = {
        **os.environ,
        "HARKEN_DATABASE_URL": backend.url,
        "HARKEN_DATA_DIR": str(log_dir / "data"),
        "HARKEN_EXTRA_TASK_MODULES": "bench.jobs",
        "HARKEN_LOG_LEVEL": "INFO",
        "PYTHONPATH": str(REPO),
        **env,
    }
    procs = []
    for i in range(count):
        log = open(log_dir / f"worker-{backend.label}-{count}-{i}.log", "wb")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "harken", "worker", "--concurrency", str(concurrency)],
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        )
    deadline = time.monotonic() + 60
    for i in range(count):
        path = log_dir / f"worker-{backend.label}-{count}-{i}.log"
        while "started (concurrency" not in path.read_text(errors="replace"):
            if time.monotonic() > deadline or procs[i].poll() is not None:
                raise RuntimeError(f"worker did not start: {path.read_text(errors='replace')}")
            time.sleep(0.05)
    time.sleep(0.5)  # first claim done, loops parked
    return procs


def stop_workers(procs: list[Any]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=60)


# -- scenarios -------------------------------------------------------------------------------------


async def baseline(backend: Backend, jobs: int) -> float:
    """Same SQL, no batching, no worker: claim 1 (own transaction), finish 1 (own transaction)."""
    db = Database(backend.url)
    settings = Settings(database_url=backend.url, _env_file=None)
    claimer = Worker(db, settings, name="baseline")
    claimer._handled = [KIND]
    async with db.session() as session:
        await enqueue_many(session, KIND, [{"n": n} for n in range(jobs)])
    started = time.perf_counter()
    done = 0
    while True:
        rows = await claimer.claim(1)
        if not rows:
            break
        async with db.session() as session:
            await session.execute(
                update(Job)
                .where(Job.id == rows[0]["id"], Job.locked_by == "baseline")
                .values(status=JobStatus.succeeded.value, finished_at=utcnow(), locked_by=None, locked_until=None)
            )
        done += 1
    elapsed = time.perf_counter() - started
    await db.dispose()
    assert done == jobs, done
    return jobs / elapsed


async def enqueue_batch(backend: Backend, jobs: int) -> tuple[float, float]:
    db = Database(backend.url)
    started = time.perf_counter()
    async with db.session() as session:
        for chunk in range(0, jobs, 1000):
            await enqueue_many(session, KIND, [{"n": n} for n in range(chunk, min(jobs, chunk + 1000))])
    committed = time.perf_counter()
    await db.dispose()
    return committed, jobs / (committed - started)


def throughput(backend: Backend, jobs: int, processes: int, concurrency: int, log_dir: Path) -> tuple[float, float]:
    backend.reset()
    procs = start_workers(backend, processes, concurrency, log_dir)
    try:
        committed, insert_rate = asyncio.run(enqueue_batch(backend, jobs))
        while backend.unfinished() > 0:
            time.sleep(0.01)
        elapsed = time.perf_counter() - committed
    finally:
        stop_workers(procs)
    succeeded = backend.scalar(select(func.count()).select_from(Job).where(Job.kind == KIND, Job.status == "succeeded"))
    assert succeeded == jobs, succeeded
    return jobs / elapsed, insert_rate


async def steady_enqueue(backend: Backend, rate: float, seconds: float, db: Database | None = None) -> dict[str, float]:
    """One job per transaction at `rate`/s; returns each job's commit time (wall clock)."""
    own = db is None
    db = db or Database(backend.url)
    interval = 1.0 / rate
    start = time.perf_counter()
    committed: dict[str, float] = {}
    for i in range(int(rate * seconds)):
        target = start + i * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        async with db.session() as session:
            job_id = await enqueue(session, KIND, {"n": i})
        committed[job_id or ""] = time.time()
    if own:
        await db.dispose()
    return committed


def latency(backend: Backend, processes: int, rate: float, seconds: float, log_dir: Path) -> dict[str, float]:
    backend.reset()
    procs = start_workers(backend, processes, 8, log_dir, HARKEN_WORKER_POLL_INTERVAL="1.0")
    try:
        committed = asyncio.run(steady_enqueue(backend, rate, seconds))
        deadline = time.monotonic() + 60
        while backend.unfinished() > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop_workers(procs)
    return waits(backend, committed)


async def in_process(backend: Backend, rate: float, seconds: float) -> dict[str, float]:
    """`harken serve`'s model: the worker runs in the process that enqueues (woken after commit)."""
    db = Database(backend.url)
    settings = Settings(database_url=backend.url, worker_poll_interval=1.0, worker_listen=False, _env_file=None)
    worker = Worker(db, settings)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.5)
    try:
        committed = await steady_enqueue(backend, rate, seconds, db)
        deadline = time.monotonic() + 60
        while await asyncio.to_thread(backend.unfinished) > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await task
        await db.dispose()
    return committed


def latency_in_process(backend: Backend, rate: float, seconds: float) -> dict[str, float]:
    backend.reset()
    return waits(backend, asyncio.run(in_process(backend, rate, seconds)))


def waits(backend: Backend, committed: dict[str, float]) -> dict[str, float]:
    """Commit (as seen by the enqueuer) → claim (`started_at` written by the worker), in ms."""
    with backend.engine.connect() as conn:
        rows = conn.execute(select(Job.id, Job.started_at).where(Job.kind == KIND)).all()
    waits = sorted(max(0.0, (started.timestamp() - committed[job_id]) * 1000) for job_id, started in rows if started)
    return {
        "jobs": len(waits),
        "p50": statistics.median(waits),
        "p99": waits[int(len(waits) * 0.99) - 1],
        "max": waits[-1],
    }


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):6.0f}  (min {min(values):.0f}, max {max(values):.0f})"


def run(backend: Backend, jobs: int, concurrency: int, rate: float, seconds: float, repeat: int, log_dir: Path) -> None:
    print(f"\n== {backend.label}: {jobs} no-op jobs, concurrency {concurrency}/process, {repeat} runs ==", flush=True)
    bases = []
    for _ in range(repeat):
        backend.reset()
        bases.append(asyncio.run(baseline(backend, min(jobs, 1000))))
    base = statistics.median(bases)
    print(f"baseline  1 loop, claim 1 + finish 1 per job (same SQL)  jobs/s {spread(bases)}", flush=True)
    for processes in (1, 4):
        results = [throughput(backend, jobs, processes, concurrency, log_dir) for _ in range(repeat)]
        done = [r[0] for r in results]
        inserts = statistics.median([r[1] for r in results])
        print(
            f"harken    {processes} worker process(es)                    jobs/s {spread(done)}"
            f"  = {statistics.median(done) / base:.1f}x baseline; enqueue {inserts:.0f} jobs/s",
            flush=True,
        )
    for label, lat in (
        ("4 standalone workers, poll 1 s", latency(backend, 4, rate, seconds, log_dir)),
        ("in-process worker (serve)     ", latency_in_process(backend, rate, seconds)),
    ):
        print(
            f"latency   {label}, {rate:.0f} enqueues/s (1 per txn): commit→claim "
            f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, max {lat['max']:.1f} ms ({lat['jobs']} jobs)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=8000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=200.0, help="enqueues per second in the latency run")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the latency run")
    parser.add_argument(
        "--pg",
        default=os.environ.get("HARKEN_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL server URL (a throwaway database is created on it)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per throughput figure (median shown)")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"cores: {os.cpu_count()}  python {sys.version.split()[0]}  load average before: {load}")
    with tempfile.TemporaryDirectory() as tmp:
        log_dir = Path(tmp)
        if not args.no_sqlite:
            backend = sqlite_backend(log_dir)
            try:
                run(backend, args.jobs // 2, args.concurrency, args.rate, args.seconds, args.repeat, log_dir)
            finally:
                backend.close()
        if not args.no_pg:
            try:
                backend = postgres_backend(args.pg)
            except Exception as exc:
                print(f"\nPostgreSQL skipped: {exc}")
                return
            try:
                run(backend, args.jobs, args.concurrency, args.rate, args.seconds, args.repeat, log_dir)
            finally:
                backend.close()


if __name__ == "__main__":
    main()
