"""`harken demo`: a whole campaign end to end on bundled example data, in-process.

It creates a workspace and key, a campaign with topics and contacts (through the REST API,
in-process), starts it (invitations go to the log), lets simulated respondents talk to the
interview agent through their personal links (the respondent JSON channel), runs the job worker
until the pipeline is idle (knowledge ingestion, synthesis), writes the report, and prints where to
look. Everything lives in its own data directory (a fresh temporary one by default, SQLite).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harken.core.settings import Settings, get_settings

console = Console()
MAX_TURNS = 120


def load_demo_data() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    folder = resources.files("harken") / "demo"
    campaign = json.loads((folder / "campaign.json").read_text(encoding="utf-8"))
    profiles = json.loads((folder / "profiles.json").read_text(encoding="utf-8"))
    return campaign, profiles


def demo_command(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where the demo keeps its SQLite database and report.")
    ] = None,
    contacts: Annotated[int | None, typer.Option(help="How many of the bundled contacts to interview.")] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the background pipeline.")] = 180.0,
) -> None:
    """Run a whole campaign end to end on bundled data and print where to look."""
    directory = data_dir or Path(tempfile.mkdtemp(prefix="harken-demo-"))
    directory.mkdir(parents=True, exist_ok=True)
    settings = get_settings().model_copy(
        update={"data_dir": directory.resolve(), "database_url": None, "run_worker_in_process": False}
    )
    asyncio.run(run_demo(settings, contacts=contacts, wait=wait))


async def run_demo(settings: Settings, *, contacts: int | None = None, wait: float = 180.0) -> dict[str, Any]:
    from httpx import ASGITransport, AsyncClient

    from harken.app import create_app
    from harken.core.migrate import upgrade
    from harken.workspaces.service import create_api_key, create_workspace

    campaign_data, profile_data = load_demo_data()
    people = campaign_data.pop("contacts")[: contacts or None]
    profiles = {p["name"]: p for p in profile_data}
    url = settings.resolved_database_url
    console.print(f"[bold]Harken demo[/bold]: data in [cyan]{settings.data_dir}[/cyan]")
    upgrade(url)
    app = create_app(settings, run_worker=False)
    async with app.router.lifespan_context(app):
        db = app.state.db
        async with db.session() as session:
            workspace = await create_workspace(session, "Demo workspace")
            _, api_key = await create_api_key(session, workspace.id, name="demo", scopes=["*"])
        headers = {"X-API-Key": api_key}
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url=settings.base_url, timeout=120) as client:
            worker_task, worker = _start_worker(db, settings)
            try:
                interview_id = await _create_campaign(client, headers, workspace.id, campaign_data, people)
                listed = (await client.get(f"/v1/interviews/{interview_id}/contacts", headers=headers)).json()
                links = {c["email"]: c["meeting_url"] for c in listed}
                pages = {c["name"]: c["meeting_url"] for c in listed}
                turns = await _interview_everyone(client, people, profiles, links)
                await _wait_for_pipeline(db, wait)
                report_path = await _write_report(client, headers, interview_id, settings.data_dir)
                summary = await _summary(client, headers, interview_id)
            finally:
                worker.stop()
                await worker_task
    _print_where_to_look(settings, workspace.id, api_key, interview_id, pages, report_path, summary, turns)
    return {
        "interview_id": interview_id,
        "report": str(report_path),
        "links": links,
        "workspace_id": workspace.id,
        "api_key": api_key,
    }


def _start_worker(db: Any, settings: Settings) -> tuple[asyncio.Task[None], Any]:
    import harken.tasks  # noqa: F401 - every handler registered
    from harken.core.jobs import Worker, registered_handlers

    # Only kinds this build can run: anything else stays queued for a full server.
    worker = Worker(db, settings, kinds=sorted(registered_handlers()), concurrency=4)
    return asyncio.create_task(worker.run()), worker


async def _create_campaign(
    client: Any, headers: dict[str, str], workspace_id: str, campaign: dict[str, Any], people: list[dict[str, Any]]
) -> str:
    response = await client.post("/v1/interviews", json={**campaign, "workspace_id": workspace_id}, headers=headers)
    response.raise_for_status()
    interview_id = response.json()["id"]
    contacts = [{k: v for k, v in person.items() if k != "ref"} for person in people]
    response = await client.post(
        f"/v1/interviews/{interview_id}/contacts/bulk", json={"contacts": contacts}, headers=headers
    )
    response.raise_for_status()
    response = await client.post(f"/v1/interviews/{interview_id}/start", headers=headers)
    response.raise_for_status()
    console.print(f"campaign [bold]{campaign['name']}[/bold] started with {len(contacts)} contacts")
    return interview_id


async def _interview_everyone(
    client: Any, people: list[dict[str, Any]], profiles: dict[str, dict[str, Any]], links: dict[str, str]
) -> int:
    from harken.conversations.simulator import Profile, SimulatedRespondent

    total_turns = 0
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("interviews", total=len(people))
        for person in people:
            token = links[person["email"]].rsplit("/i/", 1)[1]
            sim = SimulatedRespondent(Profile.from_dict(profiles[person["name"]]))
            state = (await client.get(f"/v1/respond/{token}")).json()
            question = state["messages"][-1]["text"]
            for turn in range(MAX_TURNS):
                progress.update(task, description=f"{person['name']}: turn {turn + 1}")
                reply = await client.post(f"/v1/respond/{token}/messages", json={"text": sim.answer(question)})
                reply.raise_for_status()
                body = reply.json()
                total_turns += 1
                if body["status"] == "completed":
                    break
                question = body["reply"]["text"]
            progress.advance(task)
        progress.update(task, description="interviews done")
    return total_turns


async def _wait_for_pipeline(db: Any, wait: float) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select

    from harken.core.db import utcnow
    from harken.core.jobs import Job, registered_handlers, registered_periodics

    # Work the demo caused: runnable kinds, due soon (retries included), not the periodic chores.
    kinds = sorted(set(registered_handlers()) - set(registered_periodics()))
    deadline = time.monotonic() + wait
    with console.status("running the pipeline (ingestion, synthesis)…"):
        while time.monotonic() < deadline:
            async with db.session() as session:
                busy = (
                    await session.execute(
                        select(func.count())
                        .select_from(Job)
                        .where(
                            Job.kind.in_(kinds),
                            Job.status.in_(["queued", "running"]),
                            Job.run_at <= utcnow() + timedelta(seconds=30),
                        )
                    )
                ).scalar_one()
            if busy == 0:
                return
            await asyncio.sleep(0.5)
    console.print("[yellow]the pipeline is still working; the report may be partial[/yellow]")


async def _write_report(client: Any, headers: dict[str, str], interview_id: str, data_dir: Path) -> Path:
    out = data_dir / "demo-report"
    out.mkdir(parents=True, exist_ok=True)
    response = await client.get(f"/v1/interviews/{interview_id}/export/report", headers=headers)
    if response.status_code == 200:
        path = out / "report.md"
        path.write_text(response.text, encoding="utf-8")
        return path
    # Synthesis not available (or not finished): write the transcripts as the report.
    rows = (await client.get(f"/v1/interviews/{interview_id}/conversations", headers=headers)).json()["items"]
    lines = [
        "# Demo interviews",
        "",
        f"Synthesis report not available ({response.status_code}); transcripts below.",
        "",
    ]
    for row in rows:
        detail = (await client.get(f"/v1/interviews/{interview_id}/conversations/{row['id']}", headers=headers)).json()
        lines += [f"## {detail['contact']['name']} ({row['duration_minutes']} min)", ""]
        lines += [f"**{t['speaker']}**: {t['text']}" for t in detail["transcript"]]
        lines.append("")
    path = out / "transcripts.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


async def _summary(client: Any, headers: dict[str, str], interview_id: str) -> dict[str, Any]:
    campaign = (await client.get(f"/v1/interviews/{interview_id}", headers=headers)).json()
    rows = (await client.get(f"/v1/interviews/{interview_id}/conversations", headers=headers)).json()["items"]
    synthesis = await client.get(f"/v1/interviews/{interview_id}/synthesis", headers=headers)
    return {
        "status": campaign.get("status"),
        "rows": rows,
        "synthesis": synthesis.json().get("status") if synthesis.status_code == 200 else None,
    }


def _print_where_to_look(
    settings: Settings,
    workspace_id: str,
    api_key: str,
    interview_id: str,
    pages: dict[str, str],
    report_path: Path,
    summary: dict[str, Any],
    turns: int,
) -> None:
    table = Table("contact", "status", "minutes")
    table.add_column("respondent page", overflow="fold")
    for row in summary["rows"]:
        name = row.get("contact_name") or row.get("name") or ""
        table.add_row(name, row["status"], str(row["duration_minutes"]), pages.get(name, ""))
    console.print(table)
    base = settings.base_url.rstrip("/")
    lines = [
        f"campaign {interview_id}: [bold]{summary['status']}[/bold], {turns} answers, "
        f"synthesis: {summary['synthesis'] or 'not available in this build'}",
        f"report:        {report_path}",
        f"data dir:      {settings.data_dir}",
        f"workspace id:  {workspace_id}",
        f"api key:       {api_key}",
        "",
        "Look around (serves this demo's database):",
        f"  HARKEN_DATA_DIR={settings.data_dir} harken serve",
        f"  {base}/docs",
        f"  curl -H 'X-API-Key: {api_key}' {base}/v1/interviews/{interview_id}/conversations",
        f"  {next(iter(pages.values()), '')}   (a respondent page)",
    ]
    console.print(Panel("\n".join(lines), title="where to look", expand=False))
