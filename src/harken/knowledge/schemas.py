"""Wire models of the knowledge routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class HistoryMessage(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=20_000)


class QueryBody(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    anonymize: bool = False
    top_k: int = Field(default=12, ge=1, le=100)
    conversation_history: list[HistoryMessage] | None = Field(default=None, max_length=50)


class Pattern(BaseModel):
    claim: str
    supporting_contacts: int
    citations: list[str]


class Divergence(BaseModel):
    claim: str
    contacts: int
    citations: list[str] = []


class Verification(BaseModel):
    fact: str
    confirmed_by: int
    citations: list[str] = []


class QueryOut(BaseModel):
    answer: str
    patterns: list[Pattern]
    divergences: list[Divergence]
    verifications: list[Verification]


class KeyTheme(BaseModel):
    name: str
    description: str | None = None
    mention_count: int
    contact_count: int


class SynthesisOut(BaseModel):
    status: str
    generated_at: str | None
    conversation_count: int
    key_themes: list[KeyTheme] | None
    summary: str | None
    recommendations: list[str] | None
    error_message: str | None = None


class GraphStatusOut(BaseModel):
    status: str
    conversations_ingested: int
    conversations_total: int
    passages_created: int
    phrases_created: int
    keywords_created: int
    core_chunks_count: int
    error_message: str | None
    started_at: str | None
    completed_at: str | None


JSONDict = dict[str, Any]
