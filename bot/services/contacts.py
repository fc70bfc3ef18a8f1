"""Contacts: the person's row, found and locked for a turn (created by their first message), and their language."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import insert_unless_present
from bot.models import Consent, Contact


async def set_locale(session: AsyncSession, channel: str, external_id: str, locale: str) -> None:
    """Switch an existing contact's language (a new contact starts in the default locale)."""
    await session.execute(
        update(Contact).where(Contact.channel == channel, Contact.external_id == external_id).values(locale=locale)
    )


async def find_contact(session: AsyncSession, channel: str, external_id: str) -> Contact | None:
    query = select(Contact).where(Contact.channel == channel, Contact.external_id == external_id)
    return (await session.execute(query)).scalar_one_or_none()


# Built once: every turn runs it, and building an ORM select and its cache key each time cost more than running
# it (with bot/services/consent.py's _LATEST built once too, a terminal turn went from 1.75 to 1.25 ms of CPU).
_LOCKED = (
    select(Contact)
    .where(Contact.channel == bindparam("channel"), Contact.external_id == bindparam("external_id"))
    .with_for_update()
)


async def lock_contact(
    session: AsyncSession, channel: str, external_id: str, *, locale: str, state: str, now: datetime
) -> Contact:
    """The person's row, locked until the transaction ends: two updates of one person (in two processes) take
    turns, the second seeing what the first saved. A first message creates the row (in `locale` and `state`),
    at most once, started `now` (the dispatcher's clock: the dashboard counts chats by it)."""
    who = {"channel": channel, "external_id": external_id}
    contact = (await session.execute(_LOCKED, who)).scalar_one_or_none()
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
        contact = (await session.execute(_LOCKED, who)).scalar_one()
    return contact


def note_cost_asked(contact: Contact, now: datetime) -> None:
    """The first time a person asks what BPU costs (the calculator, or the cost asked in words or by a button):
    the dashboard's funnel counts them. The turn saves the contact it holds locked."""
    if contact.asked_cost_at is None:
        contact.asked_cost_at = now


async def copy_contact(session: AsyncSession, channel: str, original: str, external_id: str, now: datetime) -> None:
    """For a rehearsal's made-up people (bot/conversation/rehearsal.py) only: a new contact (`external_id`)
    where the contact `original` of the same channel stands in the conversation, with its state, its data and its
    consents, as if it had taken the same steps `now`. Never for a real person: their consents are their own."""
    contact = await find_contact(session, channel, original)
    if contact is None:
        raise ValueError(f"no contact {original!r} to copy")
    if contact.role is not None:
        raise ValueError("a contact with a role is not copied: an officer's row is more than the contact")
    consents = (await session.execute(select(Consent).where(Consent.contact_id == contact.id))).scalars().all()
    made = Contact(**_columns(contact, now, skip={"id", "external_id"}), external_id=external_id)
    session.add(made)
    await session.flush()
    session.add_all(Consent(**_columns(c, now, skip={"id", "contact_id"}), contact_id=made.id) for c in consents)


def _columns(row: Any, now: datetime, skip: set[str]) -> dict[str, Any]:
    """A row's column values (deep copies: state_data is a dict), its moments set to `now`."""
    values = {
        column.key: copy.deepcopy(getattr(row, column.key))
        for column in row.__table__.columns
        if column.key not in skip
    }
    return {key: now if isinstance(value, datetime) else value for key, value in values.items()}
