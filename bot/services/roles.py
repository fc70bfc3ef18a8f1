"""Roles: who may do what beyond the worker's conversation (see models.Role), and granting them.

An officer is made with `officers add` or an invite, since an officer needs regions; staff and admins are
granted here. The admins listed in configuration stay admins whatever is granted here, so nobody can lock
the office out of its own bot from the chat or the command line.

A role can be granted before its holder is known: to a phone number, taken by whoever proves they own it
(their WhatsApp messages come from it; on Telegram they share it as their own contact), or to whoever opens
an invite link. Either is used once and expires after INVITE_LIFETIME; a new grant to a number replaces the
one still waiting for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Contact, Invite, Officer, Role
from bot.phone import mask_phone
from bot.services.audit import Actor, record_event
from bot.services.officers import (
    INVITE_LIFETIME,
    add_officer,
    check_officer_name,
    edit_officer,
    find_officer,
    invite_hash,
    remove_officer,
)

WHATSAPP = "whatsapp"


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


def phone_subject(phone: str) -> str:
    """How a number is named in the audit log before its owner is known: masked, like in the logs."""
    return f"phone:{mask_phone(phone)}"


async def known_by_phone(session: AsyncSession, phone: str) -> Contact | None:
    """The account proven to own `phone`: the last one that took a grant to it, or the WhatsApp account that
    writes from it (WhatsApp's own id of a person is their number's digits when it gives no other)."""
    claimed = await session.execute(
        select(Contact)
        .join(Invite, Invite.contact_id == Contact.id)
        .where(Invite.phone == phone)
        .order_by(Invite.used_at.desc())
        .limit(1)
    )
    if (contact := claimed.scalars().first()) is not None:
        return contact
    whatsapp = select(Contact).where(Contact.channel == WHATSAPP, Contact.external_id == phone.removeprefix("+"))
    return (await session.execute(whatsapp)).scalars().first()


async def grant_to_phone(
    session: AsyncSession,
    phone: str,
    role: Role,
    actor: Actor,
    now: datetime,
    *,
    name: str | None = None,
    regions: list[str] | tuple[str, ...] = (),
) -> Invite:
    """A grant waiting for whoever proves they own `phone` (E.164); it replaces one still waiting there."""
    if role is Role.OFFICER and not regions:
        raise RoleError("an officer needs at least one kabupaten/kota")
    await withdraw_phone_grants(session, phone, now)
    invite = Invite(
        phone=phone,
        role=role,
        name=check_officer_name(name) if name is not None else None,
        regions=list(dict.fromkeys(regions)),
        created_by=actor.label[:32],
        created_at=now,
        expires_at=now + INVITE_LIFETIME,
    )
    session.add(invite)
    await session.flush()
    await record_event(
        session,
        actor,
        "role",
        now,
        subject=phone_subject(phone),
        change="grant",
        role=role,
        grant=invite.id,
        regions=list(regions),
    )
    return invite


def _open(now: datetime) -> ColumnElement[bool]:
    """A grant (an invite, or a grant to a number) not yet taken and not expired."""
    return and_(Invite.used_at.is_(None), Invite.expires_at > now)


async def waiting_grants(session: AsyncSession, now: datetime) -> list[Invite]:
    """The grants to a number still waiting for their owner, oldest first."""
    query = select(Invite).where(Invite.phone.is_not(None), _open(now))
    return list((await session.execute(query.order_by(Invite.id))).scalars())


async def withdraw_phone_grants(session: AsyncSession, phone: str, now: datetime) -> int:
    """The grants still waiting for `phone` end now; returns how many there were."""
    ended = await session.execute(
        update(Invite).where(Invite.phone == phone, _open(now)).values(expires_at=now).returning(Invite.id)
    )
    return len(ended.all())


async def grant_waiting(session: AsyncSession, now: datetime, phone: str | None = None) -> bool:
    """Whether a grant waits for `phone` (None: for any number, when /id on Telegram offers to share one)."""
    number = Invite.phone == phone if phone is not None else Invite.phone.is_not(None)
    waiting = select(Invite.id).where(number, _open(now))
    return (await session.execute(waiting.limit(1))).first() is not None


async def claim_by_phone(session: AsyncSession, contact: Contact, phone: str, now: datetime) -> Invite | None:
    """`contact` proved they own `phone` (E.164): the grant waiting for it, if any, is theirs now."""
    return await _claim(session, contact, Invite.phone == phone, now, "phone")


async def claim_by_link(session: AsyncSession, contact: Contact, payload: str, now: datetime) -> Invite | None:
    """Whoever opened an invite link takes its grant, once. None when unknown, used or expired."""
    return await _claim(session, contact, Invite.token_hash == invite_hash(payload), now, "link")


async def _claim(
    session: AsyncSession, contact: Contact, which: ColumnElement[bool], now: datetime, via: str
) -> Invite | None:
    # One statement takes the grant, so two taps (or two processes) cannot both use it.
    taken = await session.execute(
        update(Invite).where(which, _open(now)).values(used_at=now, contact_id=contact.id).returning(Invite.id)
    )
    invite_id = taken.scalars().first()
    if invite_id is None:
        return None
    invite = await session.get_one(Invite, invite_id)
    if invite.role == Role.OFFICER:
        officer = await find_officer(session, contact.id)
        if officer is None:
            officer, _ = await add_officer(session, contact, invite.name or "", invite.regions, now)
        else:  # already an officer: the invite's regions are added to theirs, their name and code kept
            await edit_officer(session, officer, None, invite.regions, [])
        invite.officer_id = officer.id
    elif not Role(contact.role or Role.WORKER).includes(Role(invite.role)):  # a grant never lowers a role
        contact.role = invite.role
    role = Role(contact.role or Role.WORKER)
    actor = Actor.of_contact(contact, role)
    await record_event(
        session,
        actor,
        "role",
        now,
        change="claim",
        via=via,
        grant=invite_id,
        role=invite.role,
        officer=invite.officer_id,
    )
    return invite
