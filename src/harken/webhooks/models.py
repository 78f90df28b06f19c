"""Tables of the webhooks domain: events (the outbox), endpoints, deliveries, attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from harken.core.db import Base, IdMixin, JSONType, UTCDateTime, utcnow


class Event(IdMixin, Base):
    """One domain event, written in the transaction of the change that caused it."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_workspace_created", "workspace_id", "created_at"),)

    workspace_id: Mapped[str] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
