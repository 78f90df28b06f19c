"""HTTP platform benchmark: authenticated requests vs a bare route on the same real server.

Starts `harken serve` (uvicorn, worker off, rate limit out of the way) in a subprocess on SQLite
(or PostgreSQL with --database-url / HARKEN_TEST_DATABASE_URL), then measures, in the same run and
at the same concurrency:

- baseline: `GET /healthz` (no auth, no database),
- `GET /v1/api-keys/current` (API-key lookup, rate limiter, a database read, JSON response).

and prints requests/s, p50/p99 latency and the ratio authenticated / baseline (target >= 0.5).
The load generator is `wrk` when installed (apt-get install wrk), else an httpx async client.

    .venv/bin/python -m bench.api [--duration 10] [--connections 50] [--database-url URL] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, database_url: str, data_dir: Path, key: str, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "HARKEN_DATABASE_URL": database_url,
            "HARKEN_DATA_DIR": str(data_dir),
            "HARKEN_RATE_LIMIT": "1000000000/minute",
            "HARKEN_BOOTSTRAP_API_KEY": key,
            "HARKEN_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        env.pop("HARKEN_REDIS_URL", None)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harken", "serve", "--no-worker", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((data_dir / "server.log").read_text())
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(url: str, headers: dict[str, str], duration: float, connections: int) -> dict[str, Any]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{int(duration)}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


async def _httpx_load(url: str, headers: dict[str, str], duration: float, connections: int) -> dict[str, Any]:
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10) as http:
        stop_at = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal failures
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                response = await http.get(url)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    failures += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "non_2xx": failures,
        "socket_errors": "",
    }


def measure(tool: str, url: str, headers: dict[str, str], duration: float, connections: int) -> dict[str, Any]:
    if tool == "wrk":
        return run_wrk(url, headers, duration, connections)
    return asyncio.run(_httpx_load(url, headers, duration, connections))


def bench_one(database_url: str, label: str, args: argparse.Namespace, tool: str) -> dict[str, Any]:
    key = "ont_live_" + secrets.token_urlsafe(32)
    auth = {"X-API-Key": key}
    rounds: dict[str, list[dict[str, Any]]] = {"healthz": [], "auth": [], "auth_no_cache": []}
    with tempfile.TemporaryDirectory(prefix="harken-bench-") as tmp:
        server = Server(database_url, Path(tmp), key)
        # The same database through a second server with the key-lookup cache off: what every
        # request pays for a database lookup.
        uncached = Server(database_url, Path(tmp) / "nc", key, {"HARKEN_AUTH_CACHE_SECONDS": "0"})
        try:
            bare = f"{server.url}/healthz"
            authed = f"{server.url}/v1/api-keys/current"
            authed_nc = f"{uncached.url}/v1/api-keys/current"
            assert httpx.get(authed, headers=auth).status_code == 200
            assert httpx.get(authed_nc, headers=auth).status_code == 200
            measure(tool, bare, {}, 2, args.connections)  # warm-up
            measure(tool, authed, auth, 2, args.connections)
            measure(tool, authed_nc, auth, 2, args.connections)
            for _ in range(args.rounds):  # interleaved, so shared-machine noise hits both alike
                rounds["healthz"].append(measure(tool, bare, {}, args.duration, args.connections))
                rounds["auth"].append(measure(tool, authed, auth, args.duration, args.connections))
                rounds["auth_no_cache"].append(measure(tool, authed_nc, auth, args.duration, args.connections))
        finally:
            server.stop()
            uncached.stop()

    def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
        return max(runs, key=lambda r: r["rps"])

    healthz, authed_result = best(rounds["healthz"]), best(rounds["auth"])
    no_cache = best(rounds["auth_no_cache"])
    return {
        "database": label,
        "tool": tool,
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "healthz": healthz,
        "api_keys_current": authed_result,
        "api_keys_current_cache_off": no_cache,
        "ratio": authed_result["rps"] / healthz["rps"],
        "ratio_cache_off": no_cache["rps"] / healthz["rps"],
        "all_rounds": rounds,
    }


def _pg_database(admin_url: str) -> tuple[str, Any]:
    """A fresh database; the `harken serve` under test migrates it."""
    from bench._databases import throwaway_postgres

    return throwaway_postgres(admin_url, migrate=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best of each is kept")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--database-url", default=os.environ.get("HARKEN_TEST_DATABASE_URL"))
    parser.add_argument("--tool", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "httpx")

    results = []
    with tempfile.TemporaryDirectory(prefix="harken-bench-db-") as tmp:
        results.append(bench_one(f"sqlite+aiosqlite:///{tmp}/bench.db", "sqlite", args, tool))
    if args.database_url:
        url, drop = _pg_database(args.database_url)
        try:
            results.append(bench_one(url, "postgresql", args, tool))
        finally:
            drop()

    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"load: {tool}, {args.connections} connections, {args.rounds} x {args.duration:.0f} s per route (best kept)")
    print(f"{'database':<11} {'route':<26} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for result in results:
        for name, route in (
            ("healthz", "GET /healthz (baseline)"),
            ("api_keys_current", "GET /v1/api-keys/current"),
            ("api_keys_current_cache_off", "  same, key cache off"),
        ):
            r = result[name]
            print(
                f"{result['database']:<11} {route:<26} {r['rps']:>9.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
                f"{r['non_2xx']:>8}"
            )
        verdict = "ok" if result["ratio"] >= 0.5 else "BELOW TARGET"
        print(
            f"{result['database']:<11} ratio authenticated / baseline = {result['ratio']:.2f} "
            f"(target >= 0.5: {verdict}); with the key cache off {result['ratio_cache_off']:.2f}"
        )


if __name__ == "__main__":
    main()
