"""The delivery engine: runs one `webhooks.deliver` job (contract §5.3).

A job names the deliveries it is responsible for (`delivery.job_id == job.id`; any other job that
finds a delivery leaves it alone). For each, in three short transactions and never across the
HTTP call:

1. start: discard it if its endpoint is inactive/disabled; park it if its endpoint is `ordered`
   and an older delivery is still open; else mark it `delivering` and count the attempt.
2. send: POST the stored body with fresh signatures (shared AsyncClient per worker, SSRF-guarded,
   no redirects, total timeout); read at most 4 KB of the response.
3. record: write the attempt row; mark the delivery `delivered`, or schedule the next attempt in
   a new job (retry schedule with jitter, `Retry-After` on 429/503), or mark it `failed`; update
   the endpoint's failure streak (410 or sustained failure disables it); in an ordered endpoint,
   wake the next delivery in line.

If the worker dies after step 1, the job's lease expires and another worker runs it again: it
finds the delivery still `delivering`, records that attempt as interrupted and attempts it again
with the same id. (An attempt row is written once, when its outcome is known: one INSERT per batch
instead of an INSERT at the start and an UPDATE at the end.)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from sqlalchemy import and_, bindparam, func, insert, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from harken.core.batching import GroupCommitter
from harken.core.bulk import one_of
from harken.core.db import Database, UTCDateTime, new_id, utcnow
from harken.core.jobs import Job, JobContext, JobStatus, Reschedule, enqueue
from harken.core.metrics import WEBHOOK_DELIVERIES
from harken.core.settings import Settings
from harken.webhooks.events import DELIVER_JOB
from harken.webhooks.models import (
    OPEN_STATUSES,
    DeliveryStatus,
    Event,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from harken.webhooks.signing import USER_AGENT, delivery_headers
from harken.webhooks.ssrf import AddressPolicy, blocked_error, check_literal_host, guarded_session

logger = logging.getLogger("harken.webhooks")

BODY_LIMIT = 4096
# Results that arrive within this window are recorded in one transaction; later ones one by one.
RESULT_BATCH_WINDOW = 0.5
# An ordered delivery waiting behind an older one re-checks at least this often (it is also woken
# as soon as the one ahead of it finishes).
ORDERED_PARK_SECONDS = 30.0
MAX_RETRY_AFTER = 24 * 3600.0
# An attempt ends (or times out) within the webhook timeout; its result is recorded within this grace.
ATTEMPT_GRACE = 5.0
INTERRUPTED = "interrupted: the worker stopped during this attempt (lease expired); retried with the same id"


@dataclass
class Plan:
    job_id: str
    delivery_id: str
    workspace_id: str
    attempt_id: str  # chosen at the start, so recording the outcome twice writes one row
    attempt: int
    cycle_attempts: int
    endpoint_id: str
    url: str
    ordered: bool
    event_type: str
    body: bytes
    secrets: list[str]
    custom_headers: dict[str, str]
    endpoint_was_failing: bool = False


@dataclass
class Outcome:
    plan: Plan
    started_at: datetime
    duration_ms: int
    status: int | None = None
    headers: dict[str, str] | None = None
    body: str | None = None
    error: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and self.error is None


# -- the shared HTTP client ---------------------------------------------------------------------
# aiohttp, not httpx, sends deliveries: measured on this project's machines it spends ~0.17 ms of
# CPU per request against httpx's 2.6-4.2 ms, and the CPU per delivery is what bounds throughput
# (docs/benchmarks/webhooks.md).

_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], aiohttp.ClientSession]] = (
    weakref.WeakKeyDictionary()
)


def policy_from(settings: Settings) -> AddressPolicy:
    return _policy(settings.webhook_allow_private, tuple(settings.webhook_allowed_networks))


@functools.lru_cache(maxsize=64)
def _policy(allow_private: bool, networks: tuple[str, ...]) -> AddressPolicy:
    return AddressPolicy.from_settings(allow_private, networks)


@dataclass
class Client:
    session: aiohttp.ClientSession
    policy: AddressPolicy


def get_client(settings: Settings) -> Client:
    """One client session per event loop (per worker) and policy, reused across jobs."""
    loop = asyncio.get_running_loop()
    policy = policy_from(settings)
    key = (policy, settings.webhook_timeout_seconds)
    per_loop = _CLIENTS.setdefault(loop, {})
    session = per_loop.get(key)
    if session is None or session.closed:
        session = guarded_session(policy, timeout=settings.webhook_timeout_seconds, user_agent=USER_AGENT)
        per_loop[key] = session
    return Client(session, policy)


async def close_clients() -> None:
    """Close this event loop's client sessions (a worker calls it when it stops)."""
    per_loop = _CLIENTS.pop(asyncio.get_running_loop(), {})
    for session in per_loop.values():
        await session.close()


# -- the job ------------------------------------------------------------------------------------


def _bookkeeping(db: Database) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
    """A transaction on delivery state, with `synchronous_commit = off` on PostgreSQL: a server
    crash can lose only the last few of these writes, which means an attempt is made again with the
    same delivery id (at-least-once holds; nothing is lost). Events and deliveries are created in
    the emitter's own, fully durable transaction."""
    return db.bookkeeping_session()


async def run_job(ctx: JobContext) -> None:
    """Attempt the deliveries the job owns. It returns no result: a result is one more row write
    per job, on the hottest path; the deliveries and attempts are the record."""
    ids = list(ctx.payload.get("delivery_ids") or [])
    if not ids:
        return
    batches = _batchers(ctx.db, ctx.settings)
    plans, defer_until = await batches.start.submit((ctx.job_id, ids))
    if not plans:
        if defer_until is not None:
            raise Reschedule(defer_until)
        return
    client = get_client(ctx.settings)
    tasks = [asyncio.create_task(send(client, plan, ctx.settings.webhook_timeout_seconds)) for plan in plans]
    done, pending = await asyncio.wait(tasks, timeout=RESULT_BATCH_WINDOW)
    if done:
        await batches.record.submit((ctx.job_id, [t.result() for t in done]))
    for next_done in asyncio.as_completed(pending):
        await batches.record.submit((ctx.job_id, [await next_done]))
    if defer_until is not None:
        raise Reschedule(defer_until)


# Concurrent jobs of one worker start and record their deliveries together (group commit): one
# transaction for whatever arrived while the previous one was being written.
StartRequest = tuple[str, list[str]]  # job id, the delivery ids it names
RecordRequest = tuple[str, list["Outcome"]]  # job id, finished attempts


@dataclass
class _Batchers:
    start: GroupCommitter[StartRequest, tuple[list[Plan], datetime | None]]
    record: GroupCommitter[RecordRequest, None]


_BATCHERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[int, int], _Batchers]] = (
    weakref.WeakKeyDictionary()
)


def _batchers(db: Database, settings: Settings) -> _Batchers:
    per_loop = _BATCHERS.setdefault(asyncio.get_running_loop(), {})
    key = (id(db), id(settings))
    batchers = per_loop.get(key)
    if batchers is None:

        async def start(requests: Sequence[StartRequest]) -> list[tuple[list[Plan], datetime | None]]:
            return await _start(db, settings, requests)

        async def record_all(requests: Sequence[RecordRequest]) -> list[None]:
            await record(db, settings, requests)
            return [None] * len(requests)

        batchers = per_loop[key] = _Batchers(GroupCommitter(start), GroupCommitter(record_all))
    return batchers


async def _start(
    db: Database, settings: Settings, requests: Sequence[StartRequest]
) -> list[tuple[list[Plan], datetime | None]]:
    """Begin the attempts of the deliveries each job owns; one (plans, defer_until) per request."""
    now = utcnow()
    owner = {delivery_id: index for index, (_, ids) in enumerate(requests) for delivery_id in ids}
    plans: list[list[Plan]] = [[] for _ in requests]
    defers: list[datetime | None] = [None for _ in requests]
    # The common case (pending, due, endpoint active and unordered) goes through two set-based
    # statements on a Core connection; everything else (interrupted attempts, parked or early jobs,
    # disabled or ordered endpoints) through the per-delivery path below, in its own transaction
    # (the two sets of deliveries are disjoint).
    async with db.bookkeeping_connection() as connection:
        slow_ids = await _start_common(connection, requests, owner, now, plans, postgres=not db.is_sqlite)
    if not slow_ids:
        return list(zip(plans, defers, strict=True))
    async with _bookkeeping(db) as session:
        rows = (
            (
                await session.execute(
                    select(WebhookDelivery, WebhookEndpoint, Event)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .join(Event, Event.id == WebhookDelivery.event_id)
                    .where(WebhookDelivery.id.in_(slow_ids), WebhookDelivery.status.in_(OPEN_STATUSES))
                    .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
                )
            ).all()
            if slow_ids
            else []
        )
        await _lock_endpoints(session, {endpoint.id for _, endpoint, _ in rows if endpoint.ordered})
        for delivery, endpoint, event in rows:
            index = owner[delivery.id]
            if delivery.job_id != requests[index][0]:
                continue  # another job owns it now (redelivered): leave it alone
            if delivery.status == DeliveryStatus.delivering.value:
                # The job's lease expired mid-attempt (the attempt began at `updated_at`). If that
                # attempt could still be running (its worker alive but slow to renew), wait until it
                # must have ended: two workers never attempt the same delivery at once.
                latest_end = delivery.updated_at + timedelta(seconds=settings.webhook_timeout_seconds + ATTEMPT_GRACE)
                if latest_end > now:
                    defers[index] = max(defers[index] or latest_end, latest_end)
                    continue
                await _mark_interrupted(session, delivery, now)
            elif delivery.next_attempt_at is not None and delivery.next_attempt_at > now + timedelta(seconds=1):
                # Not due: this job was re-run early (its worker died after recording a retry).
                await _move_to_new_job(session, delivery, run_at=delivery.next_attempt_at)
                continue
            is_test = event.endpoint_id is not None
            if not is_test and (not endpoint.active or endpoint.disabled_reason):
                delivery.status = DeliveryStatus.discarded.value
                reason = endpoint.disabled_reason
                delivery.last_error = f"endpoint disabled: {reason}" if reason else "endpoint inactive"
                delivery.next_attempt_at = None
                delivery.updated_at = now
                WEBHOOK_DELIVERIES.labels(outcome="discarded").inc()
                continue
            if endpoint.ordered:
                blocker = await _older_open(session, delivery)
                if blocker is not None:
                    blocker_next = blocker.next_attempt_at
                    wait_until = now + timedelta(seconds=ORDERED_PARK_SECONDS)
                    if blocker.status == DeliveryStatus.pending.value and blocker_next and blocker_next > now:
                        wait_until = min(wait_until, blocker_next + timedelta(seconds=0.05))
                    await _move_to_new_job(session, delivery, run_at=wait_until)
                    continue
            delivery.status = DeliveryStatus.delivering.value
            delivery.attempts += 1
            delivery.cycle_attempts += 1
            delivery.next_attempt_at = None
            delivery.updated_at = now
            plans[index].append(
                Plan(
                    job_id=delivery.job_id,
                    delivery_id=delivery.id,
                    workspace_id=delivery.workspace_id,
                    attempt_id=new_id(),
                    attempt=delivery.attempts,
                    cycle_attempts=delivery.cycle_attempts,
                    endpoint_id=endpoint.id,
                    url=endpoint.url,
                    ordered=endpoint.ordered,
                    event_type=delivery.event_type,
                    body=(event.body or "").encode("utf-8"),
                    secrets=endpoint.valid_secrets(now),
                    custom_headers={str(k): str(v) for k, v in (endpoint.headers or {}).items()},
                    endpoint_was_failing=bool(endpoint.failure_streak or endpoint.failing_since),
                )
            )
    return list(zip(plans, defers, strict=True))


async def _start_common(
    session: AsyncConnection,
    requests: Sequence[StartRequest],
    owner: dict[str, int],
    now: datetime,
    plans: list[list[Plan]],
    *,
    postgres: bool,
) -> list[str]:
    """Start the attempts of owned, due, pending deliveries to active unordered endpoints with one
    UPDATE … RETURNING (their plans go into `plans`); return the ids of the other open deliveries,
    which need the per-delivery path."""
    d, e, v = WebhookDelivery, WebhookEndpoint, Event
    rows = (
        await session.execute(
            select(
                d.id,
                d.job_id,
                d.status,
                d.next_attempt_at,
                d.event_type,
                d.workspace_id,
                e.id.label("endpoint_id"),
                e.url,
                e.active,
                e.disabled_reason,
                e.ordered,
                e.headers,
                e.secret,
                e.previous_secret,
                e.previous_secret_expires_at,
                e.failure_streak,
                e.failing_since,
                v.body,
                v.endpoint_id.label("test_endpoint_id"),
            )
            .join(e, e.id == d.endpoint_id)
            .join(v, v.id == d.event_id)
            .where(
                one_of(d.id, owner, postgres=postgres),
                one_of(d.job_id, {job_id for job_id, _ in requests}, postgres=postgres),
                d.status.in_(OPEN_STATUSES),
            )
            .order_by(d.created_at, d.id)
        )
    ).all()
    common: dict[str, Any] = {}
    slow_ids: list[str] = []
    due = now + timedelta(seconds=1)
    for row in rows:
        if row.job_id != requests[owner[row.id]][0]:
            continue  # another job owns it now (redelivered): leave it alone
        usable = row.test_endpoint_id is not None or (row.active and not row.disabled_reason)
        if (
            row.status == DeliveryStatus.pending.value
            and (row.next_attempt_at is None or row.next_attempt_at <= due)
            and usable
            and not row.ordered
        ):
            common[row.id] = row
        else:
            slow_ids.append(row.id)
    if not common:
        return slow_ids
    table = d.__table__
    started = (
        await session.execute(
            update(table)
            .where(
                one_of(table.c.id, common, postgres=postgres),
                one_of(table.c.job_id, {job_id for job_id, _ in requests}, postgres=postgres),
                table.c.status == DeliveryStatus.pending.value,
            )
            .values(
                status=DeliveryStatus.delivering.value,
                attempts=table.c.attempts + 1,
                cycle_attempts=table.c.cycle_attempts + 1,
                next_attempt_at=None,
                updated_at=now,
            )
            .returning(table.c.id, table.c.attempts, table.c.cycle_attempts)
        )
    ).all()
    position = {delivery_id: i for i, delivery_id in enumerate(common)}  # send in creation order
    for delivery_id, attempt_no, cycle_attempts in sorted(started, key=lambda r: position[r[0]]):
        row = common[delivery_id]
        secrets_ = [row.secret]
        if row.previous_secret and row.previous_secret_expires_at and row.previous_secret_expires_at > now:
            secrets_.append(row.previous_secret)
        plans[owner[delivery_id]].append(
            Plan(
                job_id=row.job_id,
                delivery_id=delivery_id,
                workspace_id=row.workspace_id,
                attempt_id=new_id(),
                attempt=attempt_no,
                cycle_attempts=cycle_attempts,
                endpoint_id=row.endpoint_id,
                url=row.url,
                ordered=False,
                event_type=row.event_type,
                body=(row.body or "").encode("utf-8"),
                secrets=secrets_,
                custom_headers={str(k): str(v) for k, v in (row.headers or {}).items()},
                endpoint_was_failing=bool(row.failure_streak or row.failing_since),
            )
        )
    return slow_ids


async def _mark_interrupted(session: Any, delivery: WebhookDelivery, now: datetime) -> None:
    """Record the attempt a dead worker began (at `updated_at`) as interrupted."""
    await session.execute(
        insert(WebhookAttempt.__table__),
        {
            "id": new_id(),
            "delivery_id": delivery.id,
            "workspace_id": delivery.workspace_id,
            "attempt": delivery.attempts,
            "started_at": delivery.updated_at,
            "finished": True,
            "error": INTERRUPTED,
        },
    )
    delivery.last_error = INTERRUPTED
    WEBHOOK_DELIVERIES.labels(outcome="interrupted").inc()


async def _move_to_new_job(session: Any, delivery: WebhookDelivery, *, run_at: datetime) -> None:
    job_id = await enqueue(
        session, DELIVER_JOB, {"delivery_ids": [delivery.id]}, workspace_id=delivery.workspace_id, run_at=run_at
    )
    delivery.job_id = job_id
    delivery.status = DeliveryStatus.pending.value


async def _older_open(session: Any, delivery: WebhookDelivery) -> WebhookDelivery | None:
    return (
        await session.execute(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == delivery.endpoint_id,
                WebhookDelivery.status.in_(OPEN_STATUSES),
                WebhookDelivery.id != delivery.id,
                or_(
                    WebhookDelivery.created_at < delivery.created_at,
                    and_(WebhookDelivery.created_at == delivery.created_at, WebhookDelivery.id < delivery.id),
                ),
            )
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
            .limit(1)
        )
    ).scalar_one_or_none()


# -- one HTTP attempt ------------------------------------------------------------------------------


async def send(client: Client, plan: Plan, timeout: float) -> Outcome:  # noqa: ASYNC109
    """POST one delivery; never raises: every failure becomes an `Outcome` with an error."""
    started_at = utcnow()
    started = time.perf_counter()
    headers = delivery_headers(
        delivery_id=plan.delivery_id,
        event_type=plan.event_type,
        body=plan.body,
        secrets_=plan.secrets,
        custom=plan.custom_headers,
    )
    outcome = Outcome(plan=plan, started_at=started_at, duration_ms=0)
    try:
        check_literal_host(plan.url, client.policy)
        async with asyncio.timeout(timeout):
            async with client.session.post(
                plan.url, data=plan.body, headers=headers, allow_redirects=False
            ) as response:
                chunks: list[bytes] = []
                size = 0
                while size < BODY_LIMIT:
                    chunk = await response.content.read(BODY_LIMIT - size)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
        outcome.status = response.status
        outcome.headers = {k: v for k, v in response.headers.items()}
        # PostgreSQL text cannot hold NUL: a receiver answering binary must not break the record.
        outcome.body = b"".join(chunks).decode("utf-8", errors="replace").replace("\x00", "\ufffd")
        if not 200 <= response.status < 300:
            outcome.error = _status_error(response.status)
            if response.status in (429, 503):
                outcome.retry_after = parse_retry_after(response.headers.get("retry-after"))
    except TimeoutError:
        outcome.error = f"timeout: no complete response within {timeout:g} s"
    except (aiohttp.ClientError, OSError) as exc:
        blocked = blocked_error(exc)
        if blocked is not None:
            outcome.error = str(blocked)
        elif isinstance(exc, aiohttp.ClientConnectorError):
            outcome.error = f"network error: connection failed: {exc}"
        elif isinstance(exc, aiohttp.ServerDisconnectedError):
            outcome.error = "network error: the receiver closed the connection without a response"
        else:
            outcome.error = f"network error: {type(exc).__name__}: {exc}".rstrip(": ")
    except Exception as exc:  # never let one delivery break the batch
        outcome.error = f"error: {type(exc).__name__}: {exc}"
    outcome.duration_ms = int((time.perf_counter() - started) * 1000)
    return outcome


def _status_error(status: int) -> str:
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed"
    if status == 410:
        return "HTTP 410 Gone: endpoint disabled"
    return f"HTTP {status}"


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = (when - utcnow()).total_seconds() if when.tzinfo else None  # type: ignore[assignment]
        if seconds is None:
            return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def retry_delay(settings: Settings, cycle_attempts: int, retry_after: float | None) -> float | None:
    """Seconds until the next attempt after `cycle_attempts` failed ones, or None when exhausted."""
    schedule = settings.webhook_retry_schedule
    if cycle_attempts > len(schedule):
        return None
    if retry_after is not None:
        return retry_after
    base = float(schedule[cycle_attempts - 1])
    jitter = settings.webhook_retry_jitter
    return max(0.0, base * (1 + random.uniform(-jitter, jitter)))


# -- recording results -----------------------------------------------------------------------------


async def record(db: Database, settings: Settings, requests: Sequence[RecordRequest]) -> None:
    """Record finished attempts of one or more jobs: successes on unordered endpoints (nearly all of
    them) in one Core transaction of set-based statements, the rest (failures to schedule, ordered
    hand-offs) through the ORM in a second one."""
    outcomes = [outcome for _, job_outcomes in requests for outcome in job_outcomes]
    postgres = not db.is_sqlite
    now = utcnow()
    simple = [o for o in outcomes if o.ok and not o.plan.ordered]
    rest = [o for o in outcomes if not (o.ok and not o.plan.ordered)]
    # Deliveries known to still exist: their attempt rows can be written (a delivery deleted
    # meanwhile, with its endpoint or by the retention purge, takes its attempts with it).
    existing: set[str] = set()
    if simple:
        async with db.bookkeeping_connection() as connection:
            # guarded by ownership: a redelivered delivery belongs to its newer job
            existing.update(await _mark_delivered(connection, simple, now, postgres=postgres))
            await _reset_failure_streaks(connection, simple)
            await _write_attempts(connection, simple, existing, postgres=postgres)
        WEBHOOK_DELIVERIES.labels(outcome="delivered").inc(len(simple))
    if rest:
        await _record_rest(db, settings, rest, now)


async def _reset_failure_streaks(connection: AsyncConnection | AsyncSession, outcomes: list[Outcome]) -> None:
    """Reset the failure streak of endpoints that were failing (a healthy one costs no write)."""
    succeeded = {o.plan.endpoint_id for o in outcomes if o.ok and o.plan.endpoint_was_failing}
    if succeeded:
        await connection.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.id.in_(succeeded),
                or_(WebhookEndpoint.failure_streak != 0, WebhookEndpoint.failing_since.is_not(None)),
            )
            .values(failure_streak=0, failing_since=None, updated_at=WebhookEndpoint.updated_at)
        )


async def _record_rest(db: Database, settings: Settings, rest: list[Outcome], now: datetime) -> None:
    """Failures (retry, give up, disable the endpoint) and outcomes on ordered endpoints."""
    postgres = not db.is_sqlite
    wake: set[str] = set()
    async with _bookkeeping(db) as session:
        owned = {
            d.id: d
            for d in (
                await session.execute(
                    select(WebhookDelivery).where(
                        one_of(WebhookDelivery.id, [o.plan.delivery_id for o in rest], postgres=postgres),
                        one_of(WebhookDelivery.job_id, {o.plan.job_id for o in rest}, postgres=postgres),
                    )
                )
            ).scalars()
        }
        existing = set(owned)
        await _reset_failure_streaks(session, rest)
        for outcome in rest:
            if not outcome.ok:
                await _endpoint_failed(session, settings, outcome.plan.endpoint_id, outcome, now)
            plan = outcome.plan
            delivery = owned.get(plan.delivery_id)
            if delivery is None or delivery.job_id != plan.job_id:
                continue  # redelivered or deleted meanwhile: the newer job owns it
            delivery.response_status = outcome.status
            delivery.updated_at = now
            if outcome.ok:
                delivery.status = DeliveryStatus.delivered.value
                delivery.delivered_at = now
                delivery.last_error = None
                delivery.next_attempt_at = None
                WEBHOOK_DELIVERIES.labels(outcome="delivered").inc()
            else:
                delivery.last_error = outcome.error
                delay = (
                    None if outcome.status == 410 else retry_delay(settings, plan.cycle_attempts, outcome.retry_after)
                )
                if delay is None:
                    delivery.status = DeliveryStatus.failed.value
                    delivery.next_attempt_at = None
                    WEBHOOK_DELIVERIES.labels(outcome="failed").inc()
                else:
                    run_at = now + timedelta(seconds=delay)
                    await _move_to_new_job(session, delivery, run_at=run_at)
                    delivery.next_attempt_at = run_at
                    WEBHOOK_DELIVERIES.labels(outcome="retrying").inc()
            if plan.ordered and delivery.status != DeliveryStatus.delivering.value:
                wake.add(plan.endpoint_id)
        await session.flush()
        await _write_attempts(session, rest, existing, postgres=postgres)
        await _lock_endpoints(session, wake)
        for endpoint_id in wake:
            await _wake_next_in_line(session, endpoint_id, now)


# On PostgreSQL the batch goes as one array per column through unnest(): one statement whose text
# is the same for every batch size (see harken.core.bulk).
_PG_MARK_DELIVERED = text(
    """
    UPDATE webhook_deliveries AS d
    SET status = 'delivered', delivered_at = :now, last_error = NULL, next_attempt_at = NULL,
        response_status = v.code, updated_at = :now
    FROM unnest(CAST(:ids AS varchar[]), CAST(:jobs AS varchar[]), CAST(:codes AS integer[])) AS v(id, job_id, code)
    WHERE d.id = v.id AND d.job_id = v.job_id
    RETURNING d.id
    """
).bindparams(bindparam("now", type_=UTCDateTime()))

_PG_INSERT_ATTEMPTS = text(
    """
    INSERT INTO webhook_attempts (id, delivery_id, workspace_id, attempt, started_at, finished,
                                  duration_ms, response_status, response_headers, response_body, error)
    SELECT id, delivery_id, workspace_id, attempt, started_at, true,
           duration_ms, response_status, CAST(response_headers AS jsonb), response_body, error
    FROM unnest(CAST(:ids AS varchar[]), CAST(:delivery_ids AS varchar[]), CAST(:workspace_ids AS varchar[]),
                CAST(:attempts AS integer[]), CAST(:started AS timestamptz[]), CAST(:durations AS integer[]),
                CAST(:statuses AS integer[]), CAST(:headers AS text[]), CAST(:bodies AS text[]),
                CAST(:errors AS text[]))
      AS v(id, delivery_id, workspace_id, attempt, started_at, duration_ms, response_status,
           response_headers, response_body, error)
    ON CONFLICT (id) DO NOTHING
    """
)


async def _mark_delivered(
    session: AsyncConnection, outcomes: list[Outcome], now: datetime, *, postgres: bool
) -> list[str]:
    """Mark the owned deliveries of these successful outcomes delivered; return their ids."""
    if postgres:
        params = {
            "now": now,
            "ids": [o.plan.delivery_id for o in outcomes],
            "jobs": [o.plan.job_id for o in outcomes],
            "codes": [o.status for o in outcomes],
        }
        return list((await session.execute(_PG_MARK_DELIVERED, params)).scalars())
    table = WebhookDelivery.__table__
    by_status: dict[int | None, list[Outcome]] = {}
    for outcome in outcomes:
        by_status.setdefault(outcome.status, []).append(outcome)
    marked: list[str] = []
    for status, group in by_status.items():  # one UPDATE per response status (nearly always one)
        result = await session.execute(
            update(table)
            .where(tuple_(table.c.id, table.c.job_id).in_([(o.plan.delivery_id, o.plan.job_id) for o in group]))
            .values(
                status=DeliveryStatus.delivered.value,
                delivered_at=now,
                last_error=None,
                next_attempt_at=None,
                response_status=status,
                updated_at=now,
            )
            .returning(table.c.id)
        )
        marked.extend(result.scalars())
    return marked


async def _write_attempts(
    session: AsyncConnection | AsyncSession, outcomes: list[Outcome], existing: set[str], *, postgres: bool
) -> None:
    """One attempt row per outcome whose delivery still exists, in one statement. Idempotent (the
    attempt's id was chosen at its start): a batch retried request by request after a failure
    does not write an attempt twice."""
    unknown = [o.plan.delivery_id for o in outcomes if o.plan.delivery_id not in existing]
    if unknown:
        found = await session.execute(
            select(WebhookDelivery.id).where(one_of(WebhookDelivery.id, unknown, postgres=postgres))
        )
        existing.update(found.scalars())
    kept = [o for o in outcomes if o.plan.delivery_id in existing]
    if not kept:
        return
    if postgres:
        params = {
            "ids": [o.plan.attempt_id for o in kept],
            "delivery_ids": [o.plan.delivery_id for o in kept],
            "workspace_ids": [o.plan.workspace_id for o in kept],
            "attempts": [o.plan.attempt for o in kept],
            "started": [o.started_at for o in kept],
            "durations": [o.duration_ms for o in kept],
            "statuses": [o.status for o in kept],
            "headers": [None if o.headers is None else json.dumps(o.headers) for o in kept],
            "bodies": [o.body for o in kept],
            "errors": [o.error for o in kept],
        }
        await session.execute(_PG_INSERT_ATTEMPTS, params)
        return
    await session.execute(
        insert(WebhookAttempt.__table__).prefix_with("OR IGNORE"),
        [
            {
                "id": o.plan.attempt_id,
                "delivery_id": o.plan.delivery_id,
                "workspace_id": o.plan.workspace_id,
                "attempt": o.plan.attempt,
                "started_at": o.started_at,
                "finished": True,
                "duration_ms": o.duration_ms,
                "response_status": o.status,
                "response_headers": o.headers,
                "response_body": o.body,
                "error": o.error,
            }
            for o in kept
        ],
    )


async def _endpoint_failed(session: Any, settings: Settings, endpoint_id: str, outcome: Outcome, now: datetime) -> None:
    """Count a failed attempt; disable the endpoint on 410 or after sustained failure."""
    keep_updated = {"updated_at": WebhookEndpoint.updated_at}
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(
            failure_streak=WebhookEndpoint.failure_streak + 1,
            failing_since=func.coalesce(WebhookEndpoint.failing_since, now),
            **keep_updated,
        )
    )
    if outcome.status == 410:
        reason = "the endpoint answered 410 Gone"
        cond = WebhookEndpoint.id == endpoint_id
    else:
        hours = settings.webhook_disable_after_hours
        reason = f"every delivery attempt failed for {hours:g} hours"
        cond = and_(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.failing_since <= now - timedelta(hours=hours),
        )
    result = await session.execute(
        update(WebhookEndpoint)
        .where(cond, WebhookEndpoint.disabled_reason.is_(None))
        .values(disabled_reason=reason, disabled_at=now, **keep_updated)
    )
    if result.rowcount:
        logger.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)


async def _lock_endpoints(session: AsyncSession, endpoint_ids: set[str]) -> None:
    """Serialize the ordered-endpoint hand-off: a start that parks a delivery behind an open one and
    a record that finishes the open one and wakes the next take the endpoint's row lock (in id
    order), so the wake-up always sees the parked job and is never lost. SQLite transactions are
    serialized already (the statement has no FOR UPDATE there)."""
    if endpoint_ids:
        await session.execute(
            select(WebhookEndpoint.id)
            .where(WebhookEndpoint.id.in_(sorted(endpoint_ids)))
            .order_by(WebhookEndpoint.id)
            .with_for_update()
        )


async def _wake_next_in_line(session: Any, endpoint_id: str, now: datetime) -> None:
    """In an ordered endpoint, run the oldest open delivery's job now (it was parked)."""
    nxt = (
        await session.execute(
            select(WebhookDelivery.job_id, WebhookDelivery.status, WebhookDelivery.next_attempt_at)
            .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status.in_(OPEN_STATUSES))
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
            .limit(1)
        )
    ).first()
    if nxt is None or nxt.job_id is None or nxt.status != DeliveryStatus.pending.value:
        return
    if nxt.next_attempt_at is not None and nxt.next_attempt_at > now:
        return  # waiting for its own retry, not parked
    await session.execute(
        update(Job).where(Job.id == nxt.job_id, Job.status == JobStatus.queued.value).values(run_at=now)
    )
