"""Graph queries over a campaign: a cached in-memory index per campaign (rebuilt when the
ingested conversations or the synthesis change), an extractive answer, optional LLM wording."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from harken.campaigns.models import Campaign
from harken.core.db import Database
from harken.core.errors import GraphNotReady
from harken.core.settings import Settings
from harken.knowledge import llm
from harken.knowledge.models import ConversationKnowledge, SynthesisResult
from harken.knowledge.nlp.embeddings import embedder_from_settings
from harken.knowledge.nlp.query import QueryIndex
from harken.knowledge.service import campaign_input, load_inputs

_CACHE: OrderedDict[tuple[str, str], QueryIndex] = OrderedDict()
_LOCK = threading.Lock()
_MAX = 8


async def _version(session: AsyncSession, interview_id: str) -> tuple[int, str]:
    row = (
        await session.execute(
            select(func.count(), func.max(ConversationKnowledge.updated_at)).where(
                ConversationKnowledge.interview_id == interview_id, ConversationKnowledge.stage == "graphed"
            )
        )
    ).one()
    # only the timestamp: the stored outputs are large and not needed to check freshness
    generated = (
        await session.execute(select(SynthesisResult.generated_at).where(SynthesisResult.interview_id == interview_id))
    ).scalar_one_or_none()
    gen = generated.isoformat() if generated else "-"
    return int(row[0] or 0), f"{row[0]}|{row[1]}|{gen}"


async def ensure_ready(session: AsyncSession, campaign: Campaign) -> str:
    count, version = await _version(session, campaign.id)
    if count == 0:
        raise GraphNotReady()
    return version


async def get_index(db: Database, settings: Settings, interview_id: str, version: str) -> QueryIndex:
    key = (interview_id, version)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    inputs = await load_inputs(db, interview_id)
    async with db.read_sessionmaker() as session:
        campaign = await session.get(Campaign, interview_id)
        topics = (await campaign_input(session, campaign))["topics"] if campaign is not None else []
        synth = await session.get(SynthesisResult, interview_id)
        synthesis: dict[str, Any] = {}
        if synth is not None and synth.generated_at is not None:
            synthesis = {
                "cartography": synth.cartography,
                "personas": synth.personas,
                "_assign": synth.assignments or {},
            }
    embedder = await asyncio.to_thread(embedder_from_settings, settings)
    index = await asyncio.to_thread(QueryIndex.build, inputs, synthesis, embedder.embed, topics)
    with _LOCK:
        for old in [k for k in _CACHE if k[0] == interview_id]:
            _CACHE.pop(old, None)
        _CACHE[key] = index
        while len(_CACHE) > _MAX:
            _CACHE.popitem(last=False)
    return index


async def answer(
    db: Database,
    settings: Settings,
    interview_id: str,
    version: str,
    query: str,
    *,
    top_k: int = 12,
    anonymize: bool = False,
    history: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    index = await get_index(db, settings, interview_id, version)
    result = await asyncio.to_thread(index.answer, query, top_k=top_k, anonymize=anonymize, history=history)
    if llm.enabled(settings):
        result = await llm.rewrite_answer(settings, query, result)
        if anonymize:
            result = index._anonymize(result, index._aliases())
    return result
