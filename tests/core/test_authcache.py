"""The API-key lookup cache: it serves repeated requests without the database, and revocation
stays immediate whichever process revokes (core/authcache.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

from sqlalchemy import update

from harken.workspaces.models import ApiKey
from tests.helpers import wait_for


async def _warm(app, client, tenant) -> None:
    cache = app.state.auth_cache
    await client.get("/v1/api-keys/current", headers=tenant.headers)
    if app.state.db.url.startswith("postgresql"):
        await wait_for(lambda: cache._pg_live, timeout=10)
    for _ in range(2):
        assert (await client.get("/v1/api-keys/current", headers=tenant.headers)).status_code == 200
    assert cache._entries  # the lookup is cached now


async def _rename_behind_the_apps_back(app, key_id: str, name: str) -> None:
    async with app.state.db.session() as session:
        await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(name=name))


async def test_repeated_requests_are_served_from_the_cache(app, client, tenant):
    await _warm(app, client, tenant)
    await _rename_behind_the_apps_back(app, tenant.key_id, "renamed")
    cached = await client.get("/v1/api-keys/current", headers=tenant.headers)
    assert cached.json()["name"] == "test"  # no signal for raw SQL: the cached lookup answered


async def test_revocation_through_the_api_is_immediate(app, client, tenant):
    created = await client.post("/v1/api-keys", headers=tenant.headers, json={"name": "short-lived"})
    headers = {"X-API-Key": created.json()["key"]}
    await _warm(app, client, type(tenant)(tenant.workspace_id, created.json()["key"], created.json()["id"], headers))
    assert (await client.delete(f"/v1/api-keys/{created.json()['id']}", headers=tenant.headers)).status_code == 204
    assert (await client.get("/v1/api-keys/current", headers=headers)).status_code == 401


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARKEN_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "harken", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def test_revocation_from_another_process_is_immediate(app, client, tenant, database_url):
    await _warm(app, client, tenant)
    result = await asyncio.to_thread(
        _cli, database_url, "keys", "revoke", tenant.key_id, "--workspace", tenant.workspace_id
    )
    assert result.returncode == 0, result.stderr
    revoked_at = time.monotonic()
    if database_url.startswith("sqlite"):
        # The CLI rewrote the epoch file after its commit: the very next request sees it.
        assert (await client.get("/v1/api-keys/current", headers=tenant.headers)).status_code == 401
    else:
        # PostgreSQL: the NOTIFY is delivered on commit; allow its delivery latency.
        async def rejected() -> bool:
            return (await client.get("/v1/api-keys/current", headers=tenant.headers)).status_code == 401

        await wait_for(rejected, timeout=2, interval=0.005)
        assert time.monotonic() - revoked_at < 2


async def test_rate_limit_change_from_the_cli_applies_at_once(app, client, tenant, database_url):
    await _warm(app, client, tenant)
    result = await asyncio.to_thread(_cli, database_url, "workspaces", "set-rate-limit", tenant.workspace_id, "7/hour")

    assert result.returncode == 0, result.stderr

    async def seven() -> bool:
        response = await client.get("/v1/api-keys/current", headers=tenant.headers)
        return response.headers["x-ratelimit-limit"] == "7"

    await wait_for(seven, timeout=2, interval=0.005)


async def test_a_lookup_racing_a_change_is_not_cached(app, client, tenant):
    cache = app.state.auth_cache
    if app.state.db.url.startswith("postgresql"):
        await _warm(app, client, tenant)
    epoch, _ = cache.get("some-hash")
    cache.local_change()  # a revocation commits while the lookup runs
    from harken.core.authcache import CachedKey

    cache.put("some-hash", epoch, CachedKey("k", "w", ("*",), None, "n", "p", None, None, None, None))
    assert cache.get("some-hash")[1] is None


async def test_cache_can_be_turned_off(make_client, tenant):
    app, client = await make_client(auth_cache_seconds=0)
    assert (await client.get("/v1/api-keys/current", headers=tenant.headers)).json()["name"] == "test"
    await _rename_behind_the_apps_back(app, tenant.key_id, "renamed")
    assert (await client.get("/v1/api-keys/current", headers=tenant.headers)).json()["name"] == "renamed"
