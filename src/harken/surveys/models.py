"""Tables of the surveys domain: uploaded files, surveys, the block IR and its change history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from harken.core.db import Base, IdMixin, JSONType, TimestampMixin, UTCDateTime, utcnow


class SurveyFile(IdMixin, Base):
    """An uploaded questionnaire; the bytes live under `<data_dir>/files/`."""

    __tablename__ = "survey_files"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    survey_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    name: Mapped[str] = mapped_column(String(500))
    mime_type: Mapped[str] = mapped_column(String(128))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(1000))
    user_id: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Survey(IdMixin, TimestampMixin, Base):
    __tablename__ = "surveys"
    __table_args__ = (UniqueConstraint("workspace_id", "slug"),)

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(500))
    user_id: Mapped[str | None] = mapped_column(String(255), default=None)
    first_page_id: Mapped[str | None] = mapped_column(String(36), default=None)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    programming_status: Mapped[str | None] = mapped_column(String(16), default=None)
    programming_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    programming_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    programming_job_id: Mapped[str | None] = mapped_column(String(36), default=None)
    programming_error: Mapped[str | None] = mapped_column(Text, default=None)
    programmed_from_file_id: Mapped[str | None] = mapped_column(String(36), default=None)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    language_code: Mapped[str] = mapped_column(String(16), default="en")
    content_only: Mapped[bool] = mapped_column(Boolean, default=False)
    order: Mapped[int] = mapped_column(Integer, default=0)
    # The questionnaire's own title, found by the programmer (the survey name stays the user's).
    title: Mapped[str | None] = mapped_column(String(500), default=None)


class Page(IdMixin, TimestampMixin, Base):
    __tablename__ = "survey_pages"
    __table_args__ = (Index("ix_survey_pages_survey_order", "survey_id", "order"),)

    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    order: Mapped[int] = mapped_column(Integer, default=0)
    assign_response_status: Mapped[str | None] = mapped_column(String(32), default=None)
    attention_required: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)


class Block(IdMixin, TimestampMixin, Base):
    __tablename__ = "survey_blocks"
    __table_args__ = (Index("ix_survey_blocks_page_order", "page_id", "order"),)

    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    survey_id: Mapped[str] = mapped_column(String(36), index=True)
    page_id: Mapped[str] = mapped_column(ForeignKey("survey_pages.id", ondelete="CASCADE"))
    order: Mapped[int] = mapped_column(Integer, default=0)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class NavigationRule(IdMixin, TimestampMixin, Base):
    __tablename__ = "survey_navigation_rules"

    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    survey_id: Mapped[str] = mapped_column(String(36), index=True)
    source_page_id: Mapped[str] = mapped_column(ForeignKey("survey_pages.id", ondelete="CASCADE"), index=True)
    target_page_id: Mapped[str] = mapped_column(String(36))
    order: Mapped[int] = mapped_column(Integer, default=0)
    condition: Mapped[str | None] = mapped_column(Text, default=None)
    attention_required: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)


class Variable(IdMixin, TimestampMixin, Base):
    __tablename__ = "survey_variables"
    __table_args__ = (UniqueConstraint("survey_id", "name"),)

    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    expression: Mapped[str | None] = mapped_column(Text, default=None)
    attention_required: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)


class Changeset(IdMixin, TimestampMixin, Base):
    """A group of ordered IR changes (programming, a manual edit, a revert)."""

    __tablename__ = "survey_changesets"
    __table_args__ = (Index("ix_survey_changesets_survey_seq", "survey_id", "seq"),)

    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    # Monotonic per process-wide clock; the history cursor orders on it.
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="in_progress")
    user_id: Mapped[str | None] = mapped_column(String(255), default=None)
    title: Mapped[str | None] = mapped_column(String(500), default=None)
    file_id: Mapped[str | None] = mapped_column(String(36), default=None)
    reverts_changeset_id: Mapped[str | None] = mapped_column(String(36), default=None)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)


class Change(IdMixin, Base):
    __tablename__ = "survey_changes"
    __table_args__ = (Index("ix_survey_changes_changeset_order", "changeset_id", "order"),)

    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    changeset_id: Mapped[str] = mapped_column(ForeignKey("survey_changesets.id", ondelete="CASCADE"))
    survey_id: Mapped[str] = mapped_column(String(36), index=True)
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(36))
    operation: Mapped[str] = mapped_column(String(16))  # create | update | delete
    message: Mapped[str | None] = mapped_column(Text, default=None)
    order: Mapped[int] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
