"""Wire models of the webhooks API (contract §5.2)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harken.core.schemas import UTCModel
from harken.webhooks.catalog import AnyEventType, EventType

DeliveryStatusName = Literal["pending", "delivering", "delivered", "failed", "discarded"]

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "transfer-encoding",
        "connection",
        "host",
        "user-agent",
        "x-ontora-event",
        "x-ontora-delivery-id",
        "x-ontora-signature",
        "x-ontora-signature-previous",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


def _check_headers(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > 20:
        raise ValueError("at most 20 custom headers")
    for name, header_value in value.items():
        if not _TOKEN.match(name) or len(name) > 100:
            raise ValueError(f"invalid header name {name!r}")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"header {name!r} is set by Harken and cannot be overridden")
        if len(header_value) > 1000 or any(c in header_value for c in "\r\n\0"):
            raise ValueError(f"invalid value for header {name!r}")
    return value


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    workspace_id: str = Field(description="Must be the API key's workspace.")
    url: str = Field(min_length=1, max_length=2083, description="http(s) URL that receives POSTs.")
    events: list[EventType] = Field(default_factory=list, description="Event types; empty = all.")
    description: str | None = Field(default=None, max_length=512)
    active: bool = True
    ordered: bool = Field(default=False, description="Per-endpoint FIFO: one delivery at a time, oldest first.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers sent with every delivery.")

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return _check_headers(value)

    @field_validator("events")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: str | None = Field(default=None, min_length=1, max_length=2083)
    events: list[EventType] | None = None
    description: str | None = Field(default=None, max_length=512)
    active: bool | None = None
    ordered: bool | None = None
    headers: dict[str, str] | None = None

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return _check_headers(value)

    @field_validator("events")
    @classmethod
    def _dedupe(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))


class EndpointOut(UTCModel):
    id: str
    workspace_id: str
    url: str
    events: list[str]
    active: bool
    description: str | None = None
    ordered: bool
    headers: dict[str, str] = Field(default_factory=dict)
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    disabled_reason: str | None = None
    failure_streak: int = 0


class EndpointCreated(EndpointOut):
    secret: str = Field(description="`whsec_` + base64 of 32 random bytes. Shown only here and on rotation.")


class TestRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event: AnyEventType | None = Field(
        default=None, description="Send a synthetic payload of this event type instead of `webhook.test`."
    )


class EnqueuedOut(BaseModel):
    deliveries_enqueued: int


class RotateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    expire_previous_in_hours: float = Field(
        default=24, ge=0, le=72, description="How long the previous secret keeps signing (0 = now)."
    )


class RotateOut(UTCModel):
    secret: str
    previous_secret_expires_at: datetime | None = None


class DeliveryOut(UTCModel):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    response_status: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    created_at: datetime
    delivered_at: datetime | None = None


class AttemptOut(UTCModel):
    attempt: int
    started_at: datetime
    duration_ms: int | None = None
    response_status: int | None = None
    response_headers: dict[str, Any] | None = None
    response_body: str | None = None
    error: str | None = None


class DeliveryDetailOut(DeliveryOut):
    attempt_log: list[AttemptOut] = Field(default_factory=list)
    payload: dict[str, Any] | None = Field(default=None, description="The envelope that is sent.")


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    since: datetime
    until: datetime | None = None
    status: Literal["failed"] | None = Field(
        default=None, description="`failed`: only deliveries that failed (or were discarded)."
    )
