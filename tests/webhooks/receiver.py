"""A real HTTP receiver on 127.0.0.1 (uvicorn in a background thread) that records every request.

`receiver.behaviour` decides each response: a callable taking the `Received` request and returning
`(status, headers, body, delay_seconds)`; a body given as a list of `(chunk, pause_seconds)` is
sent chunk by chunk after each pause (a receiver that trickles its answer). The receiver can be
stopped and started again on the same port (receiver down, then back).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn

from tests.helpers import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def delivery_id(self) -> str:
        return self.headers.get("x-ontora-delivery-id", "")

    def json(self) -> Any:
        return json.loads(self.body)


Response = tuple[int, dict[str, str], bytes, float]
Behaviour = Callable[[Received], Response]


def ok(_: Received) -> Response:
    return 200, {}, b"ok", 0.0


class Receiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests: list[Received] = []
        self.behaviour: Behaviour = ok
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests it was answering at once
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request = Received(scope["path"], headers, b"".join(chunks), time.monotonic())
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            status, extra, body, delay = self.behaviour(request)
            if delay:
                await asyncio.sleep(delay)
        finally:
            with self._lock:
                self.in_flight -= 1
        raw_headers = [(k.encode(), v if isinstance(v, bytes) else v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        if isinstance(body, list):
            for chunk, pause in body:
                await asyncio.sleep(pause)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            body = b""
        await send({"type": "http.response.body", "body": body})

    def start(self) -> Receiver:
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self.port,
            log_level="error",
            lifespan="off",
            access_log=False,
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("receiver did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._server = None
        self._thread = None

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def delivery_ids(self, path: str | None = None) -> list[str]:
        return [r.delivery_id for r in self.received(path)]
