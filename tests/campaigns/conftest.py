"""Fixtures and helpers of the campaigns tests: real app, real database, events and jobs read back."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from harken.core.jobs.models import Job
from harken.webhooks.models import Event
from tests.helpers import Tenant

TOPIC = {
    "name": "Work intake",
    "description": "How requests arrive",
    "topic_metadata": {"priority": "required", "success_threshold": "0.8", "sub_topics": ["Channels"]},
    "questions": [{"question_text": "Walk me through the last request.", "is_required": True}],
}


class Api:
    """Small helper around the test client for one tenant."""

    def __init__(self, client: AsyncClient, tenant: Tenant, app: Any) -> None:
        self.client = client
        self.tenant = tenant
        self.app = app
        self.headers = tenant.headers

    async def create(self, **fields: Any) -> dict[str, Any]:
        body = {"workspace_id": self.tenant.workspace_id, "name": "Q2 interviews", **fields}
        response = await self.client.post("/v1/interviews", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return response.json()

    async def topic(self, iid: str, **fields: Any) -> dict[str, Any]:
        response = await self.client.post(
            f"/v1/interviews/{iid}/question-sets", json={**TOPIC, **fields}, headers=self.headers
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def contacts(self, iid: str, n: int, *, prefix: str = "p") -> list[dict[str, Any]]:
        people = [
            {
                "name": f"Person {prefix}{i}",
                "email": f"{prefix}{i}@example.com",
                "department": "Ops" if i % 2 else "Finance",
                "job_title": "Technician" if i % 3 else "Manager",
                "seniority_level": 1 + i % 5,
            }
            for i in range(n)
        ]
        response = await self.client.post(
            f"/v1/interviews/{iid}/contacts/bulk", json={"contacts": people}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        return response.json()["created"]

    async def ready(self, n: int = 2, **fields: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A draft campaign with one topic and `n` contacts."""
        campaign = await self.create(**fields)
        await self.topic(campaign["id"])
        return campaign, await self.contacts(campaign["id"], n)

    async def get(self, path: str, **kw: Any) -> Any:
        return await self.client.get(path, headers=self.headers, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return await self.client.post(path, json=json, headers=self.headers, **kw)

    async def patch(self, path: str, json: Any) -> Any:
        return await self.client.patch(path, json=json, headers=self.headers)

    async def delete(self, path: str) -> Any:
        return await self.client.delete(path, headers=self.headers)

    async def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        async with self.app.state.db.session() as session:
            query = select(Event).where(Event.workspace_id == self.tenant.workspace_id).order_by(Event.created_at)
            if event_type:
                query = query.where(Event.type == event_type)
            return [{"type": e.type, "data": e.data} for e in (await session.execute(query)).scalars()]

    async def jobs(self, kind: str) -> list[Job]:
        async with self.app.state.db.session() as session:
            query = select(Job).where(Job.kind == kind).order_by(Job.created_at)
            return list((await session.execute(query)).scalars())


@pytest.fixture
def api(client: AsyncClient, tenant: Tenant, app: Any) -> Api:
    return Api(client, tenant, app)


@pytest.fixture
def other_api(client: AsyncClient, other_tenant: Tenant, app: Any) -> Api:
    return Api(client, other_tenant, app)
