"""Webhook requests kept as they arrived (models.WebhookEvent) until the channel's worker has processed them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import WebhookEvent


async def store_webhook_event(session: AsyncSession, channel: str, body: str, now: datetime) -> None:
    session.add(WebhookEvent(channel=channel, body=body, received_at=now))


async def read_webhook_events(session: AsyncSession, channel: str, limit: int) -> list[tuple[int, str]]:
    """(id, body) of the channel's oldest stored events, in the order they arrived."""
    query = select(WebhookEvent.id, WebhookEvent.body).where(WebhookEvent.channel == channel)
    rows = (await session.execute(query.order_by(WebhookEvent.id).limit(limit))).all()
    return [(event_id, body) for event_id, body in rows]


async def delete_webhook_events(session: AsyncSession, event_ids: list[int]) -> None:
    """Processed events: gone, so they are not processed again."""
    await session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(event_ids)))
