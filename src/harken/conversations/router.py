"""HTTP routes of conversations: list, detail and transcript import (contract §3.4)."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from harken.campaigns import service as campaign_service
from harken.campaigns.schemas import ContactCreate
from harken.conversations import importers, service
from harken.conversations.schemas import ConversationDetail, ConversationImportIn, ConversationList
from harken.core.auth import InterviewsAuth
from harken.core.errors import MalformedRequest, UnsupportedMediaType
from harken.core.openapi import responses
from harken.core.session import DbSession

router = APIRouter(prefix="/v1/interviews", tags=["conversations"])

ConversationStatus = Literal["scheduled", "in_progress", "completed", "abandoned"]
_CONTACT_FORM_FIELDS = ("name", "email", "phone", "slack_user_id", "job_title", "department", "seniority_level")


@router.get("/{interview_id}/conversations", response_model=ConversationList, responses=responses(404))
async def list_conversations(
    interview_id: str,
    auth: InterviewsAuth,
    session: DbSession,
    department: str | None = Query(default=None, max_length=500, pattern=r"^[^\x00]*$"),
    job_title: str | None = Query(default=None, max_length=500, pattern=r"^[^\x00]*$"),
    search: str | None = Query(
        default=None, max_length=500, pattern=r"^[^\x00]*$", description="In names, summaries and transcripts"
    ),
    status: ConversationStatus | None = Query(default=None),
    limit: int = Query(default=100, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=100_000_000),
) -> ConversationList:
    """The campaign's conversations with department and job-title facets."""
    campaign = await campaign_service.get_campaign(session, auth.workspace_id, interview_id)
    return await service.list_conversations(
        session,
        campaign,
        department=department,
        job_title=job_title,
        search=search,
        status=status,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/{interview_id}/conversations/{conversation_id}", response_model=ConversationDetail, responses=responses(404)
)
async def get_conversation(
    interview_id: str, conversation_id: str, auth: InterviewsAuth, session: DbSession
) -> ConversationDetail:
    """One conversation with its transcript and extractions."""
    campaign = await campaign_service.get_campaign(session, auth.workspace_id, interview_id)
    conversation = await service.get_conversation(session, campaign, conversation_id)
    return await service.conversation_detail(session, conversation)


_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["turns"],
                    "properties": {
                        "contact_id": {"type": "string"},
                        "contact": {"type": "object", "description": "ContactCreate: name (required), email, ..."},
                        "started_at": {"type": "string", "format": "date-time"},
                        "ended_at": {"type": "string", "format": "date-time"},
                        "summary": {"type": "string"},
                        "turns": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["speaker", "text"],
                                "properties": {
                                    "speaker": {"type": "string", "description": "agent, participant or a name"},
                                    "text": {"type": "string"},
                                    "at": {"type": "string", "format": "date-time"},
                                },
                            },
                        },
                    },
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "JSON, WebVTT, SRT or text"},
                        "contact_id": {"type": "string"},
                        "started_at": {"type": "string", "format": "date-time"},
                        "ended_at": {"type": "string", "format": "date-time"},
                        **{name: {"type": "string"} for name in _CONTACT_FORM_FIELDS},
                    },
                }
            },
        },
    }
}


def _validation(exc: ValidationError, prefix: tuple[str, ...] = ("body",)) -> RequestValidationError:
    return RequestValidationError(
        [
            {"loc": (*prefix, *err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
            for err in exc.errors()
        ]
    )


def _form_time(value: Any, name: str) -> Any:
    if value in (None, ""):
        return None
    parsed, _ = importers.parse_time_value(str(value))
    if parsed is None:
        raise RequestValidationError(
            [{"loc": ("body", name), "msg": "not an ISO-8601 date-time", "type": "datetime_parsing"}]
        )
    return parsed


@router.post(
    "/{interview_id}/conversations/import",
    response_model=ConversationDetail,
    status_code=status.HTTP_201_CREATED,
    responses=responses(404, 409),
    openapi_extra=_IMPORT_BODY,
)
async def import_conversation(
    interview_id: str, request: Request, auth: InterviewsAuth, session: DbSession
) -> ConversationDetail:
    """Import a finished interview: JSON `{contact_id | contact, started_at, turns[]}`, or a multipart
    `file` (JSON turns, WebVTT with `<v Name>` voices, SRT, or `Speaker: text` lines) with `contact_id`
    or contact fields. The interviewer is recognised; the conversation counts as completed."""
    campaign = await campaign_service.get_campaign(session, auth.workspace_id, interview_id)
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise RequestValidationError([{"loc": ("body", "file"), "msg": "Field required", "type": "missing"}])
        parsed = importers.read_file(await upload.read(), upload.filename, upload.content_type)
        contact_id = str(form.get("contact_id") or "").strip() or None
        contact_in = None
        if contact_id is None:
            fields = {k: form.get(k) for k in _CONTACT_FORM_FIELDS if isinstance(form.get(k), str) and form.get(k)}
            try:
                contact_in = ContactCreate.model_validate(fields)
            except ValidationError as exc:
                raise _validation(exc) from exc
        conversation = await service.import_conversation(
            session,
            campaign,
            contact_id=contact_id,
            contact_in=contact_in,
            raw_turns=parsed.turns,
            fmt=parsed.format,
            started_at=_form_time(form.get("started_at"), "started_at") or parsed.started_at,
            ended_at=_form_time(form.get("ended_at"), "ended_at") or parsed.ended_at,
            meta={"filename": upload.filename},
        )
        return await service.conversation_detail(session, conversation)
    if content_type and "json" not in content_type:
        raise UnsupportedMediaType("Send application/json turns or a multipart/form-data file")
    raw = await request.body()
    try:
        payload = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedRequest("Malformed JSON body") from exc
    try:
        body = ConversationImportIn.model_validate(payload)
    except ValidationError as exc:
        raise _validation(exc) from exc
    raw_turns = [
        importers.RawTurn(turn.speaker, turn.text, *importers.parse_time_value(turn.at)) for turn in body.turns
    ]
    conversation = await service.import_conversation(
        session,
        campaign,
        contact_id=body.contact_id,
        contact_in=body.contact,
        raw_turns=raw_turns,
        fmt="json",
        started_at=body.started_at,
        ended_at=body.ended_at,
        summary=body.summary,
    )
    return await service.conversation_detail(session, conversation)
