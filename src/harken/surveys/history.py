"""Changesets: every IR change is recorded with before/after snapshots, so any changeset can be reverted."""

from __future__ import annotations

import base64
import time
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.inspection import inspect

from harken.core.db import UTCDateTime, isoformat, new_id, utcnow
from harken.core.errors import Conflict, MalformedRequest, NotFound
from harken.surveys.models import Block, Change, Changeset, NavigationRule, Page, Survey, Variable

MODELS: dict[str, type] = {"page": Page, "block": Block, "navigation_rule": NavigationRule, "variable": Variable}
SURVEY_FIELDS = ("name", "slug", "order", "language_code")
_last_seq = 0


def next_seq() -> int:
    """A strictly increasing sequence number (microseconds), the history cursor's order."""
    global _last_seq
    value = max(time.time_ns() // 1000, _last_seq + 1)
    _last_seq = value
    return value


def snapshot(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Survey):
        return {key: getattr(obj, key) for key in SURVEY_FIELDS}
    out: dict[str, Any] = {}
    for attr in inspect(type(obj)).column_attrs:
        value = getattr(obj, attr.key)
        out[attr.key] = isoformat(value) if isinstance(value, datetime) else value
    return out


def _restore_values(model: type, data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for attr in inspect(model).column_attrs:
        if attr.key not in data:
            continue
        value = data[attr.key]
        column = attr.columns[0]
        if isinstance(column.type, UTCDateTime) and isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        values[attr.key] = value
    return values


class Recorder:
    """Collects the ordered changes of one changeset."""

    def __init__(self, session: AsyncSession, changeset: Changeset) -> None:
        self.session = session
        self.changeset = changeset
        self.order = 0

    @classmethod
    async def start(
        cls,
        session: AsyncSession,
        survey: Survey,
        type_: str,
        *,
        user_id: str | None,
        title: str,
        file_id: str | None = None,
        reverts: str | None = None,
        status: str = "in_progress",
        meta: dict[str, Any] | None = None,
    ) -> Recorder:
        changeset = Changeset(
            id=new_id(),
            workspace_id=survey.workspace_id,
            survey_id=survey.id,
            seq=next_seq(),
            type=type_,
            status=status,
            user_id=user_id,
            title=title,
            file_id=file_id,
            reverts_changeset_id=reverts,
            meta=meta or {},
        )
        session.add(changeset)
        await session.flush()
        return cls(session, changeset)

    @classmethod
    async def resume(cls, session: AsyncSession, changeset: Changeset) -> Recorder:
        count = (
            await session.execute(select(func.count()).select_from(Change).where(Change.changeset_id == changeset.id))
        ).scalar_one()
        recorder = cls(session, changeset)
        recorder.order = count
        return recorder

    def add(
        self,
        resource_type: str,
        resource_id: str,
        operation: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        message: str | None = None,
    ) -> None:
        self.session.add(
            Change(
                id=new_id(),
                workspace_id=self.changeset.workspace_id,
                changeset_id=self.changeset.id,
                survey_id=self.changeset.survey_id,
                resource_type=resource_type,
                resource_id=resource_id,
                operation=operation,
                message=message,
                order=self.order,
                before=before,
                after=after,
                created_at=utcnow(),
            )
        )
        self.order += 1

    # -- recorded operations -------------------------------------------------------------------

    async def create(self, resource_type: str, obj: Any, message: str | None = None) -> Any:
        self.session.add(obj)
        await self.session.flush()
        self.add(resource_type, obj.id, "create", None, snapshot(obj), message)
        return obj

    async def update(self, resource_type: str, obj: Any, values: dict[str, Any], message: str | None = None) -> Any:
        before = snapshot(obj)
        for key, value in values.items():
            setattr(obj, key, value)
        if hasattr(obj, "updated_at") and not isinstance(obj, Survey):
            obj.updated_at = utcnow()
        await self.session.flush()
        after = snapshot(obj)
        if {k: v for k, v in before.items() if k != "updated_at"} != {
            k: v for k, v in after.items() if k != "updated_at"
        }:
            self.add(resource_type, obj.id, "update", before, after, message)
        return obj

    async def delete(self, resource_type: str, obj: Any, message: str | None = None) -> None:
        if resource_type == "page":
            await self._delete_page_children(obj)
        before = snapshot(obj)
        await self.session.delete(obj)
        await self.session.flush()
        self.add(resource_type, before["id"], "delete", before, None, message)

    async def _delete_page_children(self, page: Page) -> None:
        blocks = (
            await self.session.execute(select(Block).where(Block.page_id == page.id).order_by(Block.order))
        ).scalars()
        for block in list(blocks):
            await self.delete("block", block)
        rules = (
            await self.session.execute(
                select(NavigationRule).where(
                    or_(NavigationRule.source_page_id == page.id, NavigationRule.target_page_id == page.id)
                )
            )
        ).scalars()
        for rule in list(rules):
            await self.delete("navigation_rule", rule)

    async def finish(self, status: str = "complete", **meta: Any) -> Changeset:
        self.changeset.status = status
        if meta:
            self.changeset.meta = {**(self.changeset.meta or {}), **meta}
        self.changeset.updated_at = utcnow()
        await self.session.flush()
        return self.changeset


async def revert(session: AsyncSession, survey: Survey, changeset: Changeset, user_id: str | None) -> Changeset:
    if changeset.status != "complete":
        raise Conflict(f"Only a complete changeset can be reverted (this one is {changeset.status})")
    changes = list(
        (
            await session.execute(
                select(Change).where(Change.changeset_id == changeset.id).order_by(Change.order.desc())
            )
        ).scalars()
    )
    recorder = await Recorder.start(
        session,
        survey,
        "revert",
        user_id=user_id,
        title=f"Revert: {changeset.title or changeset.type}",
        reverts=changeset.id,
    )
    for change in changes:
        if change.resource_type == "survey":
            if change.operation == "update" and change.before:
                await recorder.update(
                    "survey", survey, {k: change.before[k] for k in SURVEY_FIELDS if k in change.before}
                )
            continue
        model = MODELS.get(change.resource_type)
        if model is None:
            continue
        current = await session.get(model, change.resource_id)
        if change.operation == "create":
            if current is not None:
                await recorder.delete(change.resource_type, current, "revert")
        elif change.operation == "delete" and change.before:
            if current is None:
                await recorder.create(change.resource_type, model(**_restore_values(model, change.before)), "revert")
        elif change.operation == "update" and change.before and current is not None:
            values = _restore_values(model, change.before)
            values.pop("id", None)
            await recorder.update(change.resource_type, current, values, "revert")
    await recorder.finish("complete", reverts=changeset.id)
    return recorder.changeset


# --- listing ------------------------------------------------------------------------------------------


def encode_cursor(changeset: Changeset) -> str:
    return base64.urlsafe_b64encode(f"{changeset.seq}:{changeset.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        seq, cid = raw.split(":", 1)
        if "\x00" in cid or len(cid) > 64 or not 0 <= int(seq) < 2**62:
            raise ValueError("bad cursor")
        return int(seq), cid
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest("Invalid cursor") from exc


async def list_changesets(
    session: AsyncSession, survey: Survey, cursor: str | None, limit: int
) -> tuple[list[Changeset], dict[str, int], str | None]:
    query = select(Changeset).where(Changeset.survey_id == survey.id, Changeset.workspace_id == survey.workspace_id)
    if cursor:
        seq, cid = decode_cursor(cursor)
        query = query.where(or_(Changeset.seq < seq, and_(Changeset.seq == seq, Changeset.id < cid)))
    rows = list(
        (await session.execute(query.order_by(Changeset.seq.desc(), Changeset.id.desc()).limit(limit + 1))).scalars()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    counts: dict[str, int] = {}
    if rows:
        result = await session.execute(
            select(Change.changeset_id, func.count())
            .where(Change.changeset_id.in_([r.id for r in rows]))
            .group_by(Change.changeset_id)
        )
        counts = {cid: n for cid, n in result.all()}
    return rows, counts, encode_cursor(rows[-1]) if more and rows else None


async def get_changeset(session: AsyncSession, workspace_id: str, changeset_id: str) -> Changeset:
    if not changeset_id or len(changeset_id) > 255 or "\x00" in changeset_id:
        raise NotFound("Changeset not found")
    changeset = await session.get(Changeset, changeset_id)
    if changeset is None or changeset.workspace_id != workspace_id:
        raise NotFound("Changeset not found")
    return changeset


async def changes_of(session: AsyncSession, changeset_id: str) -> list[Change]:
    return list(
        (
            await session.execute(select(Change).where(Change.changeset_id == changeset_id).order_by(Change.order))
        ).scalars()
    )


async def purge_changes(session: AsyncSession, survey_id: str) -> None:
    await session.execute(delete(Changeset).where(Changeset.survey_id == survey_id))
