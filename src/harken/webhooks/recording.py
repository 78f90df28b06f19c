"""Recording the outcome of delivery attempts (contract §5.3): attempt rows, delivered or retry
or failed, the endpoint's failure streak (410 or sustained failure disables it), and the hand-off
to the next delivery in line on an `ordered` endpoint.

Successes on unordered endpoints (nearly all outcomes) are written by set-based statements whose
SQL text does not change with the batch size (`harken.core.bulk`); the rest through the ORM.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from harken.core.bulk import one_of
from harken.core.db import Database, UTCDateTime, utcnow
from harken.core.jobs import Job, JobStatus, enqueue
from harken.core.metrics import WEBHOOK_DELIVERIES
from harken.core.settings import Settings
from harken.webhooks.events import DELIVER_JOB
from harken.webhooks.models import OPEN_STATUSES, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from harken.webhooks.sending import Outcome

logger = logging.getLogger("harken.webhooks")

RecordRequest = tuple[str, list[Outcome]]  # job id, finished attempts


def bookkeeping(db: Database) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
    """A transaction on delivery state, with `synchronous_commit = off` on PostgreSQL: a server
    crash can lose only the last few of these writes, which means an attempt is made again with the
    same delivery id (at-least-once holds; nothing is lost). Events and deliveries are created in
    the emitter's own, fully durable transaction."""
    return db.bookkeeping_session()


def split_simple(outcomes: list[Outcome]) -> tuple[list[Outcome], list[Outcome]]:
    """(simple, rest): successes on unordered endpoints, recorded by set-based statements with no
    hand-off, and everything else."""
    simple: list[Outcome] = []
    rest: list[Outcome] = []
    for outcome in outcomes:
        (simple if outcome.ok and not outcome.plan.ordered else rest).append(outcome)
    return simple, rest


async def move_to_new_job(session: Any, delivery: WebhookDelivery, *, run_at: datetime) -> None:
    """Hand the delivery to a new job that runs at `run_at` (a retry, or a parked ordered one)."""
    job_id = await enqueue(
        session, DELIVER_JOB, {"delivery_ids": [delivery.id]}, workspace_id=delivery.workspace_id, run_at=run_at
    )
    delivery.job_id = job_id
    delivery.status = DeliveryStatus.pending.value


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


async def record(db: Database, settings: Settings, requests: Sequence[RecordRequest]) -> None:
    """Record finished attempts of one or more jobs: successes on unordered endpoints (nearly all of
    them) in one Core transaction of set-based statements, the rest (failures to schedule, ordered
    hand-offs) through the ORM in a second one."""
    outcomes = [outcome for _, job_outcomes in requests for outcome in job_outcomes]
    now = utcnow()
    simple, rest = split_simple(outcomes)
    if simple:
        async with db.bookkeeping_connection() as connection:
            await record_successes(connection, simple, now, postgres=not db.is_sqlite)
    if rest:
        await _record_rest(db, settings, rest, now)


async def record_successes(
    connection: AsyncConnection, outcomes: list[Outcome], now: datetime, *, postgres: bool
) -> None:
    """Record successes on unordered endpoints with set-based statements in `connection`'s
    transaction."""
    # Guarded by ownership: a redelivered delivery belongs to its newer job. Only deliveries known
    # to still exist get attempt rows (a delivery deleted meanwhile, with its endpoint or by the
    # retention purge, takes its attempts with it).
    existing = set(await _mark_delivered(connection, outcomes, now, postgres=postgres))
    await _reset_failure_streaks(connection, outcomes)
    await _write_attempts(connection, outcomes, existing, postgres=postgres)
    WEBHOOK_DELIVERIES.labels(outcome="delivered").inc(len(outcomes))


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
    async with bookkeeping(db) as session:
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
                    await move_to_new_job(session, delivery, run_at=run_at)
                    delivery.next_attempt_at = run_at
                    WEBHOOK_DELIVERIES.labels(outcome="retrying").inc()
            if plan.ordered and delivery.status != DeliveryStatus.delivering.value:
                wake.add(plan.endpoint_id)
        await session.flush()
        await _write_attempts(session, rest, existing, postgres=postgres)
        await lock_endpoints(session, wake)
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

# The attempts of a batch go as one JSON document (serialised in C by `json.dumps`): psycopg dumps
# text arrays element by element in Python, escaping each with a regex, which cost more than the
# rest of the INSERT for response headers and bodies.
_PG_INSERT_ATTEMPTS = text(
    """
    INSERT INTO webhook_attempts (id, delivery_id, workspace_id, attempt, started_at, finished,
                                  duration_ms, response_status, response_headers, response_body, error)
    SELECT id, delivery_id, workspace_id, attempt, started_at, true,
           duration_ms, response_status, response_headers, response_body, error
    FROM json_to_recordset(CAST(:rows AS json))
      AS v(id varchar, delivery_id varchar, workspace_id varchar, attempt integer, started_at timestamptz,
           duration_ms integer, response_status integer, response_headers jsonb, response_body text,
           error text)
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
    # SQLite: this transaction holds the write lock, so reading the owners first is exact.
    owners = dict(
        (
            await session.execute(
                select(table.c.id, table.c.job_id).where(
                    one_of(table.c.id, [o.plan.delivery_id for o in outcomes], postgres=False)
                )
            )
        ).all()
    )
    by_status: dict[int | None, list[str]] = {}
    for outcome in outcomes:
        if owners.get(outcome.plan.delivery_id) == outcome.plan.job_id:
            by_status.setdefault(outcome.status, []).append(outcome.plan.delivery_id)
    marked: list[str] = []
    for status, ids in by_status.items():  # one UPDATE per response status (nearly always one)
        await session.execute(
            update(table)
            .where(one_of(table.c.id, ids, postgres=False))
            .values(
                status=DeliveryStatus.delivered.value,
                delivered_at=now,
                last_error=None,
                next_attempt_at=None,
                response_status=status,
                updated_at=now,
            )
        )
        marked.extend(ids)
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
    rows = [_attempt_row(o) for o in kept]
    if postgres:
        await session.execute(_PG_INSERT_ATTEMPTS, {"rows": json.dumps(rows, default=datetime.isoformat)})
    else:
        await session.execute(insert(WebhookAttempt.__table__).prefix_with("OR IGNORE"), rows)


def _attempt_row(outcome: Outcome) -> dict[str, Any]:
    plan = outcome.plan
    return {
        "id": plan.attempt_id,
        "delivery_id": plan.delivery_id,
        "workspace_id": plan.workspace_id,
        "attempt": plan.attempt,
        "started_at": outcome.started_at,
        "finished": True,
        "duration_ms": outcome.duration_ms,
        "response_status": outcome.status,
        "response_headers": outcome.headers,
        "response_body": outcome.body,
        "error": outcome.error,
    }


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


async def lock_endpoints(session: AsyncSession, endpoint_ids: set[str]) -> None:
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
