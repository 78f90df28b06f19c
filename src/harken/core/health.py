"""Liveness, readiness and Prometheus metrics (contract §6)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from harken.core import metrics
from harken.core.migrate import pending_heads

router = APIRouter(tags=["health"])


@router.get("/healthz", responses={200: {"description": "The process is alive"}})
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Database unreachable or migrations pending"}})
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers and every migration is applied."""
    db = request.app.state.db
    try:
        async with db.read_sessionmaker() as session:
            await session.execute(text("SELECT 1"))
        pending = await asyncio.to_thread(pending_heads, db.url)
    except Exception:
        return JSONResponse(
            {"status": "unavailable", "detail": "Database unreachable", "code": "service_unavailable"},
            status_code=503,
        )
    if pending:
        return JSONResponse(
            {"status": "unavailable", "detail": "Migrations pending", "code": "service_unavailable"},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok", "migrations": "current"})


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus text exposition: requests, latencies, queue depth, webhook deliveries."""
    await metrics.refresh_queue_depth(request.app.state.db)
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
