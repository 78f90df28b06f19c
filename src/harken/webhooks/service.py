"""Rules of the webhooks API: endpoints, secrets, tests, delivery logs, redelivery and replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from harken.core.db import new_id, utcnow
from harken.core.errors import Conflict, NotFound, validation_error
from harken.core.jobs import enqueue
from harken.core.settings import Settings
from harken.webhooks.catalog import TEST_EVENT, example_data
from harken.webhooks.events import (
    DELIVER_JOB,
    endpoint_matches,
    forget_endpoints,
    insert_event,
    record_deliveries,
)
from harken.webhooks.models import (
    OPEN_STATUSES,
    DeliveryStatus,
    Event,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from harken.webhooks.schemas import EndpointCreate, EndpointUpdate, ReplayRequest
from harken.webhooks.signing import generate_secret
from harken.webhooks.ssrf import validate_url

REPLAY_LIMIT = 10_000
REPLAY_CHUNK = 100


def _check_url(url: str, settings: Settings) -> None:
    problem = validate_url(url, https_only=settings.webhook_https_only)
    if problem:
        raise validation_error(["body", "url"], problem)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- endpoints ------------------------------------------------------------------------------------


async def create_endpoint(
    session: AsyncSession, workspace_id: str, body: EndpointCreate, settings: Settings, *, created_by: str | None
) -> tuple[WebhookEndpoint, str]:
    _check_url(body.url, settings)
    secret = generate_secret()
    now = utcnow()
    endpoint = WebhookEndpoint(
        id=new_id(),
        workspace_id=workspace_id,
        url=body.url,
        events=list(body.events),
        description=body.description,
        active=body.active,
        ordered=body.ordered,
        headers=dict(body.headers),
        secret=secret,
        created_by=created_by,
        created_at=now,
        updated_at=now,
        failure_streak=0,
    )
    session.add(endpoint)
    await session.flush()
    forget_endpoints(session)
    return endpoint, secret


async def list_endpoints(session: AsyncSession, workspace_id: str) -> list[WebhookEndpoint]:
    rows = await session.execute(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.workspace_id == workspace_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return list(rows.scalars())


async def get_endpoint(session: AsyncSession, workspace_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = (
        await session.execute(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id == endpoint_id, WebhookEndpoint.workspace_id == workspace_id
            )
        )
    ).scalar_one_or_none()
    if endpoint is None:
        raise NotFound("Webhook endpoint not found")
    return endpoint


async def update_endpoint(
    session: AsyncSession, workspace_id: str, endpoint_id: str, body: EndpointUpdate, settings: Settings
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, workspace_id, endpoint_id)
    changes = body.model_dump(exclude_unset=True)
    for key in ("url", "events", "active", "ordered", "headers"):
        if key in changes and changes[key] is None:
            raise validation_error(["body", key], "may not be null")
    if "url" in changes:
        _check_url(changes["url"], settings)
        endpoint.url = changes["url"]
    if "events" in changes:
        endpoint.events = list(changes["events"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if "ordered" in changes:
        endpoint.ordered = changes["ordered"]
    if "headers" in changes:
        endpoint.headers = dict(changes["headers"])
    if "active" in changes:
        endpoint.active = changes["active"]
        if changes["active"]:
            # Re-enabling clears an automatic disable and its failure history.
            endpoint.disabled_reason = None
            endpoint.disabled_at = None
            endpoint.failure_streak = 0
            endpoint.failing_since = None
    endpoint.updated_at = utcnow()
    await session.flush()
    forget_endpoints(session)
    return endpoint


async def delete_endpoint(session: AsyncSession, workspace_id: str, endpoint_id: str) -> None:
    endpoint = await get_endpoint(session, workspace_id, endpoint_id)
    await session.delete(endpoint)
    await session.flush()
    forget_endpoints(session)


async def rotate_secret(
    session: AsyncSession, workspace_id: str, endpoint_id: str, expire_previous_in_hours: float
) -> tuple[str, datetime | None]:
    endpoint = await get_endpoint(session, workspace_id, endpoint_id)
    now = utcnow()
    secret = generate_secret()
    if expire_previous_in_hours > 0:
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + timedelta(hours=expire_previous_in_hours)
    else:
        endpoint.previous_secret = None
        endpoint.previous_secret_expires_at = None
    endpoint.secret = secret
    endpoint.updated_at = now
    await session.flush()
    return secret, endpoint.previous_secret_expires_at


async def send_test(session: AsyncSession, workspace_id: str, endpoint_id: str, event_type: str | None) -> int:
    """A signed `webhook.test` (or a synthetic event of `event_type`) to this endpoint only; it is
    sent even if the endpoint is inactive or disabled."""
    endpoint = await get_endpoint(session, workspace_id, endpoint_id)
    event_type = event_type or TEST_EVENT
    data = example_data(event_type, workspace_id=workspace_id, endpoint_id=endpoint.id)
    event = await insert_event(
        session, workspace_id=workspace_id, event_type=event_type, data=data, endpoint_id=endpoint.id
    )
    return len(await record_deliveries(session, event, [endpoint.id]))


# -- deliveries -------------------------------------------------------------------------------------


async def list_deliveries(
    session: AsyncSession,
    workspace_id: str,
    endpoint_id: str,
    *,
    limit: int,
    status: str | None,
    event_type: str | None,
    since: datetime | None,
) -> list[WebhookDelivery]:
    await get_endpoint(session, workspace_id, endpoint_id)
    query = select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.workspace_id == workspace_id
    )
    if status:
        query = query.where(WebhookDelivery.status == status)
    if event_type:
        query = query.where(WebhookDelivery.event_type == event_type)
    if since:
        query = query.where(WebhookDelivery.created_at >= _utc(since))
    query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


async def get_delivery(session: AsyncSession, workspace_id: str, endpoint_id: str, delivery_id: str) -> WebhookDelivery:
    delivery = (
        await session.execute(
            select(WebhookDelivery).where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.workspace_id == workspace_id,
            )
        )
    ).scalar_one_or_none()
    if delivery is None:
        raise NotFound("Delivery not found")
    return delivery


async def delivery_detail(
    session: AsyncSession, workspace_id: str, endpoint_id: str, delivery_id: str
) -> tuple[WebhookDelivery, list[WebhookAttempt], dict[str, Any] | None]:
    delivery = await get_delivery(session, workspace_id, endpoint_id, delivery_id)
    attempts = list(
        (
            await session.execute(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery.id)
                .order_by(WebhookAttempt.attempt, WebhookAttempt.started_at)
            )
        ).scalars()
    )
    body = (await session.execute(select(Event.body).where(Event.id == delivery.event_id))).scalar_one_or_none()
    payload = json.loads(body) if body else None
    return delivery, attempts, payload


def _require_sendable(endpoint: WebhookEndpoint) -> None:
    if endpoint.disabled_reason:
        raise Conflict(f"Endpoint is disabled ({endpoint.disabled_reason}); re-enable it with PATCH active=true")
    if not endpoint.active:
        raise Conflict("Endpoint is inactive; set active=true first")


async def _requeue(session: AsyncSession, deliveries: list[WebhookDelivery]) -> None:
    now = utcnow()
    for start in range(0, len(deliveries), REPLAY_CHUNK):
        chunk = deliveries[start : start + REPLAY_CHUNK]
        job_id = await enqueue(
            session, DELIVER_JOB, {"delivery_ids": [d.id for d in chunk]}, workspace_id=chunk[0].workspace_id
        )
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_([d.id for d in chunk]))
            .values(
                job_id=job_id,
                status=DeliveryStatus.pending.value,
                cycle_attempts=0,
                next_attempt_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )


async def redeliver(session: AsyncSession, workspace_id: str, endpoint_id: str, delivery_id: str) -> WebhookDelivery:
    endpoint = await get_endpoint(session, workspace_id, endpoint_id)
    delivery = await get_delivery(session, workspace_id, endpoint_id, delivery_id)
    if delivery.status == DeliveryStatus.delivering.value:
        raise Conflict("An attempt of this delivery is in progress")
    is_test = (
        await session.execute(select(Event.endpoint_id).where(Event.id == delivery.event_id))
    ).scalar_one_or_none() is not None
    if not is_test:
        _require_sendable(endpoint)
    await _requeue(session, [delivery])
    await session.refresh(delivery)
    return delivery


async def replay(session: AsyncSession, workspace_id: str, endpoint_id: str, body: ReplayRequest) -> int:
    """Queue again the endpoint's deliveries created in [since, until] (only failed/discarded ones
    with `status: failed`); without a status filter, events in the range that this endpoint never
    got (it was inactive, disabled or created later) get new deliveries too."""
    endpoint = await get_endpoint(session, workspace_id, endpoint_id)
    _require_sendable(endpoint)
    since = _utc(body.since)
    until = _utc(body.until) if body.until else utcnow()
    if until < since:
        raise validation_error(["body", "until"], "until must not be before since")
    query = select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == endpoint.id,
        WebhookDelivery.workspace_id == workspace_id,
        WebhookDelivery.created_at >= since,
        WebhookDelivery.created_at <= until,
        WebhookDelivery.status.not_in(OPEN_STATUSES),
    )
    if body.status == "failed":
        query = query.where(WebhookDelivery.status.in_([DeliveryStatus.failed.value, DeliveryStatus.discarded.value]))
    existing = list((await session.execute(query.order_by(WebhookDelivery.created_at).limit(REPLAY_LIMIT))).scalars())
    await _requeue(session, existing)
    count = len(existing)
    if body.status is None and count < REPLAY_LIMIT:
        count += await _deliver_missing(session, endpoint, since, until, REPLAY_LIMIT - count)
    return count


async def _deliver_missing(
    session: AsyncSession, endpoint: WebhookEndpoint, since: datetime, until: datetime, limit: int
) -> int:
    delivered_events = select(WebhookDelivery.event_id).where(WebhookDelivery.endpoint_id == endpoint.id)
    events = (
        await session.execute(
            select(Event.id, Event.type, Event.created_at)
            .where(
                Event.workspace_id == endpoint.workspace_id,
                Event.created_at >= since,
                Event.created_at <= until,
                Event.endpoint_id.is_(None),
                Event.id.not_in(delivered_events),
            )
            .order_by(Event.created_at)
            .limit(limit)
        )
    ).all()
    events = [e for e in events if endpoint_matches(endpoint, e.type)]
    now = utcnow()
    for start in range(0, len(events), REPLAY_CHUNK):
        chunk = events[start : start + REPLAY_CHUNK]
        ids = [new_id() for _ in chunk]
        job_id = await enqueue(session, DELIVER_JOB, {"delivery_ids": ids}, workspace_id=endpoint.workspace_id)
        await session.execute(
            insert(WebhookDelivery),
            [
                {
                    "id": delivery_id,
                    "workspace_id": endpoint.workspace_id,
                    "endpoint_id": endpoint.id,
                    "event_id": e.id,
                    "event_type": e.type,
                    "status": DeliveryStatus.pending.value,
                    "attempts": 0,
                    "cycle_attempts": 0,
                    "next_attempt_at": now,
                    "job_id": job_id,
                    "created_at": e.created_at,
                    "updated_at": now,
                }
                for delivery_id, e in zip(ids, chunk, strict=True)
            ],
        )
    return len(events)
