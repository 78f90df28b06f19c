"""Per-workspace rate limits (contract §2, seed 001): headers, 429, overrides, Redis across processes."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid

import httpx
import pytest
from sqlalchemy import update

from harken.workspaces.models import Workspace
from tests.conftest import REDIS_URL
from tests.helpers import add_key

BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]


async def _set_limit(app, workspace_id: str, spec: str | None) -> None:
    async with app.state.db.session() as session:
        await session.execute(update(Workspace).where(Workspace.id == workspace_id).values(rate_limit=spec))


def _redis_settings(backend: str) -> dict[str, str]:
    if backend == "redis":
        if not REDIS_URL:
            pytest.skip("HARKEN_TEST_REDIS_URL not set")
        return {"redis_url": REDIS_URL}
    return {}


def assert_limit_headers(response: httpx.Response, limit: int) -> None:
    h = response.headers
    assert h["x-ratelimit-limit"] == str(limit)
    remaining = int(h["x-ratelimit-remaining"])
    assert 0 <= remaining <= limit
    reset = int(h["x-ratelimit-reset"])
    assert time.time() - 1 <= reset <= time.time() + 3600 + 1
    window = re.fullmatch(r'"workspace";q=(\d+);w=(\d+)', h["ratelimit-policy"])
    assert window and int(window.group(1)) == limit
    current = re.fullmatch(r'"workspace";r=(\d+);t=(\d+)', h["ratelimit"])
    assert current and int(current.group(1)) == remaining


@pytest.mark.parametrize("backend", BACKENDS)
async def test_burst_of_1000_gets_exactly_limit_many(make_client, tenant, backend):
    app, client = await make_client(**_redis_settings(backend))
    await _set_limit(app, tenant.workspace_id, "100/hour")
    responses = await asyncio.gather(*(client.get("/v1/api-keys/current", headers=tenant.headers) for _ in range(1000)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 100
    assert statuses.count(429) == 900
    for response in responses:
        assert_limit_headers(response, 100)
        if response.status_code == 429:
            assert response.json()["code"] == "rate_limited"
            assert 1 <= int(response.headers["retry-after"]) <= 3600
            assert response.headers["x-ratelimit-remaining"] == "0"
    remaining = sorted(int(r.headers["x-ratelimit-remaining"]) for r in responses if r.status_code == 200)
    assert remaining == list(range(100))  # every allowed request saw its own count


async def test_limit_is_per_workspace_not_per_key(app, make_client, tenant, other_tenant):
    app, client = await make_client(rate_limit="5/hour")
    second_key = {"X-API-Key": await add_key(app.state.db, tenant.workspace_id, ["*"])}
    statuses = []
    for i in range(8):
        headers = tenant.headers if i % 2 else second_key
        statuses.append((await client.get("/v1/api-keys/current", headers=headers)).status_code)
    assert statuses == [200] * 5 + [429] * 3
    other = await client.get("/v1/api-keys/current", headers=other_tenant.headers)
    assert other.status_code == 200 and other.headers["x-ratelimit-remaining"] == "4"


async def test_workspace_override_beats_the_default(make_client, tenant, other_tenant):
    app, client = await make_client(rate_limit="3/hour")
    await _set_limit(app, tenant.workspace_id, "10/hour")
    first = await client.get("/v1/api-keys/current", headers=tenant.headers)
    assert_limit_headers(first, 10)
    other = await client.get("/v1/api-keys/current", headers=other_tenant.headers)
    assert_limit_headers(other, 3)
    ok = [(await client.get("/v1/api-keys/current", headers=tenant.headers)).status_code for _ in range(10)]
    assert ok.count(200) == 9 and ok.count(429) == 1


async def test_headers_on_every_authenticated_response(make_client, tenant):
    app, client = await make_client(rate_limit="50/hour")
    weak = {"X-API-Key": await add_key(app.state.db, tenant.workspace_id, ["surveys"])}
    cases = [
        ("GET", "/v1/api-keys/current", tenant.headers, None, 200),
        ("POST", "/v1/api-keys", tenant.headers, {"name": "x"}, 201),
        ("GET", f"/v1/workspaces/{uuid.uuid4()}", tenant.headers, None, 404),
        ("POST", "/v1/api-keys", tenant.headers, {"scopes": 1}, 422),
        ("GET", "/v1/api-keys", weak, None, 403),
        ("GET", "/v1/api-keys", {**tenant.headers, "X-Org-Id": str(uuid.uuid4())}, None, 403),
    ]
    for method, path, headers, body, status in cases:
        response = await client.request(method, path, headers=headers, json=body)
        assert response.status_code == status, (path, response.text)
        assert_limit_headers(response, 50)
    unauthenticated = await client.get("/v1/api-keys/current")
    assert unauthenticated.status_code == 401 and "x-ratelimit-limit" not in unauthenticated.headers
    public = await client.get("/healthz")
    assert "x-ratelimit-limit" not in public.headers


def test_cli_sets_workspace_rate_limits(settings, database_url, monkeypatch):
    from typer.testing import CliRunner

    from harken.cli.main import app as cli
    from harken.core.settings import get_settings

    monkeypatch.setenv("HARKEN_DATABASE_URL", database_url)
    get_settings.cache_clear()
    runner = CliRunner()

    def harken(*args: str):
        return runner.invoke(cli, list(args))

    try:
        created = harken("workspaces", "create", "Limited", "--rate-limit", "100/minute", "--json")
        assert created.exit_code == 0, created.output
        workspace = json.loads(created.stdout)
        assert workspace["rate_limit"] == "100/minute"
        bad = harken("workspaces", "create", "Bad", "--rate-limit", "lots")
        assert bad.exit_code != 0 and "invalid rate limit" in bad.output
        changed = harken("workspaces", "set-rate-limit", workspace["id"], "7/second", "--json")
        assert changed.exit_code == 0, changed.output
        assert json.loads(changed.stdout)["rate_limit"] == "7/second"
        cleared = harken("workspaces", "set-rate-limit", workspace["id"], "default", "--json")
        assert json.loads(cleared.stdout)["rate_limit"] is None
        assert harken("workspaces", "set-rate-limit", str(uuid.uuid4()), "5/minute").exit_code == 1
        listed = json.loads(harken("workspaces", "list", "--json").stdout)
        assert [w["name"] for w in listed if w["id"] == workspace["id"]] == ["Limited"]
    finally:
        get_settings.cache_clear()


@pytest.mark.redis
async def test_two_server_processes_share_one_limit_through_redis(app, tenant, serve):
    if not REDIS_URL:
        pytest.skip("HARKEN_TEST_REDIS_URL not set")
    await _set_limit(app, tenant.workspace_id, "30/hour")
    servers = serve(count=2, HARKEN_REDIS_URL=REDIS_URL)
    async with httpx.AsyncClient(timeout=120) as http:
        # One request each first (counted too): connections and caches warm, as in steady state.
        warm = [await http.get(f"{s.url}/v1/api-keys/current", headers=tenant.headers) for s in servers]
        assert [r.status_code for r in warm] == [200, 200]
        responses = await asyncio.gather(
            *(http.get(f"{servers[i % 2].url}/v1/api-keys/current", headers=tenant.headers) for i in range(48))
        )
    by_server = [[r.status_code for r in responses[i::2]] for i in range(2)]
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 28, by_server
    assert statuses.count(429) == 20
    assert all(200 in s for s in by_server)  # both processes served, and drew from one budget
    assert all(r.headers["x-ratelimit-limit"] == "30" for r in responses)
