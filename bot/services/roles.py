"""Roles: who may do what beyond the worker's conversation (see models.Role), and granting them.

An officer is made with `officers add` or an invite, since an officer needs regions; staff and admins are
granted here. The admins listed in configuration stay admins whatever is granted here, so nobody can lock
the office out of its own bot from the chat or the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Contact, Officer, Role
from bot.services.audit import Actor, record_event
from bot.services.officers import find_officer, remove_officer


class RoleError(Exception):
    """A role change that cannot be made as asked (said in one line)."""


def role_of(contact: Contact, configured_admins: frozenset[str]) -> Role:
    if contact.channel == "telegram" and contact.external_id in configured_admins:
        return Role.ADMIN
    return Role(contact.role or Role.WORKER)


async def set_role(
    session: AsyncSession, contact: Contact, role: Role, actor: Actor, configured_admins: frozenset[str], now: datetime
) -> Role:
    """Give `contact` the role (staff, admin, or worker to take every role away); returns the previous one.

    Made a worker, an officer stops being one (their leads go to colleagues). Staff or admins who are also
    officers keep their regions and leads.
    """
    previous = role_of(contact, configured_admins)
    if role is Role.OFFICER:
        raise RoleError("an officer needs regions: use `bpu-bot officers add` (or an invite from the chat)")
    configured = contact.channel == "telegram" and contact.external_id in configured_admins
    if configured and role is not Role.ADMIN:
        raise RoleError(f"{contact.external_id} is an admin through ADMIN_TELEGRAM_IDS; remove them there")
    if role is Role.WORKER and (officer := await find_officer(session, contact.id)) is not None:
        await remove_officer(session, officer, now)
    contact.role = None if role is Role.WORKER else role
    if contact.state == "new":  # staff need no welcome: their first command must not be taken for one
        contact.state = "main"
    who = Actor.of_contact(contact, previous).label
    await record_event(session, actor, "role", now, subject=who, previous=previous, role=role)
    return previous


@dataclass(frozen=True)
class RoleLine:
    channel: str
    external_id: str
    role: Role
    configured: bool  # an admin through ADMIN_TELEGRAM_IDS
    officer: Officer | None


async def list_roles(session: AsyncSession, configured_admins: frozenset[str]) -> list[RoleLine]:
    """Everyone who is more than a worker, highest role first; configured admins even before they wrote."""
    configured = and_(Contact.channel == "telegram", Contact.external_id.in_(configured_admins))
    contacts = await session.execute(select(Contact).where(or_(Contact.role.is_not(None), configured)))
    lines = []
    for contact in contacts.scalars():
        lines.append(
            RoleLine(
                contact.channel,
                contact.external_id,
                role_of(contact, configured_admins),
                contact.channel == "telegram" and contact.external_id in configured_admins,
                await find_officer(session, contact.id),
            )
        )
    listed = {line.external_id for line in lines if line.configured}
    lines += [RoleLine("telegram", admin, Role.ADMIN, True, None) for admin in configured_admins - listed]
    rank = list(Role)
    return sorted(lines, key=lambda line: (-rank.index(line.role), not line.configured, line.external_id))
