"""Tables of the knowledge domain: chunks with embeddings, per-conversation analyses, the campaign
knowledge graph (entities and relations with stable keys), graph state and synthesis results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from harken.core.db import Base, IdMixin, JSONType, TimestampMixin, UTCDateTime


class KnowledgeChunk(IdMixin, Base):
    """A sentence-bounded passage of one transcript (about 1000 characters, 200 overlap)."""

    __tablename__ = "knowledge_chunks"
    __table_args__ = (
        UniqueConstraint("conversation_id", "ordinal"),
        Index("ix_knowledge_chunks_interview", "interview_id"),
    )

    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(String(36))
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # float32 row
    dim: Mapped[int] = mapped_column(Integer, default=0)


class ConversationKnowledge(TimestampMixin, Base):
    """Pipeline state and outputs of one conversation; `stage` records the last finished stage."""

    __tablename__ = "knowledge_conversations"

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[str] = mapped_column(String(36))
    content_hash: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16), default="pending")  # pending|chunked|embedded|extracted|graphed
    analysis: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    sentence_embeddings: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    dim: Mapped[int] = mapped_column(Integer, default=0)
    embedding_model: Mapped[str | None] = mapped_column(String(128), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)


class KnowledgeEntity(IdMixin, Base):
    """A node of the campaign graph: person, process, tool, pain_point, topic or keyword."""

    __tablename__ = "knowledge_entities"
    __table_args__ = (UniqueConstraint("interview_id", "kind", "key"),)

    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(255))  # stable: normalised name (or contact id)
    name: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class KnowledgeRelation(IdMixin, Base):
    """An edge observed in one conversation: who said what, in which chunk."""

    __tablename__ = "knowledge_relations"
    __table_args__ = (
        UniqueConstraint("conversation_id", "kind", "source_key", "target_key", "chunk"),
        Index("ix_knowledge_relations_interview", "interview_id", "kind"),
    )

    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))  # mentions|uses|frustrated_by|motivated_by|discusses
    source_key: Mapped[str] = mapped_column(String(255))
    target_key: Mapped[str] = mapped_column(String(255))
    chunk: Mapped[int] = mapped_column(Integer, default=0)
    quote: Mapped[str | None] = mapped_column(Text, default=None)


class GraphState(TimestampMixin, Base):
    __tablename__ = "knowledge_graph_states"

    interview_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|building|ready|failed
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class SynthesisResult(TimestampMixin, Base):
    """The latest synthesis of a campaign (all four outputs)."""

    __tablename__ = "knowledge_syntheses"

    interview_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(36), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    conversation_count: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[str | None] = mapped_column(Text, default=None)
    key_themes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    recommendations: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    cartography: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    roadmap: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    personas: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # sentence -> process assignment ("<conversation_id>:<sentence idx>" -> [process ids]) for queries
    assignments: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
