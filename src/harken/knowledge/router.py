"""HTTP routes of the knowledge domain (contract §3.6): synthesis outputs, graph, exports."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from harken.core.auth import ExportsAuth, InterviewsAuth
from harken.core.openapi import responses
from harken.core.session import DbSession
from harken.knowledge import exports, query_service, service
from harken.knowledge.schemas import GraphStatusOut, JSONDict, QueryBody, QueryOut, SynthesisOut

router = APIRouter(prefix="/v1/interviews/{interview_id}", tags=["knowledge"])


@router.get("/synthesis", response_model=SynthesisOut, responses=responses(404))
async def get_synthesis(interview_id: str, auth: InterviewsAuth, session: DbSession) -> JSONDict:
    """Synthesis status (pending | running | completed | failed | stale), key themes, summary and
    recommendations."""
    campaign = await service.get_campaign(session, auth, interview_id)
    return await service.synthesis_overview(session, campaign)


@router.get("/cartography", responses=responses(404, 409))
async def get_cartography(interview_id: str, auth: InterviewsAuth, session: DbSession) -> JSONDict:
    """Process map: categories, processes (mentions, contacts, consensus, tools, evidence) and
    connections. 409 `synthesis_pending` before the first synthesis."""
    campaign = await service.get_campaign(session, auth, interview_id)
    return await service.cartography(session, campaign)


@router.get("/roadmap", responses=responses(404, 409))
async def get_roadmap(interview_id: str, auth: InterviewsAuth, session: DbSession) -> JSONDict:
    """Opportunities by horizon (now, next, later) with impact, effort and evidence."""
    campaign = await service.get_campaign(session, auth, interview_id)
    return await service.roadmap(session, campaign)


@router.get("/personas", responses=responses(404, 409))
async def get_personas(
    interview_id: str,
    auth: InterviewsAuth,
    session: DbSession,
    department: str | None = Query(default=None, max_length=500),
) -> JSONDict:
    """Personas per contact and rolled up per department (`?department=` filters both)."""
    campaign = await service.get_campaign(session, auth, interview_id)
    return await service.personas(session, campaign, department)


@router.get("/graph/status", response_model=GraphStatusOut, responses=responses(404))
async def get_graph_status(interview_id: str, auth: InterviewsAuth, session: DbSession) -> JSONDict:
    """Ingestion progress and counters of the campaign's knowledge graph."""
    campaign = await service.get_campaign(session, auth, interview_id)
    return await service.graph_status(session, campaign)


def _history(body: QueryBody) -> list[dict[str, str]]:
    return [m.model_dump() for m in body.conversation_history or []]


@router.post("/graph/query", response_model=QueryOut, responses=responses(404, 409))
async def graph_query(
    interview_id: str, body: QueryBody, request: Request, auth: InterviewsAuth, session: DbSession
) -> JSONDict:
    """Ask the campaign a question: retrieval over transcript chunks and the graph, an answer,
    patterns with supporting contacts and citations, divergences and verifications.
    409 `graph_not_ready` before any conversation is ingested."""
    campaign = await service.get_campaign(session, auth, interview_id)
    version = await query_service.ensure_ready(session, campaign)
    return await query_service.answer(
        request.app.state.db,
        request.app.state.settings,
        campaign.id,
        version,
        body.query,
        top_k=body.top_k,
        anonymize=body.anonymize,
        history=_history(body),
    )


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@router.post(
    "/graph/query/stream",
    responses={**responses(404, 409), 200: {"content": {"text/event-stream": {}}, "description": "SSE stream"}},
)
async def graph_query_stream(
    interview_id: str, body: QueryBody, request: Request, auth: InterviewsAuth, session: DbSession
) -> StreamingResponse:
    """The same query as Server-Sent Events: `classifying`, `retrieving`, `synthesizing`, `answer`,
    `patterns`, `divergences`, `verification`, `done` (`error` on failure)."""
    campaign = await service.get_campaign(session, auth, interview_id)
    version = await query_service.ensure_ready(session, campaign)
    db, settings, cid = request.app.state.db, request.app.state.settings, campaign.id

    async def events() -> AsyncIterator[bytes]:
        from harken.knowledge.nlp.query import DIVERGENCE_QUERY

        kind = "divergence" if DIVERGENCE_QUERY.search(body.query) else "factual"
        yield _sse("classifying", {"query_type": kind})
        try:
            index = await query_service.get_index(db, settings, cid, version)
            yield _sse("retrieving", {"strategy": "hybrid+graph", "passages": min(body.top_k, len(index.entries))})
            yield _sse("synthesizing", {})
            result = await query_service.answer(
                db,
                settings,
                cid,
                version,
                body.query,
                top_k=body.top_k,
                anonymize=body.anonymize,
                history=_history(body),
            )
            yield _sse("answer", {"answer": result["answer"]})
            yield _sse("patterns", result["patterns"])
            yield _sse("divergences", result["divergences"])
            yield _sse("verification", result["verifications"])
            yield _sse("done", {"passages": result.get("passages", 0)})
        except Exception:  # the stream has started: report in-band
            yield _sse("error", {"detail": "Query failed", "code": "internal_error"})

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get(
    "/export/transcript/{conversation_id}",
    responses={**responses(404), 200: {"content": {"text/markdown": {}, "application/json": {}}}},
)
async def export_transcript(
    interview_id: str,
    conversation_id: str,
    auth: ExportsAuth,
    session: DbSession,
    format: Literal["markdown", "md", "json"] = Query(default="markdown"),
) -> Response:
    """One transcript as Markdown with contact metadata and timestamps (`?format=json` for JSON)."""
    campaign = await service.get_campaign(session, auth, interview_id)
    conv, contact = await exports.get_conversation(session, campaign, conversation_id)
    if format == "json":
        return Response(json.dumps(exports.transcript_json(conv, contact)), media_type="application/json")
    return Response(exports.transcript_markdown(conv, contact, campaign), media_type="text/markdown; charset=utf-8")


@router.get("/export/transcripts", responses={**responses(404), 200: {"content": {"application/zip": {}}}})
async def export_transcripts(interview_id: str, auth: ExportsAuth, session: DbSession) -> Response:
    """A ZIP with one Markdown transcript per completed conversation, named after the contact."""
    campaign = await service.get_campaign(session, auth, interview_id)
    data = await exports.transcripts_zip(session, campaign)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="transcripts-{campaign.id}.zip"'},
    )


@router.get("/export/summary", responses={**responses(404, 409), 200: {"content": {"text/markdown": {}}}})
async def export_summary(interview_id: str, auth: ExportsAuth, session: DbSession) -> Response:
    """The campaign summary (themes, recommendations) as Markdown; 409 `synthesis_pending` before synthesis."""
    campaign = await service.get_campaign(session, auth, interview_id)
    return Response(await exports.summary_markdown(session, campaign), media_type="text/markdown; charset=utf-8")


@router.get("/export/report", responses={**responses(404, 409), 200: {"content": {"text/markdown": {}}}})
async def export_report(interview_id: str, auth: ExportsAuth, session: DbSession) -> Response:
    """The full report as Markdown: summary, process map, roadmap and personas, each with quotes."""
    campaign = await service.get_campaign(session, auth, interview_id)
    return Response(await exports.report_markdown(session, campaign), media_type="text/markdown; charset=utf-8")
