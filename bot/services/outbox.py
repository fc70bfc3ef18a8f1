"""Replies kept until they are sent (models.OutboxMessage): kept in the turn's transaction, claimed, sent once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import execute_dml
from bot.models import OutboxMessage, OutboxStatus


async def keep_replies(
    session: AsyncSession, channel: str, external_id: str, messages: list[dict[str, Any]], now: datetime
) -> None:
    session.add_all(
        OutboxMessage(channel=channel, external_id=external_id, message=message, created_at=now) for message in messages
    )
    await session.flush()


async def waiting_replies(session: AsyncSession, channel: str, external_id: str) -> list[int]:
    """This person's waiting replies, oldest first."""
    query = select(OutboxMessage.id).where(
        OutboxMessage.channel == channel,
        OutboxMessage.external_id == external_id,
        OutboxMessage.status == OutboxStatus.PENDING,
    )
    return list((await session.execute(query.order_by(OutboxMessage.id))).scalars())


async def claim_reply(session: AsyncSession, reply_id: int) -> dict[str, Any] | None:
    """Mark a reply `sending` and give its message; None when it is not waiting any more. The caller commits
    before sending."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == reply_id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SENDING)
        .returning(OutboxMessage.message)
    )
    return result.scalar_one_or_none()


async def settle_reply(session: AsyncSession, reply_id: int, sent: bool) -> None:
    """Sent (or refused for good): gone. Not sent because the network was down: waiting again."""
    if sent:
        await session.execute(delete(OutboxMessage).where(OutboxMessage.id == reply_id))
    else:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == reply_id).values(status=OutboxStatus.PENDING)
        )


async def people_waiting(session: AsyncSession, channel: str) -> list[str]:
    query = select(OutboxMessage.external_id).where(
        OutboxMessage.channel == channel, OutboxMessage.status == OutboxStatus.PENDING
    )
    return list((await session.execute(query.distinct())).scalars())


async def give_up_interrupted_replies(session: AsyncSession) -> int:
    """Replies a crash left `sending` may have arrived: dropped, never sent twice."""
    result = await execute_dml(session, delete(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENDING))
    return result.rowcount


async def forget_stale_replies(session: AsyncSession, before: datetime) -> int:
    """Replies still waiting since before `before` (a long outage): an answer that late only confuses."""
    result = await execute_dml(
        session,
        delete(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.created_at < before),
    )
    return result.rowcount
