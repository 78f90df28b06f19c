"""Programming a survey from a file: start (locks the survey, queues the job), cancel, and the job itself.

The job runs in stages (read the file, extract, program, optional LLM pass, write the IR) and checks
between stages whether it still owns the survey: a cancel or a delete makes it stop cooperatively.
Only the last stage writes, in one short transaction that also records the changeset and the events.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from harken.core.auth import Principal
from harken.core.db import Database, new_id, utcnow
from harken.core.errors import Conflict
from harken.core.jobs import enqueue
from harken.core.settings import Settings
from harken.surveys import files as file_store
from harken.surveys.history import Recorder
from harken.surveys.models import Block, Changeset, NavigationRule, Page, Survey, Variable
from harken.surveys.parsing.build import build_ir
from harken.surveys.parsing.extract import DocumentError, extract
from harken.surveys.parsing.programmer import program
from harken.surveys.service import (
    _cancel_job_row,
    ensure_unlocked,
    get_file,
    get_survey,
    survey_event_data,
)
from harken.webhooks.events import emit

logger = logging.getLogger("harken.surveys.programming")
JOB_KIND = "surveys.program_from_file"


class Cancelled(Exception):
    pass


async def start(session: AsyncSession, principal: Principal, survey_ref: str, file_id: str) -> dict[str, Any]:
    survey = await get_survey(session, principal.workspace_id, survey_ref, for_update=True)
    ensure_unlocked(survey)
    source = await get_file(session, principal.workspace_id, file_id)
    now = utcnow()
    message_id = new_id()
    recorder = await Recorder.start(
        session,
        survey,
        "initial_programming",
        user_id=principal.user_id,
        title=f"Programmed from {source.name}",
        file_id=source.id,
        meta={"message_id": message_id},
    )
    job_id = await enqueue(
        session,
        JOB_KIND,
        {"survey_id": survey.id, "file_id": source.id, "changeset_id": recorder.changeset.id},
        workspace_id=principal.workspace_id,
        max_attempts=3,
    )
    assert job_id is not None
    survey.locked = True
    survey.programming_status = "in_progress"
    survey.programming_started_at = now
    survey.programming_completed_at = None
    survey.programming_job_id = job_id
    survey.programming_error = None
    survey.programmed_from_file_id = source.id
    survey.updated_at = now
    if source.survey_id is None:
        source.survey_id = survey.id
    await session.flush()
    await emit(
        session,
        workspace_id=survey.workspace_id,
        event_type="programming.started",
        data={"survey_id": survey.id, "file_id": source.id},
    )
    await emit(session, workspace_id=survey.workspace_id, event_type="survey.updated", data=survey_event_data(survey))
    return {
        "id": message_id,
        "user_id": principal.user_id,
        "created_at": now,
        "content": [{"type": "text", "text": f"Program this survey from the questionnaire file '{source.name}'."}],
        "job_id": job_id,
    }


async def cancel(session: AsyncSession, principal: Principal, survey_ref: str) -> Survey:
    survey = await get_survey(session, principal.workspace_id, survey_ref, for_update=True)
    if survey.programming_status != "in_progress":
        raise Conflict("No programming job is running for this survey")
    await _cancel_job_row(session, survey.programming_job_id)
    await _finish(session, survey, "cancelled", None)
    return survey


async def _finish(session: AsyncSession, survey: Survey, status: str, error: str | None) -> None:
    now = utcnow()
    survey.locked = False
    survey.programming_status = status
    survey.programming_error = error
    if status == "completed":
        survey.programming_completed_at = now
    survey.updated_at = now
    changeset = (
        await session.execute(
            select(Changeset).where(
                Changeset.survey_id == survey.id,
                Changeset.type == "initial_programming",
                Changeset.status == "in_progress",
            )
        )
    ).scalars()
    for row in changeset:
        if status != "completed":
            row.status = "error"
            row.meta = {**(row.meta or {}), "reason": status, **({"error": error} if error else {})}
            row.updated_at = now
    await session.flush()
    await emit(session, workspace_id=survey.workspace_id, event_type="survey.updated", data=survey_event_data(survey))
    await emit(
        session,
        workspace_id=survey.workspace_id,
        event_type="programming.finished",
        data={"survey_id": survey.id, "file_id": survey.programmed_from_file_id, "status": status},
    )


# --- the job ---------------------------------------------------------------------------------------------


async def _owns(db: Database, survey_id: str, job_id: str) -> bool:
    async with db.read_sessionmaker() as session:
        row = (
            await session.execute(
                select(Survey.programming_job_id, Survey.programming_status).where(Survey.id == survey_id)
            )
        ).first()
    return row is not None and row[0] == job_id and row[1] == "in_progress"


async def _checkpoint(db: Database, survey_id: str, job_id: str) -> None:
    if not await _owns(db, survey_id, job_id):
        raise Cancelled()


async def run_job(
    db: Database, settings: Settings, job_id: str, payload: dict[str, Any], *, last_attempt: bool
) -> None:
    survey_id, file_id = payload["survey_id"], payload["file_id"]
    try:
        await _checkpoint(db, survey_id, job_id)
        async with db.read_sessionmaker() as session:
            survey = await session.get(Survey, survey_id)
            if survey is None:
                raise Cancelled()
            source = await get_file(session, survey.workspace_id, file_id)
            mime_type, path = source.mime_type, source.storage_path
        data = await asyncio.to_thread(file_store.load, Path(settings.data_dir), path)
        await _checkpoint(db, survey_id, job_id)
        document = await asyncio.to_thread(extract, data, mime_type)
        await _checkpoint(db, survey_id, job_id)
        result = await asyncio.to_thread(program, document)
        if not any(q.kind != "text" for q in result.questions):
            raise DocumentError("No questions were found in the document")
        await _checkpoint(db, survey_id, job_id)
        if settings.llm_base_url:
            from harken.surveys.parsing.llm import refine

            result = await refine(result, settings)
            await _checkpoint(db, survey_id, job_id)
        ir = build_ir(result)
        await _write(db, survey_id, job_id, payload.get("changeset_id"), ir)
    except Cancelled:
        logger.info("programming job %s stopped: survey %s cancelled or deleted", job_id, survey_id)
    except DocumentError as exc:
        await _fail(db, survey_id, job_id, str(exc))
    except Exception as exc:
        if not last_attempt:
            raise
        logger.exception("programming job %s failed", job_id)
        await _fail(db, survey_id, job_id, f"Programming failed: {type(exc).__name__}")


async def _fail(db: Database, survey_id: str, job_id: str, error: str) -> None:
    async with db.session() as session:
        survey = (
            await session.execute(select(Survey).where(Survey.id == survey_id).with_for_update())
        ).scalar_one_or_none()
        if survey is None or survey.programming_job_id != job_id or survey.programming_status != "in_progress":
            return
        await _finish(session, survey, "failed", error)


async def _write(db: Database, survey_id: str, job_id: str, changeset_id: str | None, ir: dict[str, Any]) -> None:
    async with db.session() as session:
        survey = (
            await session.execute(select(Survey).where(Survey.id == survey_id).with_for_update())
        ).scalar_one_or_none()
        if survey is None or survey.programming_job_id != job_id or survey.programming_status != "in_progress":
            return
        changeset = await session.get(Changeset, changeset_id) if changeset_id else None
        if changeset is None:
            recorder = await Recorder.start(
                session, survey, "initial_programming", user_id=survey.user_id, title="Programmed from file"
            )
        else:
            recorder = await Recorder.resume(session, changeset)
        # Replace whatever IR the survey had (recorded, so a revert brings it back).
        old_pages = (
            await session.execute(select(Page).where(Page.survey_id == survey.id).order_by(Page.order))
        ).scalars()
        for page in list(old_pages):
            await recorder.delete("page", page)
        old_vars = (await session.execute(select(Variable).where(Variable.survey_id == survey.id))).scalars()
        for variable in list(old_vars):
            await recorder.delete("variable", variable)
        await _insert_ir(session, recorder, survey, ir)
        survey.first_page_id = ir["pages"][0]["id"] if ir["pages"] else None
        survey.title = (ir.get("title") or "")[:500] or None
        question_count = sum(1 for p in ir["pages"] for b in p["blocks"] if b["config"].get("type") != "Text")
        await recorder.finish("complete", questions=question_count, pages=len(ir["pages"]))
        await _finish(session, survey, "completed", None)


async def _insert_ir(session: AsyncSession, recorder: Recorder, survey: Survey, ir: dict[str, Any]) -> None:
    from harken.surveys.history import snapshot

    now = utcnow()
    objects: list[tuple[str, Any]] = []
    for page in ir["pages"]:
        objects.append(
            (
                "page",
                Page(
                    id=page["id"],
                    workspace_id=survey.workspace_id,
                    survey_id=survey.id,
                    name=page["name"],
                    order=page["order"],
                    assign_response_status=page.get("assign_response_status"),
                    created_at=now,
                    updated_at=now,
                ),
            )
        )
    for page in ir["pages"]:
        for block in page["blocks"]:
            objects.append(
                (
                    "block",
                    Block(
                        id=block["id"],
                        workspace_id=survey.workspace_id,
                        survey_id=survey.id,
                        page_id=page["id"],
                        order=block["order"],
                        config=block["config"],
                        created_at=now,
                        updated_at=now,
                    ),
                )
            )
        for rule in page["navigation_rules"]:
            objects.append(
                (
                    "navigation_rule",
                    NavigationRule(
                        id=rule["id"],
                        workspace_id=survey.workspace_id,
                        survey_id=survey.id,
                        source_page_id=page["id"],
                        target_page_id=rule["target_page_id"],
                        order=rule["order"],
                        condition=rule.get("condition"),
                        created_at=now,
                        updated_at=now,
                    ),
                )
            )
    session.add_all([obj for kind, obj in objects if kind == "page"])
    await session.flush()
    session.add_all([obj for kind, obj in objects if kind != "page"])
    await session.flush()
    for resource_type, obj in objects:
        recorder.add(resource_type, obj.id, "create", None, snapshot(obj))
