"""The conversation queries, each filtered by the owner's token subject inside SQL.

A conversation that is not the caller's is :class:`~appliance.errors.NotFound`, exactly as
one that does not exist: ids cannot be probed. The service decides nothing else; who is
calling comes from the gateway's verified token, never from the body.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from appliance.conversations.models import ConversationRow, MessageRow
from appliance.conversations.schemas import (
    TITLE_MAX,
    Citation,
    ConversationDetail,
    ConversationOut,
    MessageOut,
    NewMessage,
)
from appliance.errors import NotFound


def _missing() -> NotFound:
    return NotFound("No such conversation.", code="conversation_not_found")


def _out(row: ConversationRow) -> ConversationOut:
    return ConversationOut(
        id=row.id, title=row.title, created_at=row.created_at, updated_at=row.updated_at
    )


def _message_out(row: MessageRow) -> MessageOut:
    return MessageOut(
        position=row.position,
        role=row.role,
        content=row.content,
        reasoning=row.reasoning or "",
        thought_seconds=row.thought_seconds,
        citations=list(row.citations or ()),
        grade=row.grade,
    )


def _stored_citation(citation: Citation) -> dict[str, Any]:
    """A citation as kept: its grade only when it has one, so a citation of an ungraded
    answer reads back exactly as it was sent."""
    return citation.model_dump(exclude={"grade"} if citation.grade is None else None)


class ConversationService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @staticmethod
    async def _owned(db: AsyncSession, owner: str, conversation_id: uuid.UUID) -> ConversationRow:
        row = await db.scalar(
            select(ConversationRow).where(
                ConversationRow.id == conversation_id, ConversationRow.owner_subject == owner
            )
        )
        if row is None:
            raise _missing()
        return row

    async def listing(self, owner: str) -> list[ConversationOut]:
        """The owner's conversations, most recently used first."""
        async with self._sessions() as db:
            rows = await db.scalars(
                select(ConversationRow)
                .where(ConversationRow.owner_subject == owner)
                .order_by(ConversationRow.updated_at.desc())
            )
            return [_out(row) for row in rows]

    async def create(self, owner: str, title: str) -> ConversationOut:
        async with self._sessions.begin() as db:
            row = ConversationRow(owner_subject=owner, title=title[:TITLE_MAX])
            db.add(row)
            await db.flush()
            await db.refresh(row)
            return _out(row)

    async def get(self, owner: str, conversation_id: uuid.UUID) -> ConversationDetail:
        async with self._sessions() as db:
            row = await self._owned(db, owner, conversation_id)
            messages = await db.scalars(
                select(MessageRow)
                .where(MessageRow.conversation_id == row.id)
                .order_by(MessageRow.position)
            )
            return ConversationDetail(
                **_out(row).model_dump(), messages=[_message_out(m) for m in messages]
            )

    async def rename(self, owner: str, conversation_id: uuid.UUID, title: str) -> ConversationOut:
        async with self._sessions.begin() as db:
            row = await self._owned(db, owner, conversation_id)
            row.title = title[:TITLE_MAX]
            return _out(row)

    async def delete(self, owner: str, conversation_id: uuid.UUID) -> None:
        """Delete the conversation and (by cascade) its messages."""
        async with self._sessions.begin() as db:
            result = await db.execute(
                delete(ConversationRow).where(
                    ConversationRow.id == conversation_id, ConversationRow.owner_subject == owner
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise _missing()

    async def append(
        self, owner: str, conversation_id: uuid.UUID, message: NewMessage
    ) -> MessageOut:
        """Add the message after the last one and mark the conversation as just used."""
        async with self._sessions.begin() as db:
            row = await self._owned(db, owner, conversation_id)
            last = await db.scalar(
                select(func.max(MessageRow.position)).where(MessageRow.conversation_id == row.id)
            )
            added = MessageRow(
                conversation_id=row.id,
                position=(last or 0) + 1,
                role=message.role,
                content=message.content,
                reasoning=message.reasoning or None,
                thought_seconds=message.thought_seconds,
                citations=[_stored_citation(c) for c in message.citations] or None,
                grade=message.grade,
            )
            db.add(added)
            await db.execute(
                update(ConversationRow)
                .where(ConversationRow.id == row.id)
                .values(updated_at=func.now())
            )
            return _message_out(added)

    async def drop_last_answer(self, owner: str, conversation_id: uuid.UUID) -> bool:
        """Remove the trailing answer (before it is generated again); whether there was one."""
        async with self._sessions.begin() as db:
            row = await self._owned(db, owner, conversation_id)
            last = await db.scalar(
                select(MessageRow)
                .where(MessageRow.conversation_id == row.id)
                .order_by(MessageRow.position.desc())
                .limit(1)
            )
            if last is None or last.role != "assistant":
                return False
            await db.delete(last)
            return True
