"""One contact's interview: transcript, agent state and per-conversation extractions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from harken.core.db import Base, IdMixin, JSONType, TimestampMixin, UTCDateTime


class Conversation(IdMixin, TimestampMixin, Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_interview_status", "interview_id", "status"),)

    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # scheduled|in_progress|completed|abandoned
    source: Mapped[str] = mapped_column(String(16), default="agent")  # agent|import
    session_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # [{speaker: agent|participant, text, at}] in order
    transcript: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    # Flattened transcript text for `search` (participant and agent turns).
    transcript_text: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    duration_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    digital_maturity_score: Mapped[int | None] = mapped_column(Integer, default=None)
    extracted_pain_points: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    tools_mentioned: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    processes_touched: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    topic_coverage: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The interview agent's private state between turns (owned by the agent).
    agent_state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Original imported file name and format, when imported.
    import_meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
