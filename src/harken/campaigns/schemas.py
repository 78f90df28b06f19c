"""Wire models of the campaigns domain: campaigns (`/v1/interviews`), question sets and contacts.

Field names follow the Ontora API (contract §3.1-3.3) and what the published `ontora-cli` sends.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harken.core.schemas import UTCModel

Channel = Literal["in_app_chat", "slack", "teams", "voice", "google_meet"]
CampaignStatus = Literal["draft", "active", "paused", "completed"]
ContactStatus = Literal["pending", "invited", "scheduled", "in_progress", "completed", "skipped", "cancelled"]
Priority = Literal["required", "important", "optional"]
PauseReason = Literal["user_paused", "timeframe_ended"]
QuestionType = Literal[
    "open_ended",
    "single_choice",
    "multiple_choice",
    "likert_scale",
    "ranking",
    "statement",
    "range_slider",
    "matrix",
]

ALLOWED_DURATIONS = (5, 10, 15, 20, 30, 45)
DEFAULT_DURATION = 30

# InterviewCreate fields without a column of their own: stored in `Campaign.options`.
OPTION_FIELDS = (
    "interview_order",
    "scheduling_mode",
    "quick_mode_hours",
    "weekly_availability",
    "interview_type",
    "teams_invitation_message",
    "participant_review_enabled",
    "result_summary_enabled",
    "is_anonymous",
    "anonymity_level",
    "folder",
    "recurring_interval",
)
COLUMN_FIELDS = (
    "project_id",
    "name",
    "description",
    "goal",
    "agent_behavior",
    "project_context",
    "success_criteria",
    "interview_context_for_employee",
    "channel",
    "completion_threshold",
    "default_language",
    "interview_duration_minutes",
    "timeframe_start",
    "timeframe_end",
    "timezone",
    "start_immediately",
    "welcome_screen",
    "closing_message",
    "invitation_email_message",
)


def _reject_nul(value: Any, depth: int = 0) -> None:
    """PostgreSQL text and JSONB cannot hold NUL characters: refuse them up front (422, not 500)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL (\\u0000) characters")
    elif depth < 8 and isinstance(value, dict):
        for key, item in value.items():
            _reject_nul(key, depth + 1)
            _reject_nul(item, depth + 1)
    elif depth < 8 and isinstance(value, list):
        for item in value:
            _reject_nul(item, depth + 1)


SortOrder = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]


class InputModel(BaseModel):
    """Base of request bodies: unknown keys ignored, NUL characters and NaN/Infinity refused."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        _reject_nul(data)
        return data


def snap_duration(value: int | None) -> int:
    """Snap to 5, 10, 15, 20, 30 or 45 minutes: nearest, ties to the shorter; 0/None → 30."""
    if value is None or value == 0:
        return DEFAULT_DURATION
    return min(ALLOWED_DURATIONS, key=lambda allowed: (abs(allowed - value), allowed))


def _check_timezone(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"'{value}' is not an IANA time zone name (e.g. 'Europe/Berlin')") from exc
    return value


def parse_timeframe(value: Any, timezone: str | None) -> datetime | None:
    """A date-only value means 08:00 in the campaign's time zone; a naive datetime is local to it."""
    if value is None or value == "":
        return None
    tz = ZoneInfo(timezone) if timezone else ZoneInfo("UTC")
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(8, 0))
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                parsed = datetime.combine(date.fromisoformat(text), time(8, 0))
            else:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"'{value}' is not an ISO-8601 date or date-time") from exc
    else:
        raise ValueError("expected an ISO-8601 date or date-time")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def _threshold(value: Any) -> float | None:
    """`success_threshold` as a fraction: accepts 0.8, "0.8", "80%", 80."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("success_threshold must be a number between 0 and 1")
    text = str(value).strip()
    percent = text.endswith("%")
    try:
        number = float(text.rstrip("%").strip())
    except ValueError as exc:
        raise ValueError("success_threshold must be a number between 0 and 1 (or a percentage)") from exc
    if math.isnan(number) or math.isinf(number):
        raise ValueError("success_threshold must be a finite number")
    if percent or number > 1:
        number /= 100
    if not 0 <= number <= 1:
        raise ValueError("success_threshold must be between 0 and 1 (or 0-100%)")
    return round(number, 4)


# ---------------------------------------------------------------- question sets


class ChoiceItem(InputModel):
    model_config = ConfigDict(extra="allow")
    id: str | int
    label: str = Field(min_length=1)


class RankingConfig(InputModel):
    model_config = ConfigDict(extra="allow")
    items: list[ChoiceItem] = Field(min_length=2)


class MatrixConfig(InputModel):
    model_config = ConfigDict(extra="allow")
    rows: list[ChoiceItem] = Field(min_length=1)
    columns: list[ChoiceItem] = Field(min_length=1)


class RangeSliderConfig(InputModel):
    model_config = ConfigDict(extra="allow")
    min: float
    max: float
    step: float = Field(default=1, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> RangeSliderConfig:
        if not self.min < self.max:
            raise ValueError("range_slider needs min < max")
        if self.step > self.max - self.min:
            raise ValueError("range_slider step is larger than the range")
        return self


_COMPONENT_CONFIGS: dict[str, type[BaseModel]] = {
    "ranking": RankingConfig,
    "matrix": MatrixConfig,
    "range_slider": RangeSliderConfig,
}


class QuestionIn(InputModel):
    """A question; accepts the API names and the campaign-file names (`text`, `type`, `required`)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str | None = None
    question_text: str = Field(min_length=1, max_length=5000)
    is_required: bool = False
    sort_order: SortOrder | None = None
    question_type: QuestionType = "open_ended"
    options: list[str] = Field(default_factory=list, max_length=200)
    component_config: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for alias, name in (("text", "question_text"), ("type", "question_type"), ("required", "is_required")):
                if alias in data and name not in data:
                    data[name] = data.pop(alias)
            if data.get("question_type") is None:
                data.pop("question_type", None)
            if data.get("options") is None:
                data.pop("options", None)
        return data

    @model_validator(mode="after")
    def _check_type(self) -> QuestionIn:
        schema = _COMPONENT_CONFIGS.get(self.question_type)
        if schema is not None:
            if not self.component_config:
                raise ValueError(f"component_config is required for {self.question_type} questions")
            self.component_config = schema.model_validate(self.component_config).model_dump()
        if self.question_type in {"single_choice", "multiple_choice"} and len(self.options) < 2:
            raise ValueError(f"{self.question_type} questions need at least two options")
        return self


class TopicMetadata(InputModel):
    model_config = ConfigDict(extra="allow")

    priority: Priority = "required"
    success_threshold: float | None = None
    sub_topics: list[str] = Field(default_factory=list, max_length=100)
    goal: str | None = None

    @field_validator("success_threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> float | None:
        return _threshold(value)

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, value: Any) -> Any:
        return "required" if value is None else value

    @field_validator("sub_topics", mode="before")
    @classmethod
    def _sub_topics(cls, value: Any) -> Any:
        return [] if value is None else value


class QuestionSetCreate(InputModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    sort_order: SortOrder | None = None
    topic_metadata: TopicMetadata = Field(default_factory=TopicMetadata)
    questions: list[QuestionIn] = Field(default_factory=list, max_length=200)

    @field_validator("topic_metadata", mode="before")
    @classmethod
    def _none_metadata(cls, value: Any) -> Any:
        return {} if value is None else value


class QuestionSetUpdate(InputModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    sort_order: SortOrder | None = None
    topic_metadata: TopicMetadata | None = None
    questions: list[QuestionIn] | None = Field(default=None, max_length=200)


class TopicIn(InputModel):
    """An inline topic of `InterviewCreate.topics`, created as a question set."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=500)
    goal: str | None = Field(default=None, max_length=20000)
    description: str | None = Field(default=None, max_length=20000)
    priority: Priority = "required"
    success_threshold: float | None = None
    sub_topics: list[str] = Field(default_factory=list, max_length=100)
    questions: list[QuestionIn] = Field(default_factory=list, max_length=200)

    @field_validator("success_threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> float | None:
        return _threshold(value)

    def as_question_set(self, index: int) -> QuestionSetCreate:
        return QuestionSetCreate(
            name=self.name,
            description=self.description or self.goal,
            sort_order=index,
            topic_metadata=TopicMetadata(
                priority=self.priority,
                success_threshold=self.success_threshold,
                sub_topics=self.sub_topics,
                goal=self.goal,
            ),
            questions=self.questions,
        )


class QuestionOut(BaseModel):
    id: str
    question_text: str
    is_required: bool
    sort_order: int
    question_type: str
    options: list[str] = Field(default_factory=list)
    component_config: dict[str, Any] | None = None


class QuestionSetOut(UTCModel):
    id: str
    interview_id: str
    name: str
    description: str | None = None
    sort_order: int
    topic_metadata: dict[str, Any]
    questions: list[QuestionOut]
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------- campaigns


class _CampaignFields(InputModel):
    """Every optional InterviewCreate field (shared by create and patch)."""

    model_config = ConfigDict(extra="ignore")

    project_id: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=20000)
    goal: str | None = Field(default=None, max_length=20000)
    agent_behavior: str | None = Field(default=None, max_length=20000)
    completion_threshold: int | None = Field(default=None, ge=0, le=100)
    default_language: str | None = Field(default=None, max_length=16, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
    timeframe_start: datetime | None = None
    timeframe_end: datetime | None = None
    timezone: str | None = Field(default=None, max_length=64)
    start_immediately: bool | None = None
    interview_order: str | None = Field(default=None, max_length=64)
    interview_duration_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    scheduling_mode: str | None = Field(default=None, max_length=64)
    quick_mode_hours: int | None = Field(default=None, ge=0, le=24 * 365)
    weekly_availability: dict[str, Any] | None = None
    project_context: str | None = Field(default=None, max_length=20000)
    success_criteria: str | None = Field(default=None, max_length=20000)
    interview_context_for_employee: str | None = Field(default=None, max_length=20000)
    interview_type: str | None = Field(default=None, max_length=64)
    welcome_screen: str | None = Field(default=None, max_length=20000)
    closing_message: str | None = Field(default=None, max_length=20000)
    invitation_email_message: str | None = Field(default=None, max_length=20000)
    teams_invitation_message: str | None = Field(default=None, max_length=20000)
    participant_review_enabled: bool | None = None
    result_summary_enabled: bool | None = None
    is_anonymous: bool | None = None
    anonymity_level: str | None = Field(default=None, max_length=64)
    folder: str | None = Field(default=None, max_length=500)
    recurring_interval: str | None = Field(default=None, max_length=64)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return _check_timezone(value)

    @model_validator(mode="before")
    @classmethod
    def _timeframes(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        tz = data.get("timezone")
        try:
            tz = _check_timezone(tz) if isinstance(tz, str) else None
        except ValueError:
            tz = None  # reported by the field validator
        for name in ("timeframe_start", "timeframe_end"):
            if name in data:
                data[name] = parse_timeframe(data[name], tz)
        return data

    @model_validator(mode="after")
    def _window(self) -> _CampaignFields:
        if self.timeframe_start and self.timeframe_end and self.timeframe_end <= self.timeframe_start:
            raise ValueError("timeframe_end must be after timeframe_start")
        return self


class InterviewCreate(_CampaignFields):
    workspace_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=500)
    channel: Channel = "in_app_chat"
    topics: list[TopicIn] | None = Field(default=None, max_length=100)

    @field_validator("channel", mode="before")
    @classmethod
    def _channel(cls, value: Any) -> Any:
        return "in_app_chat" if value is None else value


class InterviewUpdate(_CampaignFields):
    name: str | None = Field(default=None, min_length=1, max_length=500)
    channel: Channel | None = None
    status: CampaignStatus | None = None
    workspace_id: str | None = Field(default=None, max_length=64)


class InterviewOut(UTCModel):
    id: str
    workspace_id: str
    project_id: str | None = None
    name: str
    description: str | None = None
    goal: str | None = None
    agent_behavior: str | None = None
    status: str
    channel: str
    completion_threshold: int
    default_language: str | None = None
    timeframe_start: datetime | None = None
    timeframe_end: datetime | None = None
    timezone: str | None = None
    start_immediately: bool
    interview_order: str | None = None
    interview_duration_minutes: int
    scheduling_mode: str | None = None
    quick_mode_hours: int | None = None
    weekly_availability: dict[str, Any] | None = None
    project_context: str | None = None
    success_criteria: str | None = None
    interview_context_for_employee: str | None = None
    interview_type: str | None = None
    welcome_screen: str | None = None
    closing_message: str | None = None
    invitation_email_message: str | None = None
    teams_invitation_message: str | None = None
    participant_review_enabled: bool = False
    result_summary_enabled: bool = False
    is_anonymous: bool = False
    anonymity_level: str | None = None
    folder: str | None = None
    recurring_interval: str | None = None
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    paused_reason: str | None = None
    synthesis_status: str
    contact_count: int = 0
    completed_count: int = 0
    scheduled_count: int = 0


class PauseIn(InputModel):
    model_config = ConfigDict(extra="ignore")
    # The `campaign.paused` event's `reason`; anything else would make an event outside the catalog.
    reason: PauseReason | None = None


class StartOut(BaseModel):
    interview: InterviewOut
    scheduled_count: int
    message: str


class ProgressOut(BaseModel):
    total: int
    completed: int
    scheduled: int
    in_progress: int
    completion_percent: float
    by_status: dict[str, int]


class ResyncOut(BaseModel):
    status: str
    job_id: str | None


# ---------------------------------------------------------------- contacts

# Header (and JSON key) aliases for contact fields, compared lower-cased with spaces, dashes and
# underscores removed.
CONTACT_ALIASES: dict[str, str] = {
    "name": "name",
    "fullname": "name",
    "contactname": "name",
    "participant": "name",
    "participantname": "name",
    "displayname": "name",
    "firstname": "first_name",
    "givenname": "first_name",
    "lastname": "last_name",
    "surname": "last_name",
    "familyname": "last_name",
    "email": "email",
    "emailaddress": "email",
    "mail": "email",
    "workemail": "email",
    "phone": "phone",
    "phonenumber": "phone",
    "mobile": "phone",
    "telephone": "phone",
    "slackuserid": "slack_user_id",
    "slackid": "slack_user_id",
    "slack": "slack_user_id",
    "jobtitle": "job_title",
    "title": "job_title",
    "role": "job_title",
    "position": "job_title",
    "department": "department",
    "dept": "department",
    "team": "department",
    "seniority": "seniority_level",
    "senioritylevel": "seniority_level",
    "level": "seniority_level",
    "isrequired": "is_required",
    "required": "is_required",
    "questionsetid": "question_set_id",
}


def canonical_contact_key(key: str) -> str | None:
    squashed = "".join(ch for ch in key.strip().lower() if ch.isalnum())
    return CONTACT_ALIASES.get(squashed)


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


class ContactCreate(InputModel):
    """A contact. Unknown keys are ignored; header-style keys (`Full name`, `E-mail`) are accepted."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=500)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    slack_user_id: str | None = Field(default=None, max_length=64)
    job_title: str | None = Field(default=None, max_length=500)
    department: str | None = Field(default=None, max_length=500)
    seniority_level: int | None = Field(default=None, ge=1, le=5)
    is_required: bool = False
    question_set_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = {}
        first = last = None
        for key, value in data.items():
            if not isinstance(key, str):
                continue
            name = key if key in cls.model_fields else canonical_contact_key(key)
            if name == "first_name":
                first = _blank_to_none(value)
            elif name == "last_name":
                last = _blank_to_none(value)
            elif name is not None and name not in out:
                out[name] = _blank_to_none(value)
        if out.get("name") is None and (first or last):
            out["name"] = " ".join(str(p) for p in (first, last) if p)
        if out.get("is_required") is None:
            out.pop("is_required", None)
        return out

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        local, sep, domain = value.partition("@")
        if not sep or not local or "." not in domain or any(ch.isspace() for ch in value):
            raise ValueError(f"'{value}' is not an email address")
        return value

    @field_validator("is_required", mode="before")
    @classmethod
    def _truthy(cls, value: Any) -> Any:
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in {"yes", "y", "1", "true", "x"}:
                return True
            if lowered in {"no", "n", "0", "false", ""}:
                return False
        return value


class ContactUpdate(InputModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=500)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    slack_user_id: str | None = Field(default=None, max_length=64)
    job_title: str | None = Field(default=None, max_length=500)
    department: str | None = Field(default=None, max_length=500)
    seniority_level: int | None = Field(default=None, ge=1, le=5)
    is_required: bool | None = None
    question_set_id: str | None = Field(default=None, max_length=64)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return ContactCreate._email(value)


class BulkContactsIn(InputModel):
    contacts: list[ContactCreate] = Field(max_length=5000)


class ContactOut(UTCModel):
    id: str
    interview_id: str
    question_set_id: str | None = None
    name: str
    email: str | None = None
    phone: str | None = None
    slack_user_id: str | None = None
    job_title: str | None = None
    department: str | None = None
    seniority_level: int | None = None
    is_required: bool = False
    meeting_url: str | None = None
    status: str
    scheduled_at: datetime | None = None
    completed_at: datetime | None = None
    created_at: datetime
    booking_token: str | None = None
    reminder_count: int = 0
    last_reminder_at: datetime | None = None


class SkippedContact(BaseModel):
    index: int
    email: str | None = None
    reason: str


class BulkContactsOut(BaseModel):
    created: list[ContactOut]
    count: int
    skipped: list[SkippedContact] = Field(default_factory=list)


class ImportContactsOut(BaseModel):
    imported: int
    skipped: int
    errors: list[str]


class RescheduleIn(InputModel):
    model_config = ConfigDict(extra="ignore")
    new_time: datetime | None = None


class RescheduleOut(UTCModel):
    contact_id: str
    scheduled_at: datetime
    meeting_url: str | None = None
    message: str


class CancelIn(InputModel):
    model_config = ConfigDict(extra="ignore")
    mark_as_skipped: bool = False


class CancelOut(BaseModel):
    contact_id: str
    status: str
    calendar_event_deleted: bool
    message: str


class FollowUpIn(InputModel):
    model_config = ConfigDict(extra="ignore")
    contact_ids: list[str] = Field(min_length=1, max_length=5000)
    message: str | None = Field(default=None, max_length=5000)


class FollowUpOut(BaseModel):
    sent_count: int
    message: str


class InterviewDetailOut(UTCModel):
    interview: InterviewOut
    question_sets: list[QuestionSetOut]
    contacts: list[ContactOut]
    invitations_scheduled_for: datetime | None = None
