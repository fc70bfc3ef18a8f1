"""Command menus: whose Telegram command menu no longer matches their role or language, and recording the one
Telegram was given.

Telegram shows one command menu to every chat unless a chat is given its own; officers, staff and admins get
theirs (bot/workers/menus.py), and a person who stops being one gets the default back. The menu given is kept
on the contact, so a change made anywhere (the command line, an invite, another process) is found by the
leader's next look, and a restart sends nothing again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import MENU_HOLDERS, Contact, Role
from bot.services.roles import role_of

CHANNEL = "telegram"


@dataclass(frozen=True)
class MenuChange:
    contact_id: int
    external_id: str
    role: Role  # the menu wanted: a worker's is the default
    locale: str

    @property
    def menu(self) -> str | None:
        """What `contacts.command_menu` holds once Telegram has it."""
        return None if self.role is Role.WORKER else f"{self.role}:{self.locale}"


async def menus_to_change(session: AsyncSession, configured_admins: frozenset[str]) -> list[MenuChange]:
    """The people on Telegram whose menu is not the one their role and language call for."""
    # Two queries: an OR of the two would not be read from the partial index, and there are a million workers.
    holders = select(Contact).where(Contact.channel == CHANNEL, text(MENU_HOLDERS))
    configured = select(Contact).where(Contact.channel == CHANNEL, Contact.external_id.in_(configured_admins))
    contacts = {contact.id: contact for query in (holders, configured) for contact in await session.scalars(query)}
    changes = []
    for contact in contacts.values():
        change = MenuChange(contact.id, contact.external_id, role_of(contact, configured_admins), contact.locale)
        if change.menu != contact.command_menu:
            changes.append(change)
    return changes


async def record_menu(session: AsyncSession, change: MenuChange) -> None:
    await session.execute(update(Contact).where(Contact.id == change.contact_id).values(command_menu=change.menu))
