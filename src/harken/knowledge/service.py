"""Knowledge rules and transactions: synthesis runs, reads of its outputs, graph status."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from harken.campaigns.models import Campaign, Contact, QuestionSet
from harken.conversations.models import Conversation
from harken.core.auth import Principal
from harken.core.db import Database, isoformat, utcnow
from harken.core.errors import NotFound, SynthesisPending
from harken.core.jobs import Job, JobStatus, Reschedule
from harken.core.settings import Settings
from harken.knowledge import llm
from harken.knowledge.models import (
    ConversationKnowledge,
    GraphState,
    KnowledgeChunk,
    KnowledgeEntity,
    KnowledgeRelation,
    SynthesisResult,
)
from harken.knowledge.nlp.embeddings import embedder_from_settings
from harken.knowledge.nlp.extract import ConversationAnalysis
from harken.knowledge.nlp.synthesis import ContactInfo, ConversationInput, Synthesizer
from harken.knowledge.pipeline import ingest_conversation, load_embeddings, transcript_hash
from harken.webhooks.events import emit

logger = logging.getLogger("harken.knowledge")


async def get_campaign(session: AsyncSession, principal: Principal, interview_id: str) -> Campaign:
    campaign = await session.get(Campaign, interview_id)
    if campaign is None or campaign.workspace_id != principal.workspace_id:
        raise NotFound("Interview not found")
    return campaign


async def campaign_input(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    sets = (
        (
            await session.execute(
                select(QuestionSet)
                .where(QuestionSet.interview_id == campaign.id)
                .order_by(QuestionSet.sort_order, QuestionSet.created_at)
            )
        )
        .scalars()
        .all()
    )
    topics = []
    for qs in sets:
        meta = qs.topic_metadata or {}
        topics.append(
            {
                "name": qs.name,
                "description": qs.description or meta.get("goal"),
                "sub_topics": [s for s in meta.get("sub_topics") or [] if isinstance(s, str)],
                "questions": [q.get("question_text", "") for q in qs.questions or [] if isinstance(q, dict)],
            }
        )
    return {"id": campaign.id, "name": campaign.name, "goal": campaign.goal, "topics": topics}


async def load_inputs(db: Database, interview_id: str) -> list[ConversationInput]:
    """Every completed, ingested conversation of a campaign as synthesis input."""
    async with db.read_sessionmaker() as session:
        rows = (
            await session.execute(
                select(Conversation, Contact, ConversationKnowledge)
                .join(Contact, Contact.id == Conversation.contact_id)
                .join(ConversationKnowledge, ConversationKnowledge.conversation_id == Conversation.id)
                .where(
                    Conversation.interview_id == interview_id,
                    Conversation.status == "completed",
                    ConversationKnowledge.stage == "graphed",
                )
            )
        ).all()
    inputs = []
    for conv, contact, state in rows:
        if state.content_hash != transcript_hash(list(conv.transcript or [])):
            continue
        analysis = ConversationAnalysis.from_json(state.analysis)
        info = ContactInfo(contact.id, contact.name, contact.job_title, contact.department, contact.seniority_level)
        inputs.append(ConversationInput(conv.id, info, analysis, load_embeddings(state), list(conv.transcript)))
    return inputs


async def ensure_ingested(db: Database, settings: Settings, interview_id: str, *, wait_for_jobs: bool = False) -> None:
    """Run the pipeline for any completed conversation that is missing or stale."""
    async with db.read_sessionmaker() as session:
        rows = (
            await session.execute(
                select(
                    Conversation.id,
                    Conversation.transcript,
                    ConversationKnowledge.stage,
                    ConversationKnowledge.content_hash,
                )
                .outerjoin(ConversationKnowledge, ConversationKnowledge.conversation_id == Conversation.id)
                .where(Conversation.interview_id == interview_id, Conversation.status == "completed")
            )
        ).all()
    missing = [
        cid
        for cid, transcript, stage, digest in rows
        if stage != "graphed" or digest != transcript_hash(list(transcript or []))
    ]
    if not missing:
        return
    # conversations whose own ingest job is queued or running are left to it: synthesis waits
    async with db.read_sessionmaker() as session:
        pending = (
            (
                await session.execute(
                    select(Job.payload).where(
                        Job.kind == "knowledge.ingest_conversation",
                        Job.status.in_([JobStatus.queued.value, JobStatus.running.value]),
                    )
                )
            )
            .scalars()
            .all()
        )
    in_flight = {str(p.get("conversation_id")) for p in pending if isinstance(p, dict)}
    if wait_for_jobs and any(cid in in_flight for cid in missing):
        raise Reschedule(utcnow() + timedelta(seconds=2))
    for cid in missing:
        await ingest_conversation(db, settings, cid)


async def run_synthesis(
    db: Database, settings: Settings, interview_id: str, *, final_attempt: bool = True, wait_for_jobs: bool = False
) -> str:
    """The synthesis job body: pending → running → completed (or failed), then the event."""
    async with db.session() as session:
        campaign = await session.get(Campaign, interview_id)
        if campaign is None:
            return "missing"
        result = await session.get(SynthesisResult, interview_id)
        if result is None:
            result = SynthesisResult(interview_id=interview_id, workspace_id=campaign.workspace_id)
            session.add(result)
        result.status, result.error_message = "running", None
        campaign.synthesis_status = "running"
        workspace_id = campaign.workspace_id
        cinput = await campaign_input(session, campaign)
    try:
        await ensure_ingested(db, settings, interview_id, wait_for_jobs=wait_for_jobs)
        inputs = await load_inputs(db, interview_id)
        embedder = await asyncio.to_thread(embedder_from_settings, settings)
        synth = Synthesizer(cinput, inputs, embedder.embed)
        outputs = await asyncio.to_thread(synth.run)
        assignments = outputs.pop("assignments", {})
        if llm.enabled(settings):
            await llm.improve_synthesis(settings, outputs)
    except Reschedule:
        raise
    except Exception as exc:
        logger.exception("synthesis of %s failed", interview_id)
        if final_attempt:
            async with db.session() as session:
                result = await session.get(SynthesisResult, interview_id)
                campaign = await session.get(Campaign, interview_id)
                if result is not None:
                    result.status, result.error_message = "failed", f"{type(exc).__name__}: {exc}"[:2000]
                if campaign is not None:
                    campaign.synthesis_status = "failed"
        raise
    now = utcnow()
    async with db.session() as session:
        campaign = await session.get(Campaign, interview_id)
        result = await session.get(SynthesisResult, interview_id)
        if campaign is None or result is None:
            return "missing"
        result.status = "completed"
        result.generated_at = now
        result.conversation_count = outputs["conversation_count"]
        result.summary = outputs["summary"]
        result.key_themes = outputs["key_themes"]
        result.recommendations = outputs["recommendations"]
        result.cartography = outputs["cartography"]
        result.roadmap = outputs["roadmap"]
        result.personas = outputs["personas"]
        result.assignments = assignments
        result.error_message = None
        campaign.synthesis_status = "completed"
        # processes join the graph as entities (stable key = category + name)
        from harken.knowledge.pipeline import _insert

        ins = _insert(session)
        for p in outputs["cartography"]["processes"]:
            await session.execute(
                ins(KnowledgeEntity)
                .values(
                    id=p["id"],
                    workspace_id=workspace_id,
                    interview_id=interview_id,
                    kind="process",
                    key=p["id"],
                    name=p["name"][:500],
                    data={"category_id": p["category_id"]},
                )
                .on_conflict_do_nothing(index_elements=["interview_id", "kind", "key"])
            )
        await emit(
            session,
            workspace_id=workspace_id,
            event_type="synthesis.completed",
            data={"interview_id": interview_id, "outputs": ["cartography", "roadmap", "personas"]},
        )
    return "completed"


# -- reads ------------------------------------------------------------------------------------


async def synthesis_overview(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    result = await session.get(SynthesisResult, campaign.id)
    status = campaign.synthesis_status or "pending"
    if result is None:
        count = (
            await session.execute(
                select(func.count())
                .select_from(Conversation)
                .where(Conversation.interview_id == campaign.id, Conversation.status == "completed")
            )
        ).scalar_one()
        return {
            "status": status,
            "generated_at": None,
            "conversation_count": int(count),
            "key_themes": [],
            "summary": None,
            "recommendations": [],
            "error_message": None,
        }
    return {
        "status": status,
        "generated_at": isoformat(result.generated_at),
        "conversation_count": result.conversation_count,
        "key_themes": result.key_themes or [],
        "summary": result.summary,
        "recommendations": result.recommendations or [],
        "error_message": result.error_message if status == "failed" else None,
    }


async def completed_result(session: AsyncSession, campaign: Campaign) -> SynthesisResult:
    """The stored synthesis, or 409 `synthesis_pending` when there is none yet. A stale result (topics
    edited since) is still served: it is the latest synthesis and says so in `/synthesis`."""
    result = await session.get(SynthesisResult, campaign.id)
    if result is None or result.generated_at is None:
        raise SynthesisPending()
    return result


def _head(campaign: Campaign, result: SynthesisResult) -> dict[str, Any]:
    return {
        "interview_id": campaign.id,
        "generated_at": isoformat(result.generated_at),
        "conversation_count": result.conversation_count,
    }


async def cartography(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    result = await completed_result(session, campaign)
    return {**_head(campaign, result), **(result.cartography or {})}


async def roadmap(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    result = await completed_result(session, campaign)
    head = _head(campaign, result)
    head.pop("conversation_count")
    return {**head, **(result.roadmap or {})}


async def personas(session: AsyncSession, campaign: Campaign, department: str | None) -> dict[str, Any]:
    result = await completed_result(session, campaign)
    head = _head(campaign, result)
    head.pop("conversation_count")
    data = result.personas or {}
    people = data.get("personas", [])
    depts = data.get("departments", [])
    if department:
        want = department.strip().lower()
        people = [p for p in people if (p.get("department") or "").lower() == want]
        depts = [d for d in depts if (d.get("department") or "").lower() == want]
    return {**head, "personas": people, "departments": depts}


async def graph_status(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    state = await session.get(GraphState, campaign.id)
    total = (
        await session.execute(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.interview_id == campaign.id, Conversation.status == "completed")
        )
    ).scalar_one()
    ingested = (
        await session.execute(
            select(func.count())
            .select_from(ConversationKnowledge)
            .where(ConversationKnowledge.interview_id == campaign.id, ConversationKnowledge.stage == "graphed")
        )
    ).scalar_one()
    passages = (
        await session.execute(
            select(func.count()).select_from(KnowledgeChunk).where(KnowledgeChunk.interview_id == campaign.id)
        )
    ).scalar_one()
    kinds = dict(
        (
            await session.execute(
                select(KnowledgeEntity.kind, func.count())
                .where(KnowledgeEntity.interview_id == campaign.id)
                .group_by(KnowledgeEntity.kind)
            )
        ).all()
    )
    core = (
        await session.execute(
            select(
                func.count(
                    func.distinct(KnowledgeRelation.conversation_id + ":" + func.cast(KnowledgeRelation.chunk, _text()))
                )
            ).where(KnowledgeRelation.interview_id == campaign.id)
        )
    ).scalar_one()
    status = state.status if state is not None else "pending"
    if status == "ready" and ingested < total:
        status = "building"
    return {
        "status": status,
        "conversations_ingested": int(ingested),
        "conversations_total": int(total),
        "passages_created": int(passages),
        "phrases_created": int(sum(v for k, v in kinds.items() if k != "keyword")),
        "keywords_created": int(kinds.get("keyword", 0)),
        "core_chunks_count": int(core),
        "error_message": state.error_message if state is not None else None,
        "started_at": isoformat(state.started_at) if state is not None else None,
        "completed_at": isoformat(state.completed_at) if state is not None else None,
    }


def _text():  # type: ignore[no-untyped-def]
    from sqlalchemy import String

    return String()
