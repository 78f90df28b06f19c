"""Conversations: listing, detail, transcript import and the completion service.

`complete_conversation(session, conversation, ended_at=None)` is the one place a conversation
finishes, whether the interview agent ended it or a transcript was imported: it completes the
conversation and its contact, fires `interview.completed`, enqueues the knowledge pipeline, and
completes the campaign when every contact is done (exactly once under concurrent completions).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from harken.campaigns import lifecycle
from harken.campaigns.contacts import get_contact, normalize_email
from harken.campaigns.models import Campaign, Contact
from harken.campaigns.schemas import ContactCreate
from harken.conversations import importers
from harken.conversations.models import Conversation
from harken.conversations.schemas import (
    ContactBrief,
    ConversationDetail,
    ConversationList,
    ConversationRow,
    TranscriptTurn,
)
from harken.core.db import new_id, utcnow
from harken.core.errors import CampaignLocked, Conflict, NotFound
from harken.core.jobs import enqueue
from harken.webhooks.events import emit

MAX_DURATION_MINUTES = 7 * 24 * 60  # a week: anything longer is a clock error, not an interview


async def complete_conversation(
    session: AsyncSession, conversation: Conversation, *, ended_at: datetime | None = None
) -> bool:
    """Finish a scheduled or in-progress conversation (idempotent). Returns False when it was
    already completed or abandoned (its contact was cancelled meanwhile).

    Must run inside the caller's transaction (the request's session or a job's short session).
    """
    await session.flush()
    # Completions of one campaign are serialized, so the "every contact done?" check below sees
    # every earlier completion (PostgreSQL row lock; SQLite write transactions already queue).
    # Lock order everywhere: contact, then conversation, then the campaign row (see lifecycle).
    await lifecycle.lock_campaign(session, conversation.interview_id)
    now = utcnow()
    ended = ended_at or conversation.ended_at or now
    moved = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id, Conversation.status.in_(lifecycle.OPEN_CONVERSATION_STATES))
        .values(status="completed", ended_at=ended, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(conversation)
    if moved.rowcount != 1:
        return False
    started = conversation.started_at or ended
    if conversation.started_at is None:
        conversation.started_at = started
    if conversation.duration_minutes is None:
        minutes = round((ended - started).total_seconds() / 60)
        conversation.duration_minutes = min(MAX_DURATION_MINUTES, max(0, minutes))
    contact = await session.get(Contact, conversation.contact_id)
    if contact is None:  # deleted meanwhile: nothing else to update
        return True
    contact.status = "completed"
    contact.completed_at = ended
    contact.updated_at = now
    await session.flush()
    await emit(
        session,
        workspace_id=conversation.workspace_id,
        event_type="interview.completed",
        data={
            "interview_id": conversation.interview_id,
            "conversation_id": conversation.id,
            "contact": {"name": contact.name, "email": contact.email},
            "duration_minutes": conversation.duration_minutes,
        },
    )
    await enqueue(
        session,
        "knowledge.ingest_conversation",
        {"conversation_id": conversation.id},
        workspace_id=conversation.workspace_id,
        dedupe_key=f"knowledge.ingest_conversation:{conversation.id}",
    )
    await lifecycle.autocomplete_if_done(session, conversation.interview_id)
    return True


# ---------------------------------------------------------------- import


async def _contact_for_import(
    session: AsyncSession, campaign: Campaign, contact_id: str | None, contact_in: ContactCreate | None
) -> Contact:
    if contact_id is not None:
        return await get_contact(session, campaign, contact_id, lock=True)
    assert contact_in is not None
    key = normalize_email(contact_in.email)
    if key is not None:
        existing = (
            await session.execute(
                select(Contact)
                .where(Contact.interview_id == campaign.id, Contact.email_normalized == key)
                .with_for_update(key_share=True)
            )
        ).scalar_one_or_none()
        if existing is not None:
            return existing
    contact = Contact(
        id=new_id(),
        workspace_id=campaign.workspace_id,
        interview_id=campaign.id,
        name=contact_in.name,
        email=contact_in.email,
        email_normalized=key,
        phone=contact_in.phone,
        slack_user_id=contact_in.slack_user_id,
        job_title=contact_in.job_title,
        department=contact_in.department,
        seniority_level=contact_in.seniority_level,
        is_required=contact_in.is_required,
        question_set_id=contact_in.question_set_id,
        status="pending",
        reminder_count=0,
    )
    session.add(contact)
    await session.flush()
    return contact


async def import_conversation(
    session: AsyncSession,
    campaign: Campaign,
    *,
    contact_id: str | None,
    contact_in: ContactCreate | None,
    raw_turns: list[importers.RawTurn],
    fmt: str,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    summary: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Conversation:
    """Store a finished interview held elsewhere and complete it."""
    if campaign.status == "completed":
        raise CampaignLocked("Transcripts cannot be imported into a completed campaign")
    parsed = importers.normalize(raw_turns, fmt=fmt, started_at=started_at, ended_at=ended_at)
    contact = await _contact_for_import(session, campaign, contact_id, contact_in)
    if contact.status == "completed":
        raise Conflict("This contact already has a completed conversation")
    conversation = (await lifecycle.open_conversations(session, [contact.id])).get(contact.id)
    if conversation is None:
        conversation = Conversation(
            id=new_id(),
            workspace_id=campaign.workspace_id,
            interview_id=campaign.id,
            contact_id=contact.id,
            session_id=new_id(),
        )
        session.add(conversation)
    conversation.status = "in_progress"
    conversation.source = "import"
    conversation.transcript = parsed.turns
    conversation.transcript_text = importers.transcript_text(parsed.turns)
    conversation.started_at = parsed.started_at
    conversation.ended_at = parsed.ended_at
    conversation.summary = summary
    conversation.import_meta = {
        **(meta or {}),
        "format": parsed.format,
        "speakers": parsed.roles,
        "turn_count": len(parsed.turns),
        "notes": parsed.notes,
    }
    if parsed.started_at is None:
        # No timing at all (plain text without timestamps): estimate from speaking pace.
        words = sum(len(str(t["text"]).split()) for t in parsed.turns)
        conversation.duration_minutes = max(1, round(words / 140))
        conversation.import_meta = {**conversation.import_meta, "duration_estimated": True}
    contact.status = "in_progress"
    await session.flush()
    await complete_conversation(session, conversation, ended_at=parsed.ended_at)
    return conversation


# ---------------------------------------------------------------- reads


async def get_conversation(session: AsyncSession, campaign: Campaign, conversation_id: str) -> Conversation:
    from harken.campaigns.service import valid_id

    if not valid_id(conversation_id):
        raise NotFound("Conversation not found")
    query = select(Conversation).where(
        Conversation.id == conversation_id,
        Conversation.interview_id == campaign.id,
        Conversation.workspace_id == campaign.workspace_id,
    )
    conversation = (await session.execute(query)).scalar_one_or_none()
    if conversation is None:
        raise NotFound("Conversation not found")
    return conversation


async def conversation_detail(session: AsyncSession, conversation: Conversation) -> ConversationDetail:
    contact = await session.get(Contact, conversation.contact_id)
    if contact is None:
        raise NotFound("Conversation not found")
    turns = [
        TranscriptTurn(speaker=str(t.get("speaker", "")), text=str(t.get("text", "")), at=t.get("at"))
        for t in conversation.transcript or []
        if isinstance(t, dict)
    ]
    return ConversationDetail(
        id=conversation.id,
        interview_id=conversation.interview_id,
        contact_id=conversation.contact_id,
        contact=ContactBrief.model_validate(contact, from_attributes=True),
        status=conversation.status,
        source=conversation.source,
        summary=conversation.summary,
        transcript=turns,
        duration_minutes=conversation.duration_minutes,
        digital_maturity_score=conversation.digital_maturity_score,
        extracted_pain_points=[p for p in conversation.extracted_pain_points or [] if isinstance(p, dict)],
        tools_mentioned=list(conversation.tools_mentioned or []),
        processes_touched=list(conversation.processes_touched or []),
        started_at=conversation.started_at,
        ended_at=conversation.ended_at,
        completed_at=conversation.ended_at if conversation.status == "completed" else None,
        session_id=conversation.session_id,
        topic_coverage=conversation.topic_coverage or {},
        import_meta=conversation.import_meta or {},
    )


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_ROW_COLUMNS = (
    Conversation.id,
    Conversation.contact_id,
    Conversation.status,
    Conversation.source,
    Conversation.duration_minutes,
    Conversation.digital_maturity_score,
    Conversation.extracted_pain_points,
    Conversation.ended_at,
    Conversation.summary,
    Conversation.session_id,
    Contact.name,
    Contact.email,
    Contact.job_title,
    Contact.department,
    Contact.seniority_level,
    Contact.reminder_count,
)


async def list_conversations(
    session: AsyncSession,
    campaign: Campaign,
    *,
    department: str | None = None,
    job_title: str | None = None,
    search: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> ConversationList:
    # The workspace is checked on the contact side: SQLite then walks the (interview_id, status)
    # index of conversations instead of every conversation of the workspace.
    base_filter = (
        Conversation.interview_id == campaign.id,
        Contact.workspace_id == campaign.workspace_id,
    )

    def filtered(query: Select[Any]) -> Select[Any]:
        query = query.join(Contact, Contact.id == Conversation.contact_id).where(*base_filter)
        if department:
            query = query.where(func.lower(Contact.department) == department.strip().lower())
        if job_title:
            query = query.where(func.lower(Contact.job_title) == job_title.strip().lower())
        if status:
            query = query.where(Conversation.status == status)
        if search and search.strip():
            pattern = f"%{_escape_like(search.strip())}%"
            query = query.where(
                or_(
                    Contact.name.ilike(pattern, escape="\\"),
                    Conversation.summary.ilike(pattern, escape="\\"),
                    Conversation.transcript_text.ilike(pattern, escape="\\"),
                )
            )
        return query

    total = int((await session.execute(filtered(select(func.count()).select_from(Conversation)))).scalar_one())
    rows = (
        await session.execute(
            filtered(select(*_ROW_COLUMNS).select_from(Conversation))
            .order_by(Conversation.created_at, Conversation.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    # Facets: the departments and job titles of contacts that have a conversation here (read from
    # the contacts index, not by joining every conversation row).
    has_conversation = select(Conversation.id).where(Conversation.contact_id == Contact.id).exists()
    facets = (
        select(Contact.department, Contact.job_title)
        .distinct()
        .where(Contact.interview_id == campaign.id, Contact.workspace_id == campaign.workspace_id, has_conversation)
    )
    facet_rows = (await session.execute(facets)).all()
    departments = sorted({r[0] for r in facet_rows if r[0]}, key=str.lower)
    job_titles = sorted({r[1] for r in facet_rows if r[1]}, key=str.lower)
    items = [
        ConversationRow(
            id=r.id,
            contact_id=r.contact_id,
            name=r.name,
            contact_name=r.name,
            email=r.email,
            job_title=r.job_title,
            department=r.department,
            seniority_level=r.seniority_level,
            status=r.status,
            source=r.source,
            duration_minutes=r.duration_minutes,
            digital_maturity_score=r.digital_maturity_score,
            pain_point_count=len(r.extracted_pain_points or []),
            completed_at=r.ended_at if r.status == "completed" else None,
            summary=r.summary,
            session_id=r.session_id,
            reminder_count=r.reminder_count or 0,
        )
        for r in rows
    ]
    return ConversationList(
        total=total,
        has_more=offset + len(items) < total,
        departments=departments,
        job_titles=job_titles,
        items=items,
    )
