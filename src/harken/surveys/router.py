"""HTTP routes of the surveys domain (Questra Gen-1 compatible), scope `surveys`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile, status

from harken.core.auth import SurveysAuth
from harken.core.errors import PayloadTooLarge
from harken.core.openapi import responses
from harken.core.session import DbSession
from harken.surveys import exporters, history, ir_service, programming, service
from harken.surveys.schemas import (
    BlockCreate,
    BlockOut,
    BlockUpdate,
    ChangeOut,
    ChangesetOut,
    FileOut,
    FullSurveyOut,
    HistoryPage,
    NavigationRuleOut,
    PageCreate,
    PageOut,
    PageUpdate,
    ProgrammingMessage,
    ProgrammingStatusOut,
    RuleCreate,
    RuleUpdate,
    SurveyCreate,
    SurveyOut,
    SurveyUpdate,
    VariableCreate,
    VariableOut,
    VariableUpdate,
)

router = APIRouter(prefix="/v1", tags=["surveys"])


# --- files ----------------------------------------------------------------------------------------------


@router.post("/files", response_model=FileOut, status_code=status.HTTP_201_CREATED, responses=responses(404))
async def upload_file(
    request: Request,
    auth: SurveysAuth,
    session: DbSession,
    file: UploadFile = File(..., description="docx, pdf, txt, md, xlsx or csv; at most 20 MB"),
    survey_id: str | None = Form(default=None),
) -> FileOut:
    """Upload a questionnaire. Its type is sniffed from the content (magic bytes, zip members), not the name."""
    settings = request.app.state.settings
    limit = settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The file exceeds the upload limit of {limit} bytes")
    row = await service.upload_file(
        session,
        auth,
        Path(settings.data_dir),
        filename=file.filename or "upload",
        data=data,
        max_bytes=limit,
        survey_id=survey_id or None,
    )
    return service.file_out(row)


@router.get("/files/{file_id}", response_model=FileOut, responses=responses(404))
async def get_file(file_id: str, auth: SurveysAuth, session: DbSession) -> FileOut:
    """One uploaded file's metadata."""
    return service.file_out(await service.get_file(session, auth.workspace_id, file_id))


# --- surveys --------------------------------------------------------------------------------------------


@router.post("/surveys", response_model=FullSurveyOut, status_code=status.HTTP_201_CREATED, responses=responses())
async def create_survey(body: SurveyCreate, auth: SurveysAuth, session: DbSession) -> FullSurveyOut:
    """Create an empty survey; the slug is generated from the name unless given (unique per workspace)."""
    survey = await service.create_survey(session, auth, body)
    return await service.full_survey(session, survey)


@router.get("/surveys", response_model=list[SurveyOut], responses=responses())
async def list_surveys(
    auth: SurveysAuth,
    session: DbSession,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=10_000_000),
) -> list[SurveyOut]:
    """The workspace's surveys, newest first."""
    return [service.survey_out(s) for s in await service.list_surveys(session, auth.workspace_id, limit, offset)]


@router.get("/surveys/{id_or_slug}", response_model=FullSurveyOut, responses=responses(404))
async def get_survey(id_or_slug: str, auth: SurveysAuth, session: DbSession) -> FullSurveyOut:
    """A survey by id or slug, with its pages, blocks, navigation rules and variables."""
    return await service.full_survey(session, await service.get_survey(session, auth.workspace_id, id_or_slug))


@router.put("/surveys/{id_or_slug}", response_model=SurveyOut, responses=responses(404, 409))
async def put_survey(id_or_slug: str, body: SurveyUpdate, auth: SurveysAuth, session: DbSession) -> SurveyOut:
    """Update name, slug or order (409 `survey_locked` while programming runs)."""
    return service.survey_out(await service.update_survey(session, auth, id_or_slug, body))


@router.patch("/surveys/{id_or_slug}", response_model=SurveyOut, responses=responses(404, 409))
async def patch_survey(id_or_slug: str, body: SurveyUpdate, auth: SurveysAuth, session: DbSession) -> SurveyOut:
    """Update name, slug or order (409 `survey_locked` while programming runs)."""
    return service.survey_out(await service.update_survey(session, auth, id_or_slug, body))


@router.delete("/surveys/{id_or_slug}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404))
async def delete_survey(id_or_slug: str, auth: SurveysAuth, session: DbSession) -> Response:
    """Delete a survey permanently; a running programming job stops (reported as cancelled)."""
    await service.delete_survey(session, auth, id_or_slug)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/surveys/{id_or_slug}/pay", response_model=SurveyOut, responses=responses(404))
async def pay_survey(id_or_slug: str, auth: SurveysAuth, session: DbSession) -> SurveyOut:
    """Record payment (`paid_at`); self-hosted Harken has no credits, so this always succeeds."""
    return service.survey_out(await service.pay_survey(session, auth, id_or_slug))


# --- programming ----------------------------------------------------------------------------------------


@router.post(
    "/surveys/{id_or_slug}/program-from-file/{file_id}",
    response_model=ProgrammingMessage,
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(404, 409),
)
async def program_from_file(id_or_slug: str, file_id: str, auth: SurveysAuth, session: DbSession) -> ProgrammingMessage:
    """Queue programming from an uploaded file. The survey is locked until the job ends; a second call
    while it runs is 409 `survey_locked`. Subscribe to `programming.finished` or poll the survey."""
    return ProgrammingMessage.model_validate(await programming.start(session, auth, id_or_slug, file_id))


@router.post("/surveys/{id_or_slug}/programming/cancel", response_model=SurveyOut, responses=responses(404, 409))
async def cancel_programming(id_or_slug: str, auth: SurveysAuth, session: DbSession) -> SurveyOut:
    """Cancel the running programming job (409 when none runs); the survey is unlocked at once."""
    return service.survey_out(await programming.cancel(session, auth, id_or_slug))


@router.get("/surveys/{id_or_slug}/programming", response_model=ProgrammingStatusOut, responses=responses(404))
async def programming_status(id_or_slug: str, auth: SurveysAuth, session: DbSession) -> ProgrammingStatusOut:
    """The last programming job: status, job id and the error when it failed."""
    survey = await service.get_survey(session, auth.workspace_id, id_or_slug)
    return ProgrammingStatusOut(
        survey_id=survey.id,
        status=survey.programming_status,
        job_id=survey.programming_job_id,
        file_id=survey.programmed_from_file_id,
        error=survey.programming_error,
        started_at=survey.programming_started_at,
        completed_at=survey.programming_completed_at,
    )


# --- export ---------------------------------------------------------------------------------------------


@router.get(
    "/surveys/{id_or_slug}/export",
    responses={
        **responses(404),
        200: {
            "description": "The export file",
            "content": {"application/json": {}, "application/xml": {}, exporters.XLSX: {}},
        },
    },
)
async def export_survey(
    id_or_slug: str,
    auth: SurveysAuth,
    session: DbSession,
    format: Literal["questions", "json", "qsf", "decipher", "confirmit", "xlsform"] = Query(default="json"),
) -> Response:
    """Export: `questions` (neutral list), `json` (FullSurvey), `qsf`, `decipher`, `confirmit`, `xlsform`."""
    survey = await service.get_survey(session, auth.workspace_id, id_or_slug)
    full = (await service.full_survey(session, survey)).model_dump(mode="json")
    full["title"] = survey.title or survey.name
    body, media_type, filename = exporters.export(format, full)
    headers = {} if format == "questions" else {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(content=body, media_type=media_type, headers=headers)


# --- history --------------------------------------------------------------------------------------------


def _changeset_out(changeset: object, count: int, changes: list[object] | None = None) -> ChangesetOut:
    return ChangesetOut(
        id=changeset.id,  # type: ignore[attr-defined]
        survey_id=changeset.survey_id,  # type: ignore[attr-defined]
        type=changeset.type,  # type: ignore[attr-defined]
        status=changeset.status,  # type: ignore[attr-defined]
        user_id=changeset.user_id,  # type: ignore[attr-defined]
        title=changeset.title,  # type: ignore[attr-defined]
        file_id=changeset.file_id,  # type: ignore[attr-defined]
        metadata=changeset.meta or {},  # type: ignore[attr-defined]
        change_count=count,
        created_at=changeset.created_at,  # type: ignore[attr-defined]
        updated_at=changeset.updated_at,  # type: ignore[attr-defined]
        changes=[ChangeOut.model_validate(c) for c in changes] if changes is not None else None,
    )


@router.get("/surveys/{id_or_slug}/history", response_model=HistoryPage, responses=responses(404))
async def survey_history(
    id_or_slug: str,
    auth: SurveysAuth,
    session: DbSession,
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=25, ge=1, le=100),
) -> HistoryPage:
    """Changesets, newest first, cursor-paginated (`nextCursor` is null on the last page)."""
    survey = await service.get_survey(session, auth.workspace_id, id_or_slug)
    rows, counts, next_cursor = await history.list_changesets(session, survey, cursor, limit)
    return HistoryPage(data=[_changeset_out(r, counts.get(r.id, 0)) for r in rows], nextCursor=next_cursor)


@router.get("/changesets/{changeset_id}", response_model=ChangesetOut, responses=responses(404))
async def get_changeset(changeset_id: str, auth: SurveysAuth, session: DbSession) -> ChangesetOut:
    """One changeset with its ordered changes (before/after)."""
    changeset = await history.get_changeset(session, auth.workspace_id, changeset_id)
    changes = await history.changes_of(session, changeset.id)
    return _changeset_out(changeset, len(changes), changes)  # type: ignore[arg-type]


@router.post("/changesets/{changeset_id}/revert", response_model=ChangesetOut, responses=responses(404, 409))
async def revert_changeset(changeset_id: str, auth: SurveysAuth, session: DbSession) -> ChangesetOut:
    """Undo a changeset: a new `revert` changeset restores every resource it touched."""
    changeset = await history.get_changeset(session, auth.workspace_id, changeset_id)
    survey = await service.get_survey(session, auth.workspace_id, changeset.survey_id, for_update=True)
    service.ensure_unlocked(survey)
    created = await history.revert(session, survey, changeset, auth.user_id)
    await ir_service.refresh_first_page(session, survey)
    changes = await history.changes_of(session, created.id)
    return _changeset_out(created, len(changes), changes)  # type: ignore[arg-type]


# --- pages ----------------------------------------------------------------------------------------------


async def _page_out(session: DbSession, auth: SurveysAuth, page_id: str) -> PageOut:
    page = await ir_service.get_page(session, auth, page_id)
    blocks = await ir_service.list_blocks(session, auth, page_id)
    rules = await ir_service.list_rules(session, auth, page_id)
    return service.page_out(page, blocks, rules)


@router.get("/surveys/{id_or_slug}/pages", response_model=list[PageOut], responses=responses(404))
async def list_pages(
    id_or_slug: str, auth: SurveysAuth, session: DbSession, query: str | None = Query(default=None, max_length=255)
) -> list[PageOut]:
    """Pages in order, with their blocks and navigation rules; `query` filters by page name."""
    survey, pages = await ir_service.list_pages(session, auth, id_or_slug, query)
    _, blocks, rules, _ = await service.load_ir(session, survey)
    return [service.page_out(p, blocks, rules) for p in pages]


@router.post("/surveys/{id_or_slug}/pages", response_model=PageOut, status_code=201, responses=responses(404, 409))
async def create_page(id_or_slug: str, body: PageCreate, auth: SurveysAuth, session: DbSession) -> PageOut:
    """Add a page (a `manual` changeset)."""
    page = await ir_service.create_page(session, auth, id_or_slug, body)
    return await _page_out(session, auth, page.id)


@router.get("/pages/{page_id}", response_model=PageOut, responses=responses(404))
async def get_page(page_id: str, auth: SurveysAuth, session: DbSession) -> PageOut:
    """A page with its blocks and navigation rules."""
    return await _page_out(session, auth, page_id)


@router.put("/pages/{page_id}", response_model=PageOut, responses=responses(404, 409))
async def put_page(page_id: str, body: PageUpdate, auth: SurveysAuth, session: DbSession) -> PageOut:
    """Rename, reorder or set `assign_response_status`."""
    await ir_service.update_page(session, auth, page_id, body)
    return await _page_out(session, auth, page_id)


@router.delete("/pages/{page_id}", status_code=204, responses=responses(404, 409))
async def delete_page(page_id: str, auth: SurveysAuth, session: DbSession) -> Response:
    """Delete a page with its blocks and the rules from or to it (all recorded, so revertable)."""
    await ir_service.delete_page(session, auth, page_id)
    return Response(status_code=204)


# --- blocks ---------------------------------------------------------------------------------------------


@router.get("/pages/{page_id}/blocks", response_model=list[BlockOut], responses=responses(404))
async def list_blocks(page_id: str, auth: SurveysAuth, session: DbSession) -> list[BlockOut]:
    """The page's blocks in order."""
    return [BlockOut.model_validate(b) for b in await ir_service.list_blocks(session, auth, page_id)]


@router.post("/pages/{page_id}/blocks", response_model=BlockOut, status_code=201, responses=responses(404, 409))
async def create_block(page_id: str, body: BlockCreate, auth: SurveysAuth, session: DbSession) -> BlockOut:
    """Add a block; `config.showIf` must parse as a condition expression (else 422)."""
    return BlockOut.model_validate(await ir_service.create_block(session, auth, page_id, body))


@router.get("/blocks/{block_id}", response_model=BlockOut, responses=responses(404))
async def get_block(block_id: str, auth: SurveysAuth, session: DbSession) -> BlockOut:
    """One block."""
    return BlockOut.model_validate(await ir_service.get_block(session, auth, block_id))


@router.put("/blocks/{block_id}", response_model=BlockOut, responses=responses(404, 409))
async def put_block(block_id: str, body: BlockUpdate, auth: SurveysAuth, session: DbSession) -> BlockOut:
    """Replace the block's config, order or page."""
    return BlockOut.model_validate(await ir_service.update_block(session, auth, block_id, body))


@router.patch("/blocks/{block_id}", response_model=BlockOut, responses=responses(404, 409))
async def patch_block(block_id: str, body: BlockUpdate, auth: SurveysAuth, session: DbSession) -> BlockOut:
    """Same as PUT: fields left out are kept."""
    return BlockOut.model_validate(await ir_service.update_block(session, auth, block_id, body))


@router.delete("/blocks/{block_id}", status_code=204, responses=responses(404, 409))
async def delete_block(block_id: str, auth: SurveysAuth, session: DbSession) -> Response:
    """Delete a block."""
    await ir_service.delete_block(session, auth, block_id)
    return Response(status_code=204)


# --- navigation rules -----------------------------------------------------------------------------------


@router.get("/pages/{page_id}/navigation-rules", response_model=list[NavigationRuleOut], responses=responses(404))
async def list_rules(page_id: str, auth: SurveysAuth, session: DbSession) -> list[NavigationRuleOut]:
    """Rules leaving this page, in evaluation order."""
    return [NavigationRuleOut.model_validate(r) for r in await ir_service.list_rules(session, auth, page_id)]


@router.post(
    "/pages/{page_id}/navigation-rules",
    response_model=NavigationRuleOut,
    status_code=201,
    responses=responses(404, 409),
)
async def create_rule(page_id: str, body: RuleCreate, auth: SurveysAuth, session: DbSession) -> NavigationRuleOut:
    """Add a rule; 422 when the condition does not parse or the target page is not in the survey."""
    return NavigationRuleOut.model_validate(await ir_service.create_rule(session, auth, page_id, body))


@router.get("/navigation-rules/{rule_id}", response_model=NavigationRuleOut, responses=responses(404))
async def get_rule(rule_id: str, auth: SurveysAuth, session: DbSession) -> NavigationRuleOut:
    """One navigation rule."""
    return NavigationRuleOut.model_validate(await ir_service.get_rule(session, auth, rule_id))


@router.put("/navigation-rules/{rule_id}", response_model=NavigationRuleOut, responses=responses(404, 409))
async def put_rule(rule_id: str, body: RuleUpdate, auth: SurveysAuth, session: DbSession) -> NavigationRuleOut:
    """Update a rule: `condition: null` clears it, a missing key keeps it."""
    return NavigationRuleOut.model_validate(await ir_service.update_rule(session, auth, rule_id, body))


@router.delete("/navigation-rules/{rule_id}", status_code=204, responses=responses(404, 409))
async def delete_rule(rule_id: str, auth: SurveysAuth, session: DbSession) -> Response:
    """Delete a navigation rule."""
    await ir_service.delete_rule(session, auth, rule_id)
    return Response(status_code=204)


# --- variables ------------------------------------------------------------------------------------------


@router.get("/surveys/{id_or_slug}/variables", response_model=list[VariableOut], responses=responses(404))
async def list_variables(id_or_slug: str, auth: SurveysAuth, session: DbSession) -> list[VariableOut]:
    """The survey's variables."""
    return [VariableOut.model_validate(v) for v in await ir_service.list_variables(session, auth, id_or_slug)]


@router.post(
    "/surveys/{id_or_slug}/variables", response_model=VariableOut, status_code=201, responses=responses(404, 409)
)
async def create_variable(id_or_slug: str, body: VariableCreate, auth: SurveysAuth, session: DbSession) -> VariableOut:
    """Add a variable (name unique in the survey; expression checked)."""
    return VariableOut.model_validate(await ir_service.create_variable(session, auth, id_or_slug, body))


@router.get("/variables/{variable_id}", response_model=VariableOut, responses=responses(404))
async def get_variable(variable_id: str, auth: SurveysAuth, session: DbSession) -> VariableOut:
    """One variable."""
    return VariableOut.model_validate(await ir_service.get_variable(session, auth, variable_id))


@router.put("/variables/{variable_id}", response_model=VariableOut, responses=responses(404, 409))
async def put_variable(variable_id: str, body: VariableUpdate, auth: SurveysAuth, session: DbSession) -> VariableOut:
    """Update a variable: `expression: null` clears it, a missing key keeps it."""
    return VariableOut.model_validate(await ir_service.update_variable(session, auth, variable_id, body))


@router.delete("/variables/{variable_id}", status_code=204, responses=responses(404, 409))
async def delete_variable(variable_id: str, auth: SurveysAuth, session: DbSession) -> Response:
    """Delete a variable."""
    await ir_service.delete_variable(session, auth, variable_id)
    return Response(status_code=204)
