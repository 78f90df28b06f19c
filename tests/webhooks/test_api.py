"""The endpoint-management API (contract §5.2): shapes, validation, scopes and tenancy."""

from __future__ import annotations

import base64
from typing import Any

from httpx import AsyncClient

from harken.core.settings import Settings
from tests.helpers import Tenant, add_key
from tests.webhooks.conftest import create_endpoint

ENDPOINT_KEYS = {
    "id",
    "workspace_id",
    "url",
    "events",
    "active",
    "description",
    "ordered",
    "headers",
    "created_by",
    "created_at",
    "updated_at",
    "disabled_reason",
    "failure_streak",
}
URL = "https://hooks.example.com/harken"


async def test_create_returns_the_secret_once_and_lists_without_it(client: AsyncClient, tenant: Tenant) -> None:
    created = await create_endpoint(
        client, tenant, URL, events=["synthesis.completed"], description="ops", headers={"X-Team": "ops"}
    )
    assert set(created) == ENDPOINT_KEYS | {"secret"}
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"][6:])) == 32
    assert created["events"] == ["synthesis.completed"]
    assert created["active"] is True and created["ordered"] is False
    assert created["disabled_reason"] is None and created["failure_streak"] == 0
    assert created["created_at"].endswith("Z")
    listed = (await client.get("/v1/webhook-endpoints", headers=tenant.headers)).json()
    assert [e["id"] for e in listed] == [created["id"]]
    assert set(listed[0]) == ENDPOINT_KEYS
    one = await client.get(f"/v1/webhook-endpoints/{created['id']}", headers=tenant.headers)
    assert one.status_code == 200 and "secret" not in one.json()


async def test_patch_and_delete(client: AsyncClient, tenant: Tenant) -> None:
    endpoint = await create_endpoint(client, tenant, URL)
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    patched = await client.patch(
        path,
        json={"active": False, "events": ["survey.created", "survey.created"], "ordered": True},
        headers=tenant.headers,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["active"] is False and body["ordered"] is True and body["events"] == ["survey.created"]
    assert body["url"] == URL
    bad = await client.patch(path, json={"url": None}, headers=tenant.headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "url"]
    assert (await client.delete(path, headers=tenant.headers)).status_code == 204
    gone = await client.get(path, headers=tenant.headers)
    assert gone.status_code == 404 and gone.json() == {"detail": "Webhook endpoint not found", "code": "not_found"}


async def test_unknown_event_names_are_a_422_listing_the_allowed_ones(client: AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/webhook-endpoints",
        json={"workspace_id": tenant.workspace_id, "url": URL, "events": ["synthesis.completed", "campaign.exploded"]},
        headers=tenant.headers,
    )
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "events", 1]
    assert "campaign.started" in error["msg"] and "programming.finished" in error["msg"]
    test = await client.post(
        f"/v1/webhook-endpoints/{(await create_endpoint(client, tenant, URL))['id']}/test",
        json={"event": "nope"},
        headers=tenant.headers,
    )
    assert test.status_code == 422 and test.json()["detail"][0]["loc"] == ["body", "event"]


async def test_url_and_header_validation(client: AsyncClient, tenant: Tenant) -> None:
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        ({"url": "ftp://example.com"}, ["body", "url"]),
        ({"url": "https://"}, ["body", "url"]),
        ({"url": ""}, ["body", "url"]),
        ({"url": URL, "headers": {"X-Ontora-Signature": "forged"}}, ["body", "headers"]),
        ({"url": URL, "headers": {"Bad Header": "x"}}, ["body", "headers"]),
        ({"url": URL, "headers": {"X-Ok": "a\r\nInjected: 1"}}, ["body", "headers"]),
        ({"url": URL, "description": "x" * 513}, ["body", "description"]),
        ({}, ["body", "url"]),
    ]
    for fields, loc in cases:
        response = await client.post(
            "/v1/webhook-endpoints", json={"workspace_id": tenant.workspace_id, **fields}, headers=tenant.headers
        )
        assert response.status_code == 422, (fields, response.text)
        assert response.json()["detail"][0]["loc"] == loc, fields
    missing_ws = await client.post("/v1/webhook-endpoints", json={"url": URL}, headers=tenant.headers)
    assert missing_ws.status_code == 422 and missing_ws.json()["detail"][0]["loc"] == ["body", "workspace_id"]
    malformed = await client.post(
        "/v1/webhook-endpoints", content=b"{not json", headers={**tenant.headers, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["code"] == "malformed_request"


async def test_https_only_rejects_plain_http(client: AsyncClient, tenant: Tenant, app: Any, settings: Settings) -> None:
    app.state.settings = settings.model_copy(update={"webhook_https_only": True})
    response = await client.post(
        "/v1/webhook-endpoints",
        json={"workspace_id": tenant.workspace_id, "url": "http://hooks.example.com/x"},
        headers=tenant.headers,
    )
    assert response.status_code == 422
    assert "https" in response.json()["detail"][0]["msg"]
    assert (await create_endpoint(client, tenant, URL))["url"] == URL


async def test_tenancy_scope_and_workspace_checks(
    client: AsyncClient, tenant: Tenant, other_tenant: Tenant, app: Any
) -> None:
    endpoint = await create_endpoint(client, tenant, URL)
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    for method, suffix, body in [
        ("GET", "", None),
        ("PATCH", "", {"active": False}),
        ("DELETE", "", None),
        ("POST", "/test", {}),
        ("POST", "/rotate-secret", {}),
        ("GET", "/deliveries", None),
        ("POST", "/replay", {"since": "2026-01-01T00:00:00Z"}),
    ]:
        response = await client.request(method, path + suffix, json=body, headers=other_tenant.headers)
        assert response.status_code == 404, (method, suffix, response.text)
        assert response.json()["code"] == "not_found"
    assert (await client.get("/v1/webhook-endpoints", headers=other_tenant.headers)).json() == []
    forbidden = await client.post(
        "/v1/webhook-endpoints", json={"workspace_id": tenant.workspace_id, "url": URL}, headers=other_tenant.headers
    )
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "workspace_forbidden"
    listed = await client.get(
        "/v1/webhook-endpoints", params={"workspace_id": tenant.workspace_id}, headers=other_tenant.headers
    )
    assert listed.status_code == 403
    narrow = await add_key(app.state.db, tenant.workspace_id, ["interviews"])
    denied = await client.get("/v1/webhook-endpoints", headers={"X-API-Key": narrow})
    assert denied.status_code == 403 and denied.json()["code"] == "insufficient_scope"
    scoped = await add_key(app.state.db, tenant.workspace_id, ["webhooks"])
    allowed = await client.get("/v1/webhook-endpoints", headers={"Authorization": f"Bearer {scoped}"})
    assert allowed.status_code == 200 and len(allowed.json()) == 1
    assert (await client.get("/v1/webhook-endpoints")).status_code == 401


async def test_rotate_secret(client: AsyncClient, tenant: Tenant) -> None:
    endpoint = await create_endpoint(client, tenant, URL)
    path = f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret"
    rotated = await client.post(path, json={}, headers=tenant.headers)
    assert rotated.status_code == 200
    body = rotated.json()
    assert body["secret"].startswith("whsec_") and body["secret"] != endpoint["secret"]
    assert body["previous_secret_expires_at"].endswith("Z")
    immediate = (await client.post(path, json={"expire_previous_in_hours": 0}, headers=tenant.headers)).json()
    assert immediate["previous_secret_expires_at"] is None
    for bad in (-1, 73, "soon"):
        response = await client.post(path, json={"expire_previous_in_hours": bad}, headers=tenant.headers)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "expire_previous_in_hours"]


async def test_delivery_list_parameters_are_validated(client: AsyncClient, tenant: Tenant) -> None:
    endpoint = await create_endpoint(client, tenant, URL)
    path = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"
    assert (await client.get(path, headers=tenant.headers)).json() == []
    for params, loc in [
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": 501}, ["query", "limit"]),
        ({"status": "lost"}, ["query", "status"]),
        ({"event_type": "campaign.exploded"}, ["query", "event_type"]),
        ({"since": "yesterday"}, ["query", "since"]),
    ]:
        response = await client.get(path, params=params, headers=tenant.headers)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"] == loc
    missing = await client.get(f"{path}/00000000-0000-0000-0000-000000000000", headers=tenant.headers)
    assert missing.status_code == 404
    redeliver = await client.post(f"{path}/00000000-0000-0000-0000-000000000000/redeliver", headers=tenant.headers)
    assert redeliver.status_code == 404
    replay = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/replay",
        json={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        headers=tenant.headers,
    )
    assert replay.status_code == 422
    bad_status = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/replay",
        json={"since": "2026-01-01T00:00:00Z", "status": "delivered"},
        headers=tenant.headers,
    )
    assert bad_status.status_code == 422


async def test_openapi_documents_the_routes(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver" in paths
    post = paths["/v1/webhook-endpoints"]["post"]
    assert {"201", "400", "401", "403", "422", "429"} <= set(post["responses"])
    assert {"404", "409"} <= set(paths["/v1/webhook-endpoints/{endpoint_id}/replay"]["post"]["responses"])
