"""Per-workspace rate limits (contract §2), in-process or shared through Redis.

A fixed window per workspace (not per key). The limit comes from the workspace's `rate_limit`
or `HARKEN_RATE_LIMIT`. Headers: `X-RateLimit-Limit/Remaining/Reset` (Unix seconds) and the IETF
`RateLimit-Policy` / `RateLimit` fields; over the limit, 429 `rate_limited` with `Retry-After`.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from harken.core.errors import RateLimited
from harken.core.settings import Settings

if TYPE_CHECKING:
    from harken.core.auth import Principal

STATE_KEY = "rate_limit_headers"


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.default = parse(settings.rate_limit)
        if settings.redis_url:
            uri = settings.redis_url.replace("redis://", "async+redis://", 1)
            self.storage: Storage = storage_from_string(uri, implementation="coredis")
        else:
            self.storage = MemoryStorage()
        self.strategy = FixedWindowRateLimiter(self.storage)
        self._parsed: dict[str, RateLimitItem] = {}

    def limit_for(self, principal: Principal) -> RateLimitItem:
        spec = principal.rate_limit
        if not spec:
            return self.default
        item = self._parsed.get(spec)
        if item is None:
            item = self._parsed[spec] = parse(spec)
        return item

    async def hit(self, request: Request, principal: Principal) -> None:
        item = self.limit_for(principal)
        allowed = await self.strategy.hit(item, "ws", principal.workspace_id)
        stats = await self.strategy.get_window_stats(item, "ws", principal.workspace_id)
        reset_at = math.ceil(stats.reset_time)
        remaining = max(0, stats.remaining)
        seconds_left = max(0, reset_at - int(time.time()))
        window = item.get_expiry()
        headers = {
            "X-RateLimit-Limit": str(item.amount),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset_at),
            "RateLimit-Policy": f'"workspace";q={item.amount};w={window}',
            "RateLimit": f'"workspace";r={remaining};t={seconds_left}',
        }
        request.state.rate_limit_headers = headers
        if not allowed:
            raise RateLimited(
                f"Rate limit of {item.amount} requests per {window} s exceeded for this workspace",
                headers={**headers, "Retry-After": str(max(1, seconds_left))},
            )
