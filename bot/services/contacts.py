"""Contacts outside a conversation turn."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Contact


async def set_locale(session: AsyncSession, channel: str, external_id: str, locale: str) -> None:
    """Switch an existing contact's language (a new contact starts in the default locale)."""
    await session.execute(
        update(Contact).where(Contact.channel == channel, Contact.external_id == external_id).values(locale=locale)
    )
