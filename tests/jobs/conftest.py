"""Fixtures for the job-queue tests: sync assertions on the database, real worker subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, create_engine, func, select, text
from sqlalchemy.engine import Engine

from harken.core.db import Database, sync_url
from harken.core.jobs import Job, enqueue_many
from harken.core.migrate import upgrade
from tests.helpers import ServerProcess
from tests.jobs.handlers import runs, test_metadata

REPO = Path(__file__).resolve().parents[2]


class JobDB:
    """Synchronous views of the jobs and of the recorded runs, for assertions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(sync_url(url))
        test_metadata.drop_all(self.engine)
        test_metadata.create_all(self.engine)

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql")

    def jobs(self, *where: Any) -> list[Row[Any]]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(Job.__table__).where(*where)))

    def job(self, job_id: str) -> Row[Any]:
        (row,) = self.jobs(Job.id == job_id)
        return row

    def runs(self, *where: Any) -> list[Row[Any]]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(runs).where(*where).order_by(runs.c.id)))

    def count_runs(self, *where: Any) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(runs).where(*where)).scalar_one()

    def unfinished(self, kind: str | None = None) -> int:
        query = select(func.count()).select_from(Job).where(Job.status.in_(["queued", "running"]))
        if kind:
            query = query.where(Job.kind == kind)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def enqueue(self, kind: str, payloads: list[dict[str, Any]], **kwargs: Any) -> list[str]:
        async def go() -> list[str]:
            db = Database(self.url)
            try:
                async with db.session() as session:
                    return await enqueue_many(session, kind, payloads, **kwargs)
            finally:
                await db.dispose()

        return asyncio.run(go())

    def wait_until(self, predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def close(self) -> None:
        test_metadata.drop_all(self.engine)
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM jobs"))
            conn.execute(text("DELETE FROM job_schedules"))
        self.engine.dispose()


class Workers:
    """`harken worker` subprocesses against one database."""

    def __init__(self, url: str, log_dir: Path, **env: str) -> None:
        self.url = url
        self.log_dir = log_dir
        self.env = {
            "HARKEN_DATABASE_URL": url,
            "HARKEN_DATA_DIR": str(log_dir / "data"),
            "HARKEN_EXTRA_TASK_MODULES": "tests.jobs.handlers",
            "HARKEN_WORKER_POLL_INTERVAL": "0.05",
            "HARKEN_JOB_LEASE_SECONDS": "2",
            "HARKEN_LOG_LEVEL": "INFO",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            **env,
        }
        self.procs: list[ServerProcess] = []

    def start(self, count: int = 1, *, concurrency: int = 8, wait: bool = True, **env: str) -> list[ServerProcess]:
        started = []
        for _ in range(count):
            proc = ServerProcess(["worker", "--concurrency", str(concurrency)], {**self.env, **env})
            proc.start(self.log_dir / f"worker-{len(self.procs)}.log")
            self.procs.append(proc)
            started.append(proc)
        if wait:
            for proc in started:
                self.wait_started(proc)
        return started

    def wait_started(self, proc: ServerProcess, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while "started (concurrency" not in self.log(proc):
            assert proc.proc is not None
            if proc.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log(proc)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker did not start:\n{self.log(proc)}")
            time.sleep(0.05)

    @staticmethod
    def log(proc: ServerProcess) -> str:
        return proc.log_path.read_text(errors="replace") if proc.log_path and proc.log_path.exists() else ""

    def logs(self) -> str:
        return "\n".join(self.log(proc) for proc in self.procs)

    def stop_all(self, sig: int = signal.SIGTERM) -> list[int | None]:
        for proc in self.procs:
            if proc.proc is not None and proc.proc.poll() is None:
                proc.proc.send_signal(sig)
        codes = []
        for proc in self.procs:
            assert proc.proc is not None
            try:
                codes.append(proc.proc.wait(timeout=40))
            except subprocess.TimeoutExpired:
                proc.proc.kill()
                codes.append(proc.proc.wait())
        return codes


@pytest.fixture
def jobdb(database_url: str) -> Iterator[JobDB]:
    """The session database (SQLite, or PostgreSQL with HARKEN_TEST_DATABASE_URL), jobs emptied after."""
    db = JobDB(database_url)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM jobs"))
        conn.execute(text("DELETE FROM job_schedules"))
    yield db
    db.close()


@pytest.fixture
def sqlite_jobdb(tmp_path: Path) -> Iterator[JobDB]:
    """A fresh migrated SQLite file, whatever backend the session runs on."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    upgrade(url)
    db = JobDB(url)
    yield db
    db.engine.dispose()


@pytest.fixture
def workers(jobdb: JobDB, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(jobdb.url, tmp_path)
    yield pool
    for proc in pool.procs:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait()


@pytest.fixture
def postgres_only(jobdb: JobDB) -> None:
    if not jobdb.is_postgres:
        pytest.skip("needs HARKEN_TEST_DATABASE_URL (PostgreSQL)")
