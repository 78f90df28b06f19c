"""Process-wide tuning applied once a long-running process (server or worker) has started."""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_frozen = False


def freeze_startup_heap() -> None:
    """Take what start-up allocated out of the cyclic garbage collector's reach, once per process.

    Imported modules, ORM mappings, compiled statements and the NLP models are a few hundred
    thousand objects that live as long as the process. Left in the collector's oldest generation,
    every full collection walks all of them again; in a busy webhook worker that was ~15 % of its
    CPU (docs/benchmarks/webhooks.md). Garbage made during start-up is collected first, so nothing
    collectable is pinned."""
    global _frozen
    with _lock:
        if _frozen:
            return
        _frozen = True
    gc.collect()
    gc.freeze()
