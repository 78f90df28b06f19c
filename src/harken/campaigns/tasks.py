"""Background jobs of the campaigns domain."""

from __future__ import annotations

import logging

from harken.campaigns import lifecycle
from harken.campaigns.models import Campaign
from harken.core.db import utcnow
from harken.core.errors import CampaignLocked
from harken.core.jobs import JobContext, Reschedule, job_handler

logger = logging.getLogger("harken.campaigns")


@job_handler("campaigns.release_invitations", max_attempts=5)
async def release_invitations(ctx: JobContext) -> None:
    """Send the invitations a campaign held until its `timeframe_start` (idempotent).

    A paused campaign is left alone (resuming it invites); a moved start date reschedules the job.
    """
    interview_id = str(ctx.payload.get("interview_id", ""))
    async with ctx.db.session() as session:
        await lifecycle.lock_pending_contacts(session, interview_id)  # contacts before the campaign
        campaign = await session.get(Campaign, interview_id)
        if campaign is None or campaign.status != "active":
            return
        start = campaign.timeframe_start
        if not campaign.start_immediately and start is not None and start > utcnow():
            raise Reschedule(start)
        invited = await lifecycle.invite_pending(session, campaign, base_url=ctx.settings.base_url)
    logger.info("released %d held invitation(s) of campaign %s", invited, interview_id)


@job_handler("campaigns.end_timeframe", max_attempts=5)
async def end_timeframe(ctx: JobContext) -> None:
    """Pause an active campaign whose `timeframe_end` has passed (reason `timeframe_ended`).

    Running conversations still finish and count; a moved end date reschedules the job.
    """
    interview_id = str(ctx.payload.get("interview_id", ""))
    async with ctx.db.session() as session:
        campaign = await session.get(Campaign, interview_id, with_for_update=True)
        if campaign is None or campaign.status != "active" or campaign.timeframe_end is None:
            return
        if campaign.timeframe_end > utcnow():
            raise Reschedule(campaign.timeframe_end)
        try:
            await lifecycle.pause_campaign(session, campaign, reason="timeframe_ended")
        except CampaignLocked:
            return  # paused or completed meanwhile
