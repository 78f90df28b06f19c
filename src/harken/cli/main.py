"""The `harken` command."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harken.core.db import Database, isoformat
from harken.core.settings import get_settings

app = typer.Typer(help="Harken: self-hosted research platform.", no_args_is_help=True)
workspaces_app = typer.Typer(help="Manage workspaces.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(workspaces_app, name="workspaces")
app.add_typer(keys_app, name="keys")
console = Console()

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def _migrate() -> None:
    from harken.core.migrate import upgrade

    upgrade(get_settings().resolved_database_url)


async def _with_db(fn):  # type: ignore[no-untyped-def]
    import harken.models  # noqa: F401

    db = Database(get_settings().resolved_database_url)
    try:
        async with db.session() as session:
            return await fn(session)
    finally:
        await db.dispose()


@app.command()
def migrate() -> None:
    """Apply every database migration."""
    _migrate()
    console.print("[green]database is up to date[/green]")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="Run a job worker in-process.")] = True,
) -> None:
    """Migrate, bootstrap on first start, and serve the API (with an in-process worker)."""
    import uvicorn

    from harken.app import create_app
    from harken.core.logging import configure_logging
    from harken.workspaces.service import bootstrap

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    _migrate()
    db = Database(settings.resolved_database_url)
    created = _run(_bootstrap(db, bootstrap, settings))
    if created:
        workspace_id, key = created
        console.print("[bold green]Created the default workspace and an API key (shown once):[/bold green]")
        console.print(f"  workspace id: {workspace_id}")
        console.print(f"  api key:      {key}")
        console.print(f"  (also saved to {settings.data_dir / 'bootstrap.json'}, readable only by you)")
    application = create_app(settings, run_worker=worker)
    uvicorn.run(application, host=host or settings.host, port=port or settings.port, log_config=None, access_log=False)


async def _bootstrap(db, bootstrap, settings):  # type: ignore[no-untyped-def]
    import harken.models  # noqa: F401

    try:
        return await bootstrap(db, settings.data_dir, settings.bootstrap_api_key)
    finally:
        await db.dispose()


@app.command("worker")
def worker_command(
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once.")] = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="Only run these job kinds (repeatable).")] = None,
) -> None:
    """Run a standalone job worker until SIGINT/SIGTERM (any number may run, on any machine).

    The first SIGTERM/SIGINT stops claiming and lets running jobs finish for
    HARKEN_JOB_SHUTDOWN_GRACE_SECONDS, then releases the rest to the queue; a second one releases
    them at once. Extra handler modules: HARKEN_EXTRA_TASK_MODULES (comma-separated)."""
    from harken.core.jobs import Worker
    from harken.core.logging import configure_logging
    from harken.core.runtime import freeze_startup_heap

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)

    async def main() -> None:
        import harken.models  # noqa: F401

        db = Database(settings.resolved_database_url)
        worker = Worker(db, settings, concurrency=concurrency, kinds=kind or None)
        freeze_startup_heap()  # handlers are loaded by now
        loop = asyncio.get_running_loop()
        signals = 0

        def on_signal() -> None:
            nonlocal signals
            signals += 1
            worker.stop(now=signals > 1)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        try:
            await worker.run()
        finally:
            await db.dispose()

    asyncio.run(main())


@app.command("mcp")
def mcp_command(
    api_key: Annotated[str | None, typer.Option(envvar="HARKEN_API_KEY", help="Key with the 'mcp' scope.")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Reach a running Harken over HTTP instead of in-process.")
    ] = None,
) -> None:
    """Serve Harken's MCP tools on stdio for AI agents."""
    from harken.mcp.main import run_stdio

    if not api_key:
        console.print("[red]an API key with the 'mcp' scope is needed (--api-key or HARKEN_API_KEY)[/red]")
        raise typer.Exit(2)
    asyncio.run(run_stdio(get_settings(), api_key, base_url))


def _workspace_json(workspace) -> dict:  # type: ignore[no-untyped-def]
    return {
        "id": workspace.id,
        "name": workspace.name,
        "rate_limit": workspace.rate_limit,
        "created_at": isoformat(workspace.created_at),
    }


def _checked_rate_limit(spec: str | None, param: str) -> str | None:
    """None/'default' → the server default; otherwise it must parse ("100/minute", "5/second")."""
    from harken.core.ratelimit import parse_rate_limit

    if spec is None or spec.strip().lower() in {"", "default", "none"}:
        return None
    try:
        parse_rate_limit(spec.strip())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=param) from exc
    return spec.strip()


@workspaces_app.command("create")
def workspaces_create(
    name: str,
    rate_limit: Annotated[
        str | None,
        typer.Option("--rate-limit", help="This workspace's limit, e.g. '100/minute' (default: HARKEN_RATE_LIMIT)."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Create a workspace."""
    from harken.workspaces.service import create_workspace

    spec = _checked_rate_limit(rate_limit, "--rate-limit")
    workspace = _run(_with_db(lambda s: create_workspace(s, name, rate_limit=spec)))
    out = _workspace_json(workspace)
    if json_output:
        print(json.dumps(out))
    else:
        console.print(f"created workspace [bold]{workspace.name}[/bold] {workspace.id}")


@workspaces_app.command("set-rate-limit")
def workspaces_set_rate_limit(
    workspace_id: str,
    rate_limit: Annotated[str, typer.Argument(help="e.g. '1200/minute', or 'default' for HARKEN_RATE_LIMIT.")],
    json_output: JsonFlag = False,
) -> None:
    """Change a workspace's rate limit (takes effect on its next request, in every process)."""
    from harken.workspaces.service import set_rate_limit

    spec = _checked_rate_limit(rate_limit, "RATE_LIMIT")
    try:
        workspace = _run(_with_db(lambda s: set_rate_limit(s, workspace_id, spec)))
    except Exception as exc:
        console.print(f"[red]{getattr(exc, 'detail', exc)}[/red]")
        raise typer.Exit(1) from exc
    if json_output:
        print(json.dumps(_workspace_json(workspace)))
    else:
        console.print(f"workspace {workspace.id}: rate limit {workspace.rate_limit or 'default'}")


@workspaces_app.command("list")
def workspaces_list(json_output: JsonFlag = False) -> None:
    """List workspaces."""
    from harken.workspaces.service import list_workspaces

    rows = _run(_with_db(list_workspaces))
    out = [_workspace_json(w) for w in rows]
    if json_output:
        print(json.dumps(out))
        return
    table = Table("id", "name", "rate limit", "created_at")
    for w in out:
        table.add_row(w["id"], w["name"], w["rate_limit"] or "default", w["created_at"])
    console.print(table)


@keys_app.command("create")
def keys_create(
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id.")],
    name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "cli",
    scopes: Annotated[str, typer.Option("--scopes", help="Comma-separated scopes, or '*'.")] = "*",
    expires_in_days: Annotated[int | None, typer.Option(help="Days until it expires.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Create an API key; the full key is printed once."""
    from harken.core.auth import SCOPES
    from harken.workspaces.service import create_api_key

    scope_list = sorted({s.strip() for s in scopes.split(",") if s.strip()})
    unknown = set(scope_list) - set(SCOPES)
    if not scope_list or unknown:
        raise typer.BadParameter(f"scopes must be among {', '.join(SCOPES)}", param_hint="--scopes")

    async def create(session):  # type: ignore[no-untyped-def]
        return await create_api_key(session, workspace, name=name, scopes=scope_list, expires_in_days=expires_in_days)

    try:
        key, raw = _run(_with_db(create))
    except Exception as exc:
        console.print(f"[red]{getattr(exc, 'detail', exc)}[/red]")
        raise typer.Exit(1) from exc
    out = {"id": key.id, "key": raw, "workspace_id": key.workspace_id, "scopes": key.scopes}
    if json_output:
        print(json.dumps(out))
    else:
        console.print(f"key id {key.id}\n[bold]{raw}[/bold]\n(shown once; store it now)")


@keys_app.command("list")
def keys_list(
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id.")],
    json_output: JsonFlag = False,
) -> None:
    """List a workspace's keys (never the secret)."""
    from harken.workspaces.service import list_api_keys

    rows = _run(_with_db(lambda s: list_api_keys(s, workspace)))
    out = [
        {
            "id": k.id,
            "name": k.name,
            "key_prefix": k.key_prefix,
            "scopes": k.scopes,
            "created_at": isoformat(k.created_at),
            "expires_at": isoformat(k.expires_at),
            "last_used_at": isoformat(k.last_used_at),
            "revoked_at": isoformat(k.revoked_at),
        }
        for k in rows
    ]
    if json_output:
        print(json.dumps(out))
        return
    table = Table("id", "name", "prefix", "scopes", "last used", "revoked")
    for k in out:
        table.add_row(
            k["id"], k["name"], k["key_prefix"], ",".join(k["scopes"]), k["last_used_at"] or "-", k["revoked_at"] or "-"
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str,
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id.")],
    json_output: JsonFlag = False,
) -> None:
    """Revoke a key immediately."""
    from harken.workspaces.service import revoke_api_key

    try:
        key = _run(_with_db(lambda s: revoke_api_key(s, workspace, key_id)))
    except Exception as exc:
        console.print(f"[red]{getattr(exc, 'detail', exc)}[/red]")
        raise typer.Exit(1) from exc
    if json_output:
        print(json.dumps({"id": key.id, "revoked_at": isoformat(key.revoked_at)}))
    else:
        console.print(f"revoked {key.id}")


from harken.cli.demo import demo_command  # noqa: E402 - the demo command lives in its own module

app.command("demo")(demo_command)


if __name__ == "__main__":
    app()
