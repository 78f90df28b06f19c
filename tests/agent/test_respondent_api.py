"""The respondent JSON channel `/v1/respond/{token}` against a real database."""

from __future__ import annotations

import asyncio
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select

from harken.campaigns.models import Campaign, Contact
from harken.conversations.models import Conversation
from harken.conversations.simulator import Fact, Profile, SimulatedRespondent
from harken.webhooks.models import Event
from tests.agent.conftest import Setup, make_campaign
from tests.helpers import Tenant

PROFILE = Profile(
    name="Alex Example0",
    role="team lead",
    department="Operations",
    facts=[
        Fact("f1", "process", "We plan the week in a Monday planning meeting", "monday huddle", "weekly planning"),
        Fact("f2", "pain", "Urgent requests disrupt the plan every day", "drop everything", "plan disrupt"),
        Fact("f3", "pain", "Shift notes get lost at handover", "lost at handover", "handover shift notes"),
        Fact("f4", "motivation", "Wants fewer surprises", "fewer surprises"),
    ],
)


async def talk_to_the_end(client: AsyncClient, token: str, max_turns: int = 80) -> tuple[dict[str, Any], list]:
    state = (await client.get(f"/v1/respond/{token}")).json()
    sim = SimulatedRespondent(PROFILE)
    question = state["messages"][-1]["text"]
    replies = []
    for _ in range(max_turns):
        response = await client.post(f"/v1/respond/{token}/messages", json={"text": sim.answer(question)})
        assert response.status_code == 200, response.text
        body = response.json()
        replies.append(body)
        if body["status"] == "completed":
            return body, replies
        question = body["reply"]["text"]
    raise AssertionError("interview did not finish")


async def conversation_row(app: Any, conversation_id: str) -> Conversation:
    async with app.state.db.session() as session:
        return (await session.execute(select(Conversation).where(Conversation.id == conversation_id))).scalar_one()


async def test_unknown_token_is_404(client: AsyncClient, campaign: Setup) -> None:
    for path in ("/v1/respond/nope", "/v1/respond/" + "x" * 300):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    response = await client.post("/v1/respond/nope/messages", json={"text": "hi"})
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = await client.post("/v1/respond/nope/end")
    assert response.status_code == 404


async def test_state_has_opening_turn_and_campaign_texts(app: Any, client: AsyncClient, tenant: Tenant) -> None:
    setup = await make_campaign(
        app.state.db,
        tenant.workspace_id,
        welcome_screen="Welcome! This takes about 20 minutes.",
        closing_message="Thanks a lot, that's all.",
        default_language="en",
    )
    response = await client.get(f"/v1/respond/{setup.tokens[0]}")
    assert response.status_code == 200
    body = response.json()
    assert body["conversation_id"] == setup.conversation_ids[0]
    assert body["status"] == "scheduled"
    assert body["campaign"] == {
        "name": "Team operations study",
        "welcome_screen": "Welcome! This takes about 20 minutes.",
        "closing_message": "Thanks a lot, that's all.",
        "language": "en",
    }
    assert len(body["messages"]) == 1
    opening = body["messages"][0]
    assert opening["speaker"] == "agent" and "Alex" in opening["text"] and opening["at"].endswith("Z")
    assert body["progress"] == 0.0 and body["accepting_messages"] is True
    # Viewing again does not add another opening.
    again = (await client.get(f"/v1/respond/{setup.tokens[0]}")).json()
    assert again["messages"] == body["messages"]
    # The token authenticates only its own conversation: no API key needed, and the other
    # contact's token shows the other conversation.
    other = (await client.get(f"/v1/respond/{setup.tokens[0]}", headers={"X-API-Key": "bogus"})).json()
    assert other["conversation_id"] == setup.conversation_ids[0]


async def test_whole_interview_completes_and_fires_the_event(app: Any, client: AsyncClient, tenant: Tenant) -> None:
    setup = await make_campaign(
        app.state.db, tenant.workspace_id, contacts=2, closing_message="That's everything, thank you!"
    )
    token = setup.tokens[0]
    last, replies = await talk_to_the_end(client, token)
    assert last["reply"]["text"] == "That's everything, thank you!"
    assert last["progress"] == 1.0
    assert [r["status"] for r in replies[:-1]] == ["in_progress"] * (len(replies) - 1)
    progress = [r["progress"] for r in replies]
    assert all(0 <= p <= 1 for p in progress) and progress[-1] == 1.0

    conversation = await conversation_row(app, setup.conversation_ids[0])
    assert conversation.status == "completed"
    assert conversation.duration_minutes and conversation.duration_minutes >= 1
    assert conversation.started_at is not None and conversation.ended_at is not None
    assert set(conversation.topic_coverage) == set(setup.question_set_ids)
    required_qs = setup.question_set_ids[0]
    assert conversation.topic_coverage[required_qs] >= 0.6
    speakers = [t["speaker"] for t in conversation.transcript]
    assert speakers[0] == "agent" and speakers[-1] == "agent" and "participant" in speakers
    assert "monday huddle" in conversation.transcript_text

    async with app.state.db.session() as session:
        contact = (await session.execute(select(Contact).where(Contact.id == setup.contact_ids[0]))).scalar_one()
        events = list((await session.execute(select(Event).where(Event.type == "interview.completed"))).scalars())
        campaign = (await session.execute(select(Campaign).where(Campaign.id == setup.campaign_id))).scalar_one()
    assert contact.status == "completed"
    assert len(events) == 1
    assert events[0].data == {
        "interview_id": setup.campaign_id,
        "conversation_id": setup.conversation_ids[0],
        "contact": {"name": "Alex Example0", "email": "alex0@example.com"},
        "duration_minutes": conversation.duration_minutes,
    }
    assert campaign.status == "active"  # the second contact has not talked yet

    # A completed interview accepts no more messages; the state says so.
    response = await client.post(f"/v1/respond/{token}/messages", json={"text": "one more thing"})
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    state = (await client.get(f"/v1/respond/{token}")).json()
    assert state["status"] == "completed" and state["progress"] == 1.0 and state["accepting_messages"] is False

    # The last contact completing completes the campaign.
    await talk_to_the_end(client, setup.tokens[1])
    async with app.state.db.session() as session:
        campaign = (await session.execute(select(Campaign).where(Campaign.id == setup.campaign_id))).scalar_one()
        types = [e.type for e in (await session.execute(select(Event).order_by(Event.created_at))).scalars()]
    assert campaign.status == "completed"
    assert types.count("interview.completed") == 2 and "campaign.completed" in types


async def test_paused_campaign_finishes_running_but_starts_nothing(
    app: Any, client: AsyncClient, tenant: Tenant
) -> None:
    setup = await make_campaign(app.state.db, tenant.workspace_id, contacts=2)
    running, fresh = setup.tokens
    await client.get(f"/v1/respond/{running}")
    first = await client.post(f"/v1/respond/{running}/messages", json={"text": "I lead a team of nine planners."})
    assert first.status_code == 200
    async with app.state.db.session() as session:
        campaign = (await session.execute(select(Campaign).where(Campaign.id == setup.campaign_id))).scalar_one()
        campaign.status = "paused"
    # The running interview goes on.
    response = await client.post(
        f"/v1/respond/{running}/messages", json={"text": "We plan on Monday mornings with the whole team."}
    )
    assert response.status_code == 200 and response.json()["status"] == "in_progress"
    # A new one does not start, with a clear message; the page state explains why.
    response = await client.post(f"/v1/respond/{fresh}/messages", json={"text": "Hello"})
    assert response.status_code == 409
    assert response.json()["code"] == "conflict" and "paused" in response.json()["detail"]
    state = (await client.get(f"/v1/respond/{fresh}")).json()
    assert state["status"] == "scheduled" and state["accepting_messages"] is False and "paused" in state["notice"]
    assert state["messages"] == []


async def test_draft_and_completed_campaigns_refuse(app: Any, client: AsyncClient, tenant: Tenant) -> None:
    draft = await make_campaign(app.state.db, tenant.workspace_id, status="draft")
    response = await client.post(f"/v1/respond/{draft.tokens[0]}/messages", json={"text": "hi"})
    assert response.status_code == 409 and "not opened" in response.json()["detail"]
    closed = await make_campaign(app.state.db, tenant.workspace_id, status="completed", name="Closed study")
    response = await client.post(f"/v1/respond/{closed.tokens[0]}/messages", json={"text": "hi"})
    assert response.status_code == 409 and "closed" in response.json()["detail"]
    state = (await client.get(f"/v1/respond/{closed.tokens[0]}")).json()
    assert state["accepting_messages"] is False and state["messages"] == []


async def test_cancelled_or_already_completed_contact_refuses(app: Any, client: AsyncClient, tenant: Tenant) -> None:
    setup = await make_campaign(app.state.db, tenant.workspace_id, contacts=2)
    async with app.state.db.session() as session:
        contacts = list((await session.execute(select(Contact).where(Contact.id.in_(setup.contact_ids)))).scalars())
        by_id = {c.id: c for c in contacts}
        by_id[setup.contact_ids[0]].status = "cancelled"
        by_id[setup.contact_ids[1]].status = "completed"  # e.g. its interview was imported
    response = await client.post(f"/v1/respond/{setup.tokens[0]}/messages", json={"text": "hi"})
    assert response.status_code == 409 and "cancelled" in response.json()["detail"]
    response = await client.post(f"/v1/respond/{setup.tokens[1]}/messages", json={"text": "hi"})
    assert response.status_code == 409 and "already completed" in response.json()["detail"]
    state = (await client.get(f"/v1/respond/{setup.tokens[1]}")).json()
    assert state["accepting_messages"] is False and state["messages"] == []


async def test_bad_bodies_get_contract_errors(client: AsyncClient, campaign: Setup) -> None:
    token = campaign.tokens[0]
    response = await client.post(f"/v1/respond/{token}/messages", json={})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "text"]
    response = await client.post(f"/v1/respond/{token}/messages", json={"text": "x" * 10_001})
    assert response.status_code == 422
    response = await client.post(
        f"/v1/respond/{token}/messages", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"
    response = await client.post(f"/v1/respond/{token}/messages", json={"text": 5})
    assert response.status_code == 422


async def test_empty_and_hostile_answers_are_handled(app: Any, client: AsyncClient, campaign: Setup) -> None:
    token = campaign.tokens[0]
    await client.get(f"/v1/respond/{token}")
    empty = await client.post(f"/v1/respond/{token}/messages", json={"text": "   "})
    assert empty.status_code == 200 and empty.json()["reply"]["text"]
    hostile = '<script>alert("x")</script> this is a stupid waste of time'
    response = await client.post(f"/v1/respond/{token}/messages", json={"text": hostile})
    assert response.status_code == 200
    assert response.json()["reply"]["text"].startswith("I'm sorry")
    state = (await client.get(f"/v1/respond/{token}")).json()
    participant = [m["text"] for m in state["messages"] if m["speaker"] == "participant"]
    assert participant == [hostile]  # stored verbatim (escaping is the page's job); empty not stored


async def test_end_early(app: Any, client: AsyncClient, campaign: Setup) -> None:
    token = campaign.tokens[0]
    response = await client.post(f"/v1/respond/{token}/end")
    assert response.status_code == 409 and "not started" in response.json()["detail"]
    await client.get(f"/v1/respond/{token}")
    await client.post(f"/v1/respond/{token}/messages", json={"text": "I run the evening shift at the depot."})
    response = await client.post(f"/v1/respond/{token}/end")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed" and body["reply"]["text"] and body["progress"] == 1.0
    again = await client.post(f"/v1/respond/{token}/end")
    assert again.status_code == 200 and again.json()["reply"] is None
    conversation = await conversation_row(app, campaign.conversation_ids[0])
    assert conversation.status == "completed" and conversation.duration_minutes >= 1


async def test_first_message_without_viewing_opens_the_conversation(
    app: Any, client: AsyncClient, tenant: Tenant
) -> None:
    setup = await make_campaign(app.state.db, tenant.workspace_id, with_conversation=False)
    response = await client.post(f"/v1/respond/{setup.tokens[0]}/messages", json={"text": "I manage the planners."})
    assert response.status_code == 200
    state = (await client.get(f"/v1/respond/{setup.tokens[0]}")).json()
    assert [m["speaker"] for m in state["messages"]] == ["agent", "participant", "agent"]
    assert state["status"] == "in_progress"


async def test_concurrent_messages_keep_the_transcript_consistent(
    app: Any, client: AsyncClient, campaign: Setup
) -> None:
    token = campaign.tokens[0]
    await client.get(f"/v1/respond/{token}")
    texts = [f"Answer number {i}: we plan with the team and adjust every single day." for i in range(6)]
    responses = await asyncio.gather(*(client.post(f"/v1/respond/{token}/messages", json={"text": t}) for t in texts))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    conversation = await conversation_row(app, campaign.conversation_ids[0])
    transcript = conversation.transcript
    assert len(transcript) == 1 + 2 * len(texts)
    assert [t["speaker"] for t in transcript] == ["agent"] + ["participant", "agent"] * len(texts)
    participant = [t["text"] for t in transcript if t["speaker"] == "participant"]
    assert sorted(participant) == sorted(texts)
    replies = {r.json()["reply"]["text"] for r in responses}
    agent_turns = [t["text"] for t in transcript[1:] if t["speaker"] == "agent"]
    assert replies == set(agent_turns)
