"""The request-scoped database session dependency.

The transaction commits after the handler returns and before the response is sent (the dependency
has `scope="function"`; FastAPI's default would run the commit after the response went out, so a
client could see a 201 for a change that then failed to commit). It rolls back on any error, so a
route's changes and the events/jobs it records land together or not at all. Streaming responses
must therefore open their own short sessions (`request.app.state.db.session()`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from harken.core.db import Database, committing


def get_database(request: Request) -> Database:
    return request.app.state.db


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    factory = db.read_sessionmaker if request.method in {"GET", "HEAD"} else db.sessionmaker
    async with committing(factory) as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
DatabaseDep = Annotated[Database, Depends(get_database)]
