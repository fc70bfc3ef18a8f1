"""Officers: who covers which kabupaten/kota, who gets which lead, invites, and the daily digest.

A lead (and its call tasks) goes to an officer of its region: the officer whose personal link the worker
came through, if they cover that region, otherwise the next one in turn (round robin). Where the region has
no officer the lead waits in the unassigned pool, and the first officer added for that region takes it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import execute_dml
from bot.models import (
    TASK_KINDS,
    Contact,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Invite,
    Lead,
    Officer,
    OfficerRegion,
    Role,
)
from bot.services.contacts import find_contact
from bot.services.followups import local_day
from bot.typed import clean_text

# Personal codes are read off a printed poster as often as scanned: no 0/o, 1/l/i.
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CODE_PREFIX = "ptg-"
INVITE_PREFIX = "inv-"
INVITE_LIFETIME = timedelta(days=7)
NAME_MAX = 60


class OfficerError(Exception):
    """Something about officers that the person asking can fix (said in one line)."""


class OutsideRegions(Exception):
    """A choice of regions an officer may not make: one is not theirs, or they cover none."""


def limit_regions(chosen: tuple[str, ...], allowed: list[str]) -> tuple[str, ...]:
    """The regions an officer's broadcast or export reaches: theirs when none was chosen; refused when one
    chosen is not theirs, or when they cover none (no region would mean no region filter: everyone)."""
    if not allowed:
        raise OutsideRegions("the officer covers no region")
    if outside := [region for region in chosen if region not in allowed]:
        raise OutsideRegions(f"region {outside[0]!r} is not one of the officer's regions")
    return chosen or tuple(allowed)


def actor_of(officer: Officer | None, contact: Contact) -> str:
    """How an officer, staff or an admin is named in a lead's history, an invite and as a campaign's author: by
    ids only ("officer:<officer id>", "staff:c<contact id>"), short enough for those columns whatever the
    platform's ids look like, and with no number in it to outlive the person's erasure."""
    if officer is not None:
        return f"officer:{officer.id}"
    # An empty role here is an admin from configuration: workers never act on others' leads.
    return f"{contact.role or Role.ADMIN}:c{contact.id}"


async def find_officer(session: AsyncSession, contact_id: int) -> Officer | None:
    query = select(Officer).where(Officer.contact_id == contact_id, Officer.removed_at.is_(None))
    return (await session.execute(query)).scalars().first()


async def get_officer(session: AsyncSession, officer_id: int) -> Officer:
    officer = await session.get(Officer, officer_id)
    if officer is None or officer.removed_at is not None:
        raise OfficerError(f"there is no officer with ID {officer_id} (see `bpu-bot officers list`)")
    return officer


async def officer_regions(session: AsyncSession, officer_id: int) -> list[str]:
    query = select(OfficerRegion.region).where(OfficerRegion.officer_id == officer_id).order_by(OfficerRegion.region)
    return list((await session.execute(query)).scalars())


async def regions_in_reach(session: AsyncSession, contact_id: int, all_regions: bool) -> list[str] | None:
    """The regions someone may broadcast to or export: None (all) for staff and admins, an officer's own
    regions, or none at all."""
    if all_regions:
        return None
    officer = await find_officer(session, contact_id)
    return await officer_regions(session, officer.id) if officer is not None else []


async def ensure_contact(session: AsyncSession, channel: str, external_id: str, locale: str) -> Contact:
    """The contact of someone made an officer before they ever wrote to the bot."""
    contact = await find_contact(session, channel, external_id)
    if contact is None:
        contact = Contact(channel=channel, external_id=external_id, locale=locale, state="new", state_data={})
        session.add(contact)
        await session.flush()
    return contact


async def _new_code(session: AsyncSession) -> str:
    while True:
        code = CODE_PREFIX + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))
        if (await session.execute(select(Officer.id).where(Officer.code == code))).first() is None:
            return code


def check_officer_name(name: str) -> str:
    name = " ".join(clean_text(name).split())
    if len(name) > NAME_MAX or sum(c.isalpha() for c in name) < 2:
        raise OfficerError(f"an officer's name must be at most {NAME_MAX} characters, with at least two letters")
    return name


async def add_officer(
    session: AsyncSession, contact: Contact, name: str, regions: list[str], now: datetime
) -> tuple[Officer, int]:
    """Make the contact an officer of `regions`; they take the pooled leads there. Returns (officer, taken)."""
    name = check_officer_name(name)
    if not regions:
        raise OfficerError("an officer needs at least one kabupaten/kota")
    if (existing := await find_officer(session, contact.id)) is not None:
        raise OfficerError(f"this account is already officer {existing.id} ({existing.name}); remove it first")
    officer = Officer(contact_id=contact.id, name=name, code=await _new_code(session), assigned_serial=0)
    officer.created_at = now
    session.add(officer)
    await session.flush()
    session.add_all(OfficerRegion(officer_id=officer.id, region=region) for region in dict.fromkeys(regions))
    if contact.role is None:  # staff and admins who cover regions keep their wider role
        contact.role = Role.OFFICER
    await session.flush()
    return officer, await _take_pool(session, officer, regions)


async def _take_pool(session: AsyncSession, officer: Officer, regions: list[str]) -> int:
    leads = await execute_dml(
        session, update(Lead).where(Lead.officer_id.is_(None), Lead.region.in_(regions)).values(officer_id=officer.id)
    )
    await session.execute(
        update(FollowUp)
        .where(
            FollowUp.officer_id.is_(None),
            FollowUp.region.in_(regions),
            FollowUp.kind.in_(TASK_KINDS),
            FollowUp.status == FollowUpStatus.PENDING,
        )
        .values(officer_id=officer.id)
    )
    return leads.rowcount


async def remove_officer(session: AsyncSession, officer: Officer, now: datetime) -> int:
    """The officer leaves: their role ends, their leads and open tasks go to colleagues or the pool."""
    officer.removed_at = now
    contact = await session.get(Contact, officer.contact_id)
    if contact is not None and contact.role == Role.OFFICER:
        contact.role = None
    await session.flush()
    return await _hand_over(session, officer, None)


async def _hand_over(session: AsyncSession, officer: Officer, regions: list[str] | None) -> int:
    """The officer's leads and open tasks (of `regions`; None: all) to a colleague covering each one's region,
    or to the pool; called once the officer no longer covers them. Returns the number of leads moved."""
    leads = select(Lead).where(Lead.officer_id == officer.id)
    tasks = select(FollowUp).where(FollowUp.officer_id == officer.id, FollowUp.status == FollowUpStatus.PENDING)
    if regions is not None:
        leads, tasks = leads.where(Lead.region.in_(regions)), tasks.where(FollowUp.region.in_(regions))
    moved = list((await session.execute(leads)).scalars())
    for lead in moved:
        await assign_lead(session, lead)
    for task in (await session.execute(tasks)).scalars():  # questions: a call went with its lead
        chosen = await choose_officer(session, task.region or "")
        task.officer_id = chosen.id if chosen else None
    await session.flush()
    return len(moved)


@dataclass(frozen=True)
class Handover:
    """What leaving a region means: the officer's leads and open tasks there, and who would take them."""

    region: str
    leads: int
    tasks: int
    colleagues: int  # other officers covering the region; none: the work waits in the pool


async def handover(session: AsyncSession, officer: Officer, regions: list[str] | None = None) -> list[Handover]:
    """Per region (of `regions`, or all the officer's), what `_hand_over` would move: to ask before doing it."""
    regions = regions if regions is not None else await officer_regions(session, officer.id)
    lines = []
    for region in regions:
        leads = select(func.count()).where(Lead.officer_id == officer.id, Lead.region == region)
        tasks = select(func.count()).where(
            FollowUp.officer_id == officer.id,
            FollowUp.status == FollowUpStatus.PENDING,
            FollowUp.kind.in_(TASK_KINDS),
            FollowUp.region == region,
        )
        colleagues = (
            select(func.count())
            .select_from(OfficerRegion)
            .join(Officer, Officer.id == OfficerRegion.officer_id)
            .where(OfficerRegion.region == region, Officer.removed_at.is_(None), Officer.id != officer.id)
        )
        counts = [(await session.execute(query)).scalar_one() for query in (leads, tasks, colleagues)]
        lines.append(Handover(region, *counts))
    return lines


async def edit_officer(
    session: AsyncSession, officer: Officer, name: str | None, add: list[str], remove: list[str]
) -> tuple[int, int]:
    """Rename the officer, or change their regions in place: their code (and every printed QR code) stays.
    Returns (pooled leads taken in the added regions, leads of the removed ones handed over)."""
    if name is not None:
        officer.name = check_officer_name(name)
    covered = await officer_regions(session, officer.id)
    if outside := [region for region in remove if region not in covered]:
        raise OfficerError(f"officer {officer.id} does not cover {outside[0]}: they cover {', '.join(covered)}")
    added = [region for region in dict.fromkeys(add) if region not in covered]
    if not set(covered) - set(remove) and not added:
        raise OfficerError(
            f"officer {officer.id} would cover no kabupaten/kota: to end their role, "
            f"`bpu-bot officers remove {officer.id}`"
        )
    session.add_all(OfficerRegion(officer_id=officer.id, region=region) for region in added)
    await session.execute(
        delete(OfficerRegion).where(OfficerRegion.officer_id == officer.id, OfficerRegion.region.in_(remove))
    )
    await session.flush()
    taken = await _take_pool(session, officer, added) if added else 0
    return taken, await _hand_over(session, officer, remove) if remove else 0


async def choose_officer(session: AsyncSession, region: str, source_code: str | None = None) -> Officer | None:
    """The officer credited through their link if they cover the region, else the next one in turn."""
    covering = (
        select(Officer)
        .join(OfficerRegion, OfficerRegion.officer_id == Officer.id)
        .where(OfficerRegion.region == region, Officer.removed_at.is_(None))
    )
    if source_code:
        credited = (await session.execute(covering.where(Officer.code == source_code))).scalars().first()
        if credited is not None:
            return credited
    chosen = (await session.execute(covering.order_by(Officer.assigned_serial, Officer.id).limit(1))).scalars().first()
    if chosen is not None:
        highest = (await session.execute(select(func.max(Officer.assigned_serial)))).scalar_one()
        chosen.assigned_serial = (highest or 0) + 1
    return chosen


async def assign_lead(session: AsyncSession, lead: Lead) -> Officer | None:
    """Give the lead (and its open tasks) to an officer of its region; keep the current one if they still
    cover it. None: the unassigned pool."""
    officer = await session.get(Officer, lead.officer_id) if lead.officer_id else None
    if (
        officer is None
        or officer.removed_at is not None
        or lead.region not in await officer_regions(session, officer.id)
    ):
        officer = await choose_officer(session, lead.region, lead.source_code)
    lead.officer_id = officer.id if officer else None
    await session.execute(
        update(FollowUp)
        .where(
            FollowUp.lead_id == lead.id, FollowUp.kind == FollowUpKind.CALL, FollowUp.status == FollowUpStatus.PENDING
        )
        .values(officer_id=lead.officer_id, region=lead.region)
    )
    await session.flush()
    return officer


async def notice_recipients(
    session: AsyncSession, officer_id: int | None, admin_telegram_ids: frozenset[str]
) -> list[Contact]:
    """Who hears of a new task: its officer, or for the pool the admins (configured, or granted the role, on any
    platform) who have talked to the bot."""
    if officer_id is not None:
        officer = await session.get_one(Officer, officer_id)
        return [await session.get_one(Contact, officer.contact_id)]
    configured = and_(Contact.channel == "telegram", Contact.external_id.in_(admin_telegram_ids))
    admins = select(Contact).where(or_(configured, Contact.role == Role.ADMIN)).order_by(Contact.id)
    return list((await session.execute(admins)).scalars())


@dataclass(frozen=True)
class OfficerLine:
    officer: Officer
    contact: Contact
    regions: list[str]
    leads: int
    open_tasks: int


async def list_officers(session: AsyncSession) -> list[OfficerLine]:
    officers = await session.execute(
        select(Officer, Contact)
        .join(Contact, Contact.id == Officer.contact_id)
        .where(Officer.removed_at.is_(None))
        .order_by(Officer.id)
    )
    lines = []
    for officer, contact in officers.all():
        leads = await session.execute(select(func.count()).where(Lead.officer_id == officer.id))
        tasks = await session.execute(
            select(func.count()).where(
                FollowUp.officer_id == officer.id,
                FollowUp.status == FollowUpStatus.PENDING,
                FollowUp.kind.in_(TASK_KINDS),
            )
        )
        regions = await officer_regions(session, officer.id)
        lines.append(OfficerLine(officer, contact, regions, leads.scalar_one(), tasks.scalar_one()))
    return lines


async def create_invite(
    session: AsyncSession,
    created_by: str,
    now: datetime,
    *,
    role: Role = Role.OFFICER,
    name: str | None = None,
    regions: list[str] | tuple[str, ...] = (),
) -> str:
    """A one-time invite link's payload (only its hash is stored); an officer's names who and where."""
    token = secrets.token_urlsafe(16)
    session.add(
        Invite(
            token_hash=invite_hash(token),
            role=role,
            name=check_officer_name(name) if name is not None else None,
            regions=list(dict.fromkeys(regions)),
            created_by=created_by,
            created_at=now,
            expires_at=now + INVITE_LIFETIME,
        )
    )
    await session.flush()
    return INVITE_PREFIX + token


def invite_hash(token: str) -> str:
    return hashlib.sha256(token.removeprefix(INVITE_PREFIX).encode()).hexdigest()


@dataclass(frozen=True)
class Digest:
    officer: Officer
    contact: Contact
    due_today: int
    overdue: int
    new_leads: int

    @property
    def empty(self) -> bool:
        return not (self.due_today or self.overdue or self.new_leads)


async def claim_digests(session: AsyncSession, now: datetime, tz: ZoneInfo, at: time) -> list[Digest]:
    """Once a local day, from `at` on: each officer's counts. Claimed per officer with one conditional
    UPDATE, so a restart (or a second process) never makes a second digest for the same day."""
    local = now.astimezone(tz)
    if local.time() < at:
        return []
    today = local.date()
    start, end = local_day(now, tz)
    due = await session.execute(
        select(Officer.id).where(
            Officer.removed_at.is_(None), or_(Officer.digest_on.is_(None), Officer.digest_on < today.isoformat())
        )
    )
    digests = []
    for officer_id in due.scalars().all():
        claimed = await execute_dml(
            session,
            update(Officer)
            .where(Officer.id == officer_id, or_(Officer.digest_on.is_(None), Officer.digest_on < today.isoformat()))
            .values(digest_on=today.isoformat()),
        )
        if claimed.rowcount != 1:
            continue
        officer = await session.get_one(Officer, officer_id)
        contact = await session.get_one(Contact, officer.contact_id)
        open_tasks = select(func.count()).where(
            FollowUp.officer_id == officer_id,
            FollowUp.status == FollowUpStatus.PENDING,
            FollowUp.kind.in_(TASK_KINDS),
        )
        due_today = (await session.execute(open_tasks.where(FollowUp.due_at >= start, FollowUp.due_at < end))).scalar()
        overdue = (await session.execute(open_tasks.where(FollowUp.due_at < start))).scalar()
        new_leads = await session.execute(
            select(func.count()).where(Lead.officer_id == officer_id, Lead.created_at >= now - timedelta(days=1))
        )
        digests.append(Digest(officer, contact, due_today or 0, overdue or 0, new_leads.scalar_one()))
    return digests
