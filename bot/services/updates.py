"""The record of platform updates already applied (see Dispatcher: a redelivered update is applied once)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import ProcessedUpdate, utcnow

# Telegram keeps an unconfirmed update for 24 hours; twice that leaves room for a long outage.
REDELIVERY_WINDOW = timedelta(hours=48)


async def forget_processed_updates(session: AsyncSession, older_than: timedelta = REDELIVERY_WINDOW) -> int:
    """Drop update ids that can no longer be redelivered; returns how many."""
    cutoff = utcnow() - older_than
    result = await session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff))
    return result.rowcount
