"""Workspaces and API keys: creation, scopes, expiry, revocation, isolation (contract §1)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from harken.core.db import utcnow
from harken.workspaces.models import ApiKey
from tests.helpers import add_key


async def test_current_key_shape(client, tenant):
    response = await client.get("/v1/api-keys/current", headers=tenant.headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "name", "workspace_id", "scopes", "key_prefix", "created_at", "expires_at"}
    assert body["workspace_id"] == tenant.workspace_id
    assert body["scopes"] == ["*"]
    assert tenant.key.startswith(body["key_prefix"]) and body["key_prefix"].startswith("ont_live_")
    assert body["created_at"].endswith("Z")
    assert response.headers["x-request-id"]


async def test_bearer_header_is_accepted(client, tenant):
    response = await client.get("/v1/api-keys/current", headers={"Authorization": f"Bearer {tenant.key}"})
    assert response.status_code == 200


async def test_missing_and_unknown_keys_are_401(client, tenant):
    for headers in ({}, {"X-API-Key": "ont_live_" + "x" * 40}, {"X-API-Key": "  "}, {"X-API-Key": "ключ".encode()}):
        response = await client.get("/v1/api-keys/current", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"detail": response.json()["detail"], "code": "invalid_api_key"}


async def test_key_with_surrounding_whitespace_still_authenticates(client, tenant):
    response = await client.get("/v1/api-keys/current", headers={"X-API-Key": f"  {tenant.key} "})
    assert response.status_code == 200


async def test_create_list_revoke_key(client, tenant):
    created = await client.post(
        "/v1/api-keys", headers=tenant.headers, json={"name": "ci", "scopes": ["interviews"], "expires_in_days": 90}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["key"].startswith("ont_live_") and body["scopes"] == ["interviews"]
    listed = await client.get("/v1/api-keys", headers=tenant.headers)
    assert all("key" not in item for item in listed.json())
    assert body["id"] in {item["id"] for item in listed.json()}
    new_headers = {"X-API-Key": body["key"]}
    assert (await client.get("/v1/api-keys/current", headers=new_headers)).status_code == 200
    assert (await client.delete(f"/v1/api-keys/{body['id']}", headers=tenant.headers)).status_code == 204
    assert (await client.get("/v1/api-keys/current", headers=new_headers)).status_code == 401


async def test_admin_scope_required_for_key_management(app, client, tenant):
    raw = await add_key(app.state.db, tenant.workspace_id, ["interviews"])
    response = await client.get("/v1/api-keys", headers={"X-API-Key": raw})
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


async def test_expired_key_is_401(app, client, tenant):
    async with app.state.db.session() as session:
        await session.execute(
            update(ApiKey).where(ApiKey.id == tenant.key_id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = await client.get("/v1/api-keys/current", headers=tenant.headers)
    assert response.status_code == 401


async def test_other_workspace_is_forbidden_or_hidden(client, tenant, other_tenant):
    forbidden = await client.get(
        "/v1/api-keys", headers=tenant.headers, params={"workspace_id": other_tenant.workspace_id}
    )
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "workspace_forbidden"
    org = await client.get("/v1/api-keys/current", headers={**tenant.headers, "X-Org-Id": other_tenant.workspace_id})
    assert org.status_code == 403 and org.json()["code"] == "workspace_forbidden"
    hidden = await client.get(f"/v1/workspaces/{other_tenant.workspace_id}", headers=tenant.headers)
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    revoke = await client.delete(f"/v1/api-keys/{other_tenant.key_id}", headers=tenant.headers)
    assert revoke.status_code == 404
    assert (await client.get("/v1/api-keys/current", headers=other_tenant.headers)).status_code == 200
    listed = await client.get("/v1/workspaces", headers=tenant.headers)
    assert [w["id"] for w in listed.json()] == [tenant.workspace_id]
