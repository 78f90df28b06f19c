"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import harken.models  # noqa: F401 - every table registered
from harken import __version__
from harken.campaigns.router import router as campaigns_router
from harken.conversations.respondent_router import router as respondent_router
from harken.conversations.router import router as conversations_router
from harken.core.authcache import AuthCache
from harken.core.db import Database
from harken.core.errors import install_error_handlers
from harken.core.health import router as health_router
from harken.core.idempotency import IdempotencyMiddleware
from harken.core.jobs import Worker
from harken.core.middleware import BodySizeLimitMiddleware, ContentTypeMiddleware, RequestContextMiddleware
from harken.core.openapi import install_openapi
from harken.core.ratelimit import RateLimiter
from harken.core.runtime import freeze_startup_heap
from harken.core.settings import Settings, get_settings
from harken.knowledge.router import router as knowledge_router
from harken.surveys.router import router as surveys_router
from harken.web.router import router as web_router
from harken.webhooks.router import router as webhooks_router
from harken.workspaces.router import router as workspaces_router

ROUTERS = (
    health_router,
    workspaces_router,
    campaigns_router,
    conversations_router,
    respondent_router,
    knowledge_router,
    surveys_router,
    webhooks_router,
    web_router,
)


def create_app(settings: Settings | None = None, *, run_worker: bool | None = None) -> FastAPI:
    settings = settings or get_settings()
    start_worker = settings.run_worker_in_process if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.resolved_database_url)
        app.state.db = db
        app.state.settings = settings
        app.state.rate_limiter = RateLimiter(settings)
        app.state.auth_cache = AuthCache(settings.resolved_database_url, settings.auth_cache_seconds)
        app.state.auth_cache.start()
        worker_task: asyncio.Task[None] | None = None
        worker: Worker | None = None
        if start_worker:
            worker = Worker(db, settings)
            worker_task = asyncio.create_task(worker.run())
        freeze_startup_heap()  # everything is imported and loaded by now
        try:
            yield
        finally:
            if worker is not None and worker_task is not None:
                worker.stop()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(worker_task, timeout=settings.job_shutdown_grace_seconds + 10)
            await app.state.auth_cache.close()
            await db.dispose()

    app = FastAPI(
        title="Harken API",
        version=__version__,
        description="Interview campaigns, synthesis, survey programming and signed webhooks.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_openapi(app)
    # Added innermost first: RequestContext → BodySizeLimit → ContentType → Idempotency → routes.
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(ContentTypeMiddleware)
    app.add_middleware(
        BodySizeLimitMiddleware,
        json_limit=settings.max_json_body_bytes,
        upload_limit=settings.max_upload_bytes,
    )
    app.add_middleware(RequestContextMiddleware)
    return app
