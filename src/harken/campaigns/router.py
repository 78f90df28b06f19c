"""HTTP routes of the campaigns domain: `/v1/interviews`, question sets and contacts (contract §3.1-3.3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile, status

from harken.campaigns import contacts as contact_service
from harken.campaigns import lifecycle, question_sets, service
from harken.campaigns.csv_import import parse_contacts_csv
from harken.campaigns.schemas import (
    BulkContactsIn,
    BulkContactsOut,
    CampaignStatus,
    CancelIn,
    CancelOut,
    ContactCreate,
    ContactOut,
    ContactStatus,
    ContactUpdate,
    FollowUpIn,
    FollowUpOut,
    ImportContactsOut,
    InterviewCreate,
    InterviewDetailOut,
    InterviewOut,
    InterviewUpdate,
    PauseIn,
    ProgressOut,
    QuestionSetCreate,
    QuestionSetOut,
    QuestionSetUpdate,
    RescheduleIn,
    RescheduleOut,
    ResyncOut,
    StartOut,
)
from harken.core.auth import InterviewsAuth
from harken.core.openapi import responses
from harken.core.session import DbSession

router = APIRouter(prefix="/v1/interviews", tags=["campaigns"])


def _base_url(request: Request) -> str:
    return str(request.app.state.settings.base_url)


BaseUrl = Annotated[str, Depends(_base_url)]


# ---------------------------------------------------------------- campaigns


@router.get("", response_model=list[InterviewOut], responses=responses())
async def list_interviews(
    auth: InterviewsAuth,
    session: DbSession,
    workspace_id: str | None = Query(default=None, description="Defaults to the API key's workspace"),
    project_id: str | None = Query(default=None),
    status: CampaignStatus | None = Query(default=None),
) -> list[InterviewOut]:
    """List the workspace's campaigns (a bare array, newest first)."""
    auth.check_workspace(workspace_id)
    campaigns = await service.list_campaigns(session, auth.workspace_id, project_id=project_id, status=status)
    return await service.interview_outs(session, campaigns)


@router.post("", response_model=InterviewOut, status_code=status.HTTP_201_CREATED, responses=responses())
async def create_interview(body: InterviewCreate, auth: InterviewsAuth, session: DbSession) -> InterviewOut:
    """Create a draft campaign; inline `topics` become question sets."""
    auth.check_workspace(body.workspace_id)
    campaign = await service.create_campaign(
        session, auth.workspace_id, body, created_by=auth.user_id or f"api_key:{auth.api_key_id}"
    )
    return await service.one_interview_out(session, campaign)


@router.get("/{interview_id}", response_model=InterviewOut, responses=responses(404))
async def get_interview(interview_id: str, auth: InterviewsAuth, session: DbSession) -> InterviewOut:
    """One campaign with its contact counters."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    return await service.one_interview_out(session, campaign)


@router.patch("/{interview_id}", response_model=InterviewOut, responses=responses(404, 409))
async def update_interview(
    interview_id: str, body: InterviewUpdate, auth: InterviewsAuth, session: DbSession, base_url: BaseUrl
) -> InterviewOut:
    """Change any create field; `status` only along legal transitions (else 409 `campaign_locked`)."""
    auth.check_workspace(body.workspace_id)
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    await service.update_campaign(session, campaign, body, base_url=base_url)
    return await service.one_interview_out(session, campaign)


@router.delete("/{interview_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 409))
async def delete_interview(interview_id: str, auth: InterviewsAuth, session: DbSession) -> Response:
    """Delete a draft or completed campaign with its contacts and conversations."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    await service.delete_campaign(session, campaign)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{interview_id}/detail", response_model=InterviewDetailOut, responses=responses(404))
async def interview_detail(
    interview_id: str, auth: InterviewsAuth, session: DbSession, base_url: BaseUrl
) -> InterviewDetailOut:
    """The campaign with its question sets, contacts and when held invitations go out."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    return await service.detail(session, campaign, base_url=base_url)


@router.get("/{interview_id}/progress", response_model=ProgressOut, responses=responses(404))
async def interview_progress(interview_id: str, auth: InterviewsAuth, session: DbSession) -> ProgressOut:
    """Contact counts by status and the completion percentage."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    return await service.progress(session, campaign)


@router.post("/{interview_id}/start", response_model=StartOut, responses=responses(404, 409))
async def start_interview(interview_id: str, auth: InterviewsAuth, session: DbSession, base_url: BaseUrl) -> StartOut:
    """draft → active: invites every pending contact (or holds invitations until `timeframe_start`)."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    invited, message = await lifecycle.start_campaign(session, campaign, base_url=base_url)
    return StartOut(
        interview=await service.one_interview_out(session, campaign), scheduled_count=invited, message=message
    )


@router.post("/{interview_id}/pause", response_model=InterviewOut, responses=responses(404, 409))
async def pause_interview(
    interview_id: str, auth: InterviewsAuth, session: DbSession, body: PauseIn | None = None
) -> InterviewOut:
    """active → paused: no new conversation starts; running ones finish."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    await lifecycle.pause_campaign(session, campaign, reason=body.reason if body else None)
    return await service.one_interview_out(session, campaign)


@router.post("/{interview_id}/resume", response_model=InterviewOut, responses=responses(404, 409))
async def resume_interview(
    interview_id: str, auth: InterviewsAuth, session: DbSession, base_url: BaseUrl
) -> InterviewOut:
    """paused → active; contacts added meanwhile are invited."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    await lifecycle.resume_campaign(session, campaign, base_url=base_url)
    return await service.one_interview_out(session, campaign)


@router.post("/{interview_id}/complete", response_model=InterviewOut, responses=responses(404, 409))
async def complete_interview(interview_id: str, auth: InterviewsAuth, session: DbSession) -> InterviewOut:
    """Close the campaign now (also a draft holding imported conversations) and start synthesis."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    await lifecycle.complete_campaign(session, campaign)
    return await service.one_interview_out(session, campaign)


@router.post(
    "/{interview_id}/resync", response_model=ResyncOut, status_code=status.HTTP_202_ACCEPTED, responses=responses(404)
)
async def resync_interview(interview_id: str, auth: InterviewsAuth, session: DbSession) -> ResyncOut:
    """Re-run synthesis (a `knowledge.synthesize` job)."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    job_id = await lifecycle.enqueue_synthesis(session, campaign)
    return ResyncOut(status="queued", job_id=job_id)


# ---------------------------------------------------------------- question sets


@router.post(
    "/{interview_id}/question-sets",
    response_model=QuestionSetOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(404),
)
async def create_question_set(
    interview_id: str, body: QuestionSetCreate, auth: InterviewsAuth, session: DbSession
) -> QuestionSetOut:
    """Add a topic with its metadata and questions."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    return question_sets.question_set_out(await question_sets.create_question_set(session, campaign, body))


@router.get("/{interview_id}/question-sets", response_model=list[QuestionSetOut], responses=responses(404))
async def list_question_sets(interview_id: str, auth: InterviewsAuth, session: DbSession) -> list[QuestionSetOut]:
    """The campaign's topics in order."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    return [question_sets.question_set_out(q) for q in await question_sets.list_question_sets(session, campaign)]


@router.get("/{interview_id}/question-sets/{question_set_id}", response_model=QuestionSetOut, responses=responses(404))
async def get_question_set(
    interview_id: str, question_set_id: str, auth: InterviewsAuth, session: DbSession
) -> QuestionSetOut:
    """One topic."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    return question_sets.question_set_out(await question_sets.get_question_set(session, campaign, question_set_id))


@router.patch(
    "/{interview_id}/question-sets/{question_set_id}", response_model=QuestionSetOut, responses=responses(404)
)
async def update_question_set(
    interview_id: str, question_set_id: str, body: QuestionSetUpdate, auth: InterviewsAuth, session: DbSession
) -> QuestionSetOut:
    """Edit a topic (also on an active campaign; a completed synthesis becomes `stale`)."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    question_set = await question_sets.get_question_set(session, campaign, question_set_id)
    return question_sets.question_set_out(
        await question_sets.update_question_set(session, campaign, question_set, body)
    )


@router.delete(
    "/{interview_id}/question-sets/{question_set_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(404),
)
async def delete_question_set(
    interview_id: str, question_set_id: str, auth: InterviewsAuth, session: DbSession
) -> Response:
    """Remove a topic; contacts assigned to it fall back to all topics."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    question_set = await question_sets.get_question_set(session, campaign, question_set_id)
    await question_sets.delete_question_set(session, campaign, question_set)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- contacts


@router.post(
    "/{interview_id}/contacts",
    response_model=ContactOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(404, 409),
)
async def add_contact(
    interview_id: str, body: ContactCreate, auth: InterviewsAuth, session: DbSession, base_url: BaseUrl
) -> ContactOut:
    """Add one contact (invited at once when the campaign is active). A duplicate email is 409."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    result = await contact_service.add_contacts(
        session, campaign, [body], base_url=base_url, strict_duplicates=True, single=True
    )
    return service.contact_out(result.created[0], base_url)


@router.post("/{interview_id}/contacts/bulk", response_model=BulkContactsOut, responses=responses(404, 409))
async def add_contacts_bulk(
    interview_id: str, body: BulkContactsIn, auth: InterviewsAuth, session: DbSession, base_url: BaseUrl
) -> BulkContactsOut:
    """Add up to 5,000 contacts in one transaction; emails already present are skipped (`skipped`)."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    result = await contact_service.add_contacts(session, campaign, body.contacts, base_url=base_url)
    return BulkContactsOut(
        created=[service.contact_out(c, base_url) for c in result.created],
        count=len(result.created),
        skipped=result.skipped,
    )


async def _import_csv(
    interview_id: str,
    file: UploadFile,
    auth: InterviewsAuth,
    session: DbSession,
    base_url: str,
    question_set_id: str | None,
) -> ImportContactsOut:
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    parsed = parse_contacts_csv(await file.read())
    result = await contact_service.add_contacts(
        session,
        campaign,
        [row.contact for row in parsed.rows],
        base_url=base_url,
        default_question_set_id=question_set_id,
        load=False,
    )
    errors = list(parsed.errors)
    errors.extend(f"line {parsed.rows[s.index].line}: {s.email} is already in this interview" for s in result.skipped)
    errors.sort(key=lambda e: int(e.split(":", 1)[0].removeprefix("line ")))
    return ImportContactsOut(imported=result.count, skipped=len(errors), errors=errors)


_CSV_DOC = (
    "Import contacts from a CSV file (header row; comma, semicolon or tab separated; UTF-8 or Windows-1252). "
    "Bad rows and duplicate emails are skipped with their line number; `imported + skipped` is the number "
    "of data rows."
)


@router.post(
    "/{interview_id}/contacts/import",
    response_model=ImportContactsOut,
    responses=responses(404, 409),
    description=_CSV_DOC,
)
async def import_contacts(
    interview_id: str,
    auth: InterviewsAuth,
    session: DbSession,
    base_url: BaseUrl,
    file: UploadFile = File(...),
    question_set_id: str | None = Query(default=None),
) -> ImportContactsOut:
    return await _import_csv(interview_id, file, auth, session, base_url, question_set_id)


@router.post(
    "/{interview_id}/contacts/csv",
    response_model=ImportContactsOut,
    responses=responses(404, 409),
    description=_CSV_DOC + " Alias of `/contacts/import`.",
)
async def import_contacts_csv(
    interview_id: str,
    auth: InterviewsAuth,
    session: DbSession,
    base_url: BaseUrl,
    file: UploadFile = File(...),
    question_set_id: str | None = Query(default=None),
) -> ImportContactsOut:
    return await _import_csv(interview_id, file, auth, session, base_url, question_set_id)


@router.post("/{interview_id}/contacts/follow-up", response_model=FollowUpOut, responses=responses(404, 409))
async def follow_up_contacts(
    interview_id: str, body: FollowUpIn, auth: InterviewsAuth, session: DbSession
) -> FollowUpOut:
    """Send a reminder to invited or scheduled contacts (others are not counted)."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    sent = await contact_service.follow_up(session, campaign, body.contact_ids, body.message)
    return FollowUpOut(sent_count=sent, message=f"Reminder queued for {sent} contact(s).")


@router.get("/{interview_id}/contacts", response_model=list[ContactOut], responses=responses(404))
async def list_contacts(
    interview_id: str,
    auth: InterviewsAuth,
    session: DbSession,
    base_url: BaseUrl,
    status: ContactStatus | None = Query(default=None),
) -> list[ContactOut]:
    """The campaign's contacts (a bare array), optionally by status."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    rows = await contact_service.list_contacts(session, campaign, status=status)
    return [service.contact_out(c, base_url) for c in rows]


@router.get("/{interview_id}/contacts/{contact_id}", response_model=ContactOut, responses=responses(404))
async def get_contact(
    interview_id: str, contact_id: str, auth: InterviewsAuth, session: DbSession, base_url: BaseUrl
) -> ContactOut:
    """One contact."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    return service.contact_out(await contact_service.get_contact(session, campaign, contact_id), base_url)


@router.patch("/{interview_id}/contacts/{contact_id}", response_model=ContactOut, responses=responses(404, 409))
async def update_contact(
    interview_id: str, contact_id: str, body: ContactUpdate, auth: InterviewsAuth, session: DbSession, base_url: BaseUrl
) -> ContactOut:
    """Edit a contact's details (a clashing email is 409)."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    contact = await contact_service.get_contact(session, campaign, contact_id, lock=True)
    return service.contact_out(await contact_service.update_contact(session, campaign, contact, body), base_url)


@router.delete(
    "/{interview_id}/contacts/{contact_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 409)
)
async def delete_contact(interview_id: str, contact_id: str, auth: InterviewsAuth, session: DbSession) -> Response:
    """Remove a contact and its conversations (not while its interview is in progress)."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    contact = await contact_service.get_contact(session, campaign, contact_id, lock=True)
    await contact_service.delete_contact(session, campaign, contact)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{interview_id}/contacts/{contact_id}/reschedule", response_model=RescheduleOut, responses=responses(404, 409)
)
async def reschedule_contact(
    interview_id: str,
    contact_id: str,
    auth: InterviewsAuth,
    session: DbSession,
    base_url: BaseUrl,
    body: RescheduleIn | None = None,
) -> RescheduleOut:
    """Book the contact's interview for `new_time` (now when omitted); fires `interview.scheduled`."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    contact = await contact_service.get_contact(session, campaign, contact_id, lock=True)
    contact = await contact_service.reschedule(
        session, campaign, contact, body.new_time if body else None, base_url=base_url
    )
    assert contact.scheduled_at is not None
    return RescheduleOut(
        contact_id=contact.id,
        scheduled_at=contact.scheduled_at,
        meeting_url=lifecycle.meeting_url(base_url, contact.booking_token),
        message="Interview scheduled.",
    )


@router.post("/{interview_id}/contacts/{contact_id}/cancel", response_model=CancelOut, responses=responses(404, 409))
async def cancel_contact(
    interview_id: str, contact_id: str, auth: InterviewsAuth, session: DbSession, body: CancelIn | None = None
) -> CancelOut:
    """Cancel a contact's interview (`mark_as_skipped` counts it as done for auto-completion)."""
    campaign = await service.get_campaign(session, auth.workspace_id, interview_id)
    contact = await contact_service.get_contact(session, campaign, contact_id, lock=True)
    contact = await contact_service.cancel(
        session, campaign, contact, mark_as_skipped=bool(body and body.mark_as_skipped)
    )
    return CancelOut(
        contact_id=contact.id,
        status=contact.status,
        calendar_event_deleted=False,
        message="Interview skipped." if contact.status == "skipped" else "Interview cancelled.",
    )
