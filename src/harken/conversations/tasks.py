"""Background jobs of the conversations domain: invitations and reminders through the notifier.

Enqueued by the campaigns domain (`start` → `conversations.send_invitation {"contact_id"}`,
follow-up → `conversations.send_reminder {"contact_id", "message"}`). The send happens outside
any database transaction; an SMTP failure raises, so the job queue retries with backoff.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from harken.campaigns.models import Campaign, Contact
from harken.conversations.notifier import build_invitation, build_reminder, get_notifier, meeting_url
from harken.core.db import utcnow
from harken.core.jobs import JobContext, job_handler

logger = logging.getLogger("harken.conversations.tasks")

NO_LONGER_INVITABLE = {"completed", "cancelled", "skipped"}


async def _load(ctx: JobContext) -> tuple[Campaign, Contact] | None:
    contact_id = ctx.payload.get("contact_id")
    if not contact_id:
        logger.warning("job %s has no contact_id", ctx.job_id)
        return None
    async with ctx.db.session() as session:
        query = select(Contact).where(Contact.id == contact_id)
        if ctx.workspace_id:
            query = query.where(Contact.workspace_id == ctx.workspace_id)
        contact = (await session.execute(query)).scalar_one_or_none()
        if contact is None:
            return None
        campaign = (
            await session.execute(
                select(Campaign).where(
                    Campaign.id == contact.interview_id, Campaign.workspace_id == contact.workspace_id
                )
            )
        ).scalar_one_or_none()
    if campaign is None:
        return None
    if contact.status in NO_LONGER_INVITABLE or not contact.booking_token:
        logger.info("contact %s is %s; nothing to send", contact.id, contact.status)
        return None
    return campaign, contact


async def _mark_invited(ctx: JobContext, contact_id: str) -> None:
    async with ctx.db.session() as session:
        contact = (await session.execute(select(Contact).where(Contact.id == contact_id))).scalar_one_or_none()
        if contact is not None and contact.invited_at is None:
            contact.invited_at = utcnow()


@job_handler("conversations.send_invitation", max_attempts=6, backoff_base=30.0)
async def send_invitation(ctx: JobContext) -> dict[str, Any] | None:
    loaded = await _load(ctx)
    if loaded is None:
        return None
    campaign, contact = loaded
    notifier = get_notifier(ctx.settings)
    notification = build_invitation(campaign, contact, meeting_url(ctx.settings, contact.booking_token or ""))
    await notifier.send(notification)
    await _mark_invited(ctx, contact.id)
    return {"notifier": notifier.name, "to": contact.email}


@job_handler("conversations.send_reminder", max_attempts=6, backoff_base=30.0)
async def send_reminder(ctx: JobContext) -> dict[str, Any] | None:
    loaded = await _load(ctx)
    if loaded is None:
        return None
    campaign, contact = loaded
    notifier = get_notifier(ctx.settings)
    link = meeting_url(ctx.settings, contact.booking_token or "")
    await notifier.send(build_reminder(campaign, contact, link, ctx.payload.get("message")))
    return {"notifier": notifier.name, "to": contact.email}
