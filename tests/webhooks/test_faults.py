"""Reliability under faults, with a real receiver on 127.0.0.1 and real worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select

from harken.core.settings import Settings
from harken.webhooks.models import WebhookDelivery
from tests.conftest import PG_URL
from tests.helpers import ServerProcess, Tenant, wait_for
from tests.webhooks.conftest import (
    create_endpoint,
    deliveries_of,
    delivery_detail,
    emit_events,
    running_worker,
    started,
)
from tests.webhooks.receiver import Received, Receiver


def worker_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "HARKEN_DATABASE_URL": database_url,
        "HARKEN_DATA_DIR": str(data_dir),
        "HARKEN_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "HARKEN_WEBHOOK_RETRY_SCHEDULE": "[0.2, 0.4, 0.6]",
        "HARKEN_WORKER_POLL_INTERVAL": "0.05",
        "HARKEN_JOB_LEASE_SECONDS": "2",
        "HARKEN_LOG_LEVEL": "WARNING",
        **extra,
    }


async def status_counts(db: Any) -> dict[str, int]:
    async with db.session() as session:
        rows = await session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status))
        return {status: n for status, n in rows.all()}


async def test_receiver_down_then_back_loses_nothing(
    client: AsyncClient, tenant: Tenant, app: Any, settings: Settings, receiver: Receiver
) -> None:
    patient = settings.model_copy(update={"webhook_retry_schedule": [0.3] * 20})
    endpoint = await create_endpoint(client, tenant, receiver.url())
    receiver.stop()  # the receiver is down
    async with running_worker(app, patient):
        await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started(i) for i in range(20)])

        async def some_failed() -> bool:
            rows = await deliveries_of(client, tenant, endpoint["id"])
            return sum(r["attempts"] for r in rows) >= 40

        await wait_for(some_failed, timeout=20)
        receiver.start()  # back, same port
        await wait_for(lambda: _all_delivered(app, 20), timeout=30)
    rows = await deliveries_of(client, tenant, endpoint["id"])
    assert len(rows) == 20 and all(r["attempts"] >= 2 for r in rows)
    assert set(receiver.delivery_ids()) == {r["id"] for r in rows}
    assert sorted(r.json()["data"]["contact_count"] for r in receiver.received()) == list(range(20))
    errors = (await delivery_detail(client, tenant, endpoint["id"], rows[0]["id"]))["attempt_log"][0]["error"]
    assert errors.startswith("network error: connection failed")


async def _all_delivered(app: Any, n: int) -> bool:
    return (await status_counts(app.state.db)).get("delivered", 0) == n


async def test_committed_change_is_delivered_after_the_process_is_killed(
    client: AsyncClient, tenant: Tenant, app: Any, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    await create_endpoint(client, tenant, receiver.url())
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        import harken.models
        from harken.core.db import Database
        from harken.webhooks.events import emit

        async def main():
            db = Database({settings.resolved_database_url!r})
            async with db.session() as session:
                await emit(session, workspace_id={tenant.workspace_id!r}, event_type="campaign.started",
                           data={{"interview_id": "iv-k", "name": "killed", "contact_count": 1}})
            os.kill(os.getpid(), signal.SIGKILL)  # right after the commit, before anything else runs

        asyncio.run(main())
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert proc.returncode == -signal.SIGKILL
    async with running_worker(app, settings):
        await wait_for(lambda: receiver.received(), timeout=15)
    assert receiver.received()[0].json()["data"]["name"] == "killed"


async def test_worker_killed_mid_delivery_is_retried_with_the_same_id(
    client: AsyncClient, tenant: Tenant, app: Any, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    def behaviour(request: Received) -> tuple[int, dict[str, str], bytes, float]:
        if len(receiver.received()) == 1:
            return 200, {}, b"too late", 20.0  # the first attempt hangs until its worker is killed
        return 200, {}, b"ok", 0.0

    receiver.behaviour = behaviour
    endpoint = await create_endpoint(client, tenant, receiver.url())
    env = worker_env(settings.resolved_database_url, tmp_path, HARKEN_WEBHOOK_TIMEOUT_SECONDS="3")
    first = ServerProcess(["worker"], env).start(tmp_path / "worker1.log")
    try:
        await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started()])
        await wait_for(lambda: receiver.received(), timeout=20)
        first.stop(signal.SIGKILL)
        second = ServerProcess(["worker"], env).start(tmp_path / "worker2.log")
        try:
            await wait_for(lambda: _all_delivered(app, 1), timeout=30)
        finally:
            second.stop()
    finally:
        first.stop(signal.SIGKILL)
    ids = receiver.delivery_ids()
    assert len(ids) == 2 and ids[0] == ids[1]
    [delivery] = await deliveries_of(client, tenant, endpoint["id"])
    assert delivery["id"] == ids[0] and delivery["attempts"] == 2 and delivery["status"] == "delivered"
    log = (await delivery_detail(client, tenant, endpoint["id"], delivery["id"]))["attempt_log"]
    assert log[0]["error"].startswith("interrupted") and log[1]["response_status"] == 200


async def test_slow_receiver_does_not_stall_other_endpoints(
    client: AsyncClient, tenant: Tenant, app: Any, settings: Settings, receiver: Receiver
) -> None:
    receiver.behaviour = lambda r: (200, {}, b"", 9.0) if r.path == "/slow" else (200, {}, b"", 0.0)
    patient = settings.model_copy(update={"webhook_timeout_seconds": 12.0})
    slow = await create_endpoint(client, tenant, receiver.url("/slow"))
    fast = await create_endpoint(client, tenant, receiver.url("/fast"))
    async with running_worker(app, patient):
        t0 = time.monotonic()
        await emit_events(app.state.db, tenant.workspace_id, "campaign.started", [started(i) for i in range(5)])
        await wait_for(lambda: len(receiver.received("/fast")) == 5, timeout=20)
        fast_done = time.monotonic() - t0
        await wait_for(lambda: _status_is(client, tenant, fast["id"], "delivered"), timeout=20)
        assert time.monotonic() - t0 < 8  # recorded as delivered while the slow ones are still in flight
        await wait_for(lambda: _status_is(client, tenant, slow["id"], "delivered"), timeout=30)
    assert fast_done < 5
    assert len(receiver.received("/slow")) == 5


async def _status_is(client: AsyncClient, tenant: Tenant, endpoint_id: str, status: str) -> bool:
    rows = await deliveries_of(client, tenant, endpoint_id)
    return bool(rows) and all(r["status"] == status for r in rows)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs HARKEN_TEST_DATABASE_URL (PostgreSQL)")
async def test_three_worker_processes_deliver_5000_events_exactly_once(
    client: AsyncClient, tenant: Tenant, app: Any, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    total = int(os.environ.get("HARKEN_TEST_WEBHOOK_EVENTS", "5000"))
    await create_endpoint(client, tenant, receiver.url())
    env = worker_env(
        settings.resolved_database_url, tmp_path, HARKEN_WORKER_CONCURRENCY="8", HARKEN_JOB_LEASE_SECONDS="30"
    )
    workers = [ServerProcess(["worker"], env).start(tmp_path / f"w{i}.log") for i in range(3)]
    try:
        # the workers deliver while the events are still being emitted, 250 per transaction
        for start in range(0, total, 250):
            await emit_events(
                app.state.db, tenant.workspace_id, "campaign.started", [started(i) for i in range(start, start + 250)]
            )
        await wait_for(lambda: _all_delivered(app, total), timeout=900, interval=0.5)
    except TimeoutError as exc:
        logs = "\n".join((w.log_path.read_text()[-2000:] if w.log_path else "") for w in workers)
        state = f"{await status_counts(app.state.db)}; {len(receiver.received())} received"
        raise AssertionError(f"{state}\n{logs}") from exc
    finally:
        for w in workers:
            w.stop()
    ids = receiver.delivery_ids()
    assert len(ids) == total and len(set(ids)) == total  # every delivery exactly once
    counts = sorted(json.loads(r.body)["data"]["contact_count"] for r in receiver.received())
    assert counts == list(range(total))
    assert await status_counts(app.state.db) == {"delivered": total}
    for w in workers:  # all three ran to a clean shutdown
        assert w.proc is not None and w.proc.returncode == 0, os.fspath(w.log_path or "")
