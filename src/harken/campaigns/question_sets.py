"""Question sets (the topics of a campaign): create, list, update, delete.

Editing the topics of a campaign whose synthesis already completed marks that synthesis `stale`
(a resync brings it up to date).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from harken.campaigns.models import Campaign, QuestionSet
from harken.campaigns.schemas import QuestionIn, QuestionOut, QuestionSetCreate, QuestionSetOut, QuestionSetUpdate
from harken.core.db import new_id, utcnow
from harken.core.errors import NotFound


def _questions(items: list[QuestionIn]) -> list[dict[str, object]]:
    out = []
    for index, question in enumerate(items):
        out.append(
            {
                "id": question.id or new_id(),
                "question_text": question.question_text,
                "is_required": question.is_required,
                "sort_order": index if question.sort_order is None else question.sort_order,
                "question_type": question.question_type,
                "options": list(question.options),
                "component_config": question.component_config,
            }
        )
    out.sort(key=lambda q: q["sort_order"])  # type: ignore[arg-type,return-value]  # stable
    return out


def _mark_stale(campaign: Campaign) -> None:
    if campaign.synthesis_status == "completed":
        campaign.synthesis_status = "stale"
    campaign.updated_at = utcnow()


async def create_question_set(session: AsyncSession, campaign: Campaign, body: QuestionSetCreate) -> QuestionSet:
    sort_order = body.sort_order
    if sort_order is None:
        count_query = select(func.count()).select_from(QuestionSet).where(QuestionSet.interview_id == campaign.id)
        sort_order = int((await session.execute(count_query)).scalar_one())
    question_set = QuestionSet(
        workspace_id=campaign.workspace_id,
        interview_id=campaign.id,
        name=body.name,
        description=body.description,
        sort_order=sort_order,
        topic_metadata=body.topic_metadata.model_dump(exclude_none=False),
        questions=_questions(body.questions),
    )
    session.add(question_set)
    _mark_stale(campaign)
    await session.flush()
    return question_set


async def list_question_sets(session: AsyncSession, campaign: Campaign) -> list[QuestionSet]:
    query = (
        select(QuestionSet)
        .where(QuestionSet.interview_id == campaign.id, QuestionSet.workspace_id == campaign.workspace_id)
        .order_by(QuestionSet.sort_order, QuestionSet.created_at, QuestionSet.id)
    )
    return list((await session.execute(query)).scalars())


async def get_question_set(session: AsyncSession, campaign: Campaign, question_set_id: str) -> QuestionSet:
    from harken.campaigns.service import valid_id

    if not valid_id(question_set_id):
        raise NotFound("Question set not found")
    query = select(QuestionSet).where(
        QuestionSet.id == question_set_id,
        QuestionSet.interview_id == campaign.id,
        QuestionSet.workspace_id == campaign.workspace_id,
    )
    question_set = (await session.execute(query)).scalar_one_or_none()
    if question_set is None:
        raise NotFound("Question set not found")
    return question_set


async def update_question_set(
    session: AsyncSession, campaign: Campaign, question_set: QuestionSet, body: QuestionSetUpdate
) -> QuestionSet:
    sent = body.model_fields_set
    if "name" in sent and body.name is not None:
        question_set.name = body.name
    if "description" in sent:
        question_set.description = body.description
    if "sort_order" in sent and body.sort_order is not None:
        question_set.sort_order = body.sort_order
    if "topic_metadata" in sent and body.topic_metadata is not None:
        question_set.topic_metadata = body.topic_metadata.model_dump()
    if "questions" in sent and body.questions is not None:
        question_set.questions = _questions(body.questions)
    if sent:
        question_set.updated_at = utcnow()
        _mark_stale(campaign)
    await session.flush()
    return question_set


async def delete_question_set(session: AsyncSession, campaign: Campaign, question_set: QuestionSet) -> None:
    from sqlalchemy import update

    from harken.campaigns.models import Contact

    await session.execute(
        update(Contact)
        .where(Contact.interview_id == campaign.id, Contact.question_set_id == question_set.id)
        .values(question_set_id=None)
    )
    await session.delete(question_set)
    _mark_stale(campaign)
    await session.flush()


def question_set_out(question_set: QuestionSet) -> QuestionSetOut:
    return QuestionSetOut(
        id=question_set.id,
        interview_id=question_set.interview_id,
        name=question_set.name,
        description=question_set.description,
        sort_order=question_set.sort_order,
        topic_metadata=question_set.topic_metadata or {},
        questions=[QuestionOut.model_validate(q) for q in question_set.questions or []],
        created_at=question_set.created_at,
        updated_at=question_set.updated_at,
    )
