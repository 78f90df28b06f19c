"""The MCP server: tools reach the API with the caller's key, an `mcp` key reads through them only."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harken.mcp.client import HarkenApi
from harken.mcp.server import build_server
from mcp import Client
from tests.helpers import add_key


async def _create_campaign(client, tenant, name="Ops research"):
    response = await client.post(
        "/v1/interviews",
        headers=tenant.headers,
        json={"workspace_id": tenant.workspace_id, "name": name, "topics": [{"name": "Daily work"}]},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_mcp_key_reads_through_tools_but_not_rest(app, client, tenant, other_tenant):
    campaign = await _create_campaign(client, tenant)
    await _create_campaign(client, other_tenant, name="Other tenant's campaign")
    mcp_key = await add_key(app.state.db, tenant.workspace_id, ["mcp"])

    # Direct REST with an mcp-only key: the route's own scope is required.
    direct = await client.get(
        "/v1/interviews", headers={"X-API-Key": mcp_key}, params={"workspace_id": tenant.workspace_id}
    )
    assert direct.status_code == 403 and direct.json()["code"] == "insufficient_scope"

    api = HarkenApi.in_process(app, mcp_key)
    async with Client(build_server(api)) as mcp_client:
        tools = {tool.name for tool in (await mcp_client.list_tools()).tools}
        assert {"list_campaigns", "get_cartography", "query_knowledge", "export_report"} <= tools
        listed = await mcp_client.call_tool("list_campaigns", {})
        assert not listed.is_error
        names = [item["name"] for item in listed.structured_content["result"]]
        assert names == ["Ops research"]  # only its own workspace
        detail = await mcp_client.call_tool("get_campaign", {"interview_id": campaign["id"]})
        assert detail.structured_content["interview"]["id"] == campaign["id"]
        missing = await mcp_client.call_tool("get_campaign", {"interview_id": "00000000-0000-0000-0000-000000000000"})
        assert missing.is_error and "not_found" in missing.content[0].text
    await api.aclose()


async def test_mcp_marker_does_not_grant_writes(app, tenant):
    mcp_key = await add_key(app.state.db, tenant.workspace_id, ["mcp"])
    api = HarkenApi.in_process(app, mcp_key)
    response = await api.http.post(
        "/v1/interviews", headers=api.headers, json={"workspace_id": tenant.workspace_id, "name": "x"}
    )
    assert response.status_code == 403
    await api.aclose()


@pytest.mark.slow
def test_harken_mcp_refuses_a_key_without_mcp_scope(database_url, data_dir):
    env = {**os.environ, "HARKEN_DATABASE_URL": database_url, "HARKEN_DATA_DIR": str(data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "harken", "mcp", "--api-key", "ont_live_" + "n" * 40],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        input="",
    )
    assert result.returncode == 2
    assert "refused" in result.stderr
    json.dumps(result.stderr)
