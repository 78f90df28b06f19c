"""The per-conversation pipeline: chunk → embed → extract → graph, each stage idempotent.

A stage's output is written with the stage marker in one short transaction; a retry (or a crash and
a new worker) resumes after the last finished stage as long as the transcript is unchanged
(`content_hash`). CPU work runs in a thread, never inside an open transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from harken.campaigns.models import Campaign, Contact
from harken.conversations.models import Conversation
from harken.core.db import Database, new_id, utcnow
from harken.core.settings import Settings
from harken.knowledge.models import (
    ConversationKnowledge,
    GraphState,
    KnowledgeChunk,
    KnowledgeEntity,
    KnowledgeRelation,
)
from harken.knowledge.nlp.embeddings import embedder_from_settings, from_blob, to_blob
from harken.knowledge.nlp.extract import ConversationAnalysis, analyze_conversation
from harken.knowledge.nlp.text import chunk_turns, normalize

logger = logging.getLogger("harken.knowledge")

STAGES = ("pending", "chunked", "embedded", "extracted", "graphed")


def transcript_hash(turns: list[dict[str, Any]]) -> str:
    payload = json.dumps([[t.get("speaker"), t.get("text")] for t in turns], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    return pg_insert if session.bind is not None and session.bind.dialect.name == "postgresql" else sqlite_insert


async def _load(db: Database, conversation_id: str) -> tuple[Conversation, Contact, Campaign] | None:
    async with db.read_sessionmaker() as session:
        row = (
            await session.execute(
                select(Conversation, Contact, Campaign)
                .join(Contact, Contact.id == Conversation.contact_id)
                .join(Campaign, Campaign.id == Conversation.interview_id)
                .where(Conversation.id == conversation_id)
            )
        ).one_or_none()
        return None if row is None else (row[0], row[1], row[2])


async def _campaign_names(db: Database, interview_id: str) -> set[str]:
    async with db.read_sessionmaker() as session:
        names = (await session.execute(select(Contact.name).where(Contact.interview_id == interview_id))).scalars()
        return {part for name in names for part in (name or "").split() if len(part) >= 2}


async def ingest_conversation(db: Database, settings: Settings, conversation_id: str) -> str:
    """Run the missing stages for one conversation. Returns the final stage (or a skip reason)."""
    loaded = await _load(db, conversation_id)
    if loaded is None:
        return "missing"
    conv, contact, _campaign = loaded
    if conv.status != "completed" or not conv.transcript:
        return "not_completed"
    turns = list(conv.transcript)
    digest = transcript_hash(turns)
    async with db.session() as session:
        state = await session.get(ConversationKnowledge, conversation_id)
        if state is None or state.content_hash != digest:
            if state is None:
                state = ConversationKnowledge(
                    conversation_id=conversation_id,
                    workspace_id=conv.workspace_id,
                    interview_id=conv.interview_id,
                    contact_id=contact.id,
                    content_hash=digest,
                    stage="pending",
                )
                session.add(state)
            else:
                state.content_hash, state.stage, state.analysis = digest, "pending", {}
                state.sentence_embeddings, state.error_message = None, None
            # concurrent ingest jobs of one campaign may both create the state: insert-if-absent
            await session.execute(
                _insert(session)(GraphState)
                .values(
                    interview_id=conv.interview_id,
                    workspace_id=conv.workspace_id,
                    status="building",
                    started_at=utcnow(),
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["interview_id"])
            )
            graph = await session.get(GraphState, conv.interview_id)
            if graph is not None and graph.status != "building":
                graph.status, graph.started_at, graph.completed_at = "building", graph.started_at or utcnow(), None
        stage = state.stage

    # 1. chunk
    if STAGES.index(stage) < STAGES.index("chunked"):
        chunks = await asyncio.to_thread(chunk_turns, turns)
        async with db.session() as session:
            await session.execute(delete(KnowledgeChunk).where(KnowledgeChunk.conversation_id == conversation_id))
            # insert-if-absent: a concurrent run of the same stage writes the same rows
            rows = [
                {
                    "id": new_id(),
                    "workspace_id": conv.workspace_id,
                    "interview_id": conv.interview_id,
                    "conversation_id": conversation_id,
                    "contact_id": contact.id,
                    "ordinal": ch.ordinal,
                    "text": ch.text,
                    "dim": 0,
                }
                for ch in chunks
            ]
            if rows:
                await session.execute(
                    _insert(session)(KnowledgeChunk).on_conflict_do_nothing(
                        index_elements=["conversation_id", "ordinal"]
                    ),
                    rows,
                )
            await _set_stage(session, conversation_id, "chunked")
        stage = "chunked"

    embedder = await asyncio.to_thread(embedder_from_settings, settings)
    # 2. extract (analysis is deterministic; computed before embedding the sentences it defines)
    names = await _campaign_names(db, conv.interview_id)
    analysis: ConversationAnalysis | None = None
    if STAGES.index(stage) < STAGES.index("embedded"):
        analysis = await asyncio.to_thread(
            analyze_conversation, conversation_id, contact.id, turns, exclude_names=names, contact_label=contact.name
        )
        async with db.read_sessionmaker() as session:
            rows = (
                await session.execute(
                    select(KnowledgeChunk.ordinal, KnowledgeChunk.text)
                    .where(KnowledgeChunk.conversation_id == conversation_id)
                    .order_by(KnowledgeChunk.ordinal)
                )
            ).all()
        chunk_vecs = await asyncio.to_thread(embedder.embed, [r.text for r in rows])
        sent_vecs = await asyncio.to_thread(embedder.embed, [s.text for s in analysis.sentences])
        async with db.session() as session:
            for (ordinal, _text), vec in zip(rows, chunk_vecs, strict=True):
                await session.execute(
                    update(KnowledgeChunk)
                    .where(KnowledgeChunk.conversation_id == conversation_id, KnowledgeChunk.ordinal == ordinal)
                    .values(embedding=to_blob(vec), dim=int(vec.shape[0]))
                )
            await session.execute(
                update(ConversationKnowledge)
                .where(ConversationKnowledge.conversation_id == conversation_id)
                .values(
                    sentence_embeddings=to_blob(sent_vecs) if len(sent_vecs) else b"",
                    dim=int(sent_vecs.shape[1]) if len(sent_vecs) else 0,
                    embedding_model=embedder.name,
                    stage="embedded",
                )
            )
        stage = "embedded"

    if STAGES.index(stage) < STAGES.index("extracted"):
        if analysis is None:
            analysis = await asyncio.to_thread(
                analyze_conversation,
                conversation_id,
                contact.id,
                turns,
                exclude_names=names,
                contact_label=contact.name,
            )
        async with db.session() as session:
            await session.execute(
                update(ConversationKnowledge)
                .where(ConversationKnowledge.conversation_id == conversation_id)
                .values(analysis=analysis.to_json(), stage="extracted")
            )
            values: dict[str, Any] = {
                "summary": analysis.summary,
                "extracted_pain_points": [
                    {"text": p["text"], "severity": p["severity"], "process": p.get("process"), "quote": p["quote"]}
                    for p in analysis.pain_points
                ],
                "tools_mentioned": sorted(analysis.tools),
                "digital_maturity_score": analysis.digital_maturity_score,
            }
            if not conv.processes_touched:
                values["processes_touched"] = [k for k, _ in analysis.keyphrases[:6]]
            await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(**values))
        stage = "extracted"

    if STAGES.index(stage) < STAGES.index("graphed"):
        if analysis is None:
            async with db.read_sessionmaker() as session:
                st = await session.get(ConversationKnowledge, conversation_id)
                analysis = ConversationAnalysis.from_json(st.analysis)  # type: ignore[union-attr]
        await _upsert_graph(db, conv, contact, analysis)
        stage = "graphed"
    await refresh_graph_state(db, conv.interview_id)
    return stage


async def _set_stage(session: AsyncSession, conversation_id: str, stage: str) -> None:
    await session.execute(
        update(ConversationKnowledge)
        .where(ConversationKnowledge.conversation_id == conversation_id)
        .values(stage=stage)
    )


async def _upsert_graph(db: Database, conv: Conversation, contact: Contact, a: ConversationAnalysis) -> None:
    """Entities by stable key (insert-if-absent) and this conversation's relations (replaced)."""
    person_key = f"contact:{contact.id}"
    entities: dict[tuple[str, str], str] = {("person", person_key): contact.name}
    relations: list[tuple[str, str, str, int, str]] = []
    for tool, idxs in a.tools.items():
        key = normalize(tool)
        entities[("tool", key)] = tool
        for i in idxs[:5]:
            s = a.sentences[i]
            relations.append(("uses", person_key, key, s.chunk, s.text))
    for pp in a.pain_points:
        s = a.sentences[pp["sentence"]]
        key = normalize(pp["text"])[:255]
        entities[("pain_point", key)] = pp["text"][:500]
        relations.append(("frustrated_by", person_key, key, s.chunk, pp["quote"]))
    for run in a.motivations:
        s = a.sentences[run[0]]
        key = normalize(s.text)[:255]
        entities[("motivation", key)] = s.text[:500]
        relations.append(("motivated_by", person_key, key, s.chunk, s.text))
    for phrase, _score in a.keyphrases:
        key = normalize(phrase)
        entities[("keyword", key)] = phrase
        s = next((s for s in a.sentences if phrase in s.text.lower()), None)
        relations.append(("mentions", person_key, key, s.chunk if s else 0, s.text if s else None))
    async with db.session() as session:
        ins = _insert(session)
        for (kind, key), name in entities.items():
            await session.execute(
                ins(KnowledgeEntity)
                .values(
                    id=new_id(),
                    workspace_id=conv.workspace_id,
                    interview_id=conv.interview_id,
                    kind=kind,
                    key=key,
                    name=name,
                    data={},
                )
                .on_conflict_do_nothing(index_elements=["interview_id", "kind", "key"])
            )
        await session.execute(delete(KnowledgeRelation).where(KnowledgeRelation.conversation_id == conv.id))
        seen = set()
        rows = []
        for kind, src, dst, chunk, quote in relations:
            if (kind, src, dst, chunk) in seen:
                continue
            seen.add((kind, src, dst, chunk))
            rows.append(
                {
                    "id": new_id(),
                    "workspace_id": conv.workspace_id,
                    "interview_id": conv.interview_id,
                    "conversation_id": conv.id,
                    "kind": kind,
                    "source_key": src,
                    "target_key": dst,
                    "chunk": chunk,
                    "quote": quote,
                }
            )
        if rows:
            await session.execute(
                ins(KnowledgeRelation).on_conflict_do_nothing(
                    index_elements=["conversation_id", "kind", "source_key", "target_key", "chunk"]
                ),
                rows,
            )
        await _set_stage(session, conv.id, "graphed")


async def refresh_graph_state(db: Database, interview_id: str) -> None:
    async with db.session() as session:
        total = await _completed_count(session, interview_id)
        done = (
            await session.execute(
                select(func.count())
                .select_from(ConversationKnowledge)
                .where(ConversationKnowledge.interview_id == interview_id, ConversationKnowledge.stage == "graphed")
            )
        ).scalar_one()
        graph = await session.get(GraphState, interview_id)
        if graph is None:
            return
        if done >= total and total > 0:
            graph.status, graph.completed_at, graph.error_message = "ready", utcnow(), None
        else:
            graph.status = "building"


async def _completed_count(session: AsyncSession, interview_id: str) -> int:
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(Conversation)
                .where(Conversation.interview_id == interview_id, Conversation.status == "completed")
            )
        ).scalar_one()
    )


def load_embeddings(state: ConversationKnowledge) -> np.ndarray:
    if not state.sentence_embeddings or not state.dim:
        return np.zeros((0, max(1, state.dim)), dtype=np.float32)
    return from_blob(state.sentence_embeddings, state.dim)
