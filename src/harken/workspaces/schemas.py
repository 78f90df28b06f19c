from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harken.core.auth import SCOPES
from harken.core.schemas import UTCModel


class WorkspaceOut(UTCModel):
    id: str
    name: str
    role: str = "admin"
    created_at: datetime


class ApiKeyOut(UTCModel):
    id: str
    name: str
    workspace_id: str
    scopes: list[str]
    key_prefix: str
    user_id: str | None = None
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class CurrentApiKeyOut(UTCModel):
    id: str
    name: str
    workspace_id: str
    scopes: list[str]
    key_prefix: str
    created_at: datetime
    expires_at: datetime | None = None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. Shown only in this response.")


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    workspace_id: str | None = None
    scopes: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes {unknown}; allowed: {list(SCOPES)}")
        return sorted(set(value))
