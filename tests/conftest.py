"""Shared fixtures: a real database per test session (SQLite file, or a throwaway PostgreSQL
database when HARKEN_TEST_DATABASE_URL is set), migrated with Alembic; an app with its lifespan;
authenticated workspaces."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import create_engine, text

from harken.core.migrate import upgrade
from harken.core.settings import Settings
from tests.helpers import Tenant, create_tenant, wipe_database

PG_URL = os.environ.get("HARKEN_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("HARKEN_TEST_REDIS_URL")


def _admin_url(url: str) -> str:
    return url.replace("+asyncpg", "+psycopg")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for this test session."""
    if PG_URL:
        name = f"harken_t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        base = PG_URL.rsplit("/", 1)[0]
        url = f"{base}/{name}"
        upgrade(url)
        yield url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("db") / "harken.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        yield url


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(database_url: str, data_dir: Path) -> Iterator[Settings]:
    yield Settings(
        database_url=database_url,
        data_dir=data_dir,
        run_worker_in_process=False,
        rate_limit="100000/minute",
        worker_poll_interval=0.05,
        job_lease_seconds=5,
        _env_file=None,
    )
    wipe_database(database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[object]:
    from harken.app import create_app

    application = create_app(settings, run_worker=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: object) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def tenant(app: object) -> Tenant:
    """A workspace with a `*` key."""
    return await create_tenant(app.state.db, name="Tenant A")  # type: ignore[attr-defined]


@pytest.fixture
async def other_tenant(app: object) -> Tenant:
    """A second workspace, to prove isolation."""
    return await create_tenant(app.state.db, name="Tenant B")  # type: ignore[attr-defined]
