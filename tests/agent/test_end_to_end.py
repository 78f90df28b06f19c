"""The whole respondent flow through the public APIs: create and start a campaign (campaigns API),
email the invitations (real SMTP receiver, real worker), interview every contact through its link,
and check completion: transcript, coverage, events, knowledge jobs, campaign auto-completion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select

import harken
from harken.conversations.simulator import Profile, SimulatedRespondent
from harken.core.jobs import Job
from harken.core.settings import Settings
from harken.webhooks.models import Event
from tests.agent.conftest import Inbox
from tests.agent.test_notifier import run_jobs, smtp_settings
from tests.helpers import Tenant

DEMO = Path(harken.__file__).parent / "demo"


async def test_campaign_to_completed_interviews(
    app: Any, client: AsyncClient, tenant: Tenant, settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    campaign = json.loads((DEMO / "campaign.json").read_text())
    profiles = {p["name"]: Profile.from_dict(p) for p in json.loads((DEMO / "profiles.json").read_text())}
    contacts = campaign.pop("contacts")[:2]
    body = {**campaign, "workspace_id": tenant.workspace_id}
    response = await client.post("/v1/interviews", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    interview_id = response.json()["id"]
    response = await client.post(
        f"/v1/interviews/{interview_id}/contacts/bulk",
        json={"contacts": [{k: v for k, v in c.items() if k != "ref"} for c in contacts]},
        headers=tenant.headers,
    )
    assert response.status_code in (200, 201), response.text
    response = await client.post(f"/v1/interviews/{interview_id}/start", headers=tenant.headers)
    assert response.status_code == 200, response.text
    listed = (await client.get(f"/v1/interviews/{interview_id}/contacts", headers=tenant.headers)).json()
    links = {c["email"]: c["meeting_url"] for c in listed}
    assert all(link and "/i/" in link for link in links.values())

    # Invitations go out by email with the campaign's message and the personal link.
    jobs = await run_jobs(app.state.db, smtp_settings(settings, port), ["conversations.send_invitation"])
    assert [j.status for j in jobs] == ["succeeded", "succeeded"]
    assert len(inbox.messages) == 2
    for message in inbox.messages:
        text = message.get_payload(decode=True).decode()
        email = message["To"].split("<")[1].rstrip(">")
        token = links[email].rsplit("/i/", 1)[1]
        assert f"https://hk.test/i/{token}" in text and "The operations team" in text

    # Each contact talks to the agent through its link until the agent closes.
    question_sets = (await client.get(f"/v1/interviews/{interview_id}/question-sets", headers=tenant.headers)).json()
    for contact in contacts:
        token = links[contact["email"]].rsplit("/i/", 1)[1]
        sim = SimulatedRespondent(profiles[contact["name"]])
        state = (await client.get(f"/v1/respond/{token}")).json()
        assert state["campaign"]["welcome_screen"].startswith("Welcome!")
        question = state["messages"][0]["text"]
        assert contact["name"].split()[0] in question
        for _ in range(80):
            reply = (await client.post(f"/v1/respond/{token}/messages", json={"text": sim.answer(question)})).json()
            if reply["status"] == "completed":
                assert reply["reply"]["text"] == campaign["closing_message"]
                break
            question = reply["reply"]["text"]
        else:
            raise AssertionError("the agent never closed")

    conversations = (await client.get(f"/v1/interviews/{interview_id}/conversations", headers=tenant.headers)).json()
    assert conversations["total"] == 2
    for row in conversations["items"]:
        assert row["status"] == "completed" and row["duration_minutes"] >= 1
        detail = (
            await client.get(f"/v1/interviews/{interview_id}/conversations/{row['id']}", headers=tenant.headers)
        ).json()
        assert detail["transcript"][0]["speaker"] == "agent" and len(detail["transcript"]) > 10
        assert set(detail["topic_coverage"]) == {qs["id"] for qs in question_sets}
        required = [qs["id"] for qs in question_sets if qs["topic_metadata"]["priority"] == "required"]
        assert all(detail["topic_coverage"][qs] >= 0.5 for qs in required)

    progress = (await client.get(f"/v1/interviews/{interview_id}", headers=tenant.headers)).json()
    assert progress["status"] == "completed"
    async with app.state.db.session() as session:
        events = [e.type for e in (await session.execute(select(Event))).scalars()]
        ingest = list((await session.execute(select(Job).where(Job.kind == "knowledge.ingest_conversation"))).scalars())
    assert events.count("interview.completed") == 2 and events.count("campaign.completed") == 1
    assert events.count("interview.scheduled") == 2
    assert len(ingest) == 2
