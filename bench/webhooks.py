"""Webhook delivery benchmark: the engine against a bare HTTP client, same receiver, same run.

    .venv/bin/python -m bench.webhooks [--db sqlite|postgres] [--events 1000] [--endpoints 4]
                                       [--worker-processes N]

1. Fan-out throughput: `--events` events are emitted (each to `--endpoints` endpoints), then an
   in-process worker (or N `harken worker` processes, timed from the first arrival at the
   receiver to the last, so process start-up is not counted) delivers them; deliveries/s is
   compared with a bare `aiohttp.ClientSession` (the engine's HTTP library) POSTing the same
   signed bodies to the same receiver, at the engine's connection count and at 16 and 64
   connections; the ratio (target 0.5) is against the bare client's best of those. A bare
   `httpx.AsyncClient` is timed too, for reference.
2. Latency: events emitted at a steady `--rate` per second for `--seconds`; for each, the time from
   the emitting transaction's commit to the receiver getting the first attempt (p50/p99; target
   p99 < 250 ms).

The receiver is a separate uvicorn process on 127.0.0.1 that answers 200 at once and records when
each delivery arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from sqlalchemy import func, select

RECEIVER = r"""
import json, sys, time
import uvicorn
seen = {}
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if scope["path"] == "/stats":
        body = json.dumps(seen).encode()
        seen.clear()
    else:
        headers = dict(scope["headers"])
        key = (headers.get(b"x-ontora-delivery-id") or b"").decode()
        seen.setdefault(key, time.time())
        body = b"ok"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False, interface="asgi3")
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_receiver() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{url}/stats", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("receiver did not start")


def make_database(kind: str) -> tuple[str, Any]:
    from harken.core.migrate import upgrade

    if kind == "sqlite":
        tmp = tempfile.mkdtemp(prefix="harken-bench-")
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        return url, lambda: None
    from bench._databases import throwaway_postgres

    return throwaway_postgres(
        os.environ.get("HARKEN_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    )


def start_workers(db_url: str, count: int, concurrency: int) -> list[subprocess.Popen[bytes]]:
    """`harken worker` processes, as a deployment runs them next to the API servers."""
    env = {
        **os.environ,
        "HARKEN_DATABASE_URL": db_url,
        "HARKEN_DATA_DIR": tempfile.mkdtemp(prefix="harken-bench-worker-"),
        "HARKEN_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "HARKEN_WORKER_POLL_INTERVAL": "0.2",
        "HARKEN_LOG_LEVEL": "WARNING",
    }
    harken = str(Path(sys.executable).with_name("harken"))
    return [
        subprocess.Popen(
            [harken, "worker"],
            env={**env, "HARKEN_WEBHOOK_DELIVERY_CONCURRENCY": str(concurrency)},
            stdout=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


def stop_workers(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=60)


class Workers:
    """The engine's workers for one phase: in this process (`count` 0) or `count` processes."""

    def __init__(self, db: Any, db_url: str, settings: Any, count: int, concurrency: int) -> None:
        self.db, self.db_url, self.settings, self.count, self.concurrency = db, db_url, settings, count, concurrency

    async def __aenter__(self) -> Workers:
        from harken.core.jobs import Worker

        if self.count:
            self.processes = start_workers(self.db_url, self.count, self.concurrency)
        else:
            self.worker = Worker(self.db, self.settings)
            self.task = asyncio.create_task(self.worker.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.count:
            await asyncio.to_thread(stop_workers, self.processes)
        else:
            self.worker.stop()
            await self.task


async def setup(db: Any, url: str, endpoints: int) -> str:
    from harken.webhooks.schemas import EndpointCreate
    from harken.webhooks.service import create_endpoint
    from harken.workspaces.service import create_workspace

    async with db.session() as session:
        workspace = await create_workspace(session, "bench")
    from harken.core.settings import Settings

    settings = Settings(_env_file=None)
    async with db.session() as session:
        for i in range(endpoints):
            body = EndpointCreate(workspace_id=workspace.id, url=f"{url}/hook/{i}")
            await create_endpoint(session, workspace.id, body, settings, created_by=None)
    return workspace.id


def data(i: int) -> dict[str, Any]:
    return {"interview_id": f"iv-{i}", "name": f"Campaign {i}", "contact_count": i}


async def emit_batch(db: Any, workspace_id: str, start: int, count: int) -> None:
    from harken.webhooks.events import emit

    async with db.session() as session:
        for i in range(start, start + count):
            await emit(session, workspace_id=workspace_id, event_type="campaign.started", data=data(i))


async def delivered(db: Any) -> int:
    from harken.webhooks.models import WebhookDelivery

    async with db.read_sessionmaker() as session:
        return (
            await session.execute(
                select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "delivered")
            )
        ).scalar_one()


Body = tuple[str, bytes, dict[str, str]]  # target URL, signed body, headers


async def _post_all(bodies: list[Body], concurrency: int, post: Callable[[Body], Awaitable[None]]) -> float:
    """Seconds `concurrency` runners take to `post` every body once."""
    queue: asyncio.Queue[Body] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)

    async def runner() -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await post(item)

    t0 = time.perf_counter()
    await asyncio.gather(*(runner() for _ in range(concurrency)))
    return time.perf_counter() - t0


async def baseline(bodies: list[Body], concurrency: int) -> float:
    """Seconds a bare aiohttp session (the engine's HTTP library) takes to POST every body."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def post(item: Body) -> None:
            target, body, headers = item
            async with session.post(target, data=body, headers=headers, allow_redirects=False) as response:
                await response.read()
                assert response.status == 200

        return await _post_all(bodies, concurrency, post)


async def baseline_httpx(bodies: list[Body], concurrency: int) -> float:
    """The same with httpx, for reference (the library the engine used before)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10, follow_redirects=False) as client:

        async def post(item: Body) -> None:
            target, body, headers = item
            response = await client.post(target, content=body, headers=headers)
            assert response.status_code == 200

        return await _post_all(bodies, concurrency, post)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import harken.models
    import harken.tasks  # noqa: F401
    from harken.core.db import Database
    from harken.core.settings import Settings
    from harken.webhooks.models import Event, WebhookDelivery, WebhookEndpoint
    from harken.webhooks.signing import delivery_headers

    receiver, url = start_receiver()
    db_url, drop = make_database(args.db)
    db = Database(db_url)
    settings = Settings(
        _env_file=None,
        database_url=db_url,
        webhook_allowed_networks=["127.0.0.0/8"],
        webhook_delivery_concurrency=args.concurrency,
        worker_poll_interval=0.2,
    )
    out: dict[str, Any] = {
        "db": args.db,
        "events": args.events,
        "endpoints": args.endpoints,
        "worker_processes": args.worker_processes,
    }
    try:
        workspace_id = await setup(db, url, args.endpoints)
        # -- 1. throughput ------------------------------------------------------------------------
        t0 = time.perf_counter()
        for start in range(0, args.events, 100):
            await emit_batch(db, workspace_id, start, min(100, args.events - start))
        out["emit_events_per_s"] = round(args.events / (time.perf_counter() - t0), 1)
        total = args.events * args.endpoints
        if not args.worker_processes:
            from harken.core.runtime import freeze_startup_heap

            freeze_startup_heap()  # `harken serve` does it once at start-up, before any traffic
        t0, started_at = time.perf_counter(), time.time()
        async with Workers(db, db_url, settings, args.worker_processes, args.concurrency):
            deadline = time.perf_counter() + 300
            while (done := await delivered(db)) < total:
                if time.perf_counter() > deadline:
                    raise SystemExit(f"only {done} of {total} deliveries delivered after 300 s")
                await asyncio.sleep(0.1)  # each count is work the worker's core shares
            engine_s = time.perf_counter() - t0
        arrivals = sorted(json.loads(httpx.get(f"{url}/stats").text).values())  # and reset
        out["engine_first_arrival_s"] = round(arrivals[0] - started_at, 2)
        if args.worker_processes:
            # A new process spends seconds importing every domain before its first claim; count the
            # steady state, from the first arrival at the receiver to the last.
            engine_s = arrivals[-1] - arrivals[0]
        async with db.read_sessionmaker() as session:
            rows = (
                await session.execute(
                    select(WebhookDelivery.id, WebhookDelivery.event_type, Event.body, WebhookEndpoint.url)
                    .join(Event, Event.id == WebhookDelivery.event_id)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                )
            ).all()
            secret = (await session.execute(select(WebhookEndpoint.secret).limit(1))).scalar_one()
        bodies = [
            (
                r.url,
                r.body.encode(),
                delivery_headers(delivery_id=r.id, event_type=r.event_type, body=r.body.encode(), secrets_=[secret]),
            )
            for r in rows
        ]
        # The bare client at the engine's connection count and at smaller ones; the ratio is taken
        # against its best (more connections to one receiver are not always faster).
        connections = min(args.concurrency * args.endpoints, settings.webhook_max_connections)
        bare: dict[int, float] = {}
        for count in sorted({16, 64, connections}):
            bare[count] = await baseline(bodies, count)
            httpx.get(f"{url}/stats")
        best = min(bare, key=lambda count: bare[count])
        sample = bodies[:2000]  # httpx is an order of magnitude slower: a sample is enough
        httpx_s = await baseline_httpx(sample, connections)
        out["deliveries"] = total
        out["engine_deliveries_per_s"] = round(total / engine_s, 1)
        out["bare_aiohttp_per_s_by_connections"] = {count: round(total / s, 1) for count, s in bare.items()}
        out["bare_aiohttp_per_s"] = round(total / bare[best], 1)
        out["ratio"] = round(bare[best] / engine_s, 2)
        out["ratio_same_connections"] = round(bare[connections] / engine_s, 2)
        out["bare_httpx_per_s"] = round(len(sample) / httpx_s, 1)
        httpx.get(f"{url}/stats")

        # -- 2. latency at a steady rate, one endpoint --------------------------------------------
        async with db.session() as session:
            await session.execute(
                WebhookEndpoint.__table__.update().where(WebhookEndpoint.url != f"{url}/hook/0").values(active=False)
            )
        commits: dict[str, float] = {}
        workers = Workers(db, db_url, settings, args.worker_processes, args.concurrency)
        await workers.__aenter__()
        await asyncio.sleep(8.0 if args.worker_processes else 0.5)  # processes import every domain first
        from harken.webhooks.events import emit

        n = int(args.rate * args.seconds)

        async def one(i: int) -> None:
            async with db.session() as session:
                event = await emit(session, workspace_id=workspace_id, event_type="campaign.started", data=data(i))
            commits[event.id] = time.time()

        # A steady rate of independent transactions, as concurrent API requests would make them.
        tasks = []
        t_start = time.perf_counter()
        for i in range(n):
            delay = t_start + i / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        achieved = n / (time.perf_counter() - t_start)
        target = total + n
        deadline = time.perf_counter() + 60
        while await delivered(db) < target and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        await workers.__aexit__(None, None, None)
        seen = json.loads(httpx.get(f"{url}/stats").text)
        async with db.read_sessionmaker() as session:
            pairs = dict(
                (
                    await session.execute(
                        select(WebhookDelivery.id, WebhookDelivery.event_id).where(
                            WebhookDelivery.event_id.in_(list(commits))
                        )
                    )
                ).all()
            )
        latencies = sorted((seen[d] - commits[e]) * 1000 for d, e in pairs.items() if d in seen)
        out["latency_events"] = n
        out["latency_rate_achieved"] = round(achieved, 1)
        out["latency_received"] = len(latencies)
        if latencies:
            out["latency_p50_ms"] = round(statistics.median(latencies), 1)
            out["latency_p99_ms"] = round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1)
            out["latency_max_ms"] = round(latencies[-1], 1)
    finally:
        await db.dispose()
        drop()
        receiver.terminate()
        receiver.wait()
    return out


def main() -> None:
    from harken.core.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=4)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=Settings.model_fields["webhook_delivery_concurrency"].default,
        help="delivery jobs in flight per worker (HARKEN_WEBHOOK_DELIVERY_CONCURRENCY; the default is the product's)",
    )
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=0,
        help="0: one worker inside the benchmark process; N: N separate `harken worker` processes",
    )
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
