"""Fixtures of the agent tests: campaigns built directly through the models (the campaign API is
another domain's), and helpers to talk to the respondent channel."""

from __future__ import annotations

import email
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from harken.campaigns.models import Campaign, Contact, QuestionSet
from harken.conversations.models import Conversation
from harken.core.db import Database, utcnow
from tests.helpers import Tenant, free_port

TOPICS: list[dict[str, Any]] = [
    {
        "name": "Weekly planning",
        "goal": "Understand how the team plans its week and what disrupts the plan.",
        "priority": "required",
        "success_threshold": "0.6",
        "sub_topics": ["Planning meeting", "Changing priorities", "Sharing the plan"],
        "questions": [
            {"text": "How does your team plan the coming week?", "required": True},
            {"text": "What usually disrupts the plan?", "required": True},
        ],
    },
    {
        "name": "Handovers",
        "goal": "Learn how work passes between people and shifts.",
        "priority": "important",
        "success_threshold": "0.5",
        "sub_topics": ["Shift notes", "Open items"],
        "questions": [{"text": "How does work get handed over between people?", "required": True}],
    },
    {
        "name": "Improvement ideas",
        "goal": "Collect ideas for improvement.",
        "priority": "optional",
        "success_threshold": "0.5",
        "sub_topics": [],
        "questions": [{"text": "If you could fix one thing tomorrow, what would it be?", "required": False}],
    },
]


@dataclass
class Setup:
    campaign_id: str
    workspace_id: str
    tokens: list[str] = field(default_factory=list)
    contact_ids: list[str] = field(default_factory=list)
    conversation_ids: list[str] = field(default_factory=list)
    question_set_ids: list[str] = field(default_factory=list)


async def make_campaign(
    db: Database,
    workspace_id: str,
    *,
    name: str = "Team operations study",
    contacts: int = 1,
    status: str = "active",
    topics: list[dict[str, Any]] | None = None,
    with_conversation: bool = True,
    **fields: Any,
) -> Setup:
    """A started campaign: question sets, contacts with booking tokens and scheduled conversations."""
    async with db.session() as session:
        campaign = Campaign(
            workspace_id=workspace_id,
            name=name,
            goal=fields.pop("goal", "Understand how teams plan and hand over work, so we can fix what hurts most."),
            status=status,
            started_at=utcnow() if status != "draft" else None,
            interview_duration_minutes=fields.pop("interview_duration_minutes", 20),
            options={},
            **fields,
        )
        session.add(campaign)
        await session.flush()
        setup = Setup(campaign.id, workspace_id)
        for i, topic in enumerate(topics if topics is not None else TOPICS):
            qs = QuestionSet(
                workspace_id=workspace_id,
                interview_id=campaign.id,
                name=topic["name"],
                sort_order=i,
                topic_metadata={
                    "priority": topic.get("priority", "important"),
                    "success_threshold": topic.get("success_threshold", "0.7"),
                    "sub_topics": topic.get("sub_topics", []),
                    "goal": topic.get("goal"),
                },
                questions=[
                    {
                        "id": f"q{j}",
                        "question_text": q["text"],
                        "is_required": q.get("required", True),
                        "sort_order": j,
                        "question_type": "open_ended",
                        "options": [],
                    }
                    for j, q in enumerate(topic.get("questions", []))
                ],
            )
            session.add(qs)
            await session.flush()
            setup.question_set_ids.append(qs.id)
        for i in range(contacts):
            token = secrets.token_urlsafe(24)
            contact = Contact(
                workspace_id=workspace_id,
                interview_id=campaign.id,
                name=f"Alex Example{i}",
                email=f"alex{i}@example.com",
                email_normalized=f"alex{i}@example.com",
                job_title="Team lead",
                department="Operations",
                status="scheduled" if status != "draft" else "pending",
                booking_token=token,
                scheduled_at=utcnow(),
            )
            session.add(contact)
            await session.flush()
            setup.tokens.append(token)
            setup.contact_ids.append(contact.id)
            if with_conversation:
                conversation = Conversation(
                    workspace_id=workspace_id,
                    interview_id=campaign.id,
                    contact_id=contact.id,
                    status="scheduled",
                    transcript=[],
                    agent_state={},
                    topic_coverage={},
                )
                session.add(conversation)
                await session.flush()
                setup.conversation_ids.append(conversation.id)
    return setup


@pytest.fixture
async def campaign(app: Any, tenant: Tenant) -> Setup:
    return await make_campaign(app.state.db, tenant.workspace_id, contacts=2)


class Inbox:
    """Messages received by the local SMTP server."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()  # Controller(port=0) does not work: pick a free port first
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()
