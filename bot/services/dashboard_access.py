"""Getting into the staff dashboard: one-time links, the sessions they open, and who a session's holder is now.

No passwords: an officer, staff member or admin asks the bot (`/dasbor`) or an admin the server (`bpu-bot
dashboard link`) for a link. Its token is random and only its SHA-256 is stored; it opens one session, once,
within LINK_LIFETIME, for the person it was made for. The session's cookie is kept the same way (its hash)
and lasts a working day. Neither row holds a role: the person's role is read again on every request, so one
taken away closes the dashboard at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Contact, DashboardLink, DashboardSession, Role
from bot.services.officers import regions_in_reach
from bot.services.roles import role_of

LINK_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=9)  # a working day: signed in in the morning, out by the evening
TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    """What is stored of a link's or a session's token (as invites are kept: bot/services/officers.py)."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


async def create_link(session: AsyncSession, contact: Contact, now: datetime) -> str:
    """A new one-time link's token for `contact` (only its hash is stored). Links and sessions past their time
    are removed on the way: they open nothing, and this keeps both tables to the few in use."""
    await session.execute(delete(DashboardLink).where(DashboardLink.expires_at <= now))
    await session.execute(delete(DashboardSession).where(DashboardSession.expires_at <= now))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        DashboardLink(
            token_hash=token_hash(token), contact_id=contact.id, created_at=now, expires_at=now + LINK_LIFETIME
        )
    )
    await session.flush()
    return token


async def link_holder(session: AsyncSession, token: str, now: datetime) -> Contact | None:
    """Whose link this is while it can still be used (not used, not expired); None otherwise. Uses nothing."""
    query = (
        select(Contact)
        .join(DashboardLink, DashboardLink.contact_id == Contact.id)
        .where(DashboardLink.token_hash == token_hash(token), DashboardLink.used_at.is_(None))
        .where(DashboardLink.expires_at > now)
    )
    return (await session.execute(query)).scalars().first()


async def use_link(session: AsyncSession, token: str, now: datetime) -> int | None:
    """Take the link: the contact id it was made for, or None when it is unknown, used or expired. One
    conditional statement, so two browsers (or two processes) opening it at once cannot both get in."""
    taken = await session.execute(
        update(DashboardLink)
        .where(
            DashboardLink.token_hash == token_hash(token),
            DashboardLink.used_at.is_(None),
            DashboardLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(DashboardLink.contact_id)
    )
    return taken.scalars().first()


async def open_session(session: AsyncSession, contact_id: int, now: datetime) -> str:
    """A new session's cookie value for the person (only its hash is stored)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        DashboardSession(
            token_hash=token_hash(token), contact_id=contact_id, created_at=now, expires_at=now + SESSION_LIFETIME
        )
    )
    await session.flush()
    return token


async def session_holder(session: AsyncSession, token: str, now: datetime) -> Contact | None:
    """Whose session this cookie is, while it lasts (not logged out, not expired)."""
    query = (
        select(Contact)
        .join(DashboardSession, DashboardSession.contact_id == Contact.id)
        .where(DashboardSession.token_hash == token_hash(token), DashboardSession.ended_at.is_(None))
        .where(DashboardSession.expires_at > now)
    )
    return (await session.execute(query)).scalars().first()


async def end_session(session: AsyncSession, token: str, now: datetime) -> None:
    """Log out: the cookie opens nothing from now on, even if a copy of it is kept."""
    await session.execute(
        update(DashboardSession)
        .where(DashboardSession.token_hash == token_hash(token), DashboardSession.ended_at.is_(None))
        .values(ended_at=now)
    )


async def end_sessions_of(session: AsyncSession, contact_id: int, now: datetime) -> None:
    """Every open session of a person ends (their role was found gone)."""
    await session.execute(
        update(DashboardSession)
        .where(DashboardSession.contact_id == contact_id, DashboardSession.ended_at.is_(None))
        .values(ended_at=now)
    )


@dataclass(frozen=True)
class Viewer:
    """Who looks at the dashboard, as known now: their contact, role, and the regions they may see (None: all)."""

    contact: Contact
    role: Role
    regions: tuple[str, ...] | None

    @property
    def sees_all(self) -> bool:
        return self.regions is None


async def viewer_of(session: AsyncSession, contact: Contact, configured_admins: frozenset[str]) -> Viewer | None:
    """The person as a dashboard viewer, or None when they are a worker now (a role taken away)."""
    role = role_of(contact, configured_admins)
    if not role.includes(Role.OFFICER):
        return None
    regions = await regions_in_reach(session, contact.id, role.includes(Role.STAFF))
    return Viewer(contact, role, None if regions is None else tuple(regions))
