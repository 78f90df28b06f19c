"""Shared wire-model bases."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, SerializerFunctionWrapHandler, field_serializer

from harken.core.db import isoformat

# Every timestamp on the wire is ISO-8601 UTC with a `Z`.
UTCDatetime = Annotated[datetime, PlainSerializer(isoformat, return_type=str | None)]


class UTCModel(BaseModel):
    """Response models: read from ORM objects; top-level datetimes serialized as `...Z`."""

    model_config = ConfigDict(from_attributes=True)

    @field_serializer("*", mode="wrap")
    def _utc_datetimes(self, value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        if isinstance(value, datetime):
            return isoformat(value)
        return handler(value)
