"""Per-workspace rate limits (contract §2), in-process or shared through Redis.

A fixed window per workspace (not per key); the window starts with the workspace's first request
and lasts the limit's period. The limit comes from the workspace's `rate_limit` (e.g.
"1200/minute", set with `harken workspaces create --rate-limit` or `set-rate-limit`) or
`HARKEN_RATE_LIMIT`. Storage is in-process by default and Redis when `HARKEN_REDIS_URL` is set,
so several server processes share one counter per workspace.

Headers on every authenticated response: `X-RateLimit-Limit/Remaining/Reset` (Reset is a Unix
timestamp in seconds) and the IETF `RateLimit-Policy` / `RateLimit` fields; over the limit, 429
`rate_limited` with `Retry-After` (seconds).
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.storage import storage_from_string

from harken.core.errors import RateLimited
from harken.core.settings import Settings

if TYPE_CHECKING:
    from harken.core.auth import Principal

logger = logging.getLogger("harken.ratelimit")
STATE_KEY = "rate_limit_headers"


def parse_rate_limit(spec: str) -> RateLimitItem:
    """Parse "100/minute", "10 per second", ... ; raises ValueError on anything else."""
    try:
        item = parse(spec)
    except Exception as exc:  # limits raises ValueError, but be strict about what we accept
        raise ValueError(f"invalid rate limit {spec!r}; use e.g. '600/minute' or '20/second'") from exc
    if item.amount < 1:
        raise ValueError(f"invalid rate limit {spec!r}: the amount must be at least 1")
    return item


class RateLimitDecision:
    __slots__ = ("allowed", "headers", "item", "retry_after")

    def __init__(self, allowed: bool, headers: dict[str, str], item: RateLimitItem, retry_after: int) -> None:
        self.allowed = allowed
        self.headers = headers
        self.item = item
        self.retry_after = retry_after

    def error(self) -> RateLimited:
        window = self.item.get_expiry()
        return RateLimited(
            f"Rate limit of {self.item.amount} requests per {window} s exceeded for this workspace",
            headers={**self.headers, "Retry-After": str(self.retry_after)},
        )


class LocalWindows:
    """In-process fixed windows: the `limits` storage interface subset we use, without the
    per-call background tasks and thread hops of `limits.aio.storage.MemoryStorage`."""

    def __init__(self) -> None:
        self._windows: dict[str, list[float]] = {}  # key -> [window end (epoch s), count]
        self._calls = 0

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        self._calls += 1
        if self._calls % 10_000 == 0:
            self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
        window = self._windows.get(key)
        if window is None or window[0] <= now:
            window = self._windows[key] = [now + expiry, 0]
        window[1] += amount
        return int(window[1])

    async def get_expiry(self, key: str) -> float:
        window = self._windows.get(key)
        return window[0] if window is not None else time.time()


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.default = parse_rate_limit(settings.rate_limit)
        self.storage: Storage | LocalWindows
        if settings.redis_url:
            uri = settings.redis_url.replace("redis://", "async+redis://", 1)
            self.storage = storage_from_string(uri, implementation="coredis")
        else:
            self.storage = LocalWindows()
        self._parsed: dict[str, RateLimitItem] = {}

    def limit_for(self, spec: str | None) -> RateLimitItem:
        if not spec:
            return self.default
        item = self._parsed.get(spec)
        if item is None:
            try:
                item = parse_rate_limit(spec)
            except ValueError:
                logger.warning("workspace rate limit %r is invalid; using the default", spec)
                item = self.default
            self._parsed[spec] = item
        return item

    async def check(self, workspace_id: str, spec: str | None) -> RateLimitDecision:
        """Count one request for the workspace and say whether it is allowed."""
        item = self.limit_for(spec)
        key = item.key_for("ws", workspace_id)
        window = item.get_expiry()
        now = time.time()
        try:
            count = await self.storage.incr(key, window, amount=1)
            reset_time = await self.storage.get_expiry(key)
            if reset_time < now + 1:
                # Redis reports a missing key or TTL as "0 s left" (limits clamps -1/-2 to 0), which
                # would put the reset in the past right after this increment; seen once in a
                # 1,000-request burst. Say the window starts now rather than that it has ended.
                reset_time = now + window
        except Exception:
            # Fail open: an unreachable Redis must not take the API down with it.
            logger.warning("rate limit storage unavailable; request allowed", exc_info=True)
            count, reset_time = 0, now + window
        reset_at = math.ceil(reset_time)
        remaining = max(0, item.amount - count)
        seconds_left = min(window, max(0, math.ceil(reset_time - now)))
        headers = {
            "X-RateLimit-Limit": str(item.amount),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset_at),
            "RateLimit-Policy": f'"workspace";q={item.amount};w={window}',
            "RateLimit": f'"workspace";r={remaining};t={seconds_left}',
        }
        return RateLimitDecision(count <= item.amount, headers, item, max(1, seconds_left))

    async def hit(self, request: Request, principal: Principal) -> None:
        decision = await self.check(principal.workspace_id, principal.rate_limit)
        request.state.rate_limit_headers = decision.headers
        if not decision.allowed:
            raise decision.error()
