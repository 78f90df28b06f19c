"""The respondent channel: one contact talks with the interview agent through its booking token.

Concurrency, two paths:
- Offline agent (the default; a turn takes well under a millisecond): one short write transaction
  locks the conversation row (`FOR UPDATE` on PostgreSQL; SQLite writers are serialized by
  `BEGIN IMMEDIATE`), computes the turn and appends it.
- With a language model (a turn may wait seconds on the network): (1) a short read transaction
  takes a snapshot (its turn counter is the transcript length); (2) the agent computes its reply
  with no transaction open; (3) a short write transaction locks the row and applies the turn only
  if the counter is unchanged, otherwise the message is recomputed on the new state.
Either way, two messages sent at once are both kept, in order, each with its own reply, and the
transcript is never corrupted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from harken.campaigns.models import Campaign, Contact, QuestionSet
from harken.conversations.agent import InterviewAgent, InterviewContext, estimate_minutes
from harken.conversations.models import Conversation
from harken.conversations.respondent_schemas import (
    MessageOut,
    Reply,
    RespondentCampaign,
    RespondentMessage,
    RespondentState,
)
from harken.conversations.service import complete_conversation
from harken.core.db import Database, isoformat, utcnow
from harken.core.errors import Conflict, NotFound

logger = logging.getLogger("harken.respondent")

MAX_ATTEMPTS = 8
TOKEN_MAX_LEN = 64
CLOSED_CONTACT_STATUSES = {"cancelled", "skipped"}


@dataclass
class Snapshot:
    contact: Contact
    campaign: Campaign
    question_sets: list[QuestionSet]
    conversation: Conversation | None

    @property
    def context(self) -> InterviewContext:
        return InterviewContext.from_models(self.campaign, self.question_sets, self.contact)

    @property
    def transcript(self) -> list[dict[str, Any]]:
        return list(self.conversation.transcript or []) if self.conversation else []

    @property
    def started(self) -> bool:
        return any(t.get("speaker") == "participant" for t in self.transcript)


# -- reading ---------------------------------------------------------------------------------


async def _load(session: AsyncSession, token: str, *, lock: bool = False) -> Snapshot:
    if not token or len(token) > TOKEN_MAX_LEN:
        raise NotFound("Unknown interview link")
    row = (
        await session.execute(
            select(Contact, Campaign)
            .join(Campaign, (Campaign.id == Contact.interview_id) & (Campaign.workspace_id == Contact.workspace_id))
            .where(Contact.booking_token == token)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("Unknown interview link")
    contact, campaign = row
    query = select(QuestionSet).where(
        QuestionSet.interview_id == campaign.id, QuestionSet.workspace_id == campaign.workspace_id
    )
    question_sets = list(
        (await session.execute(query.order_by(QuestionSet.sort_order, QuestionSet.created_at))).scalars()
    )
    if contact.question_set_id:
        assigned = [qs for qs in question_sets if qs.id == contact.question_set_id]
        question_sets = assigned or question_sets
    conversation = await _conversation_for(session, contact, lock=lock)
    return Snapshot(contact, campaign, question_sets, conversation)


async def _conversation_for(session: AsyncSession, contact: Contact, *, lock: bool = False) -> Conversation | None:
    query = (
        select(Conversation)
        .where(
            Conversation.contact_id == contact.id,
            Conversation.workspace_id == contact.workspace_id,
            Conversation.source == "agent",
        )
        .order_by(Conversation.created_at.desc())
        .limit(1)
    )
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


def refusal(snapshot: Snapshot) -> str | None:
    """Why a message can't be accepted now (None when it can)."""
    conversation, campaign, contact = snapshot.conversation, snapshot.campaign, snapshot.contact
    if conversation is not None and conversation.status in {"completed", "abandoned"}:
        return "This interview is already completed. Thank you for taking part."
    if contact.status in CLOSED_CONTACT_STATUSES:
        return "This invitation has been cancelled."
    if contact.status == "completed":  # e.g. the interview was imported from elsewhere
        return "This interview is already completed. Thank you for taking part."
    if campaign.status == "draft":
        return "This interview has not opened yet."
    if campaign.status == "completed":
        return "This research campaign has closed and no longer accepts answers."
    if campaign.status == "paused" and not snapshot.started:
        return "This research campaign is paused, so new interviews can't start right now. Please try again later."
    if campaign.status not in {"active", "paused"}:
        return "This interview is not available."
    return None


def _public_status(conversation: Conversation | None) -> str:
    return conversation.status if conversation is not None else "scheduled"


def _messages(transcript: list[dict[str, Any]]) -> list[RespondentMessage]:
    return [
        RespondentMessage(speaker=t.get("speaker", "agent"), text=t.get("text") or "", at=t.get("at"))
        for t in transcript
        if t.get("speaker") in {"agent", "participant"}
    ]


def _progress(agent: InterviewAgent, snapshot: Snapshot) -> float:
    conversation = snapshot.conversation
    if conversation is not None and conversation.status == "completed":
        return 1.0
    state = conversation.agent_state if conversation is not None else {}
    if not state:
        return 0.0
    return agent.progress(snapshot.context, state)


def _state_out(agent: InterviewAgent, snapshot: Snapshot) -> RespondentState:
    notice = refusal(snapshot)
    campaign = snapshot.campaign
    conversation = snapshot.conversation
    return RespondentState(
        conversation_id=conversation.id if conversation is not None else "",
        status=_public_status(conversation),  # type: ignore[arg-type]
        campaign=RespondentCampaign(
            name=campaign.name,
            welcome_screen=campaign.welcome_screen,
            closing_message=campaign.closing_message,
            language=campaign.default_language or "en",
        ),
        messages=_messages(snapshot.transcript),
        progress=_progress(agent, snapshot),
        accepting_messages=notice is None,
        notice=notice,
    )


async def get_state(db: Database, token: str, agent: InterviewAgent) -> RespondentState:
    """The conversation as the respondent sees it; opens it (the agent's first turn) on first view."""
    async with db.read_sessionmaker() as session:
        snapshot = await _load(session, token)
    if not snapshot.transcript and refusal(snapshot) is None:
        snapshot = await _open(db, token, agent)
    return _state_out(agent, snapshot)


async def _open(db: Database, token: str, agent: InterviewAgent) -> Snapshot:
    """Create the conversation if needed and store the agent's opening turn (once)."""
    async with db.session() as session:
        snapshot = await _load(session, token, lock=True)
        if refusal(snapshot) is None:  # the campaign may have changed since the caller looked
            await _ensure_opening(session, snapshot, agent)
        return snapshot


async def _ensure_opening(session: AsyncSession, snapshot: Snapshot, agent: InterviewAgent) -> None:
    """Inside a write transaction holding the conversation row: make sure it exists and is opened."""
    conversation = snapshot.conversation
    if conversation is None:
        contact = snapshot.contact
        # Serialize the creation per contact (PostgreSQL; SQLite writers are serialized anyway).
        await session.execute(select(Contact.id).where(Contact.id == contact.id).with_for_update())
        conversation = await _conversation_for(session, contact, lock=True)
        if conversation is None:
            conversation = Conversation(
                workspace_id=contact.workspace_id,
                interview_id=contact.interview_id,
                contact_id=contact.id,
                status="scheduled",
                source="agent",
                transcript=[],
                agent_state={},
                topic_coverage={},
            )
            session.add(conversation)
    if not conversation.transcript:
        turn = await agent.opening(snapshot.context)
        transcript = [_turn("agent", turn.text)]
        conversation.transcript = transcript
        conversation.transcript_text = _flatten(transcript)
        conversation.agent_state = turn.state
        conversation.topic_coverage = turn.coverage
    await session.flush()
    snapshot.conversation = conversation


# -- writing ---------------------------------------------------------------------------------


def _turn(speaker: str, text: str, at: datetime | None = None) -> dict[str, Any]:
    return {"speaker": speaker, "text": text, "at": isoformat(at or utcnow())}


def _flatten(transcript: list[dict[str, Any]]) -> str:
    return "\n".join(f"{t.get('speaker')}: {t.get('text')}" for t in transcript if t.get("text"))


async def post_message(db: Database, token: str, text: str, agent: InterviewAgent) -> MessageOut:
    """Record the participant's answer and the agent's next turn."""
    answer = (text or "").strip()
    received = utcnow()
    participant = [_turn("participant", answer, received)] if answer else []
    if not agent.calls_network:
        # The offline agent answers in well under a millisecond: one short write transaction that
        # holds the conversation row is the cheapest safe way.
        async with db.session() as session:
            snapshot = await _load(session, token, lock=True)
            reason = refusal(snapshot)
            if reason is not None:
                raise Conflict(reason)
            await _ensure_opening(session, snapshot, agent)
            assert snapshot.conversation is not None
            base = snapshot.transcript
            state = dict(snapshot.conversation.agent_state or {})
            turn = await agent.respond(snapshot.context, state, [*base, *participant], answer)
            return await _write(session, snapshot.conversation, snapshot.contact, [*base, *participant], turn, received)
    for _attempt in range(MAX_ATTEMPTS):
        async with db.read_sessionmaker() as session:
            snapshot = await _load(session, token)
        reason = refusal(snapshot)
        if reason is not None:
            raise Conflict(reason)
        if not snapshot.transcript:
            snapshot = await _open(db, token, agent)
            reason = refusal(snapshot)
            if reason is not None:
                raise Conflict(reason)
        if snapshot.conversation is None:
            continue
        ctx = snapshot.context
        base = snapshot.transcript
        state = dict(snapshot.conversation.agent_state or {})
        seen = len(base)
        # No transaction is open while the agent (and maybe a language model) thinks.
        turn = await agent.respond(ctx, state, [*base, *participant], answer)
        async with db.session() as session:
            applied = await _apply(session, snapshot, seen, [*base, *participant], turn, received)
        if applied is not None:
            return applied
    raise Conflict("Too many messages at once on this interview; please send your answer again.")


async def end(db: Database, token: str, agent: InterviewAgent) -> MessageOut:
    """The participant ends the interview: the agent closes and the conversation completes."""
    for _attempt in range(MAX_ATTEMPTS):
        async with db.read_sessionmaker() as session:
            snapshot = await _load(session, token)
        conversation = snapshot.conversation
        if conversation is not None and conversation.status == "completed":
            return MessageOut(conversation_id=conversation.id, status="completed", reply=None, progress=1.0)
        reason = refusal(snapshot)
        if reason is not None:
            raise Conflict(reason)
        if conversation is None or not snapshot.started:
            raise Conflict("This interview has not started yet; there is nothing to end.")
        turn = await agent.closing(snapshot.context, dict(conversation.agent_state or {}), snapshot.transcript)
        async with db.session() as session:
            applied = await _apply(session, snapshot, len(snapshot.transcript), snapshot.transcript, turn, utcnow())
        if applied is not None:
            return applied
    raise Conflict("The interview is being updated; please try again.")


async def _apply(
    session: AsyncSession,
    snapshot: Snapshot,
    seen: int,
    transcript: list[dict[str, Any]],
    turn: Any,
    received: datetime,
) -> MessageOut | None:
    """Write the turn if nobody else wrote since the snapshot; None means "recompute"."""
    contact = snapshot.contact
    conversation = await _conversation_for(session, contact, lock=True)
    if snapshot.conversation is None or conversation is None or conversation.id != snapshot.conversation.id:
        return None
    if len(conversation.transcript or []) != seen:
        return None
    fresh_contact, campaign = (
        await session.execute(
            select(Contact, Campaign)
            .join(Campaign, Campaign.id == Contact.interview_id)
            .where(Contact.id == contact.id)
        )
    ).one()
    reason = refusal(Snapshot(fresh_contact, campaign, snapshot.question_sets, conversation))
    if reason is not None:
        raise Conflict(reason)
    return await _write(session, conversation, fresh_contact, transcript, turn, received)


async def _write(
    session: AsyncSession,
    conversation: Conversation,
    contact: Contact,
    transcript: list[dict[str, Any]],
    turn: Any,
    received: datetime,
) -> MessageOut:
    """Append the agent's turn to `transcript`; start or complete the conversation as needed."""
    now = utcnow()
    reply = _turn("agent", turn.text, now)
    full = [*transcript, reply]
    conversation.transcript = full
    conversation.transcript_text = _flatten(full)
    conversation.agent_state = turn.state
    conversation.topic_coverage = turn.coverage
    has_participant = any(t.get("speaker") == "participant" for t in full)
    if has_participant and conversation.status == "scheduled":
        conversation.status = "in_progress"
        conversation.started_at = conversation.started_at or received
        conversation.session_id = conversation.session_id or conversation.id
    if has_participant and contact.status in {"pending", "invited", "scheduled"}:
        contact.status = "in_progress"
    if turn.done:
        conversation.started_at = conversation.started_at or received
        conversation.duration_minutes = max(1, round(estimate_minutes(full)))
        await complete_conversation(session, conversation, ended_at=now)
    await session.flush()
    return MessageOut(
        conversation_id=conversation.id,
        status=conversation.status,  # type: ignore[arg-type]
        reply=Reply(text=reply["text"], at=reply["at"]),
        progress=1.0 if conversation.status == "completed" else turn.progress,
    )
