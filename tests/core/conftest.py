"""Fixtures of the platform tests: apps with custom settings, and real `harken serve` processes."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func, select

from harken.core.db import Database
from harken.core.settings import Settings
from tests.helpers import ServerProcess, free_port


@pytest.fixture
async def make_client(settings: Settings) -> AsyncIterator[Callable[..., Any]]:
    """`await make_client(rate_limit="5/minute", setup=lambda app: ...)` → (app, client)."""
    async with AsyncExitStack() as stack:

        async def factory(setup: Callable[[FastAPI], None] | None = None, **overrides: Any) -> tuple[FastAPI, Any]:
            from harken.app import create_app

            app = create_app(settings.model_copy(update=overrides), run_worker=False)
            if setup is not None:
                setup(app)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = ASGITransport(app=app, raise_app_exceptions=False)
            client = await stack.enter_async_context(AsyncClient(transport=transport, base_url="http://testserver"))
            return app, client

        yield factory


@pytest.fixture
def serve(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start real `harken serve` processes on the test database: `serve(HARKEN_X="...")`."""
    servers: list[ServerProcess] = []

    def start(count: int | None = None, **env: str) -> Any:
        """One server, or with `count` a list of servers started in parallel."""
        if count is not None:
            launched = [launch(**env) for _ in range(count)]
            return [server.wait_ready() for server in launched]
        return launch(**env).wait_ready()

    def launch(**env: str) -> ServerProcess:
        port = free_port()
        base = {
            "HARKEN_DATABASE_URL": database_url,
            "HARKEN_DATA_DIR": str(tmp_path / f"data{port}"),
            "HARKEN_RATE_LIMIT": "1000000/minute",
            "HARKEN_LOG_LEVEL": "WARNING",
            "HARKEN_REDIS_URL": "",
        }
        base.update(env)
        env_all = {k: v for k, v in {**os.environ, **base}.items() if v != ""}
        server = ServerProcess(["serve", "--no-worker", "--port", str(port)], env_all, port=port)
        # ServerProcess merges os.environ again; drop an inherited empty Redis URL explicitly.
        server.env = env_all
        servers.append(server)
        return server.start(tmp_path / f"server-{port}.log")

    yield start
    for server in servers:
        server.stop()


async def count_rows(db: Database, model: Any, **filters: Any) -> int:
    query = select(func.count()).select_from(model)
    for name, value in filters.items():
        query = query.where(getattr(model, name) == value)
    async with db.read_sessionmaker() as session:
        return (await session.execute(query)).scalar_one()
