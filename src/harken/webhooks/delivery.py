"""The delivery engine: runs one `webhooks.deliver` job (contract §5.3).

A job names the deliveries it is responsible for (`delivery.job_id == job.id`; any other job that
finds a delivery leaves it alone). For each, in short transactions and never across the HTTP call:

1. start (here): discard it if its endpoint is inactive/disabled; park it if its endpoint is
   `ordered` and an older delivery is still open; else mark it `delivering` and count the attempt.
   The common case (pending, due, active unordered endpoint) is started by `prepare_jobs` inside
   the transaction in which the worker claims the job.
2. send (`harken.webhooks.sending`): POST the stored body with fresh signatures (shared client per
   worker, SSRF-guarded, no redirects, total timeout); read at most 4 KB of the response.
3. record (`harken.webhooks.recording`): write the attempt row; mark the delivery `delivered`, or
   schedule the next attempt in a new job (retry schedule with jitter, `Retry-After` on 429/503),
   or mark it `failed`; update the endpoint's failure streak; in an ordered endpoint, wake the next
   delivery in line. Successes on unordered endpoints are recorded by `complete_jobs` inside the
   transaction in which the worker marks the job succeeded.

So a job of deliveries that succeed costs the queue's two transactions (claim, finish) and none of
its own. If the worker dies after step 1, the job's lease expires and another worker runs it
again: it finds the delivery still `delivering`, records that attempt as interrupted and attempts
it again with the same id (at-least-once; receivers deduplicate on the id).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from harken.core.batching import GroupCommitter
from harken.core.bulk import one_of
from harken.core.db import Database, new_id, utcnow
from harken.core.jobs import Complete, JobContext, Reschedule
from harken.core.metrics import WEBHOOK_DELIVERIES
from harken.core.settings import Settings
from harken.webhooks.models import (
    OPEN_STATUSES,
    DeliveryStatus,
    Event,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from harken.webhooks.recording import (
    RecordRequest,
    bookkeeping,
    lock_endpoints,
    move_to_new_job,
    record,
    record_successes,
    split_simple,
)
from harken.webhooks.sending import Outcome, Plan, get_client, send

# Results that arrive within this window are recorded in one transaction; later ones one by one.
RESULT_BATCH_WINDOW = 0.5
# An ordered delivery waiting behind an older one re-checks at least this often (it is also woken
# as soon as the one ahead of it finishes).
ORDERED_PARK_SECONDS = 30.0
# An attempt ends (or times out) within the webhook timeout; its result is recorded within this grace.
ATTEMPT_GRACE = 5.0
INTERRUPTED = "interrupted: the worker stopped during this attempt (lease expired); retried with the same id"


# -- the job ------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """What `prepare_jobs` did for one job in the transaction that claimed it."""

    plans: list[Plan]  # attempts already started
    slow_ids: list[str]  # owned open deliveries left to the per-delivery path


async def prepare_jobs(
    connection: AsyncConnection, db: Database, settings: Settings, rows: list[dict[str, Any]]
) -> dict[str, Prepared]:
    """The job queue's `prepare` hook: start the common-case attempts of the claimed jobs inside
    the claim's own transaction (one commit less per job)."""
    requests = [(row["id"], list((row["payload"] or {}).get("delivery_ids") or [])) for row in rows]
    owner = {delivery_id: index for index, (_, ids) in enumerate(requests) for delivery_id in ids}
    plans: list[list[Plan]] = [[] for _ in requests]
    slow_ids = await _start_common(connection, requests, owner, utcnow(), plans, postgres=not db.is_sqlite)
    slow: list[list[str]] = [[] for _ in requests]
    for delivery_id in slow_ids:
        slow[owner[delivery_id]].append(delivery_id)
    return {
        job_id: Prepared(job_plans, job_slow)
        for (job_id, _), job_plans, job_slow in zip(requests, plans, slow, strict=True)
    }


async def complete_jobs(
    connection: AsyncConnection, db: Database, settings: Settings, values: list[list[Outcome]]
) -> None:
    """The job queue's `complete` hook: record successes inside the transaction that marks their
    jobs succeeded (one commit less per job)."""
    outcomes = [outcome for job_outcomes in values for outcome in job_outcomes]
    if outcomes:
        await record_successes(connection, outcomes, utcnow(), postgres=not db.is_sqlite)


async def run_job(ctx: JobContext) -> Complete | None:
    """Attempt the deliveries the job owns. When every attempt has ended within the batch window
    (nearly always), successes on unordered endpoints are handed back as `Complete(outcomes)`, so
    the worker records them in the transaction that finishes the job; everything else is recorded
    here as it ends. No job result is written: the deliveries and attempts are the record."""
    ids = list(ctx.payload.get("delivery_ids") or [])
    if not ids:
        return None
    batches = _batchers(ctx.db, ctx.settings)
    defer_until: datetime | None = None
    if isinstance(ctx.prepared, Prepared):  # started in the claim's transaction
        plans = list(ctx.prepared.plans)
        if ctx.prepared.slow_ids:
            more, defer_until = await batches.start.submit((ctx.job_id, ctx.prepared.slow_ids))
            plans.extend(more)
    else:
        plans, defer_until = await batches.start.submit((ctx.job_id, ids))
    if not plans:
        if defer_until is not None:
            raise Reschedule(defer_until)
        return None
    client = get_client(ctx.settings)
    tasks = [asyncio.create_task(send(client, plan)) for plan in plans]
    done, pending = await asyncio.wait(tasks, timeout=RESULT_BATCH_WINDOW)
    outcomes = [t.result() for t in done]
    if not pending and defer_until is None:
        simple, rest = split_simple(outcomes)
        if rest:
            await batches.record.submit((ctx.job_id, rest))
        return Complete(simple) if simple else None
    if outcomes:
        await batches.record.submit((ctx.job_id, outcomes))
    for next_done in asyncio.as_completed(pending):
        await batches.record.submit((ctx.job_id, [await next_done]))
    if defer_until is not None:
        raise Reschedule(defer_until)
    return None


# Concurrent jobs of one worker start and record their deliveries together (group commit): one
# transaction for whatever arrived while the previous one was being written.
StartRequest = tuple[str, list[str]]  # job id, the delivery ids it names


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
    # The common case (pending, due, endpoint active and unordered) goes through one set-based
    # UPDATE on a Core connection; everything else (interrupted attempts, parked or early jobs,
    # disabled or ordered endpoints) through the per-delivery path below, in its own transaction
    # (the two sets of deliveries are disjoint).
    async with db.bookkeeping_connection() as connection:
        slow_ids = await _start_common(connection, requests, owner, now, plans, postgres=not db.is_sqlite)
    if not slow_ids:
        return list(zip(plans, defers, strict=True))
    async with bookkeeping(db) as session:
        rows = (
            await session.execute(
                select(WebhookDelivery, WebhookEndpoint, Event)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .join(Event, Event.id == WebhookDelivery.event_id)
                .where(
                    one_of(WebhookDelivery.id, slow_ids, postgres=not db.is_sqlite),
                    WebhookDelivery.status.in_(OPEN_STATUSES),
                )
                .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
            )
        ).all()
        await lock_endpoints(session, {endpoint.id for _, endpoint, _ in rows if endpoint.ordered})
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
                await move_to_new_job(session, delivery, run_at=delivery.next_attempt_at)
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
                    await move_to_new_job(session, delivery, run_at=wait_until)
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
    UPDATE … FROM … RETURNING (their plans go into `plans`); return the ids of the other deliveries
    the jobs name, which need the per-delivery path (it skips those no longer open or owned)."""
    table = WebhookDelivery.__table__
    e, v = WebhookEndpoint.__table__, Event.__table__
    job_index = {job_id: index for index, (job_id, _) in enumerate(requests)}
    started = (
        await session.execute(
            update(table)
            .where(
                one_of(table.c.id, owner, postgres=postgres),
                # Only the job that owns a delivery starts it (a redelivered one belongs to its
                # newer job); that job is the one its plan goes to.
                one_of(table.c.job_id, job_index, postgres=postgres),
                table.c.status == DeliveryStatus.pending.value,
                or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now + timedelta(seconds=1)),
                e.c.id == table.c.endpoint_id,
                v.c.id == table.c.event_id,
                e.c.ordered.is_(False),
                # a test event goes to its endpoint whatever that endpoint's state
                or_(v.c.endpoint_id.is_not(None), and_(e.c.active.is_(True), e.c.disabled_reason.is_(None))),
            )
            .values(
                status=DeliveryStatus.delivering.value,
                attempts=table.c.attempts + 1,
                cycle_attempts=table.c.cycle_attempts + 1,
                next_attempt_at=None,
                updated_at=now,
            )
            .returning(
                table.c.id,
                table.c.job_id,
                table.c.attempts,
                table.c.cycle_attempts,
                table.c.event_type,
                table.c.workspace_id,
                table.c.created_at,
                table.c.endpoint_id,
                table.c.event_id,
            )
        )
    ).all()
    if not started:
        return list(owner)
    # What to send, read once per endpoint and once per event (SQLite's RETURNING cannot name the
    # joined tables' columns, and one row per endpoint and event is less to decode anyway).
    endpoints = {
        row.id: row
        for row in await session.execute(
            select(
                e.c.id,
                e.c.url,
                e.c.headers,
                e.c.secret,
                e.c.previous_secret,
                e.c.previous_secret_expires_at,
                e.c.failure_streak,
                e.c.failing_since,
            ).where(one_of(e.c.id, {row.endpoint_id for row in started}, postgres=postgres))
        )
    }
    bodies = {
        event_id: (body or "").encode("utf-8")
        for event_id, body in await session.execute(
            select(v.c.id, v.c.body).where(one_of(v.c.id, {row.event_id for row in started}, postgres=postgres))
        )
    }
    secrets_of: dict[str, list[str]] = {}
    headers_of: dict[str, dict[str, str]] = {}
    for endpoint_id, endpoint in endpoints.items():
        secrets_of[endpoint_id] = [endpoint.secret]
        expires = endpoint.previous_secret_expires_at
        if endpoint.previous_secret and expires and expires > now:
            secrets_of[endpoint_id].append(endpoint.previous_secret)
        headers_of[endpoint_id] = {str(k): str(value) for k, value in (endpoint.headers or {}).items()}
    for row in sorted(started, key=lambda r: (r.created_at, r.id)):  # send in creation order
        # Neither can be gone: deleting an endpoint cascades to these rows, which this transaction
        # has locked, and the purge deletes no event that still has deliveries.
        endpoint = endpoints[row.endpoint_id]
        plans[job_index[row.job_id]].append(
            Plan(
                job_id=row.job_id,
                delivery_id=row.id,
                workspace_id=row.workspace_id,
                attempt_id=new_id(),
                attempt=row.attempts,
                cycle_attempts=row.cycle_attempts,
                endpoint_id=row.endpoint_id,
                url=endpoint.url,
                ordered=False,
                event_type=row.event_type,
                body=bodies[row.event_id],
                secrets=list(secrets_of[row.endpoint_id]),
                custom_headers=dict(headers_of[row.endpoint_id]),
                endpoint_was_failing=bool(endpoint.failure_streak or endpoint.failing_since),
            )
        )
    started_ids = {row.id for row in started}
    return [delivery_id for delivery_id in owner if delivery_id not in started_ids]


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
