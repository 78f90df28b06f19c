"""Metrics per route template, JSON logs with request and workspace ids, readiness (contract §6)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from pathlib import Path

import httpx
from fastapi import FastAPI

from harken.core.auth import AnyAuth
from harken.core.logging import configure_logging


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        match = re.fullmatch(re.escape(name) + r"\{(.*)\} (\S+)", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(2))
    return 0.0


async def test_metrics_count_requests_per_route_template(client, tenant):
    before = (await client.get("/metrics")).text
    route = "/v1/workspaces/{workspace_id}"
    for _ in range(3):
        await client.get(f"/v1/workspaces/{tenant.workspace_id}", headers=tenant.headers)
    await client.get(f"/v1/workspaces/{uuid.uuid4()}", headers=tenant.headers)
    await client.get(f"/v1/no-such-route/{uuid.uuid4()}")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    ok = dict(name="harken_http_requests_total", method="GET", route=route, status="200")
    assert _sample(after, **ok) - _sample(before, **ok) == 3
    missing = {**ok, "status": "404"}
    assert _sample(after, **missing) - _sample(before, **missing) == 1
    unmatched = dict(name="harken_http_requests_total", method="GET", route="unmatched", status="404")
    assert _sample(after, **unmatched) - _sample(before, **unmatched) == 1
    latency = dict(name="harken_http_request_duration_seconds_count", method="GET", route=route)
    assert _sample(after, **latency) - _sample(before, **latency) == 4
    assert tenant.workspace_id not in after  # ids never become label values
    assert "harken_jobs{" in after  # queue depth


def _crash_route(app: FastAPI) -> None:
    @app.get("/v1/test/crash")
    async def crash(auth: AnyAuth) -> None:
        raise RuntimeError("kaboom")


async def test_json_log_lines_carry_request_and_workspace_ids(make_client, tenant, capsys):
    _app, client = await make_client(setup=_crash_route)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("json", "INFO")
    try:
        ok = await client.get("/v1/api-keys/current", headers={**tenant.headers, "X-Request-Id": "log-ok-1"})
        crash = await client.get("/v1/test/crash", headers={**tenant.headers, "X-Request-Id": "log-crash-1"})
    finally:
        root.handlers, _ = saved
        root.setLevel(saved[1])
    assert ok.status_code == 200 and crash.status_code == 500
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    access = [e for e in lines if e["request_id"] == "log-ok-1" and e["logger"] == "harken.http"]
    assert len(access) == 1
    entry = access[0]
    assert entry["workspace_id"] == tenant.workspace_id
    assert entry["status"] == 200 and entry["route"] == "/v1/api-keys/current" and entry["method"] == "GET"
    assert entry["ts"].endswith("Z") and entry["duration_ms"] >= 0
    crashed = [e for e in lines if e["request_id"] == "log-crash-1"]
    error = next(e for e in crashed if e["level"] == "error")
    assert "kaboom" in error["exception"] and error["workspace_id"] == tenant.workspace_id
    assert any(e.get("status") == 500 for e in crashed)
    assert crash.json()["request_id"] == "log-crash-1"


async def test_real_server_writes_json_logs(app, tenant, serve, tmp_path: Path):
    server = serve(HARKEN_LOG_FORMAT="json", HARKEN_LOG_LEVEL="INFO")
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get(f"/v1/workspaces/{uuid.uuid4()}", headers={**tenant.headers, "X-Request-Id": "srv-1"})
    assert response.status_code == 404
    server.stop()
    assert server.log_path is not None
    entries = [json.loads(x) for x in server.log_path.read_text().splitlines() if x.startswith("{")]
    mine = [e for e in entries if e.get("request_id") == "srv-1"]
    assert mine and mine[0]["workspace_id"] == tenant.workspace_id and mine[0]["status"] == 404
    assert mine[0]["route"] == "/v1/workspaces/{workspace_id}"


async def test_readyz(client, make_client, tmp_path: Path):
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    # A fresh database nobody migrated: not ready.
    _app, fresh = await make_client(database_url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    pending = await fresh.get("/readyz")
    assert pending.status_code == 503
    assert pending.json()["code"] == "service_unavailable" and "igration" in pending.json()["detail"]
    assert (await fresh.get("/healthz")).status_code == 200  # alive, just not ready
    # A database that cannot be reached.
    _app, broken = await make_client(database_url=f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
    down = await broken.get("/readyz")
    assert down.status_code == 503 and down.json()["code"] == "service_unavailable"
