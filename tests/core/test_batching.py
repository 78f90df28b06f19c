"""Group commit: concurrent requests share batches; a failing request fails only its caller."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from harken.core.batching import GroupCommitter


class Recorder:
    def __init__(self, *, fail_on: int | None = None, delay: float = 0.01) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on
        self.delay = delay

    async def __call__(self, requests: Sequence[int]) -> list[int]:
        await asyncio.sleep(self.delay)  # a transaction in flight
        if self.fail_on in requests:
            raise ValueError(f"request {self.fail_on} is bad")
        self.batches.append(list(requests))
        return [r * 10 for r in requests]


async def test_first_request_runs_alone_and_later_ones_share_the_next_batch() -> None:
    recorder = Recorder()
    committer: GroupCommitter[int, int] = GroupCommitter(recorder)
    first = asyncio.create_task(committer.submit(0))
    await asyncio.sleep(0)  # the first batch starts at once with only request 0
    rest = [asyncio.create_task(committer.submit(i)) for i in range(1, 6)]
    assert await first == 0
    assert await asyncio.gather(*rest) == [10, 20, 30, 40, 50]
    assert recorder.batches == [[0], [1, 2, 3, 4, 5]]


async def test_a_failing_batch_is_retried_request_by_request() -> None:
    recorder = Recorder(fail_on=3)
    committer: GroupCommitter[int, int] = GroupCommitter(recorder)
    tasks = [asyncio.create_task(committer.submit(i)) for i in range(1, 6)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[:2] == [10, 20] and results[3:] == [40, 50]
    assert isinstance(results[2], ValueError) and "request 3" in str(results[2])
    assert sorted(r for batch in recorder.batches for r in batch) == [1, 2, 4, 5]  # each committed once


async def test_batches_are_capped_and_a_cancelled_caller_does_not_break_the_others() -> None:
    recorder = Recorder()
    committer: GroupCommitter[int, int] = GroupCommitter(recorder, max_batch=3)
    tasks = [asyncio.create_task(committer.submit(i)) for i in range(7)]
    await asyncio.sleep(0)
    tasks[4].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[4], asyncio.CancelledError)
    assert [r for i, r in enumerate(results) if i != 4] == [0, 10, 20, 30, 50, 60]
    assert all(len(batch) <= 3 for batch in recorder.batches)
    # the committer keeps working after all of that
    assert await committer.submit(9) == 90


async def test_an_idle_committer_adds_no_waiting() -> None:
    committer: GroupCommitter[int, int] = GroupCommitter(Recorder(delay=0))
    for i in range(3):
        assert await asyncio.wait_for(committer.submit(i), timeout=1) == i * 10


@pytest.mark.parametrize("size", [1, 50])
async def test_every_request_gets_its_own_result(size: int) -> None:
    committer: GroupCommitter[int, int] = GroupCommitter(Recorder(delay=0.001))
    assert await asyncio.gather(*(committer.submit(i) for i in range(size))) == [i * 10 for i in range(size)]
