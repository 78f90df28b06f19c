"""Wire shapes of the respondent channel (`/v1/respond/{token}`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGE_CHARS = 10_000


class RespondentCampaign(BaseModel):
    name: str
    welcome_screen: str | None = None
    closing_message: str | None = None
    language: str = "en"


class RespondentMessage(BaseModel):
    speaker: Literal["agent", "participant"]
    text: str
    at: str | None = None


class RespondentState(BaseModel):
    conversation_id: str
    status: Literal["scheduled", "in_progress", "completed", "abandoned"]
    campaign: RespondentCampaign
    messages: list[RespondentMessage]
    progress: float = Field(ge=0, le=1)
    accepting_messages: bool = Field(description="Whether a message posted now would be accepted.")
    notice: str | None = Field(default=None, description="Why messages are not accepted, when they are not.")


class Reply(BaseModel):
    text: str
    at: str | None = None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=MAX_MESSAGE_CHARS, description="The participant's answer (may be empty).")


class MessageOut(BaseModel):
    conversation_id: str
    status: Literal["scheduled", "in_progress", "completed", "abandoned"]
    reply: Reply | None
    progress: float = Field(ge=0, le=1)
