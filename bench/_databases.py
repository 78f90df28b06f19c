"""Throwaway PostgreSQL databases for benchmarks: each run gets its own, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import create_engine, text

from harken.core.db import sync_url
from harken.core.migrate import upgrade


def throwaway_postgres(admin_url: str, *, migrate: bool = True) -> tuple[str, Callable[[], None]]:
    """Create a uniquely named database on `admin_url`'s server (migrated unless `migrate` is
    False, e.g. when a `harken serve` under test migrates it); return its URL and a `drop()`."""
    name = f"harken_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(sync_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{admin_url.rsplit('/', 1)[0]}/{name}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    if migrate:
        try:
            upgrade(url)
        except BaseException:
            drop()
            raise
    return url, drop
