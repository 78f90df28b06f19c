"""`one_of`: a set of any size as one bound parameter, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import func, insert, select, update

from harken.core.bulk import one_of
from harken.core.db import new_id
from harken.webhooks.models import Event


async def test_more_values_than_sqlite_allows_variables(app: Any, tenant: Any) -> None:
    db = app.state.db
    postgres = not db.is_sqlite
    ids = [new_id() for _ in range(40_000)]
    rows = [{"id": i, "workspace_id": tenant.workspace_id, "type": "t", "data": {}} for i in ids[::2]]
    async with db.session() as session:
        await session.execute(insert(Event.__table__), rows)
    async with db.session() as session:
        if not postgres:
            # SQLite's own default (Debian builds raise it to 250,000): 32,766 placeholders at most.
            raw = await (await session.connection()).get_raw_connection()
            sqlite = raw.driver_connection._conn  # aiosqlite's sqlite3.Connection
            sqlite.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)
        changed = await session.execute(
            update(Event.__table__).where(one_of(Event.id, ids, postgres=postgres)).values(type="u")
        )
        assert changed.rowcount == 20_000
        found = await session.execute(
            select(func.count()).select_from(Event).where(one_of(Event.id, ids[:10], postgres=postgres))
        )
        assert found.scalar_one() == 5  # only the ids that exist, each once
        none = await session.execute(select(Event.id).where(one_of(Event.id, [], postgres=postgres)))
        assert none.all() == []
