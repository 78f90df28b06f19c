"""Campaign lifecycle: every (state, action) pair, events, invitations, concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from harken.campaigns.models import Campaign, Contact
from harken.conversations.models import Conversation
from tests.campaigns.conftest import Api

STATES = ("draft", "active", "paused", "completed")
ACTIONS = (
    "start",
    "pause",
    "resume",
    "complete",
    "delete",
    "patch_active",
    "patch_paused",
    "patch_completed",
    "patch_draft",
)

# (state, action) -> (resulting state or None for deleted, event type or None); missing = illegal (409).
LEGAL: dict[tuple[str, str], tuple[str | None, str | None]] = {
    ("draft", "start"): ("active", "campaign.started"),
    ("draft", "patch_active"): ("active", "campaign.started"),
    ("draft", "delete"): (None, None),
    ("active", "pause"): ("paused", "campaign.paused"),
    ("active", "patch_paused"): ("paused", "campaign.paused"),
    ("active", "complete"): ("completed", "campaign.completed"),
    ("active", "patch_completed"): ("completed", "campaign.completed"),
    ("active", "patch_active"): ("active", None),  # no-op
    ("paused", "resume"): ("active", None),
    ("paused", "patch_active"): ("active", None),
    ("paused", "complete"): ("completed", "campaign.completed"),
    ("paused", "patch_completed"): ("completed", "campaign.completed"),
    ("paused", "patch_paused"): ("paused", None),
    ("completed", "delete"): (None, None),
    ("completed", "patch_completed"): ("completed", None),
    ("draft", "patch_draft"): ("draft", None),
}


async def _campaign_in(api: Api, state: str) -> str:
    campaign, _ = await api.ready(2)
    iid = campaign["id"]
    steps = {"draft": [], "active": ["start"], "paused": ["start", "pause"], "completed": ["start", "complete"]}
    for step in steps[state]:
        response = await api.post(f"/v1/interviews/{iid}/{step}")
        assert response.status_code == 200, response.text
    return iid


async def _act(api: Api, iid: str, action: str) -> Any:
    if action == "delete":
        return await api.delete(f"/v1/interviews/{iid}")
    if action.startswith("patch_"):
        return await api.patch(f"/v1/interviews/{iid}", {"status": action.removeprefix("patch_")})
    return await api.post(f"/v1/interviews/{iid}/{action}")


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
async def test_every_state_action_pair(api: Api, state: str, action: str) -> None:
    iid = await _campaign_in(api, state)
    before_events = len(await api.events())
    response = await _act(api, iid, action)
    after = await api.get(f"/v1/interviews/{iid}")
    new_events = (await api.events())[before_events:]
    lifecycle_events = [e for e in new_events if e["type"].startswith("campaign.")]
    expected = LEGAL.get((state, action))
    if expected is None:
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "campaign_locked"
        assert after.json()["status"] == state
        assert new_events == []
        return
    target, event = expected
    assert response.status_code in (200, 204), response.text
    if target is None:
        assert after.status_code == 404
        return
    assert after.json()["status"] == target
    assert [e["type"] for e in lifecycle_events] == ([event] if event else [])


async def test_event_payloads_match_the_seed(api: Api) -> None:
    campaign, contacts = await api.ready(3, name="Q2 facility-ops interviews")
    iid = campaign["id"]
    assert (await api.post(f"/v1/interviews/{iid}/start")).status_code == 200
    assert (await api.post(f"/v1/interviews/{iid}/pause", json={"reason": "timeframe_ended"})).status_code == 200
    assert (await api.post(f"/v1/interviews/{iid}/resume")).status_code == 200
    assert (await api.post(f"/v1/interviews/{iid}/pause")).status_code == 200
    assert (await api.post(f"/v1/interviews/{iid}/complete")).status_code == 200
    started = await api.events("campaign.started")
    assert started == [
        {
            "type": "campaign.started",
            "data": {"interview_id": iid, "name": "Q2 facility-ops interviews", "contact_count": 3},
        }
    ]
    paused = [e["data"] for e in await api.events("campaign.paused")]
    assert paused == [
        {"interview_id": iid, "reason": "timeframe_ended"},
        {"interview_id": iid, "reason": "user_paused"},
    ]
    completed = [e["data"] for e in await api.events("campaign.completed")]
    assert completed == [{"interview_id": iid, "completed_count": 0, "total_count": 3}]
    scheduled = [e["data"] for e in await api.events("interview.scheduled")]
    assert len(scheduled) == 3
    for data in scheduled:
        assert set(data) == {"interview_id", "conversation_id", "contact", "scheduled_for"}
        assert set(data["contact"]) == {"name", "email"}
        assert data["scheduled_for"].endswith("Z")
    assert {d["contact"]["email"] for d in scheduled} == {c["email"] for c in contacts}
    synth = await api.jobs("knowledge.synthesize")
    assert [j.payload for j in synth] == [{"interview_id": iid}]


async def test_pause_reason_outside_the_catalog_is_a_422(api: Api) -> None:
    """`campaign.paused` carries `user_paused` or `timeframe_ended`; any other reason used to reach
    the event catalog's check and answer 500."""
    campaign, _ = await api.ready(1)
    iid = campaign["id"]
    assert (await api.post(f"/v1/interviews/{iid}/start")).status_code == 200
    refused = await api.post(f"/v1/interviews/{iid}/pause", json={"reason": "vacation"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "reason"]
    assert (await api.get(f"/v1/interviews/{iid}")).json()["status"] == "active"
    assert await api.events("campaign.paused") == []
    paused = await api.post(f"/v1/interviews/{iid}/pause", json={"reason": "user_paused"})
    assert paused.status_code == 200 and paused.json()["paused_reason"] == "user_paused"


async def test_start_invites_every_pending_contact(api: Api) -> None:
    campaign, contacts = await api.ready(3)
    iid = campaign["id"]
    response = await api.post(f"/v1/interviews/{iid}/start")
    body = response.json()
    assert body["scheduled_count"] == 3 and body["interview"]["status"] == "active"
    assert body["interview"]["scheduled_count"] == 3 and "3 contact" in body["message"]
    listed = (await api.get(f"/v1/interviews/{iid}/contacts")).json()
    tokens = {c["booking_token"] for c in listed}
    assert len(tokens) == 3 and None not in tokens
    for contact in listed:
        assert contact["status"] == "invited"
        assert contact["meeting_url"] == f"http://127.0.0.1:8000/i/{contact['booking_token']}"
    jobs = await api.jobs("conversations.send_invitation")
    assert sorted(j.payload["contact_id"] for j in jobs) == sorted(c["id"] for c in contacts)
    conversations = (await api.get(f"/v1/interviews/{iid}/conversations")).json()
    assert conversations["total"] == 3 and {i["status"] for i in conversations["items"]} == {"scheduled"}
    scheduled_ids = {e["data"]["conversation_id"] for e in await api.events("interview.scheduled")}
    assert scheduled_ids == {i["id"] for i in conversations["items"]}
    # a contact added to the active campaign is invited at once
    added = await api.post(f"/v1/interviews/{iid}/contacts", json={"name": "Late Comer", "email": "late@example.com"})
    assert added.status_code == 201 and added.json()["status"] == "invited" and added.json()["meeting_url"]
    assert len(await api.events("interview.scheduled")) == 4


async def test_start_needs_contacts_and_topics(api: Api) -> None:
    empty = await api.create()
    response = await api.post(f"/v1/interviews/{empty['id']}/start")
    assert response.status_code == 409 and response.json()["code"] == "campaign_locked"
    assert "contact" in response.json()["detail"]
    await api.topic(empty["id"])
    assert (await api.post(f"/v1/interviews/{empty['id']}/start")).status_code == 409
    no_topic = await api.create()
    await api.contacts(no_topic["id"], 1)
    assert (await api.post(f"/v1/interviews/{no_topic['id']}/start")).status_code == 409
    assert (await api.get(f"/v1/interviews/{no_topic['id']}")).json()["status"] == "draft"
    assert await api.events("campaign.started") == []


async def test_two_concurrent_starts_one_wins(api: Api) -> None:
    campaign, _ = await api.ready(5)
    iid = campaign["id"]
    first, second = await asyncio.gather(
        api.post(f"/v1/interviews/{iid}/start"), api.post(f"/v1/interviews/{iid}/start")
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json()["code"] == "campaign_locked"
    assert len(await api.events("campaign.started")) == 1
    assert len(await api.events("interview.scheduled")) == 5
    assert len(await api.jobs("conversations.send_invitation")) == 5


async def test_future_start_holds_invitations_until_release(api: Api) -> None:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    campaign, _ = await api.ready(2, timeframe_start=start.isoformat(), timezone="Europe/Berlin")
    iid = campaign["id"]
    assert campaign["start_immediately"] is False  # resolved: a future start date holds invitations
    response = await api.post(f"/v1/interviews/{iid}/start")
    assert response.status_code == 200 and response.json()["scheduled_count"] == 0
    assert response.json()["interview"]["status"] == "active"
    detail = (await api.get(f"/v1/interviews/{iid}/detail")).json()
    assert detail["invitations_scheduled_for"] == start.isoformat().replace("+00:00", "Z")
    assert {c["status"] for c in detail["contacts"]} == {"pending"}
    releases = await api.jobs("campaigns.release_invitations")
    assert len(releases) == 1 and releases[0].run_at == start
    # the job does nothing before the date ...
    from harken.campaigns.tasks import release_invitations
    from harken.core.jobs import JobContext, Reschedule

    ctx = JobContext(
        "j",
        "campaigns.release_invitations",
        {"interview_id": iid},
        1,
        5,
        api.tenant.workspace_id,
        api.app.state.db,
        api.app.state.settings,
    )
    with pytest.raises(Reschedule):
        await release_invitations(ctx)
    # ... and invites everyone once it has come
    async with api.app.state.db.session() as session:
        row = await session.get(Campaign, iid)
        row.timeframe_start = datetime.now(UTC) - timedelta(minutes=1)
    await release_invitations(ctx)
    await release_invitations(ctx)  # idempotent
    contacts = (await api.get(f"/v1/interviews/{iid}/contacts")).json()
    assert {c["status"] for c in contacts} == {"invited"}
    assert len(await api.events("interview.scheduled")) == 2


async def test_date_only_timeframe_means_eight_in_the_campaign_zone(api: Api) -> None:
    campaign = await api.create(timeframe_start="2030-03-04", timezone="Europe/Berlin", start_immediately=False)
    assert campaign["timeframe_start"] == "2030-03-04T07:00:00Z"


async def test_autocomplete_once_when_all_contacts_done(api: Api) -> None:
    campaign, contacts = await api.ready(3)
    iid = campaign["id"]
    await api.post(f"/v1/interviews/{iid}/start")
    cancel = await api.post(f"/v1/interviews/{iid}/contacts/{contacts[2]['id']}/cancel", json={"mark_as_skipped": True})
    assert cancel.json() == {
        "contact_id": contacts[2]["id"],
        "status": "skipped",
        "calendar_event_deleted": False,
        "message": "Interview skipped.",
    }
    from harken.conversations.service import complete_conversation

    async def finish(contact_id: str) -> None:
        async with api.app.state.db.session() as session:
            conv = (
                await session.execute(select(Conversation).where(Conversation.contact_id == contact_id))
            ).scalar_one()
            conv.started_at = datetime.now(UTC) - timedelta(minutes=27)
            conv.status = "in_progress"
            assert await complete_conversation(session, conv) is True
            assert await complete_conversation(session, conv) is False  # idempotent

    await asyncio.gather(finish(contacts[0]["id"]), finish(contacts[1]["id"]))
    after = (await api.get(f"/v1/interviews/{iid}")).json()
    assert after["status"] == "completed" and after["completed_count"] == 2
    assert [e["data"] for e in await api.events("campaign.completed")] == [
        {"interview_id": iid, "completed_count": 2, "total_count": 3}
    ]
    done = [e["data"] for e in await api.events("interview.completed")]
    assert len(done) == 2 and {d["duration_minutes"] for d in done} == {27}
    assert set(done[0]) == {"interview_id", "conversation_id", "contact", "duration_minutes"}
    assert len(await api.jobs("knowledge.synthesize")) == 1
    ingests = await api.jobs("knowledge.ingest_conversation")
    assert len(ingests) == 2 and all(j.dedupe_key for j in ingests)


async def test_complete_draft_only_with_imported_conversations(api: Api) -> None:
    campaign, contacts = await api.ready(2)
    iid = campaign["id"]
    refused = await api.post(f"/v1/interviews/{iid}/complete")
    assert refused.status_code == 409 and refused.json()["code"] == "campaign_locked"
    turns = [{"speaker": "agent", "text": "How do requests arrive?"}, {"speaker": "participant", "text": "By email."}]
    imported = await api.post(
        f"/v1/interviews/{iid}/conversations/import", json={"contact_id": contacts[0]["id"], "turns": turns}
    )
    assert imported.status_code == 201
    # a draft never completes by itself ...
    assert (await api.get(f"/v1/interviews/{iid}")).json()["status"] == "draft"
    done = await api.post(f"/v1/interviews/{iid}/complete")
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert [e["data"]["completed_count"] for e in await api.events("campaign.completed")] == [1]


async def test_resync_enqueues_a_new_synthesis_each_time(api: Api, other_api: Api) -> None:
    campaign, _ = await api.ready(1)
    iid = campaign["id"]
    first = await api.post(f"/v1/interviews/{iid}/resync")
    second = await api.post(f"/v1/interviews/{iid}/resync")
    assert first.status_code == 202 and first.json()["status"] == "queued"
    assert first.json()["job_id"] != second.json()["job_id"]
    assert [j.payload for j in await api.jobs("knowledge.synthesize")] == [{"interview_id": iid}] * 2
    assert (await other_api.post(f"/v1/interviews/{iid}/resync")).status_code == 404


async def test_follow_up_reschedule_and_reminders(api: Api) -> None:
    campaign, contacts = await api.ready(3)
    iid = campaign["id"]
    draft_follow = await api.post(f"/v1/interviews/{iid}/contacts/follow-up", json={"contact_ids": [contacts[0]["id"]]})
    assert draft_follow.status_code == 409
    await api.post(f"/v1/interviews/{iid}/start")
    ids = [c["id"] for c in contacts]
    sent = await api.post(
        f"/v1/interviews/{iid}/contacts/follow-up", json={"contact_ids": [*ids, "nope"], "message": "Reminder"}
    )
    assert sent.status_code == 200 and sent.json()["sent_count"] == 3
    again = await api.post(f"/v1/interviews/{iid}/contacts/follow-up", json={"contact_ids": ids[:1]})
    assert again.json()["sent_count"] == 1
    first = (await api.get(f"/v1/interviews/{iid}/contacts/{ids[0]}")).json()
    assert first["reminder_count"] == 2 and first["last_reminder_at"]
    reminders = await api.jobs("conversations.send_reminder")
    assert len(reminders) == 4 and reminders[0].payload == {
        "contact_id": reminders[0].payload["contact_id"],
        "message": "Reminder",
    }
    when = "2031-01-02T15:00:00Z"
    moved = await api.post(f"/v1/interviews/{iid}/contacts/{ids[1]}/reschedule", json={"new_time": when})
    assert moved.status_code == 200
    assert moved.json()["scheduled_at"] == when
    contact = (await api.get(f"/v1/interviews/{iid}/contacts/{ids[1]}")).json()
    assert contact["status"] == "scheduled" and contact["scheduled_at"] == when
    assert moved.json()["meeting_url"].endswith("/i/" + contact["booking_token"])
    last = (await api.events("interview.scheduled"))[-1]["data"]
    assert last["scheduled_for"] == when and last["contact"]["email"] == contacts[1]["email"]
    # the conversation stays the same one
    convs = (await api.get(f"/v1/interviews/{iid}/conversations")).json()
    assert convs["total"] == 3


async def test_paused_campaign_invites_new_contacts_on_resume(api: Api) -> None:
    campaign, _ = await api.ready(1)
    iid = campaign["id"]
    await api.post(f"/v1/interviews/{iid}/start")
    await api.post(f"/v1/interviews/{iid}/pause")
    added = await api.post(f"/v1/interviews/{iid}/contacts", json={"name": "While Paused"})
    assert added.json()["status"] == "pending"
    await api.post(f"/v1/interviews/{iid}/resume")
    contact = (await api.get(f"/v1/interviews/{iid}/contacts/{added.json()['id']}")).json()
    assert contact["status"] == "invited"


async def test_delete_removes_children(api: Api) -> None:
    campaign, _ = await api.ready(3)
    iid = campaign["id"]
    assert (await api.delete(f"/v1/interviews/{iid}")).status_code == 204
    async with api.app.state.db.session() as session:
        left = (await session.execute(select(Contact).where(Contact.interview_id == iid))).all()
    assert left == []


async def test_timeframe_end_pauses_the_campaign(api: Api) -> None:
    from harken.campaigns.tasks import end_timeframe
    from harken.core.jobs import JobContext, Reschedule

    end = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    campaign, _ = await api.ready(1, timeframe_end=end.isoformat())
    iid = campaign["id"]
    await api.post(f"/v1/interviews/{iid}/start")
    jobs = await api.jobs("campaigns.end_timeframe")
    assert len(jobs) == 1 and jobs[0].run_at == end
    ctx = JobContext(
        "j",
        "campaigns.end_timeframe",
        {"interview_id": iid},
        1,
        5,
        api.tenant.workspace_id,
        api.app.state.db,
        api.app.state.settings,
    )
    with pytest.raises(Reschedule):
        await end_timeframe(ctx)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert (await api.patch(f"/v1/interviews/{iid}", {"timeframe_end": past})).status_code == 200
    await end_timeframe(ctx)
    await end_timeframe(ctx)  # idempotent: already paused
    assert (await api.get(f"/v1/interviews/{iid}")).json()["status"] == "paused"
    assert [e["data"] for e in await api.events("campaign.paused")] == [
        {"interview_id": iid, "reason": "timeframe_ended"}
    ]


async def test_starting_a_campaign_whose_contacts_all_finished_completes_it(api: Api) -> None:
    campaign, contacts = await api.ready(1)
    iid = campaign["id"]
    turns = [{"speaker": "agent", "text": "Why?"}, {"speaker": "participant", "text": "Because."}]
    await api.post(f"/v1/interviews/{iid}/conversations/import", json={"contact_id": contacts[0]["id"], "turns": turns})
    response = await api.post(f"/v1/interviews/{iid}/start")
    assert response.status_code == 200 and response.json()["interview"]["status"] == "completed"
    assert [e["type"] for e in await api.events() if e["type"].startswith("campaign.")] == [
        "campaign.started",
        "campaign.completed",
    ]


async def test_concurrent_imports_cancels_and_starts_never_deadlock(api: Api) -> None:
    """Every writer takes the campaign row first, so racing requests queue instead of deadlocking."""
    campaign, contacts = await api.ready(6)
    iid = campaign["id"]
    turns = [{"speaker": "agent", "text": "Why?"}, {"speaker": "participant", "text": "Because."}]
    calls = [api.post(f"/v1/interviews/{iid}/start")]
    calls += [
        api.post(f"/v1/interviews/{iid}/conversations/import", json={"contact_id": c["id"], "turns": turns})
        for c in contacts[:4]
    ]
    calls += [
        api.post(f"/v1/interviews/{iid}/contacts/{c['id']}/cancel", json={"mark_as_skipped": True})
        for c in contacts[4:]
    ]
    responses = await asyncio.gather(*calls)
    assert [r.status_code for r in responses] == [200, 201, 201, 201, 201, 200, 200], [r.text for r in responses]
    assert (await api.get(f"/v1/interviews/{iid}")).json()["status"] == "completed"
    assert len(await api.events("campaign.completed")) == 1
    assert len(await api.events("interview.completed")) == 4


async def test_agent_style_completion_racing_cancel_follow_up_and_import(api: Api) -> None:
    """The respondent channel locks contact then conversation, then completes: no deadlock with routes."""
    from harken.conversations.service import complete_conversation

    campaign, contacts = await api.ready(2)
    iid = campaign["id"]
    await api.post(f"/v1/interviews/{iid}/start")
    first, second = contacts[0]["id"], contacts[1]["id"]

    async def agent_finishes() -> bool:
        async with api.app.state.db.session() as session:
            await session.execute(select(Contact.id).where(Contact.id == first).with_for_update())
            conv = (
                await session.execute(select(Conversation).where(Conversation.contact_id == first).with_for_update())
            ).scalar_one()
            await asyncio.sleep(0.05)  # the other requests queue up meanwhile
            return await complete_conversation(session, conv)

    turns = [{"speaker": "agent", "text": "Why?"}, {"speaker": "participant", "text": "Because."}]
    results = await asyncio.gather(
        agent_finishes(),
        api.post(f"/v1/interviews/{iid}/contacts/{first}/cancel", json={"mark_as_skipped": True}),
        api.post(f"/v1/interviews/{iid}/contacts/follow-up", json={"contact_ids": [first, second]}),
        api.post(f"/v1/interviews/{iid}/conversations/import", json={"contact_id": second, "turns": turns}),
    )
    completed, cancel, follow, imported = results
    assert cancel.status_code in (200, 409) and follow.status_code in (200, 409) and imported.status_code == 201
    status = (await api.get(f"/v1/interviews/{iid}/contacts/{first}")).json()["status"]
    assert (completed, cancel.status_code, status) in {(True, 409, "completed"), (False, 200, "skipped")}
    assert (await api.get(f"/v1/interviews/{iid}")).json()["status"] == "completed"
    assert len(await api.events("campaign.completed")) == 1
