"""How the MCP server reaches Harken: the REST API, in-process or over HTTP.

Every tool is a call of the public API with the caller's key, so MCP sees exactly what REST
sees (same tenancy, validation and errors). In-process calls are marked in the ASGI scope
(`harken.via = "mcp"`), which lets a key holding the `mcp` scope use the read and query routes
that the tools expose (see `core/auth.py`); a client cannot set that mark from outside.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

VIA_MCP = "harken.via"


class ApiError(Exception):
    def __init__(self, status: int, detail: Any, code: str | None) -> None:
        super().__init__(f"{status} {code or ''}: {detail}")
        self.status = status
        self.detail = detail
        self.code = code


def mark_as_mcp(app: ASGIApp) -> ASGIApp:
    async def marked(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, VIA_MCP: "mcp"}
        await app(scope, receive, send)

    return marked


class HarkenApi:
    def __init__(self, http: httpx.AsyncClient, api_key: str) -> None:
        self.http = http
        self.headers = {"X-API-Key": api_key}
        self.workspace_id: str | None = None

    @classmethod
    def in_process(cls, app: ASGIApp, api_key: str) -> HarkenApi:
        transport = httpx.ASGITransport(app=mark_as_mcp(app))  # type: ignore[arg-type]
        return cls(httpx.AsyncClient(transport=transport, base_url="http://harken.internal", timeout=120), api_key)

    @classmethod
    def remote(cls, base_url: str, api_key: str) -> HarkenApi:
        return cls(httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=120), api_key)

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.request(method, path, headers=self.headers, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:500]}
            raise ApiError(response.status_code, body.get("detail"), body.get("code"))
        return response

    async def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return (await self.request("GET", path, params=clean)).json()

    async def get_text(self, path: str, **params: Any) -> str:
        clean = {k: v for k, v in params.items() if v is not None}
        return (await self.request("GET", path, params=clean)).text

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.request("POST", path, json=body or {})
        return response.json() if response.content else None

    async def whoami(self) -> dict[str, Any]:
        info = await self.get("/v1/api-keys/current")
        self.workspace_id = info["workspace_id"]
        return info

    async def aclose(self) -> None:
        await self.http.aclose()
