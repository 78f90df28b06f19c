"""Editing the IR by hand: pages, blocks, navigation rules and variables, each edit a `manual` changeset."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from harken.core.auth import Principal
from harken.core.db import new_id, utcnow
from harken.core.errors import NotFound, validation_error
from harken.surveys.history import Recorder
from harken.surveys.models import Block, NavigationRule, Page, Survey, Variable
from harken.surveys.schemas import (
    BlockCreate,
    BlockUpdate,
    PageCreate,
    PageUpdate,
    RuleCreate,
    RuleUpdate,
    VariableCreate,
    VariableUpdate,
)
from harken.surveys.service import ensure_unlocked, get_survey, survey_event_data, valid_ref
from harken.webhooks.events import emit


async def _survey_of(session: AsyncSession, workspace_id: str, survey_id: str, *, lock: bool = False) -> Survey:
    survey = await get_survey(session, workspace_id, survey_id, for_update=lock)
    if lock:
        ensure_unlocked(survey)
    return survey


async def _owned(session: AsyncSession, model: type, workspace_id: str, obj_id: str, what: str) -> Any:
    if not valid_ref(obj_id):
        raise NotFound(f"{what} not found")
    obj = await session.get(model, obj_id)
    if obj is None or obj.workspace_id != workspace_id:
        raise NotFound(f"{what} not found")
    return obj


async def refresh_first_page(session: AsyncSession, survey: Survey) -> None:
    first = (
        await session.execute(
            select(Page.id).where(Page.survey_id == survey.id).order_by(Page.order, Page.created_at).limit(1)
        )
    ).scalar_one_or_none()
    if first != survey.first_page_id:
        survey.first_page_id = first
        survey.updated_at = utcnow()
        await session.flush()
        await emit(
            session, workspace_id=survey.workspace_id, event_type="survey.updated", data=survey_event_data(survey)
        )


async def _next_order(session: AsyncSession, column: Any, where: Any) -> int:
    current = (await session.execute(select(func.max(column)).where(where))).scalar_one_or_none()
    return 0 if current is None else int(current) + 1


async def _manual(session: AsyncSession, survey: Survey, principal: Principal, title: str) -> Recorder:
    return await Recorder.start(session, survey, "manual", user_id=principal.user_id, title=title)


# --- pages --------------------------------------------------------------------------------------------


async def list_pages(
    session: AsyncSession, principal: Principal, survey_ref: str, query: str | None
) -> tuple[Survey, list[Page]]:
    survey = await _survey_of(session, principal.workspace_id, survey_ref)
    stmt = select(Page).where(Page.survey_id == survey.id).order_by(Page.order, Page.created_at)
    pages = list((await session.execute(stmt)).scalars())
    if query:
        pages = [p for p in pages if query.lower() in p.name.lower()]
    return survey, pages


async def get_page(session: AsyncSession, principal: Principal, page_id: str) -> Page:
    return await _owned(session, Page, principal.workspace_id, page_id, "Page")


async def _check_page_name(session: AsyncSession, survey_id: str, name: str, exclude: str | None = None) -> None:
    stmt = select(Page.id).where(Page.survey_id == survey_id, Page.name == name)
    if exclude:
        stmt = stmt.where(Page.id != exclude)
    if (await session.execute(stmt)).first() is not None:
        raise validation_error(["body", "name"], "A page with this name already exists in the survey")


async def create_page(session: AsyncSession, principal: Principal, survey_ref: str, body: PageCreate) -> Page:
    survey = await _survey_of(session, principal.workspace_id, survey_ref, lock=True)
    await _check_page_name(session, survey.id, body.name)
    order = (
        body.order if body.order is not None else await _next_order(session, Page.order, Page.survey_id == survey.id)
    )
    recorder = await _manual(session, survey, principal, f"Add page {body.name}")
    page = Page(
        id=new_id(),
        workspace_id=survey.workspace_id,
        survey_id=survey.id,
        name=body.name,
        order=order,
        assign_response_status=body.assign_response_status,
    )
    await recorder.create("page", page)
    await recorder.finish()
    await refresh_first_page(session, survey)
    return page


async def update_page(session: AsyncSession, principal: Principal, page_id: str, body: PageUpdate) -> Page:
    page = await get_page(session, principal, page_id)
    survey = await _survey_of(session, principal.workspace_id, page.survey_id, lock=True)
    values = body.model_dump(exclude_unset=True)
    if values.get("name") is None:
        values.pop("name", None)
    if values.get("order") is None:
        values.pop("order", None)
    if "name" in values:
        await _check_page_name(session, survey.id, values["name"], exclude=page.id)
    recorder = await _manual(session, survey, principal, f"Edit page {page.name}")
    await recorder.update("page", page, values)
    await recorder.finish()
    await refresh_first_page(session, survey)
    return page


async def delete_page(session: AsyncSession, principal: Principal, page_id: str) -> None:
    page = await get_page(session, principal, page_id)
    survey = await _survey_of(session, principal.workspace_id, page.survey_id, lock=True)
    recorder = await _manual(session, survey, principal, f"Delete page {page.name}")
    await recorder.delete("page", page)
    await recorder.finish()
    await refresh_first_page(session, survey)


# --- blocks -------------------------------------------------------------------------------------------


async def list_blocks(session: AsyncSession, principal: Principal, page_id: str) -> list[Block]:
    page = await get_page(session, principal, page_id)
    return list((await session.execute(select(Block).where(Block.page_id == page.id).order_by(Block.order))).scalars())


async def get_block(session: AsyncSession, principal: Principal, block_id: str) -> Block:
    return await _owned(session, Block, principal.workspace_id, block_id, "Block")


async def create_block(session: AsyncSession, principal: Principal, page_id: str, body: BlockCreate) -> Block:
    page = await get_page(session, principal, page_id)
    survey = await _survey_of(session, principal.workspace_id, page.survey_id, lock=True)
    order = body.order if body.order is not None else await _next_order(session, Block.order, Block.page_id == page.id)
    recorder = await _manual(session, survey, principal, "Add block")
    block = Block(
        id=new_id(),
        workspace_id=survey.workspace_id,
        survey_id=survey.id,
        page_id=page.id,
        order=order,
        config=body.config.model_dump(exclude_none=True),
    )
    await recorder.create("block", block)
    await recorder.finish()
    return block


async def update_block(session: AsyncSession, principal: Principal, block_id: str, body: BlockUpdate) -> Block:
    block = await get_block(session, principal, block_id)
    survey = await _survey_of(session, principal.workspace_id, block.survey_id, lock=True)
    values: dict[str, Any] = {}
    if body.config is not None:
        values["config"] = body.config.model_dump(exclude_none=True)
    if body.order is not None:
        values["order"] = body.order
    if body.page_id is not None and body.page_id != block.page_id:
        target = await get_page(session, principal, body.page_id)
        if target.survey_id != survey.id:
            raise validation_error(["body", "page_id"], "The page belongs to another survey")
        values["page_id"] = target.id
    recorder = await _manual(session, survey, principal, f"Edit block {block.config.get('label') or block.id}")
    await recorder.update("block", block, values)
    await recorder.finish()
    return block


async def delete_block(session: AsyncSession, principal: Principal, block_id: str) -> None:
    block = await get_block(session, principal, block_id)
    survey = await _survey_of(session, principal.workspace_id, block.survey_id, lock=True)
    recorder = await _manual(session, survey, principal, f"Delete block {block.config.get('label') or block.id}")
    await recorder.delete("block", block)
    await recorder.finish()


# --- navigation rules ---------------------------------------------------------------------------------


async def list_rules(session: AsyncSession, principal: Principal, page_id: str) -> list[NavigationRule]:
    page = await get_page(session, principal, page_id)
    stmt = select(NavigationRule).where(NavigationRule.source_page_id == page.id).order_by(NavigationRule.order)
    return list((await session.execute(stmt)).scalars())


async def get_rule(session: AsyncSession, principal: Principal, rule_id: str) -> NavigationRule:
    return await _owned(session, NavigationRule, principal.workspace_id, rule_id, "Navigation rule")


async def _page_in_survey(session: AsyncSession, survey: Survey, page_id: str, field: str) -> Page:
    page = await session.get(Page, page_id) if valid_ref(page_id) else None
    if page is None or page.survey_id != survey.id:
        raise validation_error(["body", field], "No page with this id in the survey")
    return page


async def create_rule(session: AsyncSession, principal: Principal, page_id: str, body: RuleCreate) -> NavigationRule:
    page = await get_page(session, principal, page_id)
    survey = await _survey_of(session, principal.workspace_id, page.survey_id, lock=True)
    await _page_in_survey(session, survey, body.target_page_id, "target_page_id")
    order = (
        body.order
        if body.order is not None
        else await _next_order(session, NavigationRule.order, NavigationRule.source_page_id == page.id)
    )
    recorder = await _manual(session, survey, principal, f"Add navigation rule on {page.name}")
    rule = NavigationRule(
        id=new_id(),
        workspace_id=survey.workspace_id,
        survey_id=survey.id,
        source_page_id=page.id,
        target_page_id=body.target_page_id,
        order=order,
        condition=body.condition,
    )
    await recorder.create("navigation_rule", rule)
    await recorder.finish()
    return rule


async def update_rule(session: AsyncSession, principal: Principal, rule_id: str, body: RuleUpdate) -> NavigationRule:
    rule = await get_rule(session, principal, rule_id)
    survey = await _survey_of(session, principal.workspace_id, rule.survey_id, lock=True)
    values = body.model_dump(exclude_unset=True)
    for key in ("source_page_id", "target_page_id", "order"):
        if key in values and values[key] is None:
            values.pop(key)
    for key in ("source_page_id", "target_page_id"):
        if key in values:
            await _page_in_survey(session, survey, values[key], key)
    recorder = await _manual(session, survey, principal, "Edit navigation rule")
    await recorder.update("navigation_rule", rule, values)
    await recorder.finish()
    return rule


async def delete_rule(session: AsyncSession, principal: Principal, rule_id: str) -> None:
    rule = await get_rule(session, principal, rule_id)
    survey = await _survey_of(session, principal.workspace_id, rule.survey_id, lock=True)
    recorder = await _manual(session, survey, principal, "Delete navigation rule")
    await recorder.delete("navigation_rule", rule)
    await recorder.finish()


# --- variables ----------------------------------------------------------------------------------------


async def list_variables(session: AsyncSession, principal: Principal, survey_ref: str) -> list[Variable]:
    survey = await _survey_of(session, principal.workspace_id, survey_ref)
    return list(
        (
            await session.execute(select(Variable).where(Variable.survey_id == survey.id).order_by(Variable.name))
        ).scalars()
    )


async def get_variable(session: AsyncSession, principal: Principal, variable_id: str) -> Variable:
    return await _owned(session, Variable, principal.workspace_id, variable_id, "Variable")


async def _check_variable_name(session: AsyncSession, survey_id: str, name: str, exclude: str | None = None) -> None:
    stmt = select(Variable.id).where(Variable.survey_id == survey_id, Variable.name == name)
    if exclude:
        stmt = stmt.where(Variable.id != exclude)
    if (await session.execute(stmt)).first() is not None:
        raise validation_error(["body", "name"], "A variable with this name already exists in the survey")


async def create_variable(
    session: AsyncSession, principal: Principal, survey_ref: str, body: VariableCreate
) -> Variable:
    survey = await _survey_of(session, principal.workspace_id, survey_ref, lock=True)
    await _check_variable_name(session, survey.id, body.name)
    recorder = await _manual(session, survey, principal, f"Add variable {body.name}")
    variable = Variable(
        id=new_id(), workspace_id=survey.workspace_id, survey_id=survey.id, name=body.name, expression=body.expression
    )
    await recorder.create("variable", variable)
    await recorder.finish()
    return variable


async def update_variable(
    session: AsyncSession, principal: Principal, variable_id: str, body: VariableUpdate
) -> Variable:
    variable = await get_variable(session, principal, variable_id)
    survey = await _survey_of(session, principal.workspace_id, variable.survey_id, lock=True)
    values = body.model_dump(exclude_unset=True)
    if values.get("name") is None:
        values.pop("name", None)
    if "name" in values:
        await _check_variable_name(session, survey.id, values["name"], exclude=variable.id)
    recorder = await _manual(session, survey, principal, f"Edit variable {variable.name}")
    await recorder.update("variable", variable, values)
    await recorder.finish()
    return variable


async def delete_variable(session: AsyncSession, principal: Principal, variable_id: str) -> None:
    variable = await get_variable(session, principal, variable_id)
    survey = await _survey_of(session, principal.workspace_id, variable.survey_id, lock=True)
    recorder = await _manual(session, survey, principal, f"Delete variable {variable.name}")
    await recorder.delete("variable", variable)
    await recorder.finish()
