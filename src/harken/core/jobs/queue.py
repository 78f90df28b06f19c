"""Job registry and enqueueing."""

from __future__ import annotations

import importlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from harken.core.db import new_id, utcnow
from harken.core.jobs.models import ACTIVE_PREDICATE, Job, JobStatus

if TYPE_CHECKING:
    from harken.core.db import Database
    from harken.core.settings import Settings

Handler = Callable[["JobContext"], Awaitable[Any]]
# Batch hooks of a job kind (see `JobSpec.prepare` and `JobSpec.complete`).
PrepareHook = Callable[[AsyncConnection, "Database", "Settings", list[dict[str, Any]]], Awaitable[dict[str, Any]]]
CompleteHook = Callable[[AsyncConnection, "Database", "Settings", list[Any]], Awaitable[None]]


@dataclass(frozen=True)
class JobSpec:
    kind: str
    handler: Handler
    max_attempts: int | None = None
    backoff_base: float = 2.0
    backoff_max: float = 3600.0
    timeout: float | None = None
    # Jobs of this kind get their own slots in each worker (this many, read from the settings)
    # instead of sharing the worker's concurrency: many light, I/O-bound jobs (webhook
    # deliveries) neither wait behind nor crowd out long ones (synthesis, programming).
    slots: Callable[[Settings], int] | None = None
    # Optional batch hooks that fold a kind's own bookkeeping into the queue's transactions (for
    # many small jobs, one commit instead of three per job). `prepare(connection, db, settings,
    # rows)` runs inside the transaction that claims jobs of this kind (rows: id, payload, ...);
    # what it returns for a job id reaches that job's handler as `ctx.prepared`. `complete(connection,
    # db, settings, values)` runs inside the transaction that marks jobs of this kind succeeded,
    # with the values their handlers returned as `Complete(value)`. Each runs in a savepoint: if
    # `prepare` fails, claiming goes on without `prepared` (the handler must cope); if `complete`
    # fails, it is retried job by job, and a job whose value still fails is left to run again when
    # its lease expires (at-least-once).
    prepare: PrepareHook | None = None
    complete: CompleteHook | None = None

    def backoff(self, attempt: int) -> float:
        """Exponential backoff (base * 2^(attempt-1), capped) with jitter: uniform in [delay/2, delay]."""
        delay = min(self.backoff_max, self.backoff_base * (2 ** max(0, attempt - 1)))
        return delay / 2 + random.random() * delay / 2


@dataclass(frozen=True)
class PeriodicSpec:
    kind: str
    every: timedelta


@dataclass
class JobContext:
    job_id: str
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    workspace_id: str | None
    db: Database
    settings: Settings
    extra: dict[str, Any] = field(default_factory=dict)
    prepared: Any = None  # what the kind's `prepare` hook returned for this job, if it ran

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


@dataclass(frozen=True)
class Complete:
    """Returned by a handler whose kind has a `complete` hook: `value` is written by that hook in
    the transaction that marks the job succeeded."""

    value: Any


class Reschedule(Exception):
    """Raised by a handler to run again at `run_at` without counting a failed attempt."""

    def __init__(self, run_at: datetime, *, count_attempt: bool = False) -> None:
        super().__init__(f"reschedule at {run_at.isoformat()}")
        self.run_at = run_at
        self.count_attempt = count_attempt


_HANDLERS: dict[str, JobSpec] = {}
_PERIODICS: dict[str, PeriodicSpec] = {}
_WAKE_LISTENERS: set[Callable[[], None]] = set()
_STOP_HOOKS: list[Callable[[], Awaitable[None]]] = []


def job_handler(
    kind: str,
    *,
    max_attempts: int | None = None,
    backoff_base: float = 2.0,
    backoff_max: float = 3600.0,
    timeout: float | None = None,
    slots: Callable[[Settings], int] | None = None,
    prepare: PrepareHook | None = None,
    complete: CompleteHook | None = None,
) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[kind] = JobSpec(kind, fn, max_attempts, backoff_base, backoff_max, timeout, slots, prepare, complete)
        return fn

    return register


def periodic(kind: str, *, every: timedelta) -> Callable[[Handler], Handler]:
    """Register a handler that the workers enqueue once per `every` slot (across all workers)."""

    def register(fn: Handler) -> Handler:
        job_handler(kind, max_attempts=1)(fn)
        _PERIODICS[kind] = PeriodicSpec(kind, every)
        return fn

    return register


def on_worker_stop(hook: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """Register a coroutine a worker awaits, in its event loop, after its last job (e.g. closing
    a domain's HTTP client sessions)."""
    if hook not in _STOP_HOOKS:
        _STOP_HOOKS.append(hook)
    return hook


def worker_stop_hooks() -> list[Callable[[], Awaitable[None]]]:
    return list(_STOP_HOOKS)


def load_task_modules(settings: Settings) -> None:
    """Import every domain's handlers (`harken.tasks`) and `settings.extra_task_modules`."""
    import harken.tasks  # noqa: F401

    for name in settings.extra_task_modules.split(","):
        if name.strip():
            importlib.import_module(name.strip())


def registered_handlers() -> dict[str, JobSpec]:
    return dict(_HANDLERS)


def registered_periodics() -> dict[str, PeriodicSpec]:
    return dict(_PERIODICS)


def add_wake_listener(callback: Callable[[], None]) -> None:
    _WAKE_LISTENERS.add(callback)


def remove_wake_listener(callback: Callable[[], None]) -> None:
    _WAKE_LISTENERS.discard(callback)


_WAKE_ON_COMMIT = "harken_wake_on_commit"


@event.listens_for(Session, "after_commit")
def _wake_workers(session: Session) -> None:
    """Every session's commit checks one flag: a listener registered once, not per session."""
    if session.info.pop(_WAKE_ON_COMMIT, False):
        for callback in list(_WAKE_LISTENERS):
            callback()


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    workspace_id: str | None = None,
    run_at: datetime | None = None,
    delay: float | None = None,
    max_attempts: int | None = None,
    dedupe_key: str | None = None,
    priority: int = 0,
) -> str | None:
    """Add a job inside the caller's transaction (rolled back: no job). Returns the job id.

    `dedupe_key`: at most one *unfinished* (queued or running) job per key. If one exists, nothing
    is added and None is returned; once that job has finished (succeeded, failed, cancelled) the
    key is free again. `run_at` or `delay` (seconds) defers the job; higher `priority` runs first.
    """
    from harken.core.settings import get_settings

    now = utcnow()
    if run_at is None:
        run_at = now + timedelta(seconds=delay) if delay else now
    spec = _HANDLERS.get(kind)
    attempts = max_attempts or (spec.max_attempts if spec and spec.max_attempts else None)
    values = {
        "id": new_id(),
        "kind": kind,
        "payload": payload or {},
        "workspace_id": workspace_id,
        "status": JobStatus.queued.value,
        "priority": priority,
        "run_at": run_at,
        "attempts": 0,
        "max_attempts": attempts or get_settings().job_max_attempts,
        "dedupe_key": dedupe_key,
        "created_at": now,
    }
    if dedupe_key is None:
        await session.execute(insert(Job.__table__), values)  # one cached statement for every call
        job_id: str | None = values["id"]
    else:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        factory = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (
            factory(Job)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=text(ACTIVE_PREDICATE))
        )
        result = await session.execute(stmt.returning(Job.id))
        job_id = result.scalar_one_or_none()
    _arm_wake(session)
    return job_id


def _arm_wake(session: AsyncSession) -> None:
    """Wake this process's workers once the caller's transaction commits (never on rollback)."""
    session.sync_session.info[_WAKE_ON_COMMIT] = True


async def enqueue_many(
    session: AsyncSession,
    kind: str,
    payloads: list[dict[str, Any]],
    *,
    workspace_id: str | None = None,
    run_at: datetime | None = None,
    delay: float | None = None,
    max_attempts: int | None = None,
    priority: int = 0,
) -> list[str]:
    """Add one job per payload in a single multi-row INSERT (same transaction rules as `enqueue`)."""
    from harken.core.settings import get_settings

    if not payloads:
        return []
    now = utcnow()
    if run_at is None:
        run_at = now + timedelta(seconds=delay) if delay else now
    spec = _HANDLERS.get(kind)
    attempts = max_attempts or (spec.max_attempts if spec and spec.max_attempts else None)
    rows = [
        {
            "id": new_id(),
            "kind": kind,
            "payload": payload,
            "workspace_id": workspace_id,
            "status": JobStatus.queued.value,
            "priority": priority,
            "run_at": run_at,
            "attempts": 0,
            "max_attempts": attempts or get_settings().job_max_attempts,
            "dedupe_key": None,
            "created_at": now,
        }
        for payload in payloads
    ]
    await session.execute(insert(Job), rows)
    _arm_wake(session)
    return [row["id"] for row in rows]
