"""Fixtures of the webhooks tests: fast retry schedule, 127.0.0.0/8 allow-listed, a real receiver,
an in-process worker, and helpers to register endpoints through the API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from httpx import AsyncClient

from harken.core.jobs import Worker
from harken.core.settings import Settings
from tests.helpers import Tenant
from tests.webhooks.receiver import Receiver

FAST_SCHEDULE = [0.2, 0.4, 0.6]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_retry_schedule": FAST_SCHEDULE,
            "webhook_retry_jitter": 0.1,
            "webhook_timeout_seconds": 2.0,
            "webhook_allowed_networks": ["127.0.0.0/8"],
            "job_lease_seconds": 3.0,
        }
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def running_worker(app: Any, settings: Settings, **kwargs: Any) -> AsyncIterator[Worker]:
    worker = Worker(app.state.db, settings, **kwargs)
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, timeout=30)


@pytest.fixture
async def worker(app: Any, settings: Settings) -> AsyncIterator[Worker]:
    async with running_worker(app, settings) as w:
        yield w


async def create_endpoint(client: AsyncClient, tenant: Tenant, url: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhook-endpoints",
        json={"workspace_id": tenant.workspace_id, "url": url, **fields},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def emit_events(db: Any, workspace_id: str, event_type: str, datas: list[dict[str, Any]]) -> list[str]:
    """Emit events in one committed transaction; returns their ids."""
    from harken.webhooks.events import emit

    async with db.session() as session:
        return [(await emit(session, workspace_id=workspace_id, event_type=event_type, data=d)).id for d in datas]


def started(n: int = 0) -> dict[str, Any]:
    return {"interview_id": f"iv-{n}", "name": f"Campaign {n}", "contact_count": n}


async def deliveries_of(client: AsyncClient, tenant: Tenant, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/webhook-endpoints/{endpoint_id}/deliveries", params={"limit": 500, **params}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def delivery_detail(client: AsyncClient, tenant: Tenant, endpoint_id: str, delivery_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()
