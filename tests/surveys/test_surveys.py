"""Survey CRUD, slugs, pay, events with the seed's exact keys, workspace isolation."""

from __future__ import annotations

from tests.surveys.conftest import events, seed_payloads

SURVEY_KEYS = set(seed_payloads()["survey.created"])


async def test_create_generates_slug_and_emits_seed_shaped_event(app, client, tenant):
    response = await client.post("/v1/surveys", headers=tenant.headers, json={"name": "Q4 Customer Satisfaction Study"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["slug"] == "q4-customer-satisfaction-study"
    assert body["org_id"] == tenant.workspace_id
    assert body["locked"] is False and body["programming_status"] is None and body["paid_at"] is None
    assert body["pages"] == [] and body["variables"] == [] and body["programmed_from_file_id"] is None
    assert set(body) >= SURVEY_KEYS
    created = await events(app, tenant.workspace_id, "survey.created")
    assert len(created) == 1
    assert set(created[0].data) == SURVEY_KEYS == set(seed_payloads()["survey.updated"])
    assert created[0].data["id"] == body["id"] and created[0].data["created_at"].endswith("Z")


async def test_slugs_are_unique_and_pattern_checked(client, tenant):
    first = (await client.post("/v1/surveys", headers=tenant.headers, json={"name": "Brand study 2025"})).json()
    second = (await client.post("/v1/surveys", headers=tenant.headers, json={"name": "Brand study 2025"})).json()
    assert first["slug"] == "brand-study" and second["slug"] != first["slug"]
    assert second["slug"][0].isalpha() and second["slug"][-1].isalpha()
    taken = await client.post("/v1/surveys", headers=tenant.headers, json={"name": "x", "slug": first["slug"]})
    assert taken.status_code == 422
    for bad in ("1abc", "abc-", "a b", "ab$c"):
        response = await client.post("/v1/surveys", headers=tenant.headers, json={"name": "x", "slug": bad})
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"] == ["body", "slug"]


async def test_get_by_id_or_slug_list_update_delete(app, client, tenant):
    created = (await client.post("/v1/surveys", headers=tenant.headers, json={"name": "Pulse"})).json()
    by_slug = await client.get("/v1/surveys/pulse", headers=tenant.headers)
    assert by_slug.status_code == 200 and by_slug.json()["id"] == created["id"]
    for i in range(3):
        await client.post("/v1/surveys", headers=tenant.headers, json={"name": f"Other {chr(97 + i)}"})
    page = await client.get("/v1/surveys", headers=tenant.headers, params={"limit": 2, "offset": 1})
    assert page.status_code == 200 and len(page.json()) == 2
    assert set(page.json()[0]) == SURVEY_KEYS
    put = await client.put(f"/v1/surveys/{created['id']}", headers=tenant.headers, json={"name": "Pulse v2"})
    assert put.status_code == 200 and put.json()["name"] == "Pulse v2" and set(put.json()) == SURVEY_KEYS
    patch = await client.patch("/v1/surveys/pulse", headers=tenant.headers, json={"slug": "pulse-two"})
    assert patch.json()["slug"] == "pulse-two"
    updated = await events(app, tenant.workspace_id, "survey.updated")
    assert len(updated) == 2 and all(set(e.data) == SURVEY_KEYS for e in updated)
    assert (await client.delete("/v1/surveys/pulse-two", headers=tenant.headers)).status_code == 204
    assert (await client.get(f"/v1/surveys/{created['id']}", headers=tenant.headers)).status_code == 404
    deleted = await events(app, tenant.workspace_id, "survey.deleted")
    assert [e.data for e in deleted] == [{"id": created["id"]}]
    assert set(deleted[0].data) == set(seed_payloads()["survey.deleted"])


async def test_pay_records_paid_at(app, client, tenant):
    created = (await client.post("/v1/surveys", headers=tenant.headers, json={"name": "Paid"})).json()
    paid = await client.post(f"/v1/surveys/{created['slug']}/pay", headers=tenant.headers)
    assert paid.status_code == 200 and paid.json()["paid_at"].endswith("Z")
    again = await client.post(f"/v1/surveys/{created['slug']}/pay", headers=tenant.headers)
    assert again.json()["paid_at"] == paid.json()["paid_at"]
    assert len(await events(app, tenant.workspace_id, "survey.updated")) == 1


async def test_other_workspace_sees_404(client, tenant, other_tenant):
    created = (await client.post("/v1/surveys", headers=tenant.headers, json={"name": "Private"})).json()
    for method, path in (
        ("GET", f"/v1/surveys/{created['id']}"),
        ("GET", f"/v1/surveys/{created['slug']}"),
        ("PUT", f"/v1/surveys/{created['id']}"),
        ("DELETE", f"/v1/surveys/{created['id']}"),
        ("POST", f"/v1/surveys/{created['id']}/pay"),
        ("GET", f"/v1/surveys/{created['id']}/history"),
        ("GET", f"/v1/surveys/{created['id']}/export"),
    ):
        response = await client.request(
            method, path, headers=other_tenant.headers, json={"name": "x"} if method == "PUT" else None
        )
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "not_found"
    assert (await client.get("/v1/surveys", headers=other_tenant.headers)).json() == []
    forbidden = await client.get("/v1/surveys", headers={**tenant.headers, "X-Org-Id": other_tenant.workspace_id})
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "workspace_forbidden"


async def test_bad_bodies_are_422(client, tenant):
    assert (await client.post("/v1/surveys", headers=tenant.headers, json={})).status_code == 422
    assert (await client.post("/v1/surveys", headers=tenant.headers, json={"name": ""})).status_code == 422
    bad_json = await client.post(
        "/v1/surveys", headers={**tenant.headers, "Content-Type": "application/json"}, content=b"{nope"
    )
    assert bad_json.status_code == 400 and bad_json.json()["code"] == "malformed_request"
