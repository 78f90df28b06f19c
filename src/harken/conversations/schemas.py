"""Wire models of conversations (contract §3.4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harken.campaigns.schemas import ContactCreate, InputModel
from harken.core.schemas import UTCModel


class TurnIn(InputModel):
    """One transcript turn. `speaker` is `agent`/`participant` or a person's name."""

    model_config = ConfigDict(extra="ignore")

    speaker: str = Field(min_length=1, max_length=200)
    text: str = Field(max_length=200_000)
    at: datetime | float | None = None

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for alias in ("role", "name", "author"):
                if "speaker" not in data and alias in data:
                    data["speaker"] = data[alias]
            for alias in ("content", "message"):
                if "text" not in data and alias in data:
                    data["text"] = data[alias]
            for alias in ("timestamp", "time", "start"):
                if "at" not in data and alias in data:
                    data["at"] = data[alias]
        return data


class ConversationImportIn(InputModel):
    model_config = ConfigDict(extra="ignore")

    contact_id: str | None = Field(default=None, max_length=64)
    contact: ContactCreate | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    summary: str | None = Field(default=None, max_length=20000)
    turns: list[TurnIn] = Field(max_length=100_000)

    @model_validator(mode="after")
    def _who(self) -> ConversationImportIn:
        if self.contact_id is None and self.contact is None:
            raise ValueError("give either contact_id or contact")
        return self


class TranscriptTurn(BaseModel):
    speaker: str
    text: str
    at: str | None = None


class ContactBrief(BaseModel):
    id: str
    name: str
    email: str | None = None
    job_title: str | None = None
    department: str | None = None
    seniority_level: int | None = None


class ConversationRow(UTCModel):
    id: str
    contact_id: str
    name: str
    contact_name: str
    email: str | None = None
    job_title: str | None = None
    department: str | None = None
    seniority_level: int | None = None
    status: str
    duration_minutes: int | None = None
    digital_maturity_score: int | None = None
    pain_point_count: int = 0
    completed_at: datetime | None = None
    summary: str | None = None
    session_id: str | None = None
    reminder_count: int = 0
    source: str = "agent"


class ConversationList(BaseModel):
    total: int
    has_more: bool
    departments: list[str]
    job_titles: list[str]
    items: list[ConversationRow]


class ConversationDetail(UTCModel):
    id: str
    interview_id: str
    contact_id: str
    contact: ContactBrief
    status: str
    source: str
    summary: str | None = None
    transcript: list[TranscriptTurn]
    duration_minutes: int | None = None
    digital_maturity_score: int | None = None
    extracted_pain_points: list[dict[str, Any]] = Field(default_factory=list)
    tools_mentioned: list[Any] = Field(default_factory=list)
    processes_touched: list[Any] = Field(default_factory=list)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    completed_at: datetime | None = None
    session_id: str | None = None
    topic_coverage: dict[str, Any] = Field(default_factory=dict)
    import_meta: dict[str, Any] = Field(default_factory=dict)
