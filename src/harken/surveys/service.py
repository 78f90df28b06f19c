"""Files and surveys: upload, create, read, update, delete, pay; the wire payloads and their events."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from harken.core.auth import Principal
from harken.core.db import new_id, utcnow
from harken.core.errors import NotFound, PayloadTooLarge, SurveyLocked, UnsupportedMediaType, validation_error
from harken.core.jobs.models import Job, JobStatus
from harken.surveys import files as file_store
from harken.surveys.models import Block, Changeset, NavigationRule, Page, Survey, SurveyFile, Variable
from harken.surveys.parsing.extract import DOCX, XLSX, DocumentError, check_zip
from harken.surveys.schemas import (
    BlockOut,
    FileOut,
    FullSurveyOut,
    NavigationRuleOut,
    PageOut,
    SurveyCreate,
    SurveyOut,
    SurveyUpdate,
    VariableOut,
    slugify,
)
from harken.webhooks.events import emit

# --- payloads -----------------------------------------------------------------------------------------


def survey_out(survey: Survey) -> SurveyOut:
    return SurveyOut.model_validate({**_survey_fields(survey)})


def _survey_fields(survey: Survey) -> dict[str, Any]:
    return {
        "id": survey.id,
        "slug": survey.slug,
        "name": survey.name,
        "user_id": survey.user_id,
        "org_id": survey.workspace_id,
        "first_page_id": survey.first_page_id,
        "locked": survey.locked,
        "programming_status": survey.programming_status,
        "programming_started_at": survey.programming_started_at,
        "programming_completed_at": survey.programming_completed_at,
        "paid_at": survey.paid_at,
        "language_code": survey.language_code,
        "content_only": survey.content_only,
        "created_at": survey.created_at,
        "updated_at": survey.updated_at,
    }


def survey_event_data(survey: Survey) -> dict[str, Any]:
    return survey_out(survey).model_dump(mode="json")


def file_out(row: SurveyFile) -> FileOut:
    return FileOut(
        id=row.id,
        name=row.name,
        mime_type=row.mime_type,
        size_bytes=row.size_bytes,
        org_id=row.workspace_id,
        survey_id=row.survey_id,
        created_at=row.created_at,
        sha256=row.sha256,
    )


async def load_ir(
    session: AsyncSession, survey: Survey
) -> tuple[list[Page], list[Block], list[NavigationRule], list[Variable]]:
    pages = list(
        (
            await session.execute(select(Page).where(Page.survey_id == survey.id).order_by(Page.order, Page.created_at))
        ).scalars()
    )
    blocks = list(
        (
            await session.execute(
                select(Block).where(Block.survey_id == survey.id).order_by(Block.order, Block.created_at)
            )
        ).scalars()
    )
    rules = list(
        (
            await session.execute(
                select(NavigationRule).where(NavigationRule.survey_id == survey.id).order_by(NavigationRule.order)
            )
        ).scalars()
    )
    variables = list(
        (
            await session.execute(select(Variable).where(Variable.survey_id == survey.id).order_by(Variable.name))
        ).scalars()
    )
    return pages, blocks, rules, variables


def page_out(page: Page, blocks: list[Block], rules: list[NavigationRule]) -> PageOut:
    return PageOut(
        id=page.id,
        survey_id=page.survey_id,
        name=page.name,
        order=page.order,
        assign_response_status=page.assign_response_status,
        attention_required=page.attention_required,
        blocks=[BlockOut.model_validate(b) for b in blocks if b.page_id == page.id],
        navigation_rules=[NavigationRuleOut.model_validate(r) for r in rules if r.source_page_id == page.id],
    )


async def full_survey(session: AsyncSession, survey: Survey) -> FullSurveyOut:
    pages, blocks, rules, variables = await load_ir(session, survey)
    return FullSurveyOut(
        **_survey_fields(survey),
        pages=[page_out(p, blocks, rules) for p in pages],
        variables=[VariableOut.model_validate(v) for v in variables],
        programmed_from_file_id=survey.programmed_from_file_id,
    )


# --- files --------------------------------------------------------------------------------------------


async def upload_file(
    session: AsyncSession,
    principal: Principal,
    data_dir: Path,
    *,
    filename: str,
    data: bytes,
    max_bytes: int,
    survey_id: str | None,
) -> SurveyFile:
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"The file exceeds the upload limit of {max_bytes} bytes")
    if not data:
        raise validation_error(["body", "file"], "The file is empty")
    if survey_id is not None:
        survey = await get_survey(session, principal.workspace_id, survey_id)
        survey_id = survey.id
    try:
        mime_type = file_store.sniff(data, filename)
    except file_store.UnsupportedFile as exc:
        raise UnsupportedMediaType(str(exc)) from exc
    if mime_type in (DOCX, XLSX):
        try:
            check_zip(data)
        except DocumentError as exc:
            raise validation_error(["body", "file"], str(exc)) from exc
    file_id = new_id()
    relative = file_store.store(data_dir, principal.workspace_id, file_id, data)
    row = SurveyFile(
        id=file_id,
        workspace_id=principal.workspace_id,
        survey_id=survey_id,
        name=(re.sub(r"[\x00-\x1f\x7f]", "", Path(filename.replace("\\", "/")).name) or "upload")[:500],
        mime_type=mime_type,
        size_bytes=len(data),
        sha256=file_store.checksum(data),
        storage_path=relative,
        user_id=principal.user_id,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


def valid_ref(value: str) -> bool:
    """Ids and slugs are short printable strings; anything else cannot exist (never reaches SQL)."""
    return 0 < len(value) <= 255 and "\x00" not in value


async def get_file(session: AsyncSession, workspace_id: str, file_id: str) -> SurveyFile:
    if not valid_ref(file_id):
        raise NotFound("File not found")
    row = await session.get(SurveyFile, file_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound("File not found")
    return row


# --- surveys ------------------------------------------------------------------------------------------


async def get_survey(session: AsyncSession, workspace_id: str, id_or_slug: str, *, for_update: bool = False) -> Survey:
    if not valid_ref(id_or_slug):
        raise NotFound("Survey not found")
    query = select(Survey).where(Survey.workspace_id == workspace_id)
    by_id = query.where(Survey.id == id_or_slug)
    by_slug = query.where(Survey.slug == id_or_slug)
    if for_update:
        by_id, by_slug = by_id.with_for_update(), by_slug.with_for_update()
    survey = (await session.execute(by_id)).scalar_one_or_none()
    if survey is None:
        survey = (await session.execute(by_slug)).scalar_one_or_none()
    if survey is None:
        raise NotFound("Survey not found")
    return survey


def ensure_unlocked(survey: Survey) -> None:
    if survey.locked:
        raise SurveyLocked("The survey is locked while programming runs; cancel it or wait for it to finish")


async def _slug_taken(session: AsyncSession, workspace_id: str, slug: str, exclude: str | None = None) -> bool:
    query = select(Survey.id).where(Survey.workspace_id == workspace_id, Survey.slug == slug)
    if exclude:
        query = query.where(Survey.id != exclude)
    return (await session.execute(query)).first() is not None


async def _unique_slug(session: AsyncSession, workspace_id: str, base: str) -> str:
    slug, n = base, 0
    while await _slug_taken(session, workspace_id, slug):
        n += 1
        suffix, k = "", n
        while k > 0:
            k, rem = divmod(k - 1, 26)
            suffix = chr(97 + rem) + suffix
        slug = f"{base[:240]}-{suffix}"
    return slug


async def create_survey(session: AsyncSession, principal: Principal, body: SurveyCreate) -> Survey:
    if body.slug:
        if await _slug_taken(session, principal.workspace_id, body.slug):
            raise validation_error(["body", "slug"], "This slug is already used by another survey", "value_error")
        slug = body.slug
    else:
        slug = await _unique_slug(session, principal.workspace_id, slugify(body.name))
    now = utcnow()
    survey = Survey(
        id=new_id(),
        workspace_id=principal.workspace_id,
        slug=slug,
        name=body.name,
        user_id=principal.user_id,
        language_code=body.language_code,
        order=body.order or 0,
        created_at=now,
        updated_at=now,
    )
    session.add(survey)
    await session.flush()
    await emit(
        session, workspace_id=principal.workspace_id, event_type="survey.created", data=survey_event_data(survey)
    )
    return survey


async def list_surveys(session: AsyncSession, workspace_id: str, limit: int, offset: int) -> list[Survey]:
    query = (
        select(Survey)
        .where(Survey.workspace_id == workspace_id)
        .order_by(Survey.created_at.desc(), Survey.id)
        .limit(limit)
        .offset(offset)
    )
    return list((await session.execute(query)).scalars())


async def update_survey(session: AsyncSession, principal: Principal, id_or_slug: str, body: SurveyUpdate) -> Survey:
    from harken.surveys.history import Recorder

    survey = await get_survey(session, principal.workspace_id, id_or_slug, for_update=True)
    ensure_unlocked(survey)
    values = body.model_dump(exclude_unset=True, exclude_none=True)
    if "slug" in values and await _slug_taken(session, principal.workspace_id, values["slug"], exclude=survey.id):
        raise validation_error(["body", "slug"], "This slug is already used by another survey", "value_error")
    changed = {k: v for k, v in values.items() if getattr(survey, k) != v}
    if not changed:
        return survey
    recorder = await Recorder.start(session, survey, "manual", user_id=principal.user_id, title="Survey settings")
    await recorder.update("survey", survey, changed)
    await recorder.finish()
    survey.updated_at = utcnow()
    await session.flush()
    await emit(session, workspace_id=survey.workspace_id, event_type="survey.updated", data=survey_event_data(survey))
    return survey


async def delete_survey(session: AsyncSession, principal: Principal, id_or_slug: str) -> None:
    survey = await get_survey(session, principal.workspace_id, id_or_slug, for_update=True)
    if survey.programming_status == "in_progress":
        # Deleting a survey stops its programming job: the job finds no survey and exits.
        await _cancel_job_row(session, survey.programming_job_id)
        await emit(
            session,
            workspace_id=survey.workspace_id,
            event_type="programming.finished",
            data={"survey_id": survey.id, "file_id": survey.programmed_from_file_id, "status": "cancelled"},
        )
    survey_id = survey.id
    for model in (Block, NavigationRule):
        rows = (await session.execute(select(model).where(model.survey_id == survey_id))).scalars()
        for row in list(rows):
            await session.delete(row)
    await session.flush()
    for model in (Page, Variable, Changeset):
        rows = (await session.execute(select(model).where(model.survey_id == survey_id))).scalars()
        for row in list(rows):
            await session.delete(row)
    await session.flush()
    await session.delete(survey)
    await session.flush()
    await emit(session, workspace_id=principal.workspace_id, event_type="survey.deleted", data={"id": survey_id})


async def pay_survey(session: AsyncSession, principal: Principal, id_or_slug: str) -> Survey:
    survey = await get_survey(session, principal.workspace_id, id_or_slug, for_update=True)
    if survey.paid_at is None:
        survey.paid_at = utcnow()
        survey.updated_at = survey.paid_at
        await session.flush()
        await emit(
            session, workspace_id=survey.workspace_id, event_type="survey.updated", data=survey_event_data(survey)
        )
    return survey


async def _cancel_job_row(session: AsyncSession, job_id: str | None) -> None:
    if not job_id:
        return
    job = await session.get(Job, job_id)
    if job is not None and job.status == JobStatus.queued.value:
        job.status = JobStatus.cancelled.value
        job.finished_at = utcnow()
