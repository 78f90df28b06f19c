"""Prometheus metrics of the process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import func, select

from harken.core.db import Database

REGISTRY = CollectorRegistry()

HTTP_REQUESTS = Counter("harken_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram(
    "harken_http_request_duration_seconds", "HTTP request latency", ["method", "route"], registry=REGISTRY
)
QUEUE_DEPTH = Gauge("harken_jobs", "Jobs by status", ["status"], registry=REGISTRY)
JOBS_PROCESSED = Counter("harken_jobs_processed_total", "Jobs run", ["kind", "outcome"], registry=REGISTRY)
WEBHOOK_DELIVERIES = Counter(
    "harken_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"], registry=REGISTRY
)


async def refresh_queue_depth(db: Database) -> None:
    from harken.core.jobs.models import Job

    async with db.read_sessionmaker() as session:
        rows = (await session.execute(select(Job.status, func.count()).group_by(Job.status))).all()
    for status in ("queued", "running", "succeeded", "failed", "cancelled"):
        QUEUE_DEPTH.labels(status=status).set(0)
    for status, count in rows:
        QUEUE_DEPTH.labels(status=status).set(count)
