"""Invitations and reminders: a real local SMTP server (aiosmtpd) and a real job worker."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import select

from harken.campaigns.models import Contact
from harken.conversations.notifier import LogNotifier, SmtpNotifier, get_notifier
from harken.core.jobs import Job, Worker, enqueue
from harken.core.settings import Settings
from tests.agent.conftest import Inbox, make_campaign
from tests.helpers import Tenant, free_port, wait_for


def smtp_settings(settings: Settings, port: int) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_from": "research@harken.test",
            "base_url": "https://hk.test",
        }
    )


async def run_jobs(db: Any, settings: Settings, kinds: list[str]) -> list[Job]:
    """Run a real worker until every job of `kinds` is finished."""
    worker = Worker(db, settings, kinds=kinds, concurrency=2)
    task = asyncio.create_task(worker.run())

    async def finished() -> list[Job] | None:
        async with db.session() as session:
            jobs = list((await session.execute(select(Job).where(Job.kind.in_(kinds)))).scalars())
        return jobs if jobs and all(j.status in {"succeeded", "failed"} for j in jobs) else None

    try:
        return await wait_for(finished, timeout=20)
    finally:
        worker.stop()
        await task


async def test_invitation_is_emailed_with_the_campaign_message_and_link(
    app: Any, tenant: Tenant, settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    db = app.state.db
    setup = await make_campaign(
        db,
        tenant.workspace_id,
        contacts=2,
        name="Depot study\r\nBcc: evil@example.com",
        invitation_email_message="Hello {first_name}! Please join {campaign} here: {link} (about {minutes} min).",
    )
    async with db.session() as session:
        for contact_id in setup.contact_ids:
            await enqueue(
                session, "conversations.send_invitation", {"contact_id": contact_id}, workspace_id=tenant.workspace_id
            )
    jobs = await run_jobs(db, smtp_settings(settings, port), ["conversations.send_invitation"])
    assert [j.status for j in jobs] == ["succeeded", "succeeded"]
    assert len(inbox.messages) == 2
    by_recipient = {m["To"]: m for m in inbox.messages}
    message = by_recipient["Alex Example0 <alex0@example.com>"]
    assert message["From"] == "research@harken.test"
    assert message["Subject"] == "Invitation: Depot study Bcc: evil@example.com"  # no header injection
    assert message["Bcc"] is None
    body = message.get_payload(decode=True).decode()
    link = f"https://hk.test/i/{setup.tokens[0]}"
    assert body.startswith("Hello Alex! Please join Depot study")
    assert f"here: {link} (about 20 min)." in body
    assert inbox.envelopes[0].rcpt_tos[0] in {"alex0@example.com", "alex1@example.com"}
    async with db.session() as session:
        contacts = list(
            (await session.execute(select(Contact).where(Contact.interview_id == setup.campaign_id))).scalars()
        )
    assert all(c.invited_at is not None for c in contacts)


async def test_reminder_uses_the_same_notifier(
    app: Any, tenant: Tenant, settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    db = app.state.db
    setup = await make_campaign(db, tenant.workspace_id, contacts=1)
    async with db.session() as session:
        await enqueue(
            session,
            "conversations.send_reminder",
            {"contact_id": setup.contact_ids[0], "message": "Just a nudge: we'd love your input."},
            workspace_id=tenant.workspace_id,
        )
    jobs = await run_jobs(db, smtp_settings(settings, port), ["conversations.send_reminder"])
    assert jobs[0].status == "succeeded"
    [message] = inbox.messages
    assert message["Subject"] == "Reminder: Team operations study"
    body = message.get_payload(decode=True).decode()
    assert "Just a nudge: we'd love your input." in body and f"https://hk.test/i/{setup.tokens[0]}" in body


async def test_no_mail_for_completed_or_cancelled_contacts(
    app: Any, tenant: Tenant, settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    db = app.state.db
    setup = await make_campaign(db, tenant.workspace_id, contacts=2)
    async with db.session() as session:
        contacts = list((await session.execute(select(Contact).where(Contact.id.in_(setup.contact_ids)))).scalars())
        contacts[0].status = "completed"
        contacts[1].status = "cancelled"
        for contact_id in setup.contact_ids:
            await enqueue(session, "conversations.send_reminder", {"contact_id": contact_id, "message": "hi"})
        await enqueue(session, "conversations.send_reminder", {"contact_id": "does-not-exist", "message": "hi"})
    jobs = await run_jobs(db, smtp_settings(settings, port), ["conversations.send_reminder"])
    assert [j.status for j in jobs] == ["succeeded"] * 3
    assert inbox.messages == []


async def test_smtp_down_fails_the_attempt_so_the_queue_retries(app: Any, tenant: Tenant, settings: Settings) -> None:
    db = app.state.db
    setup = await make_campaign(db, tenant.workspace_id, contacts=1)
    async with db.session() as session:
        await enqueue(session, "conversations.send_invitation", {"contact_id": setup.contact_ids[0]}, max_attempts=1)
    dead_port = free_port()  # nothing listens here
    jobs = await run_jobs(db, smtp_settings(settings, dead_port), ["conversations.send_invitation"])
    assert jobs[0].status == "failed" and "Connection" in (jobs[0].last_error or "")


async def test_without_smtp_the_invitation_is_logged(
    app: Any, tenant: Tenant, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    db = app.state.db
    assert isinstance(get_notifier(settings), LogNotifier)
    setup = await make_campaign(db, tenant.workspace_id, contacts=1)
    async with db.session() as session:
        await enqueue(session, "conversations.send_invitation", {"contact_id": setup.contact_ids[0]})
    with caplog.at_level(logging.INFO, logger="harken.notifier"):
        jobs = await run_jobs(
            db, settings.model_copy(update={"base_url": "http://x.test"}), ["conversations.send_invitation"]
        )
    assert jobs[0].status == "succeeded"
    assert f"http://x.test/i/{setup.tokens[0]}" in caplog.text and "alex0@example.com" in caplog.text


def test_smtp_notifier_needs_a_host(settings: Settings) -> None:
    with pytest.raises(ValueError):
        SmtpNotifier(settings)
