"""One HTTP attempt of a webhook delivery: the shared client, the POST, what the receiver said.

aiohttp, not httpx, sends deliveries: measured on this project's machines it spends ~0.17 ms of
CPU per request against httpx's 2.6-4.2 ms, and the CPU per delivery is what bounds throughput
(docs/benchmarks/webhooks.md). Connections are SSRF-guarded at connect time (`harken.webhooks.ssrf`).
"""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from harken.core.db import utcnow
from harken.core.settings import Settings
from harken.webhooks.signing import USER_AGENT, delivery_headers
from harken.webhooks.ssrf import AddressPolicy, blocked_error, check_literal_host, guarded_session

BODY_LIMIT = 4096
MAX_RETRY_AFTER = 24 * 3600.0


@dataclass
class Plan:
    """One attempt to make: what to send where, and what recording its outcome needs."""

    job_id: str
    delivery_id: str
    workspace_id: str
    attempt_id: str  # chosen at the start, so recording the outcome twice writes one row
    attempt: int
    cycle_attempts: int
    endpoint_id: str
    url: str
    ordered: bool
    event_type: str
    body: bytes
    secrets: list[str]
    custom_headers: dict[str, str]
    endpoint_was_failing: bool = False


@dataclass
class Outcome:
    """How one attempt ended (never an exception: failures carry an `error`)."""

    plan: Plan
    started_at: datetime
    duration_ms: int
    status: int | None = None
    headers: dict[str, str] | None = None
    body: str | None = None
    error: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and self.error is None


# -- the shared HTTP client ---------------------------------------------------------------------

_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Client]] = (
    weakref.WeakKeyDictionary()
)


def policy_from(settings: Settings) -> AddressPolicy:
    return _policy(settings.webhook_allow_private, tuple(settings.webhook_allowed_networks))


@functools.lru_cache(maxsize=64)
def _policy(allow_private: bool, networks: tuple[str, ...]) -> AddressPolicy:
    return AddressPolicy.from_settings(allow_private, networks)


@dataclass
class Client:
    session: aiohttp.ClientSession  # its total timeout is `timeout`
    policy: AddressPolicy
    timeout: float
    # As many as the session has connections: an attempt takes one before its clock starts, so
    # time spent waiting for a free connection never counts against the receiver's timeout.
    connections: asyncio.Semaphore


def get_client(settings: Settings) -> Client:
    """One client session per event loop (per worker) and policy, reused across jobs."""
    loop = asyncio.get_running_loop()
    policy = policy_from(settings)
    limit = max(1, settings.webhook_max_connections)
    key = (policy, settings.webhook_timeout_seconds, limit)
    per_loop = _CLIENTS.setdefault(loop, {})
    client = per_loop.get(key)
    if client is None or client.session.closed:
        session = guarded_session(
            policy, timeout=settings.webhook_timeout_seconds, max_connections=limit, user_agent=USER_AGENT
        )
        client = per_loop[key] = Client(session, policy, settings.webhook_timeout_seconds, asyncio.Semaphore(limit))
    return client


async def close_clients() -> None:
    """Close this event loop's client sessions (a worker calls it when it stops)."""
    per_loop = _CLIENTS.pop(asyncio.get_running_loop(), {})
    for client in per_loop.values():
        await client.session.close()


# -- one HTTP attempt ------------------------------------------------------------------------------


async def send(client: Client, plan: Plan) -> Outcome:
    """POST one delivery; never raises: every failure becomes an `Outcome` with an error."""
    async with client.connections:
        return await _attempt(client, plan)


async def _attempt(client: Client, plan: Plan) -> Outcome:
    started_at = utcnow()
    started = time.perf_counter()
    headers = delivery_headers(
        delivery_id=plan.delivery_id,
        event_type=plan.event_type,
        body=plan.body,
        secrets_=plan.secrets,
        custom=plan.custom_headers,
    )
    outcome = Outcome(plan=plan, started_at=started_at, duration_ms=0)
    try:
        check_literal_host(plan.url, client.policy)
        # The session's total timeout bounds the whole exchange: resolving, connecting, sending and
        # reading the body (aiohttp raises a TimeoutError subclass).
        async with client.session.post(plan.url, data=plan.body, headers=headers, allow_redirects=False) as response:
            chunks: list[bytes] = []
            size = 0
            while size < BODY_LIMIT:
                chunk = await response.content.read(BODY_LIMIT - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        outcome.status = response.status
        outcome.headers = {_valid_text(k): _valid_text(v) for k, v in response.headers.items()}
        # A receiver answering binary must not break the record (PostgreSQL text cannot hold NUL).
        outcome.body = _valid_text(b"".join(chunks).decode("utf-8", errors="replace"))
        if not 200 <= response.status < 300:
            outcome.error = _status_error(response.status)
            if response.status in (429, 503):
                outcome.retry_after = parse_retry_after(response.headers.get("retry-after"))
    except TimeoutError:
        outcome.error = f"timeout: no complete response within {client.timeout:g} s"
    except (aiohttp.ClientError, OSError) as exc:
        blocked = blocked_error(exc)
        if blocked is not None:
            outcome.error = str(blocked)
        elif isinstance(exc, aiohttp.ClientConnectorError):
            outcome.error = f"network error: connection failed: {exc}"
        elif isinstance(exc, aiohttp.ServerDisconnectedError):
            outcome.error = "network error: the receiver closed the connection without a response"
        else:
            outcome.error = f"network error: {type(exc).__name__}: {exc}".rstrip(": ")
    except Exception as exc:  # never let one delivery break the batch
        outcome.error = f"error: {type(exc).__name__}: {exc}"
    if outcome.error is not None:
        outcome.error = _valid_text(outcome.error)
    outcome.duration_ms = int((time.perf_counter() - started) * 1000)
    return outcome


def _valid_text(text: str) -> str:
    """`text` as storable Unicode: aiohttp keeps undecodable header bytes as lone surrogates, which
    neither UTF-8 nor PostgreSQL's json accept (nor NUL); each such byte becomes U+FFFD."""
    if text.isascii() and "\x00" not in text:
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


def _status_error(status: int) -> str:
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed"
    if status == 410:
        return "HTTP 410 Gone: endpoint disabled"
    return f"HTTP {status}"


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = (when - utcnow()).total_seconds() if when.tzinfo else None  # type: ignore[assignment]
        if seconds is None:
            return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER))
