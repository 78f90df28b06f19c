"""Emitting domain events: `await emit(session, workspace_id=..., event_type=..., data=...)`.

Services call this inside the transaction that changes state. In that same transaction it records
the event (with the exact body that will be sent), one delivery per matching endpoint (active, not
disabled, subscribed to the type; an empty subscription means all) and the job that sends them.
A rolled-back change therefore emits nothing, and a committed one is delivered even if the process
dies right after the commit (a worker picks the job up).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from harken.core.db import new_id, utcnow
from harken.webhooks.catalog import EventValidationError, serialize_envelope, validate_event
from harken.webhooks.models import DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint

__all__ = ["EventValidationError", "emit", "forget_endpoints", "matching_endpoints", "record_deliveries"]

DELIVER_JOB = "webhooks.deliver"

_clock_lock = threading.Lock()
_last_now: datetime | None = None


def monotonic_now() -> datetime:
    """`utcnow()`, strictly increasing within the process (FIFO order of deliveries)."""
    global _last_now
    with _clock_lock:
        now = utcnow()
        if _last_now is not None and now <= _last_now:
            now = _last_now + timedelta(microseconds=1)
        _last_now = now
        return now


def endpoint_matches(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return not endpoint.events or event_type in endpoint.events


_CACHE_KEY = "harken_webhook_endpoints"


async def matching_endpoints(session: AsyncSession, workspace_id: str, event_type: str) -> list[str]:
    """Ids of the workspace's endpoints that get `event_type`. Looked up once per transaction
    (many events emitted in one transaction cost one query), and again after any endpoint change."""
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_CACHE_KEY)
    if cached is None or cached[0] is not transaction:
        cached = (transaction, {})
        session.info[_CACHE_KEY] = cached
    endpoints = cached[1].get(workspace_id)
    if endpoints is None:
        rows = await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.events).where(
                WebhookEndpoint.workspace_id == workspace_id,
                WebhookEndpoint.active.is_(True),
                WebhookEndpoint.disabled_reason.is_(None),
            )
        )
        endpoints = [(row.id, list(row.events or [])) for row in rows]
        cached[1][workspace_id] = endpoints
    return [endpoint_id for endpoint_id, events in endpoints if not events or event_type in events]


def forget_endpoints(session: AsyncSession) -> None:
    """Call after changing endpoints in a session that may emit afterwards."""
    session.info.pop(_CACHE_KEY, None)


async def insert_event(
    session: AsyncSession, *, workspace_id: str, event_type: str, data: dict[str, Any], endpoint_id: str | None = None
) -> Event:
    """Write one event row with its signed-once envelope and return it (not attached to the session).

    A plain INSERT (no unit-of-work bookkeeping): events are never changed in the transaction that
    writes them, and this is the hot path of every state change. `endpoint_id` marks a test event
    for that endpoint only."""
    now = monotonic_now()
    row = {
        "id": new_id(),
        "workspace_id": workspace_id,
        "type": event_type,
        "data": data,
        "created_at": now,
        "body": serialize_envelope(event_type, workspace_id, now, data),
        "endpoint_id": endpoint_id,
    }
    await session.execute(insert(Event.__table__), row)
    return Event(**row)


async def emit(session: AsyncSession, *, workspace_id: str, event_type: str, data: dict[str, Any]) -> Event:
    """Record an event and its deliveries in the caller's transaction.

    Raises `EventValidationError` (a `ValueError`) for an unknown type or a `data` without the
    seed's keys."""
    validate_event(event_type, data)
    event = await insert_event(session, workspace_id=workspace_id, event_type=event_type, data=data)
    await record_deliveries(session, event, await matching_endpoints(session, workspace_id, event_type))
    return event


async def record_deliveries(
    session: AsyncSession, event: Event, endpoint_ids: list[str], *, delay: float | None = None
) -> list[str]:
    """One pending delivery of `event` per endpoint, all sent by one new job. Returns their ids."""
    from harken.core.jobs import enqueue

    if not endpoint_ids:
        return []
    now = utcnow()
    ids = [new_id() for _ in endpoint_ids]
    job_id = await enqueue(
        session,
        DELIVER_JOB,
        {"delivery_ids": ids},
        workspace_id=event.workspace_id,
        delay=delay,
    )
    await session.execute(
        insert(WebhookDelivery.__table__),  # Core: no ORM bulk-insert bookkeeping
        [
            {
                "id": delivery_id,
                "workspace_id": event.workspace_id,
                "endpoint_id": endpoint_id,
                "event_id": event.id,
                "event_type": event.type,
                "status": DeliveryStatus.pending.value,
                "attempts": 0,
                "cycle_attempts": 0,
                "next_attempt_at": now,
                "job_id": job_id,
                "created_at": event.created_at,
                "updated_at": now,
            }
            for delivery_id, endpoint_id in zip(ids, endpoint_ids, strict=True)
        ],
    )
    return ids
