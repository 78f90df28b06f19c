"""Test helpers shared across domains."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from harken.core.db import Database, sync_url
from harken.models import metadata


def find_shared_dir() -> Path:
    """The project's shared material (spec, seeds, labelled data): `HARKEN_SHARED_DIR`, else the
    `shared/` folder beside the checkout, else the workplace's `/work/shared` (CI may clone the
    repository anywhere on the machine)."""
    candidates = [os.environ.get("HARKEN_SHARED_DIR"), Path(__file__).resolve().parents[2] / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "seeds").is_dir():
            return Path(candidate)
    raise RuntimeError(f"the shared folder (seeds, data) was not found; tried {candidates}; set HARKEN_SHARED_DIR")


SHARED = find_shared_dir()


@dataclass
class Tenant:
    workspace_id: str
    key: str
    key_id: str
    headers: dict[str, str] = field(default_factory=dict)


async def create_tenant(db: Database, *, name: str = "Tenant", scopes: list[str] | None = None) -> Tenant:
    from harken.workspaces.service import create_api_key, create_workspace

    async with db.session() as session:
        workspace = await create_workspace(session, name)
        key, raw = await create_api_key(session, workspace.id, name="test", scopes=scopes or ["*"])
    return Tenant(workspace.id, raw, key.id, {"X-API-Key": raw})


async def add_key(db: Database, workspace_id: str, scopes: list[str], **kwargs: Any) -> str:
    from harken.workspaces.service import create_api_key

    async with db.session() as session:
        _, raw = await create_api_key(session, workspace_id, name="extra", scopes=scopes, **kwargs)
    return raw


def wipe_database(database_url: str) -> None:
    """Delete every row (keeps the migrated schema) so each test starts empty."""
    engine = create_engine(sync_url(database_url))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            if names:
                conn.execute(text(f"TRUNCATE {names} CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`harken serve` (or any harken command) in a real subprocess, for multi-process tests."""

    def __init__(self, args: list[str], env: dict[str, str], *, port: int | None = None) -> None:
        self.port = port
        self.args = args
        self.env = {**os.environ, **env}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_path: Path) -> ServerProcess:
        self.log_path = log_path
        log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harken", *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        return self

    def wait_ready(self, timeout: float = 30.0) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited early: {self.log_path.read_text() if self.log_path else ''}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"server not ready: {self.log_path.read_text() if self.log_path else ''}")

    def stop(self, sig: int | None = None) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if sig is None:
            self.proc.terminate()
        else:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll an async or sync predicate until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)
