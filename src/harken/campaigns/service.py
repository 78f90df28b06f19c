"""Campaign rules: create, read, update, delete, counters, detail and progress.

Lifecycle transitions live in `lifecycle.py`, contacts in `contacts.py`, topics in
`question_sets.py`. Every query is filtered by the caller's workspace.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from harken.campaigns import lifecycle
from harken.campaigns.models import Campaign, Contact, QuestionSet
from harken.campaigns.schemas import (
    COLUMN_FIELDS,
    OPTION_FIELDS,
    ContactOut,
    InterviewCreate,
    InterviewDetailOut,
    InterviewOut,
    InterviewUpdate,
    ProgressOut,
    QuestionSetOut,
    snap_duration,
)
from harken.core.db import utcnow
from harken.core.errors import CampaignLocked, NotFound

CONTACT_STATUSES = ("pending", "invited", "scheduled", "in_progress", "completed", "skipped", "cancelled")
SCHEDULED_STATES = ("invited", "scheduled")


def valid_id(value: str | None) -> bool:
    """Ids are short printable strings; anything else (NUL bytes, huge values) cannot exist."""
    return value is not None and 0 < len(value) <= 64 and value.isprintable()


async def get_campaign(session: AsyncSession, workspace_id: str, campaign_id: str, *, lock: bool = False) -> Campaign:
    if not valid_id(campaign_id):
        raise NotFound("Interview not found")
    query = select(Campaign).where(Campaign.id == campaign_id, Campaign.workspace_id == workspace_id)
    if lock:
        query = query.with_for_update(key_share=True)
    campaign = (await session.execute(query)).scalar_one_or_none()
    if campaign is None:
        raise NotFound("Interview not found")
    return campaign


def _resolve_start_immediately(body: InterviewCreate) -> bool:
    """A future start date holds invitations unless told otherwise (Teams always sends at launch)."""
    if body.start_immediately is not None:
        return body.start_immediately
    return body.timeframe_start is None or body.channel == "teams"


async def create_campaign(
    session: AsyncSession, workspace_id: str, body: InterviewCreate, *, created_by: str | None
) -> Campaign:
    from harken.campaigns.question_sets import create_question_set

    values: dict[str, Any] = {name: getattr(body, name) for name in COLUMN_FIELDS}
    values["interview_duration_minutes"] = snap_duration(body.interview_duration_minutes)
    values["completion_threshold"] = 90 if body.completion_threshold is None else body.completion_threshold
    values["default_language"] = body.default_language or "en"
    values["start_immediately"] = _resolve_start_immediately(body)
    options = {name: getattr(body, name) for name in OPTION_FIELDS if getattr(body, name) is not None}
    campaign = Campaign(
        workspace_id=workspace_id,
        options=options,
        status="draft",
        synthesis_status="pending",
        created_by=created_by,
        **values,
    )
    session.add(campaign)
    await session.flush()
    for index, topic in enumerate(body.topics or []):
        await create_question_set(session, campaign, topic.as_question_set(index))
    return campaign


async def list_campaigns(
    session: AsyncSession, workspace_id: str, *, project_id: str | None = None, status: str | None = None
) -> list[Campaign]:
    query = select(Campaign).where(Campaign.workspace_id == workspace_id)
    if project_id is not None and not valid_id(project_id):
        return []
    if project_id is not None:
        query = query.where(Campaign.project_id == project_id)
    if status is not None:
        query = query.where(Campaign.status == status)
    query = query.order_by(Campaign.created_at.desc(), Campaign.id)
    return list((await session.execute(query)).scalars())


async def update_campaign(
    session: AsyncSession, campaign: Campaign, body: InterviewUpdate, *, base_url: str
) -> Campaign:
    """Apply the fields sent; `status` moves only along legal transitions (else 409)."""
    sent = body.model_fields_set - {"workspace_id", "status"}
    if "timeframe_start" in sent or "timeframe_end" in sent:
        start = body.timeframe_start if "timeframe_start" in sent else campaign.timeframe_start
        end = body.timeframe_end if "timeframe_end" in sent else campaign.timeframe_end
        if start and end and end <= start:
            from harken.core.errors import validation_error

            raise validation_error(["body", "timeframe_end"], "timeframe_end must be after timeframe_start")
    options = dict(campaign.options or {})
    for name in sent:
        value = getattr(body, name)
        if name in OPTION_FIELDS:
            if value is None:
                options.pop(name, None)
            else:
                options[name] = value
        elif name == "interview_duration_minutes":
            campaign.interview_duration_minutes = snap_duration(value)
        elif name in {"name", "channel", "completion_threshold", "start_immediately", "default_language"}:
            if value is not None:  # non-nullable columns: null means "leave as is"
                setattr(campaign, name, value)
        elif name in COLUMN_FIELDS:
            setattr(campaign, name, value)
    campaign.options = options
    if sent:
        campaign.updated_at = utcnow()
    await session.flush()
    if "timeframe_end" in sent and campaign.status in {"active", "paused"}:
        await lifecycle.schedule_timeframe_end(session, campaign)
    target = body.status
    if target is not None and target != campaign.status:
        await _patch_status(session, campaign, target, base_url=base_url)
    return campaign


async def _patch_status(session: AsyncSession, campaign: Campaign, target: str, *, base_url: str) -> None:
    current = campaign.status
    if current == "draft" and target == "active":
        await lifecycle.start_campaign(session, campaign, base_url=base_url)
    elif current == "active" and target == "paused":
        await lifecycle.pause_campaign(session, campaign)
    elif current == "paused" and target == "active":
        await lifecycle.resume_campaign(session, campaign, base_url=base_url)
    elif target == "completed" and current in {"draft", "active", "paused"}:
        await lifecycle.complete_campaign(session, campaign)
    else:
        raise CampaignLocked(f"Cannot change a campaign's status from {current} to {target}")


async def delete_campaign(session: AsyncSession, campaign: Campaign) -> None:
    if campaign.status not in {"draft", "completed"}:
        raise CampaignLocked(f"Only draft or completed campaigns can be deleted (this one is {campaign.status})")
    from harken.conversations.models import Conversation

    # Children first, explicitly: SQLite foreign-key cascades are not relied upon.
    await session.execute(delete(Conversation).where(Conversation.interview_id == campaign.id))
    await session.execute(delete(Contact).where(Contact.interview_id == campaign.id))
    await session.execute(delete(QuestionSet).where(QuestionSet.interview_id == campaign.id))
    await session.delete(campaign)
    await session.flush()


# ---------------------------------------------------------------- serialization


async def campaign_counts(session: AsyncSession, campaign_ids: list[str]) -> dict[str, tuple[int, int, int]]:
    """(contact_count, completed_count, scheduled_count) per campaign, in one grouped query."""
    if not campaign_ids:
        return {}
    query = (
        select(
            Contact.interview_id,
            func.count(),
            func.sum(case((Contact.status == "completed", 1), else_=0)),
            func.sum(case((Contact.status.in_(SCHEDULED_STATES), 1), else_=0)),
        )
        .where(Contact.interview_id.in_(campaign_ids))
        .group_by(Contact.interview_id)
    )
    rows = (await session.execute(query)).all()
    return {row[0]: (int(row[1] or 0), int(row[2] or 0), int(row[3] or 0)) for row in rows}


def interview_out(campaign: Campaign, counts: tuple[int, int, int] = (0, 0, 0)) -> InterviewOut:
    data: dict[str, Any] = {
        name: getattr(campaign, name) for name in InterviewOut.model_fields if hasattr(campaign, name)
    }
    options = campaign.options or {}
    for name in OPTION_FIELDS:
        if name in options:
            data[name] = options[name]
    data["contact_count"], data["completed_count"], data["scheduled_count"] = counts
    return InterviewOut.model_validate(data)


async def interview_outs(session: AsyncSession, campaigns: list[Campaign]) -> list[InterviewOut]:
    counts = await campaign_counts(session, [c.id for c in campaigns])
    return [interview_out(c, counts.get(c.id, (0, 0, 0))) for c in campaigns]


async def one_interview_out(session: AsyncSession, campaign: Campaign) -> InterviewOut:
    return (await interview_outs(session, [campaign]))[0]


def contact_out(contact: Contact | dict[str, Any], base_url: str) -> ContactOut:
    out = ContactOut.model_validate(contact)
    out.meeting_url = lifecycle.meeting_url(base_url, out.booking_token)
    return out


async def detail(session: AsyncSession, campaign: Campaign, *, base_url: str) -> InterviewDetailOut:
    from harken.campaigns.question_sets import list_question_sets, question_set_out

    contacts = (
        await session.execute(
            select(Contact).where(Contact.interview_id == campaign.id).order_by(Contact.created_at, Contact.id)
        )
    ).scalars()
    question_sets: list[QuestionSetOut] = [question_set_out(q) for q in await list_question_sets(session, campaign)]
    held = lifecycle.invitations_held_until(campaign) if campaign.status in {"active", "paused"} else None
    if held is None and campaign.status == "draft" and not campaign.start_immediately:
        held = campaign.timeframe_start
    return InterviewDetailOut(
        interview=await one_interview_out(session, campaign),
        question_sets=question_sets,
        contacts=[contact_out(c, base_url) for c in contacts],
        invitations_scheduled_for=held,
    )


async def progress(session: AsyncSession, campaign: Campaign) -> ProgressOut:
    rows = (
        await session.execute(
            select(Contact.status, func.count()).where(Contact.interview_id == campaign.id).group_by(Contact.status)
        )
    ).all()
    by_status = dict.fromkeys(CONTACT_STATUSES, 0)
    for status, count in rows:
        by_status[status] = int(count)
    total = sum(by_status.values())
    completed = by_status["completed"]
    return ProgressOut(
        total=total,
        completed=completed,
        scheduled=by_status["invited"] + by_status["scheduled"],
        in_progress=by_status["in_progress"],
        completion_percent=round(100.0 * completed / total, 1) if total else 0.0,
        by_status=by_status,
    )
