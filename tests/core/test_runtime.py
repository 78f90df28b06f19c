"""Start-up heap freezing: done once by each long-running process, never twice."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_freeze_happens_once_per_process_after_collecting_garbage() -> None:
    out = run_python(
        """
        import gc, weakref
        import harken.models
        from harken.core.runtime import freeze_startup_heap

        class Cycle:
            pass

        garbage = Cycle()
        garbage.me = garbage  # collectable only by the cyclic collector
        alive = weakref.ref(garbage)
        del garbage
        assert gc.get_freeze_count() == 0 and alive() is not None
        freeze_startup_heap()
        first = gc.get_freeze_count()
        kept = [Cycle() for _ in range(1000)]
        freeze_startup_heap()
        print(first, gc.get_freeze_count(), alive() is None)
        """
    )
    first, second, collected = out.split()
    assert int(first) > 10_000  # the interpreter and harken's models at least
    assert int(second) == int(first)  # the second call froze nothing more
    assert collected == "True"  # start-up garbage was collected, not pinned


def test_the_server_freezes_its_start_up_heap(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = run_python(
        f"""
        import asyncio, gc
        from harken.app import create_app
        from harken.core.migrate import upgrade
        from harken.core.settings import Settings

        url = "sqlite+aiosqlite:///{tmp_path}/h.db"
        upgrade(url)
        app = create_app(Settings(_env_file=None, database_url=url, data_dir="{tmp_path}"), run_worker=True)

        async def main():
            assert gc.get_freeze_count() == 0
            async with app.router.lifespan_context(app):
                print(gc.get_freeze_count())

        asyncio.run(main())
        """
    )
    assert int(out.splitlines()[-1]) > 10_000
