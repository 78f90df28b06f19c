"""Every error class in the contract's shape `{"detail", "code"}` (contract §2, seed 001)."""

from __future__ import annotations

import json
import re

from fastapi import FastAPI, File, UploadFile
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from harken.core.auth import AnyAuth
from harken.core.errors import CampaignLocked, ServiceUnavailable
from harken.core.idempotency_models import IdempotencyRecord
from harken.core.session import DbSession
from harken.workspaces.models import ApiKey
from tests.core.conftest import count_rows

BODY = {"name": "ci", "scopes": ["interviews"]}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    assert set(body) <= {"detail", "code", "request_id"}
    assert re.fullmatch(r"[A-Za-z0-9._:\-]{1,128}", response.headers["x-request-id"])
    return body


async def test_malformed_json_is_400(client, tenant):
    for raw in (b"{bad", b'{"name": "x",}', b"[1, 2", b"\x00\x01"):
        response = await client.post(
            "/v1/api-keys", headers={**tenant.headers, "Content-Type": "application/json"}, content=raw
        )
        assert_error(response, 400, "malformed_request")


async def test_non_utf8_body_is_400(client, tenant):
    for raw in (b'{"name": "\xff\xfe\xfd"}', '{"name": "é"}'.encode("latin-1")):
        response = await client.post(
            "/v1/api-keys", headers={**tenant.headers, "Content-Type": "application/json"}, content=raw
        )
        assert_error(response, 400, "malformed_request")


async def test_401_and_403(app, client, tenant, other_tenant):
    assert_error(await client.get("/v1/api-keys"), 401, "invalid_api_key")
    assert_error(await client.get("/v1/api-keys", headers={"X-API-Key": "not-a-key"}), 401, "invalid_api_key")
    assert_error(
        await client.get("/v1/api-keys", headers={"Authorization": "Basic " + tenant.key}), 401, "invalid_api_key"
    )
    for odd in (tenant.key[:20] + " " + tenant.key[20:], tenant.key + "é", "ont_live_" + "🔑" * 10):
        response = await client.get("/v1/api-keys/current", headers={"X-API-Key": odd.encode()})
        assert_error(response, 401, "invalid_api_key")
    from tests.helpers import add_key

    weak = await add_key(app.state.db, tenant.workspace_id, ["surveys"])
    assert_error(await client.get("/v1/api-keys", headers={"X-API-Key": weak}), 403, "insufficient_scope")
    forbidden = await client.post(
        "/v1/api-keys", headers=tenant.headers, json={**BODY, "workspace_id": other_tenant.workspace_id}
    )
    assert_error(forbidden, 403, "workspace_forbidden")
    assert await count_rows(app.state.db, ApiKey, workspace_id=other_tenant.workspace_id) == 1


async def test_unknown_routes_and_methods(client, tenant):
    for path in ("/v1/nope", "/nope", "/v1/api-keys/x/y/z"):
        response = await client.get(path, headers={**tenant.headers, "X-Request-Id": "trace-404"})
        assert_error(response, 404, "not_found")
        assert response.headers["x-request-id"] == "trace-404"
    response = await client.put("/v1/api-keys", headers=tenant.headers, json={})
    assert_error(response, 405, "method_not_allowed")
    assert "allow" in response.headers


async def test_10mb_json_body_is_413(app, client, tenant):
    big = json.dumps({"name": "x" * (10 * 1024 * 1024)}).encode()
    response = await client.post(
        "/v1/api-keys", headers={**tenant.headers, "Content-Type": "application/json"}, content=big
    )
    assert_error(response, 413, "payload_too_large")

    async def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(11):
            yield b" " * (1024 * 1024)

    streamed = await client.post(
        "/v1/api-keys", headers={**tenant.headers, "Content-Type": "application/json"}, content=chunks()
    )
    assert_error(streamed, 413, "payload_too_large")
    # The same with an Idempotency-Key: the middleware reading the body for the fingerprint hits
    # the limit too, and nothing is claimed.
    idem = await client.post(
        "/v1/api-keys",
        headers={**tenant.headers, "Content-Type": "application/json", "Idempotency-Key": "big-1"},
        content=chunks(),
    )
    assert_error(idem, 413, "payload_too_large")
    assert await count_rows(app.state.db, IdempotencyRecord) == 0
    assert await count_rows(app.state.db, ApiKey, workspace_id=tenant.workspace_id) == 1


def _upload_route(app: FastAPI) -> None:
    @app.post("/v1/test/upload")
    async def upload(auth: AnyAuth, file: UploadFile = File(...)) -> dict[str, int]:
        return {"size": len(await file.read())}


async def test_json_and_upload_limits_are_configurable(make_client, tenant):
    _app, client = await make_client(setup=_upload_route, max_json_body_bytes=200, max_upload_bytes=100 * 1024)
    small = await client.post("/v1/api-keys", headers=tenant.headers, json=BODY)
    assert small.status_code == 201
    assert_error(
        await client.post("/v1/api-keys", headers=tenant.headers, json={**BODY, "name": "x" * 250}),
        413,
        "payload_too_large",
    )
    # Uploads get the upload limit, not the JSON one.
    ok = await client.post("/v1/test/upload", headers=tenant.headers, files={"file": ("a.txt", b"a" * 50_000)})
    assert ok.status_code == 200 and ok.json() == {"size": 50_000}
    too_big = await client.post("/v1/test/upload", headers=tenant.headers, files={"file": ("a.txt", b"a" * 300_000)})
    assert_error(too_big, 413, "payload_too_large")


async def test_wrong_content_types_are_415(make_client, tenant):
    app, client = await make_client(setup=_upload_route)
    cases = [
        {"content": json.dumps(BODY), "headers": {"Content-Type": "text/plain"}},
        {"data": {"name": "x"}},  # application/x-www-form-urlencoded
        {"files": {"file": ("a.json", json.dumps(BODY).encode())}},  # multipart
        {"content": json.dumps(BODY), "headers": {"Content-Type": "application/xml"}},
        {"content": json.dumps(BODY)},  # a body without any Content-Type
    ]
    for case in cases:
        headers = {**tenant.headers, **case.pop("headers", {})}
        response = await client.post("/v1/api-keys", headers=headers, **case)
        assert_error(response, 415, "unsupported_media_type")
    assert await count_rows(app.state.db, ApiKey, workspace_id=tenant.workspace_id) == 1
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json", "APPLICATION/JSON"):
        response = await client.post(
            "/v1/api-keys", headers={**tenant.headers, "Content-Type": content_type}, content=json.dumps(BODY)
        )
        assert response.status_code == 201, (content_type, response.text)
    # A multipart route given JSON.
    response = await client.post("/v1/test/upload", headers=tenant.headers, json={"file": "x"})
    assert_error(response, 415, "unsupported_media_type")
    # Routes without a body parameter don't care; an empty body goes to validation.
    response = await client.post("/v1/api-keys", headers={**tenant.headers, "Content-Type": "application/json"})
    assert response.status_code == 422


async def test_validation_errors_are_a_list(client, tenant):
    response = await client.post(
        "/v1/api-keys", headers=tenant.headers, json={"scopes": "interviews", "expires_in_days": "soon"}
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    for item in detail:
        assert set(item) == {"loc", "msg", "type"}
        assert item["loc"][0] == "body"
    by_loc = {tuple(item["loc"]): item["type"] for item in detail}
    assert by_loc[("body", "name")] == "missing"
    assert ("body", "expires_in_days") in by_loc
    # Wrong JSON type for the whole body.
    response = await client.post("/v1/api-keys", headers=tenant.headers, json=["not", "an", "object"])
    assert response.status_code == 422 and isinstance(response.json()["detail"], list)


async def test_unknown_fields_are_ignored(client, tenant):
    response = await client.post("/v1/api-keys", headers=tenant.headers, json={**BODY, "color": "blue", "id": "x"})
    assert response.status_code == 201
    assert "color" not in response.json() and response.json()["id"] != "x"


async def test_huge_limit_and_offset_are_422_not_500(client, tenant):
    for params in ({"limit": 10**30}, {"limit": -1}, {"limit": 0}, {"offset": 10**30}, {"limit": "lots"}):
        response = await client.get("/v1/api-keys", headers=tenant.headers, params=params)
        assert response.status_code == 422, (params, response.text)
    response = await client.get("/v1/api-keys", headers=tenant.headers, params={"limit": 1, "offset": 0})
    assert response.status_code == 200 and len(response.json()) == 1


def _unbounded_route(app: FastAPI) -> None:
    @app.get("/v1/test/unbounded")
    async def unbounded(auth: AnyAuth, session: DbSession, offset: int = 0, name: str = "") -> dict[str, int]:
        # A route that forgot `le=` on its offset: the platform still answers 422, not 500.
        await session.execute(text("SELECT 1 LIMIT 1 OFFSET :o"), {"o": offset})
        if name:
            await session.execute(select(ApiKey.id).where(ApiKey.name == name).limit(1))
        return {"offset": offset}


async def test_unbounded_values_the_database_refuses_are_422(make_client, tenant):
    _app, client = await make_client(setup=_unbounded_route)
    ok = await client.get("/v1/test/unbounded", headers=tenant.headers, params={"offset": 5})
    assert ok.status_code == 200
    for offset in (10**26, -(10**30)):
        response = await client.get("/v1/test/unbounded", headers=tenant.headers, params={"offset": offset})
        assert response.status_code == 422, response.text
        assert isinstance(response.json()["detail"], list)


def _failing_routes(app: FastAPI) -> None:
    @app.get("/v1/test/crash")
    async def crash(auth: AnyAuth) -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    @app.get("/v1/test/public-crash")
    async def public_crash() -> None:
        raise ValueError("another secret")

    @app.get("/v1/test/locked")
    async def locked(auth: AnyAuth) -> None:
        raise CampaignLocked()

    @app.get("/v1/test/unavailable")
    async def unavailable(auth: AnyAuth) -> None:
        raise ServiceUnavailable()

    @app.get("/v1/test/db-down")
    async def db_down(auth: AnyAuth) -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))


async def test_500_is_generic_with_request_id(make_client, tenant, caplog):
    _app, client = await make_client(setup=_failing_routes)
    for path, headers in (("/v1/test/crash", tenant.headers), ("/v1/test/public-crash", {})):
        response = await client.get(path, headers=headers)
        body = assert_error(response, 500, "internal_error")
        assert body["detail"] == "Internal server error"
        assert body["request_id"] == response.headers["x-request-id"]
        assert "secret" not in response.text and "Traceback" not in response.text
    echoed = await client.get("/v1/test/crash", headers={**tenant.headers, "X-Request-Id": "abc-123"})
    assert echoed.json()["request_id"] == "abc-123" == echoed.headers["x-request-id"]
    assert "x-ratelimit-limit" in echoed.headers  # authenticated, so it carries the limits too


async def test_409_and_503(make_client, tenant):
    _app, client = await make_client(setup=_failing_routes)
    assert_error(await client.get("/v1/test/locked", headers=tenant.headers), 409, "campaign_locked")
    assert_error(await client.get("/v1/test/unavailable", headers=tenant.headers), 503, "service_unavailable")
    down = await client.get("/v1/test/db-down", headers=tenant.headers)
    assert_error(down, 503, "service_unavailable")
    assert down.headers["retry-after"] == "1"


async def test_request_ids(client, tenant):
    safe = await client.get("/healthz", headers={"X-Request-Id": "req-1.2_3:4"})
    assert safe.headers["x-request-id"] == "req-1.2_3:4"
    for unsafe in ("has space", "x" * 200, "évil", "a\tb", ""):
        response = await client.get("/healthz", headers={"X-Request-Id": unsafe.encode()})
        assert response.headers["x-request-id"] != unsafe
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
