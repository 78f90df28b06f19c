"""Delivery semantics against a real HTTP receiver on 127.0.0.1 and a real worker (contract §5.3)."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest
import standardwebhooks
from httpx import AsyncClient
from sqlalchemy import func, select

from harken.core.jobs import Job, JobContext
from harken.core.settings import Settings
from harken.webhooks import verify
from harken.webhooks.catalog import EventValidationError
from harken.webhooks.events import emit
from harken.webhooks.models import Event, WebhookDelivery
from tests.helpers import Tenant, wait_for
from tests.webhooks.conftest import (
    create_endpoint,
    deliveries_of,
    delivery_detail,
    emit_events,
    running_worker,
    started,
)
from tests.webhooks.receiver import Received, Receiver


async def count(db: Any, model: Any) -> int:
    async with db.session() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_delivered_signed_with_both_schemes(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, worker: Any
) -> None:
    endpoint = await create_endpoint(client, tenant, receiver.url(), headers={"X-Team": "ops"})
    [event_id] = await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started(24)])
    await wait_for(lambda: receiver.received(), timeout=10)
    request = receiver.received()[0]
    async with app.state.db.session() as session:
        body = (await session.execute(select(Event.body).where(Event.id == event_id))).scalar_one()
    assert request.body == body.encode()  # the exact stored bytes
    assert request.body.decode() == json.dumps(json.loads(request.body), separators=(",", ":"))
    envelope = verify(request.body, request.headers, endpoint["secret"])
    assert list(envelope) == ["event", "workspace_id", "timestamp", "data"]
    assert envelope["event"] == "campaign.started" and envelope["workspace_id"] == tenant.workspace_id
    assert envelope["data"] == started(24)
    assert standardwebhooks.Webhook(endpoint["secret"]).verify(request.body, request.headers)
    h = request.headers
    assert h["content-type"] == "application/json"
    assert h["user-agent"].startswith("Harken-Webhooks/")
    assert h["x-ontora-event"] == "campaign.started"
    assert h["x-ontora-delivery-id"] == h["webhook-id"]
    assert h["x-ontora-signature"].startswith("sha256=") and len(h["x-ontora-signature"]) == 71
    assert h["x-team"] == "ops"
    await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "delivered"))
    [delivery] = await deliveries_of(client, tenant, endpoint["id"])
    assert delivery["id"] == h["x-ontora-delivery-id"] and delivery["event_id"] == event_id
    assert delivery["attempts"] == 1 and delivery["response_status"] == 200 and delivery["delivered_at"]
    detail = await delivery_detail(client, tenant, endpoint["id"], delivery["id"])
    [attempt] = detail["attempt_log"]
    assert attempt["attempt"] == 1 and attempt["response_status"] == 200 and attempt["response_body"] == "ok"
    assert attempt["error"] is None and attempt["duration_ms"] >= 0 and attempt["started_at"].endswith("Z")
    assert detail["payload"] == envelope


async def test_hostile_responses_are_recorded_intact(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, worker: Any
) -> None:
    # Quotes, backslashes, JSON-looking text, non-ASCII, a NUL byte and invalid UTF-8 in the body;
    # quotes and non-ASCII in a header: the attempt log keeps them (NUL and bad bytes as U+FFFD).
    body = 'ok "quoted" \\ {"a": [1]}\n\té ✓ \x00 end'.encode() + b"\xff\xfe"
    headers = {"X-Note": 'say "hi" \\ now é', "X-Raw": b"bad \xff\xfe bytes"}
    receiver.behaviour = lambda r: (200, headers, body, 0.0)
    endpoint = await create_endpoint(client, tenant, receiver.url())
    await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started(1)])
    await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "delivered"), timeout=10)
    [delivery] = await deliveries_of(client, tenant, endpoint["id"])
    [attempt] = (await delivery_detail(client, tenant, endpoint["id"], delivery["id"]))["attempt_log"]
    assert attempt["response_body"] == 'ok "quoted" \\ {"a": [1]}\n\té ✓ \ufffd end\ufffd\ufffd'
    assert attempt["response_headers"]["X-Note"] == 'say "hi" \\ now é'
    assert attempt["response_headers"]["X-Raw"] == "bad \ufffd\ufffd bytes"


async def test_waiting_for_a_free_connection_does_not_count_against_the_timeout(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, settings: Settings
) -> None:
    """More attempts than connections to a slow receiver: each gets the whole timeout once it has
    a connection, and no more requests than connections are in flight at once."""
    receiver.behaviour = lambda request: (200, {}, b"ok", 0.6)
    narrow = settings.model_copy(
        update={"webhook_max_connections": 2, "webhook_timeout_seconds": 1.0, "webhook_retry_schedule": []}
    )
    endpoint = await create_endpoint(client, tenant, receiver.url())
    async with running_worker(app, narrow):
        # 6 attempts through 2 connections take 1.8 s: the last ones would time out if their
        # clock started while they waited for a connection.
        await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started(i) for i in range(6)])
        await wait_for(lambda: _all_finished(client, tenant, endpoint["id"], 6), timeout=20)
    rows = await deliveries_of(client, tenant, endpoint["id"])
    assert [r["status"] for r in rows] == ["delivered"] * 6, [r["last_error"] for r in rows]
    assert receiver.most_in_flight == 2


async def _all_finished(client: AsyncClient, tenant: Tenant, endpoint_id: str, count: int) -> bool:
    rows = await deliveries_of(client, tenant, endpoint_id)
    return len(rows) == count and all(r["status"] in ("delivered", "failed") for r in rows)


async def _status_is(client: AsyncClient, tenant: Tenant, endpoint_id: str, *statuses: str) -> bool:
    rows = await deliveries_of(client, tenant, endpoint_id)
    return bool(rows) and all(r["status"] in statuses for r in rows)


async def test_only_matching_endpoints_get_deliveries(
    client: AsyncClient, tenant: Tenant, other_tenant: Tenant, app: Any
) -> None:
    url = "https://hooks.example.com/x"
    everything = await create_endpoint(client, tenant, url)
    subscribed = await create_endpoint(client, tenant, url, events=["campaign.started", "campaign.paused"])
    await create_endpoint(client, tenant, url, events=["synthesis.completed"])
    await create_endpoint(client, tenant, url, active=False)
    await create_endpoint(client, other_tenant, url)
    await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started(1)])
    async with app.state.db.session() as session:
        rows = (await session.execute(select(WebhookDelivery.endpoint_id))).scalars().all()
    assert sorted(rows) == sorted([everything["id"], subscribed["id"]])
    assert await count(app.state.db, Job) == 1  # one job sends the event's deliveries


async def test_rolled_back_change_emits_nothing(client: AsyncClient, tenant: Tenant, app: Any) -> None:
    await create_endpoint(client, tenant, "https://hooks.example.com/x")
    with pytest.raises(RuntimeError):
        async with app.state.db.session() as session:
            await emit(session, workspace_id=tenant.workspace_id, event_type="campaign.started", data=started())
            raise RuntimeError("the change failed")
    assert await count(app.state.db, Event) == 0
    assert await count(app.state.db, WebhookDelivery) == 0
    assert await count(app.state.db, Job) == 0


async def test_emit_validates_against_the_catalog(tenant: Tenant, app: Any) -> None:
    async with app.state.db.session() as session:
        with pytest.raises(EventValidationError, match="unknown event type"):
            await emit(session, workspace_id=tenant.workspace_id, event_type="campaign.exploded", data={})
        with pytest.raises(EventValidationError, match="missing key contact_count"):
            await emit(
                session,
                workspace_id=tenant.workspace_id,
                event_type="campaign.started",
                data={"interview_id": "i", "name": "n"},
            )
    assert await count(app.state.db, Event) == 0


def sequence(*responses: tuple[int, dict[str, str], bytes, float]) -> Any:
    """Answer with `responses` in turn, then repeat the last one."""
    calls: list[int] = []

    def behaviour(_: Received) -> tuple[int, dict[str, str], bytes, float]:
        calls.append(1)
        return responses[min(len(calls), len(responses)) - 1]

    return behaviour


async def test_retries_keep_the_delivery_id_and_follow_the_schedule(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, worker: Any
) -> None:
    receiver.behaviour = sequence((500, {}, b"boom", 0), (503, {}, b"busy", 0), (200, {}, b"ok", 0))
    endpoint = await create_endpoint(client, tenant, receiver.url())
    await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started()])
    await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "delivered"), timeout=15)
    got = receiver.received()
    assert len(got) == 3
    assert len({r.delivery_id for r in got}) == 1
    assert len({r.headers["webhook-timestamp"] for r in got}) >= 1
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    assert gaps[0] >= 0.2 * 0.9 - 0.02 and gaps[1] >= 0.4 * 0.9 - 0.02  # schedule 0.2 s, 0.4 s with ±10 % jitter
    [delivery] = await deliveries_of(client, tenant, endpoint["id"])
    assert delivery["attempts"] == 3 and delivery["response_status"] == 200 and delivery["last_error"] is None
    log = (await delivery_detail(client, tenant, endpoint["id"], delivery["id"]))["attempt_log"]
    assert [a["response_status"] for a in log] == [500, 503, 200]
    assert [a["error"] for a in log] == ["HTTP 500", "HTTP 503", None]
    assert [a["response_body"] for a in log] == ["boom", "busy", "ok"]
    endpoint_now = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=tenant.headers)).json()
    assert endpoint_now["failure_streak"] == 0


async def test_exhausted_then_redelivered(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, worker: Any
) -> None:
    receiver.behaviour = lambda _: (500, {}, b"x" * 10_000, 0)
    endpoint = await create_endpoint(client, tenant, receiver.url())
    await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started()])
    await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "failed"), timeout=15)
    [delivery] = await deliveries_of(client, tenant, endpoint["id"])
    assert delivery["attempts"] == 4  # the first attempt + 3 retries of the schedule
    assert delivery["next_attempt_at"] is None and delivery["last_error"] == "HTTP 500"
    log = (await delivery_detail(client, tenant, endpoint["id"], delivery["id"]))["attempt_log"]
    assert len(log[0]["response_body"]) == 4096  # first 4 KB only
    receiver.behaviour = lambda _: (204, {}, b"", 0)
    response = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/redeliver", headers=tenant.headers
    )
    assert response.status_code == 200 and response.json()["status"] == "pending"
    await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "delivered"), timeout=10)
    assert set(receiver.delivery_ids()) == {delivery["id"]} and len(receiver.received()) == 5


async def test_redirects_are_not_followed_and_timeouts_fail(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, settings: Settings
) -> None:
    def behaviour(request: Received) -> tuple[int, dict[str, str], Any, float]:
        if request.path == "/redirect":
            return 302, {"location": receiver.url("/elsewhere")}, b"", 0
        if request.path == "/slow":
            return 200, {}, b"late", 3.0
        if request.path == "/trickle":  # answers at once, then holds the rest of its body back
            return 200, {}, [(b"first bytes", 0.0), (b"the rest", 3.0)], 0
        return 200, {}, b"ok", 0

    receiver.behaviour = behaviour
    fast = settings.model_copy(update={"webhook_timeout_seconds": 0.5, "webhook_retry_schedule": []})
    redirect = await create_endpoint(client, tenant, receiver.url("/redirect"))
    slow = await create_endpoint(client, tenant, receiver.url("/slow"))
    trickle = await create_endpoint(client, tenant, receiver.url("/trickle"))
    async with running_worker(app, fast):
        await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started()])
        await wait_for(lambda: _status_is(client, tenant, redirect["id"], "failed"), timeout=10)
        await wait_for(lambda: _status_is(client, tenant, slow["id"], "failed"), timeout=10)
        await wait_for(lambda: _status_is(client, tenant, trickle["id"], "failed"), timeout=10)
    [r] = await deliveries_of(client, tenant, redirect["id"])
    assert r["response_status"] == 302 and "redirects are not followed" in r["last_error"]
    assert receiver.received("/elsewhere") == []
    [s] = await deliveries_of(client, tenant, slow["id"])
    assert s["response_status"] is None and s["last_error"].startswith("timeout")
    # The timeout bounds reading the body too, not just the wait for the status line.
    [t] = await deliveries_of(client, tenant, trickle["id"])
    assert t["response_status"] is None and t["last_error"] == "timeout: no complete response within 0.5 s"


async def test_retry_after_is_honoured(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, worker: Any
) -> None:
    receiver.behaviour = sequence((429, {"Retry-After": "1"}, b"slow down", 0), (200, {}, b"ok", 0))
    endpoint = await create_endpoint(client, tenant, receiver.url())
    await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started()])
    await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "delivered"), timeout=10)
    first, second = receiver.received()
    assert second.at - first.at >= 0.95  # not the 0.2 s of the schedule


async def test_410_disables_the_endpoint_and_reenabling_clears_it(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, worker: Any
) -> None:
    receiver.behaviour = lambda _: (410, {}, b"gone", 0)
    endpoint = await create_endpoint(client, tenant, receiver.url())
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started()])
    await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "failed"), timeout=10)
    disabled = (await client.get(path, headers=tenant.headers)).json()
    assert "410" in disabled["disabled_reason"] and disabled["failure_streak"] == 1
    assert len(receiver.received()) == 1  # no retries after 410
    await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started(2)])
    assert len(await deliveries_of(client, tenant, endpoint["id"])) == 1  # disabled: no new delivery
    [delivery] = await deliveries_of(client, tenant, endpoint["id"])
    conflict = await client.post(f"{path}/deliveries/{delivery['id']}/redeliver", headers=tenant.headers)
    assert conflict.status_code == 409 and conflict.json()["code"] == "conflict"
    enabled = (await client.patch(path, json={"active": True}, headers=tenant.headers)).json()
    assert enabled["disabled_reason"] is None and enabled["failure_streak"] == 0


async def test_sustained_failure_disables_the_endpoint(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, settings: Settings
) -> None:
    receiver.behaviour = lambda _: (500, {}, b"", 0)
    quick = settings.model_copy(update={"webhook_disable_after_hours": 0.5 / 3600, "webhook_retry_schedule": [0.3] * 6})
    endpoint = await create_endpoint(client, tenant, receiver.url())
    async with running_worker(app, quick):
        await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started()])

        async def disabled() -> bool:
            body = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=tenant.headers)).json()
            return body["disabled_reason"] is not None

        await wait_for(disabled, timeout=10)
        await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "failed", "discarded"), timeout=10)
    body = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=tenant.headers)).json()
    assert "failed for" in body["disabled_reason"] and body["failure_streak"] >= 2


async def test_ordered_endpoints_are_fifo(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, worker: Any
) -> None:
    receiver.behaviour = sequence((500, {}, b"", 0), (500, {}, b"", 0), (200, {}, b"ok", 0))
    endpoint = await create_endpoint(client, tenant, receiver.url(), ordered=True)
    event_ids = await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started(i) for i in range(6)])
    await wait_for(lambda: len(receiver.received()) >= 8, timeout=30)
    await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "delivered"), timeout=30)
    got = receiver.received()
    order = [r.json()["data"]["interview_id"] for r in got]
    assert order == ["iv-0", "iv-0", "iv-0", "iv-1", "iv-2", "iv-3", "iv-4", "iv-5"]
    assert len(event_ids) == 6


async def test_ssrf_blocked_attempt_is_a_failed_attempt_with_a_clear_error(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, settings: Settings
) -> None:
    strict = settings.model_copy(update={"webhook_allowed_networks": [], "webhook_retry_schedule": []})
    endpoint = await create_endpoint(client, tenant, receiver.url())
    async with running_worker(app, strict):
        await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started()])
        await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "failed"), timeout=10)
    [delivery] = await deliveries_of(client, tenant, endpoint["id"])
    assert "blocked by SSRF policy" in delivery["last_error"] and "127.0.0.1 (loopback)" in delivery["last_error"]
    [attempt] = (await delivery_detail(client, tenant, endpoint["id"], delivery["id"]))["attempt_log"]
    assert attempt["response_status"] is None and "blocked by SSRF policy" in attempt["error"]
    assert receiver.received() == []


async def test_test_route_sends_signed_test_and_synthetic_events(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, worker: Any
) -> None:
    endpoint = await create_endpoint(client, tenant, receiver.url(), active=False, events=["campaign.started"])
    path = f"/v1/webhook-endpoints/{endpoint['id']}/test"
    response = await client.post(path, headers=tenant.headers)
    assert response.status_code == 200 and response.json() == {"deliveries_enqueued": 1}
    response = await client.post(path, json={"event": "survey.created"}, headers=tenant.headers)
    assert response.json() == {"deliveries_enqueued": 1}
    await wait_for(lambda: len(receiver.received()) == 2, timeout=10)
    by_event = {r.headers["x-ontora-event"]: r for r in receiver.received()}
    test = verify(by_event["webhook.test"].body, by_event["webhook.test"].headers, endpoint["secret"])
    assert test["data"]["endpoint_id"] == endpoint["id"]
    survey = verify(by_event["survey.created"].body, by_event["survey.created"].headers, endpoint["secret"])
    assert survey["data"]["org_id"] == tenant.workspace_id and "programming_status" in survey["data"]
    # test events are never replayed to other endpoints
    other = await create_endpoint(client, tenant, receiver.url("/other"))
    replay = await client.post(
        f"/v1/webhook-endpoints/{other['id']}/replay", json={"since": "2020-01-01T00:00:00Z"}, headers=tenant.headers
    )
    assert replay.json() == {"deliveries_enqueued": 0}


async def test_rotation_overlap_sends_both_signatures(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, worker: Any
) -> None:
    endpoint = await create_endpoint(client, tenant, receiver.url())
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    new_secret = (await client.post(f"{path}/rotate-secret", json={}, headers=tenant.headers)).json()["secret"]
    await client.post(f"{path}/test", headers=tenant.headers)
    await wait_for(lambda: receiver.received(), timeout=10)
    request = receiver.received()[0]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert "x-ontora-signature-previous" in request.headers
    assert verify(request.body, request.headers, new_secret)
    assert verify(request.body, request.headers, endpoint["secret"])
    assert standardwebhooks.Webhook(endpoint["secret"]).verify(request.body, request.headers)
    newest = (
        await client.post(f"{path}/rotate-secret", json={"expire_previous_in_hours": 0}, headers=tenant.headers)
    ).json()["secret"]
    await client.post(f"{path}/test", headers=tenant.headers)
    await wait_for(lambda: len(receiver.received()) == 2, timeout=10)
    request = receiver.received()[1]
    assert " " not in request.headers["webhook-signature"] and "x-ontora-signature-previous" not in request.headers
    assert verify(request.body, request.headers, newest)


async def test_delivery_filters_and_replay(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, worker: Any
) -> None:
    receiver.behaviour = lambda r: (500, {}, b"", 0) if r.json()["event"] == "campaign.paused" else (200, {}, b"", 0)
    endpoint = await create_endpoint(client, tenant, receiver.url())
    await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started(i) for i in range(3)])
    await emit_events(
        app.state.db, tenant.workspace_id, "campaign.paused", [{"interview_id": "iv-9", "reason": "user_paused"}]
    )
    await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "delivered", "failed"), timeout=15)
    assert len(await deliveries_of(client, tenant, endpoint["id"], status="delivered")) == 3
    [failed] = await deliveries_of(client, tenant, endpoint["id"], status="failed")
    assert failed["event_type"] == "campaign.paused"
    assert len(await deliveries_of(client, tenant, endpoint["id"], event_type="campaign.started")) == 3
    assert len(await deliveries_of(client, tenant, endpoint["id"], limit=2)) == 2
    assert await deliveries_of(client, tenant, endpoint["id"], since="2999-01-01T00:00:00Z") == []
    newest_first = await deliveries_of(client, tenant, endpoint["id"])
    assert newest_first[0]["event_type"] == "campaign.paused"

    # replay only the failed one
    receiver.behaviour = lambda _: (200, {}, b"", 0)
    before = len(receiver.received())
    replay = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/replay",
        json={"since": "2020-01-01T00:00:00Z", "status": "failed"},
        headers=tenant.headers,
    )
    assert replay.json() == {"deliveries_enqueued": 1}
    await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "delivered"), timeout=10)
    assert receiver.delivery_ids()[before:] == [failed["id"]]

    # events missed while the endpoint was inactive are delivered by a replay of the range
    await client.patch(f"/v1/webhook-endpoints/{endpoint['id']}", json={"active": False}, headers=tenant.headers)
    await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started(7)])
    assert len(await deliveries_of(client, tenant, endpoint["id"])) == 4
    inactive = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/replay", json={"since": "2020-01-01T00:00:00Z"}, headers=tenant.headers
    )
    assert inactive.status_code == 409
    await client.patch(f"/v1/webhook-endpoints/{endpoint['id']}", json={"active": True}, headers=tenant.headers)
    replay = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/replay", json={"since": "2020-01-01T00:00:00Z"}, headers=tenant.headers
    )
    assert replay.json() == {"deliveries_enqueued": 5}  # 4 existing + 1 missed
    await wait_for(lambda: len(receiver.received()) == before + 1 + 5, timeout=15)
    await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "delivered"), timeout=10)
    assert len(await deliveries_of(client, tenant, endpoint["id"])) == 5


async def test_purge_drops_old_deliveries(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, worker: Any, settings: Settings
) -> None:
    from harken.core.jobs import registered_periodics
    from harken.webhooks.models import WebhookAttempt
    from harken.webhooks.tasks import purge

    assert "webhooks.purge" in registered_periodics()
    endpoint = await create_endpoint(client, tenant, receiver.url())
    await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started(1), started(2)])
    await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "delivered"), timeout=10)
    ctx = JobContext("j", "webhooks.purge", {}, 1, 1, None, app.state.db, settings)
    assert await purge(ctx) == {"attempts": 0, "deliveries": 0, "events": 0}  # within retention
    await asyncio.sleep(0.01)
    expired = JobContext(
        "j", "webhooks.purge", {}, 1, 1, None, app.state.db, settings.model_copy(update={"webhook_retention_days": 0})
    )
    assert await purge(expired) == {"attempts": 2, "deliveries": 2, "events": 2}
    assert await count(app.state.db, WebhookAttempt) == 0


async def test_sweep_requeues_deliveries_whose_job_is_gone(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, settings: Settings
) -> None:
    from datetime import timedelta

    from sqlalchemy import delete, update

    from harken.core.db import utcnow
    from harken.webhooks.tasks import sweep

    endpoint = await create_endpoint(client, tenant, receiver.url())
    await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started()])
    async with app.state.db.session() as session:  # the job is lost (say it failed for good and was purged)
        await session.execute(delete(Job))
        await session.execute(update(WebhookDelivery).values(updated_at=utcnow() - timedelta(minutes=11)))
    ctx = JobContext("j", "webhooks.sweep", {}, 1, 1, None, app.state.db, settings)
    assert await sweep(ctx) == {"requeued": 1}
    assert await sweep(ctx) == {"requeued": 0}  # it has a live job now
    async with running_worker(app, settings):
        await wait_for(lambda: _status_is(client, tenant, endpoint["id"], "delivered"), timeout=10)
    assert len(receiver.received()) == 1


async def test_recording_an_outcome_twice_writes_one_attempt(
    client: AsyncClient, tenant: Tenant, app: Any, receiver: Receiver, settings: Settings
) -> None:
    """A group-committed batch that fails is retried request by request: recording must be
    idempotent, for the set-based successes and for the per-delivery failures alike."""
    from harken.webhooks.delivery import _start
    from harken.webhooks.models import WebhookAttempt
    from harken.webhooks.recording import record
    from harken.webhooks.sending import close_clients, get_client, send

    receiver.behaviour = lambda r: (500, {}, b"no", 0.0) if r.path == "/bad" else (200, {}, b"ok", 0.0)
    await create_endpoint(client, tenant, receiver.url("/good"))
    await create_endpoint(client, tenant, receiver.url("/bad"))
    await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started()])
    db = app.state.db
    async with db.session() as session:
        job_id, ids = (await session.execute(select(Job.id, Job.payload))).one()
    [(plans, _defer)] = await _start(db, settings, [(job_id, ids["delivery_ids"])])
    assert len(plans) == 2
    outcomes = [await send(get_client(settings), plan) for plan in plans]
    await close_clients()
    assert sorted(o.status for o in outcomes) == [200, 500]
    await record(db, settings, [(job_id, outcomes)])
    await record(db, settings, [(job_id, outcomes)])
    async with db.session() as session:
        attempts = (await session.execute(select(WebhookAttempt.delivery_id, WebhookAttempt.attempt))).all()
        statuses = dict((await session.execute(select(WebhookDelivery.id, WebhookDelivery.status))).all())
    assert sorted(attempts) == sorted((plan.delivery_id, 1) for plan in plans)
    assert sorted(statuses.values()) == ["delivered", "pending"]  # the failure is scheduled for a retry
