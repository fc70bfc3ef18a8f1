"""Contacts: the person's row, found and locked for a turn (created by their first message), and their language."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import insert_unless_present
from bot.models import Contact


async def set_locale(session: AsyncSession, channel: str, external_id: str, locale: str) -> None:
    """Switch an existing contact's language (a new contact starts in the default locale)."""
    await session.execute(
        update(Contact).where(Contact.channel == channel, Contact.external_id == external_id).values(locale=locale)
    )


async def lock_contact(
    session: AsyncSession, channel: str, external_id: str, *, locale: str, state: str, now: datetime
) -> Contact:
    """The person's row, locked until the transaction ends: two updates of one person (in two processes) take
    turns, the second seeing what the first saved. A first message creates the row (in `locale` and `state`),
    at most once, started `now` (the dispatcher's clock: the dashboard counts chats by it)."""
    query = select(Contact).where(Contact.channel == channel, Contact.external_id == external_id).with_for_update()
    contact = (await session.execute(query)).scalar_one_or_none()
    if contact is None:
        await session.execute(
            insert_unless_present(
                session,
                Contact,
                channel=channel,
                external_id=external_id,
                locale=locale,
                state=state,
                state_data={},
                state_serial=0,
                created_at=now,
            )
        )
        contact = (await session.execute(query)).scalar_one()
    return contact


def note_cost_asked(contact: Contact, now: datetime) -> None:
    """The first time a person asks what BPU costs (the calculator, or the cost asked in words or by a button):
    the dashboard's funnel counts them. The turn saves the contact it holds locked."""
    if contact.asked_cost_at is None:
        contact.asked_cost_at = now
