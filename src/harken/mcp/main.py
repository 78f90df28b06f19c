"""Running the MCP server on stdio, against an in-process app or a remote Harken."""

from __future__ import annotations

import sys

from harken.core.settings import Settings
from harken.mcp.client import ApiError, HarkenApi
from harken.mcp.server import build_server


async def run_stdio(settings: Settings, api_key: str, base_url: str | None) -> None:
    if base_url:
        api = HarkenApi.remote(base_url, api_key)
        await _serve(api)
        return
    from harken.app import create_app
    from harken.core.migrate import upgrade

    upgrade(settings.resolved_database_url)
    app = create_app(settings, run_worker=False)
    async with app.router.lifespan_context(app):
        await _serve(HarkenApi.in_process(app, api_key))


async def _serve(api: HarkenApi) -> None:
    try:
        info = await api.whoami()
    except ApiError as exc:
        print(f"harken mcp: the API key was refused ({exc.code})", file=sys.stderr)
        raise SystemExit(2) from exc
    if not {"mcp", "*"} & set(info.get("scopes", [])):
        print("harken mcp: the API key lacks the 'mcp' scope", file=sys.stderr)
        raise SystemExit(2)
    try:
        await build_server(api).run_stdio_async()
    finally:
        await api.aclose()
