"""Idempotency-Key on POST (contract §2, seed 001), through the ASGI app and a real server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from harken.core.auth import AnyAuth
from harken.core.db import utcnow
from harken.core.idempotency_models import IdempotencyRecord
from harken.core.session import DbSession
from harken.workspaces.models import ApiKey
from tests.core.conftest import count_rows

BODY = {"name": "ci", "scopes": ["interviews"]}


def _key() -> str:
    return f"idem-{uuid.uuid4()}"


async def test_replay_returns_the_stored_response_and_creates_nothing(app, client, tenant):
    key = _key()
    headers = {**tenant.headers, "Idempotency-Key": key}
    first = await client.post("/v1/api-keys", headers=headers, json=BODY)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    second = await client.post("/v1/api-keys", headers=headers, json=BODY)
    assert second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()  # same id, and the same secret: the stored body
    assert second.headers["content-type"] == first.headers["content-type"]
    # A replay is a new request: its own request id and fresh rate-limit headers.
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert int(second.headers["x-ratelimit-remaining"]) < int(first.headers["x-ratelimit-remaining"])
    assert await count_rows(app.state.db, ApiKey, workspace_id=tenant.workspace_id) == 2


async def test_same_key_different_request_is_422(app, client, tenant):
    key = _key()
    headers = {**tenant.headers, "Idempotency-Key": key}
    assert (await client.post("/v1/api-keys", headers=headers, json=BODY)).status_code == 201
    for kwargs in (
        {"json": {**BODY, "name": "other"}},
        {"json": BODY, "params": {"x": "1"}},
    ):
        reused = await client.post("/v1/api-keys", headers=headers, **kwargs)
        assert reused.status_code == 422
        assert reused.json() == {"detail": reused.json()["detail"], "code": "idempotency_key_reused"}
        assert "x-ratelimit-limit" in reused.headers
    assert await count_rows(app.state.db, ApiKey, workspace_id=tenant.workspace_id) == 2


async def test_keys_are_scoped_to_the_workspace(app, client, tenant, other_tenant):
    key = _key()
    a = await client.post("/v1/api-keys", headers={**tenant.headers, "Idempotency-Key": key}, json=BODY)
    b = await client.post("/v1/api-keys", headers={**other_tenant.headers, "Idempotency-Key": key}, json=BODY)
    assert a.status_code == b.status_code == 201
    assert "idempotent-replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]
    assert b.json()["workspace_id"] == other_tenant.workspace_id


async def test_malformed_keys_are_400(app, client, tenant):
    for bad in ("x" * 256, "", "   ", "ключ".encode(), b"a\x01b", b"tab\there"):
        response = await client.post("/v1/api-keys", headers={**tenant.headers, "Idempotency-Key": bad}, json=BODY)
        assert response.status_code == 400, bad
        assert response.json()["code"] == "malformed_request"
        assert response.headers["x-request-id"]
    ok = await client.post("/v1/api-keys", headers={**tenant.headers, "Idempotency-Key": "k" * 255}, json=BODY)
    assert ok.status_code == 201
    spaced = await client.post("/v1/api-keys", headers={**tenant.headers, "Idempotency-Key": "a b ~!"}, json=BODY)
    assert spaced.status_code == 201
    # Two Idempotency-Key headers are ambiguous.
    twice = await client.post(
        "/v1/api-keys",
        headers=[("X-API-Key", tenant.key), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")],
        json=BODY,
    )
    assert twice.status_code == 400
    assert await count_rows(app.state.db, ApiKey, workspace_id=tenant.workspace_id) == 3


async def test_unauthenticated_requests_get_401_and_store_nothing(app, client, tenant):
    for headers in ({}, {"X-API-Key": "ont_live_" + "n" * 40}):
        response = await client.post("/v1/api-keys", headers={**headers, "Idempotency-Key": _key()}, json=BODY)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_api_key"
    assert await count_rows(app.state.db, IdempotencyRecord) == 0


async def test_revoked_key_cannot_replay(app, client, tenant):
    created = await client.post("/v1/api-keys", headers=tenant.headers, json=BODY)
    new_key = {"X-API-Key": created.json()["key"]}
    key = _key()
    assert (
        await client.post("/v1/api-keys", headers={**new_key, "Idempotency-Key": key}, json=BODY)
    ).status_code == 403
    await client.delete(f"/v1/api-keys/{created.json()['id']}", headers=tenant.headers)
    response = await client.post("/v1/api-keys", headers={**new_key, "Idempotency-Key": key}, json=BODY)
    assert response.status_code == 401


async def test_forbidden_responses_are_not_stored(app, client, tenant):
    """A 403 did nothing: the same key with a key that has the scope runs the request."""
    from tests.helpers import add_key

    weak = await add_key(app.state.db, tenant.workspace_id, ["interviews"])
    key = _key()
    denied = await client.post("/v1/api-keys", headers={"X-API-Key": weak, "Idempotency-Key": key}, json=BODY)
    assert denied.status_code == 403
    allowed = await client.post("/v1/api-keys", headers={**tenant.headers, "Idempotency-Key": key}, json=BODY)
    assert allowed.status_code == 201 and "idempotent-replayed" not in allowed.headers


async def test_validation_errors_are_stored_and_replayed(app, client, tenant):
    key = _key()
    headers = {**tenant.headers, "Idempotency-Key": key}
    first = await client.post("/v1/api-keys", headers=headers, json={"scopes": ["nope"]})
    assert first.status_code == 422
    second = await client.post("/v1/api-keys", headers=headers, json={"scopes": ["nope"]})
    assert second.status_code == 422 and second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()


async def test_expired_records_are_replaced(app, client, tenant):
    key = _key()
    headers = {**tenant.headers, "Idempotency-Key": key}
    first = await client.post("/v1/api-keys", headers=headers, json=BODY)
    async with app.state.db.session() as session:
        await session.execute(update(IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1)))
    again = await client.post("/v1/api-keys", headers=headers, json=BODY)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    # ... and the new record is live again.
    third = await client.post("/v1/api-keys", headers=headers, json=BODY)
    assert third.headers["idempotent-replayed"] == "true" and third.json()["id"] == again.json()["id"]


async def test_ttl_setting_controls_expiry(make_client, tenant):
    _app, client = await make_client(idempotency_ttl_seconds=0)
    headers = {**tenant.headers, "Idempotency-Key": _key()}
    first = await client.post("/v1/api-keys", headers=headers, json=BODY)
    second = await client.post("/v1/api-keys", headers=headers, json=BODY)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


async def test_get_requests_ignore_the_header(client, tenant):
    response = await client.get("/v1/api-keys/current", headers={**tenant.headers, "Idempotency-Key": "x" * 300})
    assert response.status_code == 200


def _slow_and_flaky_routes(app: FastAPI) -> None:
    app.state.gate = asyncio.Event()
    app.state.calls = 0

    @app.post("/v1/test/slow")
    async def slow(auth: AnyAuth, session: DbSession) -> dict[str, int]:
        # End the request's transaction before waiting: on SQLite it holds the write lock.
        await session.commit()
        app.state.calls += 1
        await app.state.gate.wait()
        return {"calls": app.state.calls}

    @app.post("/v1/test/flaky")
    async def flaky(auth: AnyAuth) -> dict[str, int]:
        app.state.calls += 1
        if app.state.calls == 1:
            raise RuntimeError("boom")
        return {"calls": app.state.calls}


async def test_in_progress_key_is_409(make_client, tenant):
    app, client = await make_client(setup=_slow_and_flaky_routes)
    headers = {**tenant.headers, "Idempotency-Key": _key()}
    first = asyncio.create_task(client.post("/v1/test/slow", headers=headers))
    for _ in range(200):
        if app.state.calls:
            break
        await asyncio.sleep(0.01)
    busy = await client.post("/v1/test/slow", headers=headers)
    assert busy.status_code == 409
    assert busy.json()["code"] == "idempotency_key_in_use"
    assert busy.headers["retry-after"] == "1"
    app.state.gate.set()
    done = await first
    assert done.status_code == 200 and done.json() == {"calls": 1}
    replay = await client.post("/v1/test/slow", headers=headers)
    assert replay.json() == {"calls": 1} and replay.headers["idempotent-replayed"] == "true"
    assert app.state.calls == 1


async def test_5xx_is_not_stored_so_a_retry_runs(make_client, tenant):
    _app, client = await make_client(setup=_slow_and_flaky_routes)
    headers = {**tenant.headers, "Idempotency-Key": _key()}
    failed = await client.post("/v1/test/flaky", headers=headers)
    assert failed.status_code == 500 and failed.json()["code"] == "internal_error"
    retried = await client.post("/v1/test/flaky", headers=headers)
    assert retried.status_code == 200 and "idempotent-replayed" not in retried.headers
    assert retried.json() == {"calls": 2}
    replay = await client.post("/v1/test/flaky", headers=headers)
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == {"calls": 2}


async def test_abandoned_in_progress_rows_are_replaced(app, client, tenant):
    key = _key()
    async with app.state.db.session() as session:
        session.add(
            IdempotencyRecord(
                workspace_id=tenant.workspace_id,
                key=key,
                fingerprint="0" * 64,
                created_at=utcnow() - timedelta(hours=1),
                expires_at=utcnow() + timedelta(hours=23),
            )
        )
    response = await client.post("/v1/api-keys", headers={**tenant.headers, "Idempotency-Key": key}, json=BODY)
    assert response.status_code == 201


def _check_concurrent_outcome(responses: list[httpx.Response]) -> None:
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status_code == 201]
    assert created, statuses
    originals = [r for r in created if "idempotent-replayed" not in r.headers]
    assert len(originals) == 1, statuses
    assert {r.json()["id"] for r in created} == {originals[0].json()["id"]}
    for r in responses:
        if r.status_code == 409:
            assert r.json()["code"] == "idempotency_key_in_use"


async def test_20_concurrent_identical_posts_create_one_key_asgi(app, client, tenant):
    headers = {**tenant.headers, "Idempotency-Key": _key()}
    responses = await asyncio.gather(*(client.post("/v1/api-keys", headers=headers, json=BODY) for _ in range(20)))
    _check_concurrent_outcome(list(responses))
    assert await count_rows(app.state.db, ApiKey, workspace_id=tenant.workspace_id) == 2
    assert await count_rows(app.state.db, IdempotencyRecord) == 1


async def test_20_concurrent_identical_posts_create_one_key_real_server(app, tenant, serve):
    server = serve()
    headers = {**tenant.headers, "Idempotency-Key": _key()}
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as http:
        responses = await asyncio.gather(*(http.post("/v1/api-keys", headers=headers, json=BODY) for _ in range(20)))
        _check_concurrent_outcome(list(responses))
        replay = await http.post("/v1/api-keys", headers=headers, json=BODY)
        assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert await count_rows(app.state.db, ApiKey, workspace_id=tenant.workspace_id) == 2
