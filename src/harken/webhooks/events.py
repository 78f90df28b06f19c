"""Emitting domain events: `await emit(session, workspace_id=..., event_type=..., data=...)`.

Services call this inside the transaction that changes state, so an event exists exactly when its
change committed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from harken.core.db import new_id, utcnow
from harken.webhooks.models import Event


async def emit(session: AsyncSession, *, workspace_id: str, event_type: str, data: dict[str, Any]) -> Event:
    event = Event(id=new_id(), workspace_id=workspace_id, type=event_type, data=data, created_at=utcnow())
    session.add(event)
    await session.flush()
    return event
