"""Group commit: requests that arrive while a batch is being written go together into the next one.

Under load, many coroutines of one process (e.g. a worker's concurrent jobs) each want a short
write transaction. Running them one by one costs a round trip and a commit each, and on SQLite they
queue for the single writer anyway. A `GroupCommitter` runs the first request at once (no added
latency when idle) and, while that batch is in flight, collects the next requests so they share a
single transaction. If a combined batch fails, its requests are retried one by one, so one bad
request only fails its own caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Request = TypeVar("Request")
Result = TypeVar("Result")

logger = logging.getLogger("harken.batching")


class GroupCommitter(Generic[Request, Result]):
    """Batches concurrent `submit()` calls of one event loop into calls of `run_batch`.

    `run_batch(requests)` must return one result per request, in order, and be all-or-nothing
    (one transaction), so that a failed batch can be retried request by request.
    """

    def __init__(self, run_batch: Callable[[Sequence[Request]], Awaitable[list[Result]]], *, max_batch: int = 200):
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._pending: list[tuple[Request, asyncio.Future[Result]]] = []
        self._draining = False
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        if not self._draining:
            self._draining = True
            self._drainer = asyncio.create_task(self._drain())
        # The batch keeps running if this caller is cancelled: other callers share it.
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._run(batch)
        finally:
            self._draining = False

    async def _run(self, batch: list[tuple[Request, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._run_batch([request for request, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exception=exc)
                return
            logger.warning("a batch of %d failed (%s); retrying its requests one by one", len(batch), exc)
            for item in batch:
                await self._run([item])
            return
        except BaseException as exc:  # cancelled (shutdown): nobody may wait forever
            for _, future in batch:
                _settle(future, exception=exc)
            raise
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)


def _settle(
    future: asyncio.Future[Result], *, result: Result | None = None, exception: BaseException | None = None
) -> None:
    if future.done():  # its caller was cancelled
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)  # type: ignore[arg-type]
