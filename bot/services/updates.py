"""The record of platform updates already applied (see Dispatcher: a redelivered update is applied once)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import execute_dml, insert_unless_present
from bot.models import ProcessedUpdate


async def record_update(session: AsyncSession, channel: str, update_key: str, now: datetime) -> bool:
    """Record a platform update as applied; False when it was recorded before (one statement, no read first)."""
    record = insert_unless_present(session, ProcessedUpdate, channel=channel, update_key=update_key, processed_at=now)
    return (await execute_dml(session, record)).rowcount == 1


# Telegram keeps an unconfirmed update for 24 hours; Meta retries an unanswered WhatsApp webhook for up to
# 7 days. A day more leaves room for a long outage.
REDELIVERY_WINDOW = timedelta(days=8)


async def forget_processed_updates(
    session: AsyncSession, now: datetime, older_than: timedelta = REDELIVERY_WINDOW
) -> int:
    """Drop update ids that can no longer be redelivered; returns how many. `now` is the app's clock, the one
    the ids were recorded with."""
    cutoff = now - older_than
    result = await execute_dml(session, delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff))
    return result.rowcount
