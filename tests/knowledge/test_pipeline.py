"""The per-conversation pipeline and synthesis run as real jobs on a real worker and database."""

from __future__ import annotations

import asyncio
import contextlib
import re

from sqlalchemy import func, select, update

from harken.campaigns.models import Campaign
from harken.conversations.models import Conversation
from harken.core.jobs import Job, Worker, enqueue
from harken.knowledge.models import ConversationKnowledge, KnowledgeChunk, KnowledgeEntity, KnowledgeRelation
from harken.knowledge.pipeline import ingest_conversation
from harken.webhooks.models import Event
from tests.helpers import wait_for
from tests.knowledge.conftest import seed_campaign


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


async def _counts(db, interview_id):  # type: ignore[no-untyped-def]
    async with db.read_sessionmaker() as s:
        out = []
        for model in (KnowledgeChunk, KnowledgeEntity, KnowledgeRelation):
            out.append(
                (
                    await s.execute(select(func.count()).select_from(model).where(model.interview_id == interview_id))
                ).scalar_one()
            )
        return tuple(out)


async def _run_jobs(db, settings, kinds=None, timeout=120.0):  # type: ignore[no-untyped-def]
    worker = Worker(db, settings, concurrency=2, kinds=kinds)
    task = asyncio.create_task(worker.run())

    async def idle() -> bool:
        async with db.read_sessionmaker() as s:
            n = (
                await s.execute(select(func.count()).select_from(Job).where(Job.status.in_(["queued", "running"])))
            ).scalar_one()
            return n == 0

    try:
        await wait_for(idle, timeout=timeout, interval=0.1)
    finally:
        worker.stop()
        await task


async def test_ingest_jobs_fill_conversations_and_graph(app, client, tenant, db, settings_of):
    seeded = await seed_campaign(db, tenant.workspace_id, limit=3)
    async with db.session() as s:
        for cid in seeded.conversation_ids:
            await enqueue(
                s, "knowledge.ingest_conversation", {"conversation_id": cid}, workspace_id=tenant.workspace_id
            )
    await _run_jobs(db, settings_of)

    async with db.read_sessionmaker() as s:
        convs = (
            await s.execute(select(Conversation).where(Conversation.interview_id == seeded.interview_id))
        ).scalars()
        for conv in convs:
            assert conv.summary
            assert 1 <= conv.digital_maturity_score <= 5
            assert conv.tools_mentioned
            assert conv.extracted_pain_points
            said = _norm(" ".join(t["text"] for t in conv.transcript if t["speaker"] == "participant"))
            for pp in conv.extracted_pain_points:
                assert {"text", "severity", "process", "quote"} <= set(pp)
                assert _norm(pp["quote"]) in said
        chunks = (
            (await s.execute(select(KnowledgeChunk).where(KnowledgeChunk.interview_id == seeded.interview_id)))
            .scalars()
            .all()
        )
    assert chunks and all(c.embedding and c.dim == 256 for c in chunks)
    # sentence-bounded chunks of about 1000 characters
    assert max(len(c.text) for c in chunks) <= 1400
    assert sum(len(c.text) for c in chunks) / len(chunks) > 500

    r = await client.get(f"/v1/interviews/{seeded.interview_id}/graph/status", headers=tenant.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready"
    assert body["conversations_ingested"] == body["conversations_total"] == 3
    assert body["passages_created"] == len(chunks)
    assert body["phrases_created"] > 0 and body["keywords_created"] > 0 and body["core_chunks_count"] > 0

    # re-running every stage changes nothing
    before = await _counts(db, seeded.interview_id)
    for cid in seeded.conversation_ids:
        assert await ingest_conversation(db, settings_of, cid) == "graphed"
    assert await _counts(db, seeded.interview_id) == before


async def test_crash_mid_pipeline_resumes(app, tenant, db, settings_of):
    seeded = await seed_campaign(db, tenant.workspace_id, limit=1)
    cid = seeded.conversation_ids[0]
    assert await ingest_conversation(db, settings_of, cid) == "graphed"
    done = await _counts(db, seeded.interview_id)
    # simulate a worker that died after chunking: embeddings and later stages are missing
    async with db.session() as s:
        await s.execute(
            update(KnowledgeChunk).where(KnowledgeChunk.conversation_id == cid).values(embedding=None, dim=0)
        )
        await s.execute(
            update(ConversationKnowledge)
            .where(ConversationKnowledge.conversation_id == cid)
            .values(stage="chunked", analysis={}, sentence_embeddings=None)
        )
    assert await ingest_conversation(db, settings_of, cid) == "graphed"
    assert await _counts(db, seeded.interview_id) == done
    async with db.read_sessionmaker() as s:
        state = await s.get(ConversationKnowledge, cid)
        assert state.stage == "graphed" and state.analysis["sentences"]
        missing = (
            await s.execute(
                select(func.count())
                .select_from(KnowledgeChunk)
                .where(KnowledgeChunk.conversation_id == cid, KnowledgeChunk.embedding.is_(None))
            )
        ).scalar_one()
        assert missing == 0

    # an edited transcript re-runs every stage
    async with db.session() as s:
        conv = await s.get(Conversation, cid)
        conv.transcript = conv.transcript[:6]
    assert await ingest_conversation(db, settings_of, cid) == "graphed"
    assert (await _counts(db, seeded.interview_id))[0] < done[0]


async def test_ingest_skips_unfinished_and_missing(app, tenant, db, settings_of):
    seeded = await seed_campaign(db, tenant.workspace_id, limit=1, status="in_progress")
    assert await ingest_conversation(db, settings_of, seeded.conversation_ids[0]) == "not_completed"
    assert await ingest_conversation(db, settings_of, "00000000-0000-0000-0000-000000000000") == "missing"


async def test_synthesis_job_fires_event_and_sets_status(app, client, tenant, db, settings_of):
    seeded = await seed_campaign(db, tenant.workspace_id, limit=4)
    base = f"/v1/interviews/{seeded.interview_id}"
    r = await client.get(f"{base}/synthesis", headers=tenant.headers)
    assert r.status_code == 200 and r.json()["status"] == "pending" and r.json()["conversation_count"] == 4
    for path in ("cartography", "roadmap", "personas"):
        r = await client.get(f"{base}/{path}", headers=tenant.headers)
        assert r.status_code == 409 and r.json()["code"] == "synthesis_pending"

    async with db.session() as s:
        await enqueue(
            s, "knowledge.synthesize", {"interview_id": seeded.interview_id}, workspace_id=tenant.workspace_id
        )
    await _run_jobs(db, settings_of)

    r = await client.get(f"{base}/synthesis", headers=tenant.headers)
    body = r.json()
    assert body["status"] == "completed" and body["generated_at"].endswith("Z")
    assert body["conversation_count"] == 4 and body["summary"] and body["key_themes"] and body["recommendations"]
    async with db.read_sessionmaker() as s:
        campaign = await s.get(Campaign, seeded.interview_id)
        assert campaign.synthesis_status == "completed"
        events = (await s.execute(select(Event).where(Event.type == "synthesis.completed"))).scalars().all()
    assert [e.data for e in events] == [
        {"interview_id": seeded.interview_id, "outputs": ["cartography", "roadmap", "personas"]}
    ]


async def test_synthesis_failure_is_reported(app, client, tenant, db, settings_of, monkeypatch):
    from harken.knowledge import service

    seeded = await seed_campaign(db, tenant.workspace_id, limit=1)

    def boom(*_a, **_k):  # a crash inside the synthesis stage
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service.Synthesizer, "run", boom)
    with contextlib.suppress(RuntimeError):
        await service.run_synthesis(db, settings_of, seeded.interview_id, final_attempt=True)
    r = await client.get(f"/v1/interviews/{seeded.interview_id}/synthesis", headers=tenant.headers)
    assert r.json()["status"] == "failed"
    assert "disk on fire" in r.json()["error_message"]


async def test_synthesis_waits_for_running_ingest_jobs(app, client, tenant, db, settings_of):
    """Campaign completion enqueues synthesis while ingest jobs are still queued: synthesis reschedules
    itself until they finish, and concurrent stage runs never duplicate rows."""
    seeded = await seed_campaign(db, tenant.workspace_id, limit=4)
    async with db.session() as s:
        await enqueue(
            s, "knowledge.synthesize", {"interview_id": seeded.interview_id}, workspace_id=tenant.workspace_id
        )
        for cid in seeded.conversation_ids:
            await enqueue(
                s, "knowledge.ingest_conversation", {"conversation_id": cid}, workspace_id=tenant.workspace_id
            )
            # a duplicate delivery of the same job runs the same stages concurrently
            await enqueue(
                s, "knowledge.ingest_conversation", {"conversation_id": cid}, workspace_id=tenant.workspace_id
            )
    await _run_jobs(db, settings_of)
    async with db.read_sessionmaker() as s:
        jobs = (await s.execute(select(Job.kind, Job.status))).all()
    assert {status for _, status in jobs} == {"succeeded"}, jobs
    body = (await client.get(f"/v1/interviews/{seeded.interview_id}/synthesis", headers=tenant.headers)).json()
    assert body["status"] == "completed" and body["conversation_count"] == 4
    once = await _counts(db, seeded.interview_id)
    for cid in seeded.conversation_ids:
        await ingest_conversation(db, settings_of, cid)
    assert await _counts(db, seeded.interview_id) == once
