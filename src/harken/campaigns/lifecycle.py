"""Campaign lifecycle: draft → active → (paused ↔ active) → completed, invitations, auto-completion.

Every transition is one conditional `UPDATE … WHERE status IN (<legal sources>)`, so two concurrent
requests can never both apply it (one wins, the other gets 409 `campaign_locked`), and the events
and jobs it causes are written in the same transaction.

Lock order (PostgreSQL row locks), the same for every writer so none can deadlock another:
contacts (by id), then their conversations, then the campaign row. Start and resume therefore lock
the pending contacts they are about to invite before they move the campaign; the completion
service (also used by the respondent channel) locks the campaign last.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from harken.campaigns.models import Campaign, Contact, QuestionSet
from harken.conversations.models import Conversation
from harken.core.db import isoformat, new_id, utcnow
from harken.core.errors import CampaignLocked
from harken.core.jobs import enqueue
from harken.webhooks.events import emit

# Contacts in these states no longer hold a campaign open.
FINISHED_CONTACT_STATES = ("completed", "skipped", "cancelled")
OPEN_CONVERSATION_STATES = ("scheduled", "in_progress")

# action -> (legal source states, target state)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "start": (("draft",), "active"),
    "pause": (("active",), "paused"),
    "resume": (("paused",), "active"),
    "complete": (("active", "paused"), "completed"),
}


def meeting_url(base_url: str, token: str | None) -> str | None:
    return f"{base_url.rstrip('/')}/i/{token}" if token else None


def invitations_held_until(campaign: Campaign, now: datetime | None = None) -> datetime | None:
    """When an active campaign holds invitations until `timeframe_start`, that moment; else None."""
    now = now or utcnow()
    if campaign.start_immediately or campaign.timeframe_start is None:
        return None
    return campaign.timeframe_start if campaign.timeframe_start > now else None


async def _apply(session: AsyncSession, campaign: Campaign, sources: Sequence[str], target: str, **values: Any) -> bool:
    """The conditional UPDATE; True when this transaction moved the campaign."""
    stmt = (
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status.in_(list(sources)))
        .values(status=target, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    moved = (await session.execute(stmt)).rowcount == 1
    await session.refresh(campaign)
    return moved


def _locked(campaign: Campaign, action: str) -> CampaignLocked:
    return CampaignLocked(f"Cannot {action} a campaign that is {campaign.status}")


async def _contact_total(session: AsyncSession, campaign_id: str) -> int:
    query = select(func.count()).select_from(Contact).where(Contact.interview_id == campaign_id)
    return int((await session.execute(query)).scalar_one())


async def start_campaign(session: AsyncSession, campaign: Campaign, *, base_url: str) -> tuple[int, str]:
    """draft → active; invites pending contacts (or holds them until `timeframe_start`)."""
    if campaign.status != "draft":
        raise _locked(campaign, "start")
    contacts = await _contact_total(session, campaign.id)
    topics_query = select(func.count()).select_from(QuestionSet).where(QuestionSet.interview_id == campaign.id)
    topics = int((await session.execute(topics_query)).scalar_one())
    if contacts == 0 or topics == 0:
        raise CampaignLocked(
            f"A campaign needs at least one contact and one question set to start "
            f"(it has {contacts} contact(s) and {topics} question set(s))"
        )
    now = utcnow()
    await lock_pending_contacts(session, campaign.id)
    if not await _apply(session, campaign, ("draft",), "active", started_at=now):
        raise _locked(campaign, "start")
    await emit(
        session,
        workspace_id=campaign.workspace_id,
        event_type="campaign.started",
        data={"interview_id": campaign.id, "name": campaign.name, "contact_count": contacts},
    )
    await schedule_timeframe_end(session, campaign)
    held = invitations_held_until(campaign, now)
    if held is not None:
        await schedule_release(session, campaign, held)
        return 0, f"Campaign started. Invitations to {contacts} contact(s) are scheduled for {isoformat(held)}."
    invited = await invite_pending(session, campaign, base_url=base_url)
    if invited == 0 and await autocomplete_if_done(session, campaign.id):
        # every contact had already finished (imported interviews): nothing left to run
        return 0, "Campaign started and completed: every contact had already finished."
    return invited, f"Campaign started. {invited} contact(s) invited."


async def pause_campaign(session: AsyncSession, campaign: Campaign, *, reason: str | None = None) -> None:
    reason = reason or "user_paused"
    if campaign.status != "active" or not await _apply(session, campaign, ("active",), "paused", paused_reason=reason):
        raise _locked(campaign, "pause")
    await emit(
        session,
        workspace_id=campaign.workspace_id,
        event_type="campaign.paused",
        data={"interview_id": campaign.id, "reason": reason},
    )


async def resume_campaign(session: AsyncSession, campaign: Campaign, *, base_url: str) -> int:
    """paused → active; contacts added while paused are invited now (unless invitations are held)."""
    if campaign.status == "paused":
        await lock_pending_contacts(session, campaign.id)
    if campaign.status != "paused" or not await _apply(session, campaign, ("paused",), "active", paused_reason=None):
        raise _locked(campaign, "resume")
    held = invitations_held_until(campaign)
    if held is not None:
        await schedule_release(session, campaign, held)
        return 0
    return await invite_pending(session, campaign, base_url=base_url)


async def has_completed_conversations(session: AsyncSession, campaign_id: str) -> bool:
    query = select(exists().where(Conversation.interview_id == campaign_id, Conversation.status == "completed"))
    return bool((await session.execute(query)).scalar())


async def complete_campaign(session: AsyncSession, campaign: Campaign) -> None:
    """Close a campaign by hand (active/paused, or a draft holding imported conversations)."""
    sources: tuple[str, ...] = ("active", "paused")
    if campaign.status == "draft" and await has_completed_conversations(session, campaign.id):
        sources = ("draft",)
    if campaign.status not in sources or not await _apply(
        session, campaign, sources, "completed", completed_at=utcnow()
    ):
        if campaign.status == "draft":
            raise CampaignLocked("A draft campaign can only be completed once it holds completed conversations")
        raise _locked(campaign, "complete")
    await _on_completed(session, campaign)


async def autocomplete_if_done(session: AsyncSession, campaign_id: str) -> bool:
    """Complete an active/paused campaign whose contacts are all finished (once, under concurrency)."""
    open_contacts = (
        select(Contact.id)
        .where(Contact.interview_id == campaign_id, Contact.status.notin_(FINISHED_CONTACT_STATES))
        .exists()
    )
    any_completed = (
        select(Contact.id).where(Contact.interview_id == campaign_id, Contact.status == "completed").exists()
    )
    stmt = (
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(["active", "paused"]), ~open_contacts, any_completed)
        .values(status="completed", completed_at=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if (await session.execute(stmt)).rowcount != 1:
        return False
    campaign = await session.get(Campaign, campaign_id)
    assert campaign is not None
    await session.refresh(campaign)
    await _on_completed(session, campaign)
    return True


async def lock_pending_contacts(session: AsyncSession, campaign_id: str) -> None:
    """Row-lock the campaign's pending contacts in id order (no-op on SQLite)."""
    await session.execute(
        select(Contact.id)
        .where(Contact.interview_id == campaign_id, Contact.status == "pending")
        .order_by(Contact.id)
        .with_for_update(key_share=True)
    )


async def lock_campaign(session: AsyncSession, campaign_id: str) -> None:
    """Serialize completions of one campaign (row lock on PostgreSQL; SQLite writers already queue)."""
    await session.execute(select(Campaign.id).where(Campaign.id == campaign_id).with_for_update(key_share=True))


async def _on_completed(session: AsyncSession, campaign: Campaign) -> None:
    rows = (
        await session.execute(
            select(Contact.status, func.count()).where(Contact.interview_id == campaign.id).group_by(Contact.status)
        )
    ).all()
    by_status = {status: int(count) for status, count in rows}
    await emit(
        session,
        workspace_id=campaign.workspace_id,
        event_type="campaign.completed",
        data={
            "interview_id": campaign.id,
            "completed_count": by_status.get("completed", 0),
            "total_count": sum(by_status.values()),
        },
    )
    await enqueue_synthesis(session, campaign)


async def enqueue_synthesis(session: AsyncSession, campaign: Campaign) -> str | None:
    """Enqueue `knowledge.synthesize`; one job per campaign generation (completion or resync)."""
    options = dict(campaign.options or {})
    generation = int(options.get("_synthesis_generation", 0)) + 1
    options["_synthesis_generation"] = generation
    campaign.options = options
    await session.flush()
    return await enqueue(
        session,
        "knowledge.synthesize",
        {"interview_id": campaign.id},
        workspace_id=campaign.workspace_id,
        dedupe_key=f"knowledge.synthesize:{campaign.id}:{generation}",
    )


async def schedule_timeframe_end(session: AsyncSession, campaign: Campaign) -> None:
    """At `timeframe_end` an active campaign pauses itself (`campaign.paused`, `timeframe_ended`)."""
    if campaign.timeframe_end is None:
        return
    await enqueue(
        session,
        "campaigns.end_timeframe",
        {"interview_id": campaign.id},
        workspace_id=campaign.workspace_id,
        run_at=campaign.timeframe_end,
    )


async def schedule_release(session: AsyncSession, campaign: Campaign, at: datetime) -> None:
    await enqueue(
        session,
        "campaigns.release_invitations",
        {"interview_id": campaign.id},
        workspace_id=campaign.workspace_id,
        run_at=at,
    )


async def invite_pending(session: AsyncSession, campaign: Campaign, *, base_url: str) -> int:
    contacts = (
        await session.execute(
            select(Contact)
            .where(Contact.interview_id == campaign.id, Contact.status == "pending")
            .order_by(Contact.created_at, Contact.id)
        )
    ).scalars()
    return await invite_contacts(session, campaign, list(contacts), base_url=base_url)


async def invite_contacts(
    session: AsyncSession, campaign: Campaign, contacts: Iterable[Contact], *, base_url: str
) -> int:
    """Give each pending contact a link and a scheduled conversation; fire `interview.scheduled`."""
    pending = [c for c in contacts if c.status == "pending"]
    if not pending:
        return 0
    now = utcnow()
    existing = await open_conversations(session, [c.id for c in pending])
    for contact in pending:
        contact.booking_token = contact.booking_token or secrets.token_urlsafe(24)
        contact.status = "invited"
        contact.invited_at = now
        contact.scheduled_at = contact.scheduled_at or now
        conversation = existing.get(contact.id)
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
        await emit_scheduled(session, campaign, contact, conversation.id)
        await enqueue(
            session,
            "conversations.send_invitation",
            {"contact_id": contact.id},
            workspace_id=campaign.workspace_id,
            dedupe_key=f"conversations.send_invitation:{contact.id}",
        )
    await session.flush()
    return len(pending)


async def open_conversations(session: AsyncSession, contact_ids: list[str]) -> dict[str, Conversation]:
    """The latest scheduled/in-progress conversation of each contact."""
    out: dict[str, Conversation] = {}
    for start in range(0, len(contact_ids), 500):
        chunk = contact_ids[start : start + 500]
        rows = (
            await session.execute(
                select(Conversation)
                .where(Conversation.contact_id.in_(chunk), Conversation.status.in_(OPEN_CONVERSATION_STATES))
                .order_by(Conversation.created_at)
            )
        ).scalars()
        for conversation in rows:
            out[conversation.contact_id] = conversation
    return out


async def emit_scheduled(session: AsyncSession, campaign: Campaign, contact: Contact, conversation_id: str) -> None:
    await emit(
        session,
        workspace_id=campaign.workspace_id,
        event_type="interview.scheduled",
        data={
            "interview_id": campaign.id,
            "conversation_id": conversation_id,
            "contact": {"name": contact.name, "email": contact.email},
            "scheduled_for": isoformat(contact.scheduled_at),
        },
    )
