"""The event catalog (contract §5.1): every event type, the keys and types of its `data`, builders,
synthetic examples, and the envelope serializer.

`data` must carry every key the seeds show (with a compatible type); extra keys are allowed
(additive fields only). The envelope is `{"event", "workspace_id", "timestamp", "data"}`,
serialized as compact JSON: those exact bytes are what gets signed and sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from harken.core.db import new_id

EventType = Literal[
    "campaign.started",
    "campaign.paused",
    "campaign.completed",
    "interview.scheduled",
    "interview.completed",
    "synthesis.completed",
    "survey.created",
    "survey.updated",
    "survey.deleted",
    "programming.started",
    "programming.finished",
]
TEST_EVENT = "webhook.test"
AnyEventType = Literal[
    "campaign.started",
    "campaign.paused",
    "campaign.completed",
    "interview.scheduled",
    "interview.completed",
    "synthesis.completed",
    "survey.created",
    "survey.updated",
    "survey.deleted",
    "programming.started",
    "programming.finished",
    "webhook.test",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
ALL_EVENT_TYPES: tuple[str, ...] = get_args(AnyEventType)

NoneType = type(None)
STR = (str,)
OPT_STR = (str, NoneType)
INT = (int,)
OPT_INT = (int, NoneType)
BOOL = (bool,)
LIST = (list,)
DICT = (dict,)


class EventValidationError(ValueError):
    """`emit` was called with an unknown event type or a `data` that lacks the seed's keys."""


@dataclass(frozen=True)
class EventSpec:
    type: str
    description: str
    # key -> allowed Python types (bool is never accepted for int)
    fields: Mapping[str, tuple[type, ...]]
    # nested objects: key -> their own field specs
    nested: Mapping[str, Mapping[str, tuple[type, ...]]] = field(default_factory=dict)
    # key -> allowed values
    enums: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)


_SURVEY_FIELDS: dict[str, tuple[type, ...]] = {
    "id": STR,
    "slug": STR,
    "name": STR,
    "user_id": OPT_STR,
    "org_id": STR,
    "first_page_id": OPT_STR,
    "locked": BOOL,
    "programming_status": OPT_STR,
    "programming_started_at": OPT_STR,
    "programming_completed_at": OPT_STR,
    "paid_at": OPT_STR,
    "language_code": STR,
    "content_only": BOOL,
    "created_at": STR,
    "updated_at": STR,
}
_CONTACT = {"name": STR, "email": OPT_STR}

CATALOG: dict[str, EventSpec] = {
    spec.type: spec
    for spec in (
        EventSpec(
            "campaign.started",
            "A campaign went from draft to active.",
            {"interview_id": STR, "name": STR, "contact_count": INT},
        ),
        EventSpec(
            "campaign.paused",
            "A campaign was paused (by a user, or because its timeframe ended).",
            {"interview_id": STR, "reason": STR},
            enums={"reason": ("user_paused", "timeframe_ended")},
        ),
        EventSpec(
            "campaign.completed",
            "Every contact's conversation is completed or skipped, or the campaign was closed early.",
            {"interview_id": STR, "completed_count": INT, "total_count": INT},
        ),
        EventSpec(
            "interview.scheduled",
            "A contact's interview was booked or first invited.",
            {"interview_id": STR, "conversation_id": STR, "contact": DICT, "scheduled_for": OPT_STR},
            nested={"contact": _CONTACT},
        ),
        EventSpec(
            "interview.completed",
            "One conversation finished; its transcript can be exported.",
            {"interview_id": STR, "conversation_id": STR, "contact": DICT, "duration_minutes": OPT_INT},
            nested={"contact": _CONTACT},
        ),
        EventSpec(
            "synthesis.completed",
            "The synthesis pipeline finished for a campaign.",
            {"interview_id": STR, "outputs": LIST},
        ),
        EventSpec("survey.created", "A survey was created.", _SURVEY_FIELDS),
        EventSpec("survey.updated", "A survey's metadata, status or settings changed.", _SURVEY_FIELDS),
        EventSpec("survey.deleted", "A survey was permanently deleted.", {"id": STR}),
        EventSpec(
            "programming.started",
            "Programming of a survey from a file began (once per job, not per retry).",
            {"survey_id": STR, "file_id": OPT_STR},
        ),
        EventSpec(
            "programming.finished",
            "A programming job ended: completed, failed or cancelled.",
            {"survey_id": STR, "file_id": OPT_STR, "status": STR},
            enums={"status": ("completed", "failed", "cancelled")},
        ),
        EventSpec(
            TEST_EVENT,
            "A test delivery sent from POST /v1/webhook-endpoints/{id}/test.",
            {"endpoint_id": STR, "message": STR},
        ),
    )
}


def _type_ok(value: Any, allowed: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in allowed
    if isinstance(value, int) and float in allowed:
        return True
    return isinstance(value, allowed)


def _type_names(allowed: tuple[type, ...]) -> str:
    return " or ".join("null" if t is NoneType else t.__name__ for t in allowed)


def validate_event(event_type: str, data: Mapping[str, Any]) -> None:
    """Raise `EventValidationError` unless `data` has every key of the event, with a valid type."""
    spec = CATALOG.get(event_type)
    if spec is None:
        raise EventValidationError(f"unknown event type {event_type!r}; allowed: {list(ALL_EVENT_TYPES)}")
    if not isinstance(data, Mapping):
        raise EventValidationError(f"{event_type}: data must be an object")
    problems = _check(data, spec.fields, prefix="")
    for key, sub in spec.nested.items():
        if isinstance(data.get(key), Mapping):
            problems += _check(data[key], sub, prefix=f"{key}.")
    for key, values in spec.enums.items():
        if key in data and data[key] not in values:
            problems.append(f"{key} must be one of {list(values)}, got {data[key]!r}")
    if problems:
        raise EventValidationError(f"{event_type}: " + "; ".join(problems))


def _check(data: Mapping[str, Any], fields: Mapping[str, tuple[type, ...]], *, prefix: str) -> list[str]:
    problems: list[str] = []
    for key, allowed in fields.items():
        if key not in data:
            problems.append(f"missing key {prefix}{key}")
        elif not _type_ok(data[key], allowed):
            problems.append(f"{prefix}{key} must be {_type_names(allowed)}, got {type(data[key]).__name__}")
    return problems


# -- envelope ----------------------------------------------------------------------------------


def format_timestamp(value: datetime) -> str:
    """The envelope's timestamp: ISO-8601 UTC, whole seconds, `Z` (as in the seeds)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(event_type: str, workspace_id: str, timestamp: datetime, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"event": event_type, "workspace_id": workspace_id, "timestamp": format_timestamp(timestamp), "data": data}


def dumps(value: Any) -> str:
    """Compact JSON (`separators=(",", ":")`): the exact text that is signed and sent."""
    return json.dumps(value, separators=(",", ":"), default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def serialize_envelope(event_type: str, workspace_id: str, timestamp: datetime, data: Mapping[str, Any]) -> str:
    return dumps(envelope(event_type, workspace_id, timestamp, data))


# -- builders ------------------------------------------------------------------------------------
# Typed helpers for emitters; each returns the `data` dict with the seed's keys in the seed's order.


def campaign_started(*, interview_id: str, name: str, contact_count: int, **extra: Any) -> dict[str, Any]:
    return {"interview_id": interview_id, "name": name, "contact_count": contact_count, **extra}


def campaign_paused(*, interview_id: str, reason: str = "user_paused", **extra: Any) -> dict[str, Any]:
    return {"interview_id": interview_id, "reason": reason, **extra}


def campaign_completed(*, interview_id: str, completed_count: int, total_count: int, **extra: Any) -> dict[str, Any]:
    return {"interview_id": interview_id, "completed_count": completed_count, "total_count": total_count, **extra}


def interview_scheduled(
    *,
    interview_id: str,
    conversation_id: str,
    contact_name: str,
    contact_email: str | None,
    scheduled_for: str | datetime | None,
    **extra: Any,
) -> dict[str, Any]:
    when = format_timestamp(scheduled_for) if isinstance(scheduled_for, datetime) else scheduled_for
    return {
        "interview_id": interview_id,
        "conversation_id": conversation_id,
        "contact": {"name": contact_name, "email": contact_email},
        "scheduled_for": when,
        **extra,
    }


def interview_completed(
    *,
    interview_id: str,
    conversation_id: str,
    contact_name: str,
    contact_email: str | None,
    duration_minutes: int | None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "interview_id": interview_id,
        "conversation_id": conversation_id,
        "contact": {"name": contact_name, "email": contact_email},
        "duration_minutes": duration_minutes,
        **extra,
    }


def synthesis_completed(*, interview_id: str, outputs: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"interview_id": interview_id, "outputs": outputs or ["cartography", "roadmap", "personas"], **extra}


def survey_state(
    *,
    id: str,
    slug: str,
    name: str,
    user_id: str | None,
    org_id: str,
    first_page_id: str | None,
    locked: bool,
    programming_status: str | None,
    programming_started_at: str | None,
    programming_completed_at: str | None,
    paid_at: str | None,
    language_code: str,
    content_only: bool,
    created_at: str,
    updated_at: str,
    **extra: Any,
) -> dict[str, Any]:
    """`data` of `survey.created` and `survey.updated` (the survey's full state)."""
    return {
        "id": id,
        "slug": slug,
        "name": name,
        "user_id": user_id,
        "org_id": org_id,
        "first_page_id": first_page_id,
        "locked": locked,
        "programming_status": programming_status,
        "programming_started_at": programming_started_at,
        "programming_completed_at": programming_completed_at,
        "paid_at": paid_at,
        "language_code": language_code,
        "content_only": content_only,
        "created_at": created_at,
        "updated_at": updated_at,
        **extra,
    }


def survey_deleted(*, id: str, **extra: Any) -> dict[str, Any]:
    return {"id": id, **extra}


def programming_started(*, survey_id: str, file_id: str | None, **extra: Any) -> dict[str, Any]:
    return {"survey_id": survey_id, "file_id": file_id, **extra}


def programming_finished(*, survey_id: str, file_id: str | None, status: str, **extra: Any) -> dict[str, Any]:
    return {"survey_id": survey_id, "file_id": file_id, "status": status, **extra}


def webhook_test(*, endpoint_id: str, message: str = "This is a test delivery from Harken.") -> dict[str, Any]:
    return {"endpoint_id": endpoint_id, "message": message}


def example_data(event_type: str, *, workspace_id: str, endpoint_id: str = "") -> dict[str, Any]:
    """A synthetic, valid `data` for `event_type` (used by the endpoint test route and the docs)."""
    now = format_timestamp(datetime.now(UTC))
    interview_id, conversation_id, survey_id, file_id = new_id(), new_id(), new_id(), new_id()
    examples: dict[str, dict[str, Any]] = {
        "campaign.started": campaign_started(
            interview_id=interview_id, name="Q2 facility-ops interviews", contact_count=24
        ),
        "campaign.paused": campaign_paused(interview_id=interview_id, reason="user_paused"),
        "campaign.completed": campaign_completed(interview_id=interview_id, completed_count=24, total_count=24),
        "interview.scheduled": interview_scheduled(
            interview_id=interview_id,
            conversation_id=conversation_id,
            contact_name="Sam Rivera",
            contact_email="sam@example.com",
            scheduled_for=now,
        ),
        "interview.completed": interview_completed(
            interview_id=interview_id,
            conversation_id=conversation_id,
            contact_name="Sam Rivera",
            contact_email="sam@example.com",
            duration_minutes=27,
        ),
        "synthesis.completed": synthesis_completed(interview_id=interview_id),
        "survey.created": survey_state(
            id=survey_id,
            slug="q4-customer-satisfaction-study",
            name="Q4 Customer Satisfaction Study",
            user_id="user_test",
            org_id=workspace_id,
            first_page_id=new_id(),
            locked=False,
            programming_status=None,
            programming_started_at=None,
            programming_completed_at=None,
            paid_at=None,
            language_code="en",
            content_only=False,
            created_at=now,
            updated_at=now,
        ),
        "survey.updated": survey_state(
            id=survey_id,
            slug="q4-customer-satisfaction-study",
            name="Q4 Customer Satisfaction Study",
            user_id="user_test",
            org_id=workspace_id,
            first_page_id=new_id(),
            locked=False,
            programming_status="completed",
            programming_started_at=now,
            programming_completed_at=now,
            paid_at=None,
            language_code="en",
            content_only=False,
            created_at=now,
            updated_at=now,
        ),
        "survey.deleted": survey_deleted(id=survey_id),
        "programming.started": programming_started(survey_id=survey_id, file_id=file_id),
        "programming.finished": programming_finished(survey_id=survey_id, file_id=file_id, status="completed"),
        TEST_EVENT: webhook_test(endpoint_id=endpoint_id),
    }
    if event_type not in examples:
        raise EventValidationError(f"unknown event type {event_type!r}; allowed: {list(ALL_EVENT_TYPES)}")
    return examples[event_type]
