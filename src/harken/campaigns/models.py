"""Campaigns (`/v1/interviews`), their question sets (topics) and contacts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from harken.core.db import Base, IdMixin, JSONType, TimestampMixin, UTCDateTime


class Campaign(IdMixin, TimestampMixin, Base):
    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_workspace_status", "workspace_id", "status"),)

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    project_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    goal: Mapped[str | None] = mapped_column(Text, default=None)
    agent_behavior: Mapped[str | None] = mapped_column(Text, default=None)
    project_context: Mapped[str | None] = mapped_column(Text, default=None)
    success_criteria: Mapped[str | None] = mapped_column(Text, default=None)
    interview_context_for_employee: Mapped[str | None] = mapped_column(Text, default=None)
    channel: Mapped[str] = mapped_column(String(32), default="in_app_chat")
    completion_threshold: Mapped[int] = mapped_column(Integer, default=90)
    default_language: Mapped[str] = mapped_column(String(16), default="en")
    interview_duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    timeframe_start: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    timeframe_end: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    start_immediately: Mapped[bool] = mapped_column(Boolean, default=True)
    welcome_screen: Mapped[str | None] = mapped_column(Text, default=None)
    closing_message: Mapped[str | None] = mapped_column(Text, default=None)
    invitation_email_message: Mapped[str | None] = mapped_column(Text, default=None)
    # The long tail of InterviewCreate fields (interview_order, scheduling_mode, quick_mode_hours,
    # weekly_availability, interview_type, teams_invitation_message, participant_review_enabled,
    # result_summary_enabled, is_anonymous, anonymity_level, folder, recurring_interval, ...).
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft|active|paused|completed
    paused_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    created_by: Mapped[str | None] = mapped_column(String(255), default=None)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # pending|running|completed|failed|stale, owned by the knowledge domain
    synthesis_status: Mapped[str] = mapped_column(String(16), default="pending")


class QuestionSet(IdMixin, TimestampMixin, Base):
    """A topic of a campaign: a coverage target for the interview agent."""

    __tablename__ = "question_sets"

    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    # {priority: required|important|optional, success_threshold, sub_topics[], goal}
    topic_metadata: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # [{id, question_text, is_required, sort_order, question_type, options[], component_config}]
    questions: Mapped[list[Any]] = mapped_column(JSONType, default=list)


class Contact(IdMixin, TimestampMixin, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("interview_id", "email_normalized"),
        Index("ix_contacts_interview_status", "interview_id", "status"),
    )

    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    # lower-cased email for the per-campaign uniqueness check (null when no email)
    email_normalized: Mapped[str | None] = mapped_column(String(320), default=None)
    phone: Mapped[str | None] = mapped_column(String(64), default=None)
    slack_user_id: Mapped[str | None] = mapped_column(String(64), default=None)
    job_title: Mapped[str | None] = mapped_column(String(500), default=None)
    department: Mapped[str | None] = mapped_column(String(500), default=None)
    seniority_level: Mapped[int | None] = mapped_column(Integer, default=None)
    is_required: Mapped[bool] = mapped_column(Boolean, default=False)
    question_set_id: Mapped[str | None] = mapped_column(String(36), default=None)
    # pending|invited|scheduled|in_progress|completed|skipped|cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending")
    booking_token: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    reminder_count: Mapped[int] = mapped_column(Integer, default=0)
    last_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
