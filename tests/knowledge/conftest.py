"""Fixtures for the knowledge tests: campaigns seeded straight into the tables from the labelled
sets in `../shared/data/synthesis` (the campaigns API is another domain's)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from harken.campaigns.models import Campaign, Contact, QuestionSet
from harken.conversations.models import Conversation
from harken.core.db import Database, new_id
from tests.helpers import SHARED

ROOT = Path(__file__).resolve().parents[2]
DATA = SHARED / "data" / "synthesis"


@dataclass
class Seeded:
    interview_id: str
    workspace_id: str
    conversation_ids: list[str] = field(default_factory=list)
    contact_ids: dict[str, str] = field(default_factory=dict)  # ref -> id
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)  # conversation id -> raw file


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


async def seed_campaign(
    db: Database,
    workspace_id: str,
    dataset: str = "facility-ops",
    *,
    limit: int | None = None,
    status: str = "completed",
) -> Seeded:
    ds = DATA / dataset
    spec = json.loads((ds / "campaign.json").read_text())
    contacts = spec["contacts"][:limit] if limit else spec["contacts"]
    seeded = Seeded(new_id(), workspace_id)
    async with db.session() as session:
        session.add(
            Campaign(
                id=seeded.interview_id,
                workspace_id=workspace_id,
                name=spec["name"],
                goal=spec.get("goal"),
                status="active",
            )
        )
        await session.flush()
        for i, t in enumerate(spec.get("topics", [])):
            session.add(
                QuestionSet(
                    workspace_id=workspace_id,
                    interview_id=seeded.interview_id,
                    name=t["name"],
                    description=t.get("goal"),
                    sort_order=i,
                    topic_metadata={"priority": t.get("priority"), "sub_topics": t.get("sub_topics", [])},
                    questions=[
                        {"question_text": q["text"], "is_required": q.get("required", False), "sort_order": j}
                        for j, q in enumerate(t.get("questions", []))
                    ],
                )
            )
        for c in contacts:
            cid = new_id()
            seeded.contact_ids[c["ref"]] = cid
            session.add(
                Contact(
                    id=cid,
                    workspace_id=workspace_id,
                    interview_id=seeded.interview_id,
                    name=c["name"],
                    email=c["email"],
                    email_normalized=c["email"].lower(),
                    job_title=c.get("job_title"),
                    department=c.get("department"),
                    seniority_level=c.get("seniority_level"),
                    status="completed",
                )
            )
        await session.flush()
        for c in contacts:
            raw = json.loads((ds / "conversations" / f"{c['ref']}.json").read_text())
            conv_id = new_id()
            started, ended = _dt(raw.get("started_at")), _dt(raw.get("ended_at"))
            session.add(
                Conversation(
                    id=conv_id,
                    workspace_id=workspace_id,
                    interview_id=seeded.interview_id,
                    contact_id=seeded.contact_ids[c["ref"]],
                    status=status,
                    source="import",
                    transcript=raw["turns"],
                    transcript_text="\n".join(t["text"] for t in raw["turns"]),
                    started_at=started,
                    ended_at=ended,
                    duration_minutes=int((ended - started).total_seconds() // 60) if started and ended else None,
                )
            )
            seeded.conversation_ids.append(conv_id)
            seeded.conversations[conv_id] = raw
    return seeded


@pytest.fixture
def db(app: Any) -> Database:
    return app.state.db


@pytest.fixture
def settings_of(app: Any) -> Any:
    return app.state.settings
