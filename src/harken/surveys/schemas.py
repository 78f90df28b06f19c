"""Wire models of the survey API (Questra Gen-1 compatible)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harken.core.schemas import UTCModel
from harken.surveys import expressions

SLUG_PATTERN = r"^[a-zA-Z][a-zA-Z0-9_-]*[a-zA-Z]$"
VARIABLE_PATTERN = r"^[a-zA-Z][a-zA-Z0-9_]*[a-zA-Z0-9]$"
BLOCK_TYPES = ("Text", "TextInput", "MultipleChoice", "Matrix", "InputList", "CardSort", "RankOrder", "Autosum", "Loop")


def _has_nul(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if depth > 50:
        return False
    if isinstance(value, dict):
        return any(_has_nul(k, depth + 1) or _has_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v, depth + 1) for v in value)
    return False


class Body(BaseModel):
    """Request bodies: NUL characters are refused (no database stores them)."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if _has_nul(data):
            raise ValueError("NUL characters are not allowed")
        return data


MAX_ORDER = 1_000_000


class FileOut(UTCModel):
    id: str
    name: str
    mime_type: str
    size_bytes: int
    org_id: str
    survey_id: str | None = None
    created_at: datetime
    sha256: str


class SurveyOut(UTCModel):
    """Exactly the seed's survey fields."""

    id: str
    slug: str
    name: str
    user_id: str | None = None
    org_id: str
    first_page_id: str | None = None
    locked: bool
    programming_status: str | None = None
    programming_started_at: datetime | None = None
    programming_completed_at: datetime | None = None
    paid_at: datetime | None = None
    language_code: str
    content_only: bool
    created_at: datetime
    updated_at: datetime


class BlockOut(UTCModel):
    id: str
    page_id: str
    order: int
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class NavigationRuleOut(UTCModel):
    id: str
    source_page_id: str
    target_page_id: str
    order: int
    condition: str | None = None
    attention_required: dict[str, Any] | None = None


class PageOut(UTCModel):
    id: str
    survey_id: str
    name: str
    order: int
    assign_response_status: str | None = None
    attention_required: dict[str, Any] | None = None
    blocks: list[BlockOut] = Field(default_factory=list)
    navigation_rules: list[NavigationRuleOut] = Field(default_factory=list)


class VariableOut(UTCModel):
    id: str
    survey_id: str
    name: str
    expression: str | None = None
    attention_required: dict[str, Any] | None = None


class FullSurveyOut(SurveyOut):
    pages: list[PageOut] = Field(default_factory=list)
    variables: list[VariableOut] = Field(default_factory=list)
    programmed_from_file_id: str | None = None


class SurveyCreate(Body):
    name: str = Field(min_length=1, max_length=500)
    slug: str | None = Field(default=None, min_length=2, max_length=255, pattern=SLUG_PATTERN)
    language_code: str = Field(
        default="en", min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"
    )
    order: int | None = Field(default=None, ge=0, le=MAX_ORDER)


class SurveyUpdate(Body):
    name: str | None = Field(default=None, min_length=1, max_length=500)
    slug: str | None = Field(default=None, min_length=2, max_length=255, pattern=SLUG_PATTERN)
    order: int | None = Field(default=None, ge=0, le=MAX_ORDER)
    language_code: str | None = Field(default=None, min_length=2, max_length=16)


class ContentPart(BaseModel):
    type: str
    text: str


class ProgrammingMessage(UTCModel):
    id: str
    user_id: str | None = None
    created_at: datetime
    content: list[ContentPart]
    job_id: str


class ProgrammingStatusOut(UTCModel):
    survey_id: str
    status: str | None = None
    job_id: str | None = None
    file_id: str | None = None
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


def _check_expression(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        expressions.parse(value)
    except expressions.ExpressionError as exc:
        raise ValueError(f"invalid expression: {exc}") from exc
    return value


class AttentionIn(BaseModel):
    reason: str = Field(max_length=2000)
    dismissed: bool = False


class PageCreate(Body):
    name: str = Field(min_length=1, max_length=255)
    order: int | None = Field(default=None, ge=0, le=MAX_ORDER)
    assign_response_status: str | None = Field(default=None, max_length=32)


class PageUpdate(Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    order: int | None = Field(default=None, ge=0, le=MAX_ORDER)
    assign_response_status: str | None = Field(default=None, max_length=32)
    attention_required: AttentionIn | None = None


class BlockConfig(BaseModel):
    """Block configuration; known keys are checked, other keys are kept as they are."""

    model_config = ConfigDict(extra="allow")

    type: Literal[
        "Text", "TextInput", "MultipleChoice", "Matrix", "InputList", "CardSort", "RankOrder", "Autosum", "Loop"
    ]
    showIf: str | None = Field(default=None, max_length=10_000)

    @field_validator("showIf")
    @classmethod
    def _show_if(cls, value: str | None) -> str | None:
        return _check_expression(value)


class BlockCreate(Body):
    config: BlockConfig
    order: int | None = Field(default=None, ge=0, le=MAX_ORDER)


class BlockUpdate(Body):
    config: BlockConfig | None = None
    order: int | None = Field(default=None, ge=0, le=MAX_ORDER)
    page_id: str | None = None


class RuleCreate(Body):
    target_page_id: str = Field(min_length=1, max_length=64)
    condition: str | None = Field(default=None, max_length=10_000)
    order: int | None = Field(default=None, ge=0, le=MAX_ORDER)

    @field_validator("condition")
    @classmethod
    def _condition(cls, value: str | None) -> str | None:
        return _check_expression(value)


class RuleUpdate(Body):
    source_page_id: str | None = None
    target_page_id: str | None = None
    condition: str | None = Field(default=None, max_length=10_000)
    order: int | None = Field(default=None, ge=0, le=MAX_ORDER)

    @field_validator("condition")
    @classmethod
    def _condition(cls, value: str | None) -> str | None:
        return _check_expression(value)


class VariableCreate(Body):
    name: str = Field(min_length=2, max_length=255, pattern=VARIABLE_PATTERN)
    expression: str | None = Field(default=None, max_length=10_000)

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str | None) -> str | None:
        return _check_expression(value)


class VariableUpdate(Body):
    name: str | None = Field(default=None, min_length=2, max_length=255, pattern=VARIABLE_PATTERN)
    expression: str | None = Field(default=None, max_length=10_000)

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str | None) -> str | None:
        return _check_expression(value)


class ChangeOut(UTCModel):
    id: str
    changeset_id: str
    survey_id: str
    resource_type: str
    resource_id: str
    operation: str
    message: str | None = None
    order: int
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    created_at: datetime


class ChangesetOut(UTCModel):
    id: str
    survey_id: str
    type: str
    status: str
    user_id: str | None = None
    title: str | None = None
    file_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    change_count: int = 0
    created_at: datetime
    updated_at: datetime
    changes: list[ChangeOut] | None = None


class HistoryPage(BaseModel):
    data: list[ChangesetOut]
    nextCursor: str | None = None


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", name.lower()).strip("-")
    slug = re.sub(r"^[^a-zA-Z]+", "", slug)
    slug = re.sub(r"[^a-zA-Z]+$", "", slug)
    return slug[:200] or "survey"
