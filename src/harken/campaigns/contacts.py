"""Contacts of a campaign: add (one, bulk, CSV), list, update, delete, reschedule, cancel, follow-up.

Bulk adds are one multi-row INSERT in the request's transaction. An email already in the campaign
(or earlier in the same batch) is skipped, never a 500. Contacts added to an active campaign are
invited at once (unless the campaign holds invitations until its start date).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from harken.campaigns import lifecycle
from harken.campaigns.models import Campaign, Contact, QuestionSet
from harken.campaigns.schemas import ContactCreate, ContactUpdate, SkippedContact
from harken.conversations.models import Conversation
from harken.core.db import new_id, utcnow
from harken.core.errors import CampaignLocked, Conflict, NotFound, validation_error
from harken.core.jobs import enqueue

INSERT_CHUNK = 500  # rows per INSERT statement (SQLite allows 32k bound parameters)


def normalize_email(email: str | None) -> str | None:
    return email.strip().lower() if email else None


def _writable(campaign: Campaign) -> None:
    if campaign.status == "completed":
        raise CampaignLocked("Contacts cannot be added to a completed campaign")


async def _question_set_ids(session: AsyncSession, campaign: Campaign) -> set[str]:
    query = select(QuestionSet.id).where(QuestionSet.interview_id == campaign.id)
    return set((await session.execute(query)).scalars())


async def _existing_emails(session: AsyncSession, campaign: Campaign) -> set[str]:
    query = select(Contact.email_normalized).where(
        Contact.interview_id == campaign.id, Contact.email_normalized.is_not(None)
    )
    return {e for e in (await session.execute(query)).scalars() if e}


@dataclass
class AddResult:
    created: list[Contact] | list[dict[str, Any]]  # rows as dicts unless invited; empty with load=False
    skipped: list[SkippedContact]
    count: int = 0


async def add_contacts(
    session: AsyncSession,
    campaign: Campaign,
    items: list[ContactCreate],
    *,
    base_url: str,
    default_question_set_id: str | None = None,
    strict_duplicates: bool = False,
    single: bool = False,
    load: bool = True,
) -> AddResult:
    """Insert contacts in one transaction; duplicates (by email) are skipped and reported."""
    _writable(campaign)
    question_sets = await _question_set_ids(session, campaign)
    if default_question_set_id is not None and default_question_set_id not in question_sets:
        raise NotFound("Question set not found in this interview")
    for index, item in enumerate(items):
        if item.question_set_id is not None and item.question_set_id not in question_sets:
            loc: list[str | int] = (
                ["body", "question_set_id"] if single else ["body", "contacts", index, "question_set_id"]
            )
            raise validation_error(loc, "question_set_id is not a question set of this interview")
    seen = await _existing_emails(session, campaign)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    skipped: list[SkippedContact] = []
    for index, item in enumerate(items):
        email_key = normalize_email(item.email)
        if email_key is not None and email_key in seen:
            if strict_duplicates:
                raise Conflict(f"A contact with email {item.email} already exists in this interview")
            skipped.append(SkippedContact(index=index, email=item.email, reason="duplicate email"))
            continue
        if email_key is not None:
            seen.add(email_key)
        rows.append(
            {
                "id": new_id(),
                "workspace_id": campaign.workspace_id,
                "interview_id": campaign.id,
                "name": item.name,
                "email": item.email,
                "email_normalized": email_key,
                "phone": item.phone,
                "slack_user_id": item.slack_user_id,
                "job_title": item.job_title,
                "department": item.department,
                "seniority_level": item.seniority_level,
                "is_required": item.is_required,
                "question_set_id": item.question_set_id or default_question_set_id,
                "status": "pending",
                "reminder_count": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
    try:
        for start in range(0, len(rows), INSERT_CHUNK):
            await session.execute(insert(Contact), rows[start : start + INSERT_CHUNK])
    except IntegrityError as exc:  # a concurrent request added the same email meanwhile
        raise Conflict("A contact with one of these emails was added concurrently; retry the request") from exc
    ids = [row["id"] for row in rows]
    invite = campaign.status == "active" and lifecycle.invitations_held_until(campaign) is None
    if invite:
        created = await _load(session, ids)
    else:  # the rows as written, without reading them back
        created = rows if load else []
    if invite:
        await lifecycle.invite_contacts(session, campaign, created, base_url=base_url)
    campaign.updated_at = now
    return AddResult(created, skipped, len(rows))


async def _load(session: AsyncSession, ids: list[str]) -> list[Contact]:
    by_id: dict[str, Contact] = {}
    for start in range(0, len(ids), INSERT_CHUNK):
        chunk = ids[start : start + INSERT_CHUNK]
        for contact in (await session.execute(select(Contact).where(Contact.id.in_(chunk)))).scalars():
            by_id[contact.id] = contact
    return [by_id[i] for i in ids]


async def list_contacts(session: AsyncSession, campaign: Campaign, *, status: str | None = None) -> list[Contact]:
    query = select(Contact).where(Contact.interview_id == campaign.id, Contact.workspace_id == campaign.workspace_id)
    if status is not None:
        query = query.where(Contact.status == status)
    return list((await session.execute(query.order_by(Contact.created_at, Contact.id))).scalars())


async def get_contact(session: AsyncSession, campaign: Campaign, contact_id: str, *, lock: bool = False) -> Contact:
    from harken.campaigns.service import valid_id

    if not valid_id(contact_id):
        raise NotFound("Contact not found")
    query = select(Contact).where(
        Contact.id == contact_id, Contact.interview_id == campaign.id, Contact.workspace_id == campaign.workspace_id
    )
    if lock:
        query = query.with_for_update(key_share=True)
    contact = (await session.execute(query)).scalar_one_or_none()
    if contact is None:
        raise NotFound("Contact not found")
    return contact


async def update_contact(session: AsyncSession, campaign: Campaign, contact: Contact, body: ContactUpdate) -> Contact:
    sent = body.model_fields_set
    qs_id = body.question_set_id if "question_set_id" in sent else None
    if qs_id is not None and qs_id not in await _question_set_ids(session, campaign):
        raise validation_error(["body", "question_set_id"], "question_set_id is not a question set of this interview")
    if "email" in sent:
        key = normalize_email(body.email)
        if key is not None and key != contact.email_normalized:
            clash = await session.execute(
                select(Contact.id).where(Contact.interview_id == campaign.id, Contact.email_normalized == key)
            )
            if clash.first() is not None:
                raise Conflict(f"A contact with email {body.email} already exists in this interview")
        contact.email, contact.email_normalized = body.email, key
    for name in ("name", "is_required"):
        if name in sent and getattr(body, name) is not None:
            setattr(contact, name, getattr(body, name))
    for name in ("phone", "slack_user_id", "job_title", "department", "seniority_level", "question_set_id"):
        if name in sent:
            setattr(contact, name, getattr(body, name))
    contact.updated_at = utcnow()
    await session.flush()
    return contact


async def delete_contact(session: AsyncSession, campaign: Campaign, contact: Contact) -> None:
    from sqlalchemy import delete

    running = await session.execute(
        select(Conversation.id).where(Conversation.contact_id == contact.id, Conversation.status == "in_progress")
    )
    if running.first() is not None:
        raise Conflict("This contact's interview is in progress; cancel it first")
    await session.execute(delete(Conversation).where(Conversation.contact_id == contact.id))
    await session.delete(contact)
    await session.flush()
    if campaign.status in {"active", "paused"}:
        await lifecycle.autocomplete_if_done(session, campaign.id)


async def reschedule(
    session: AsyncSession, campaign: Campaign, contact: Contact, new_time: datetime | None, *, base_url: str
) -> Contact:
    """Book (or re-book) a contact's interview; fires `interview.scheduled`."""
    if campaign.status not in {"active", "paused"}:
        raise CampaignLocked(
            f"Interviews can only be scheduled in an active or paused campaign (this one is {campaign.status})"
        )
    if contact.status in {"completed", "in_progress"}:
        raise Conflict(f"This contact's interview is already {contact.status.replace('_', ' ')}")
    now = utcnow()
    contact.booking_token = contact.booking_token or lifecycle.secrets.token_urlsafe(24)
    contact.scheduled_at = new_time or now
    contact.invited_at = contact.invited_at or now
    contact.status = "scheduled"
    contact.updated_at = now
    conversation = (await lifecycle.open_conversations(session, [contact.id])).get(contact.id)
    if conversation is None:
        conversation = Conversation(
            id=new_id(),
            workspace_id=campaign.workspace_id,
            interview_id=campaign.id,
            contact_id=contact.id,
            status="scheduled",
            source="agent",
            session_id=new_id(),
        )
        session.add(conversation)
    await session.flush()
    await lifecycle.emit_scheduled(session, campaign, contact, conversation.id)
    await enqueue(
        session,
        "conversations.send_invitation",
        {"contact_id": contact.id},
        workspace_id=campaign.workspace_id,
        dedupe_key=f"conversations.send_invitation:{contact.id}:{contact.scheduled_at.isoformat()}",
    )
    return contact


async def cancel(session: AsyncSession, campaign: Campaign, contact: Contact, *, mark_as_skipped: bool) -> Contact:
    if contact.status == "completed":
        raise Conflict("This contact's interview is already completed")
    contact.status = "skipped" if mark_as_skipped else "cancelled"
    contact.updated_at = utcnow()
    await session.execute(
        update(Conversation)
        .where(Conversation.contact_id == contact.id, Conversation.status.in_(lifecycle.OPEN_CONVERSATION_STATES))
        .values(status="abandoned", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    if campaign.status in {"active", "paused"}:
        await lifecycle.autocomplete_if_done(session, campaign.id)
    return contact


async def follow_up(session: AsyncSession, campaign: Campaign, contact_ids: list[str], message: str | None) -> int:
    """Remind invited/scheduled contacts; each reminder is a `conversations.send_reminder` job."""
    if campaign.status != "active":
        raise CampaignLocked(f"Reminders can only be sent in an active campaign (this one is {campaign.status})")
    from harken.campaigns.service import valid_id

    wanted = [i for i in dict.fromkeys(contact_ids) if valid_id(i)]
    contacts: list[Contact] = []
    for start in range(0, len(wanted), INSERT_CHUNK):
        chunk = wanted[start : start + INSERT_CHUNK]
        query = select(Contact).where(
            Contact.id.in_(chunk),
            Contact.interview_id == campaign.id,
            Contact.workspace_id == campaign.workspace_id,
            Contact.status.in_(("invited", "scheduled", "in_progress")),
        )
        contacts.extend((await session.execute(query)).scalars())
    now = utcnow()
    for contact in contacts:
        contact.reminder_count = (contact.reminder_count or 0) + 1
        contact.last_reminder_at = now
        contact.updated_at = now
        await enqueue(
            session,
            "conversations.send_reminder",
            {"contact_id": contact.id, "message": message},
            workspace_id=campaign.workspace_id,
        )
    await session.flush()
    return len(contacts)
