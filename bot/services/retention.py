"""Retention: what is past its period (settings.retention, as the consent text states it), counted and taken in
batches, and the leads an officer must hear about before they go.

A person's period runs from the last contact: their last message, or the last thing recorded on their lead (a
stage, a call). A lead that registered or declined keeps `ended_lead_days` after that; any other lead
`open_lead_days` (nobody reached them, or they are still being worked on); someone who never left their contact
`chat_days`. A lead assigned to an officer goes only after the officer was told (the daily digest), at least
`notice_days` before, and nothing was recorded since: an officer who writes a note or a stage keeps it.
People are erased through bot.services.privacy.erase_contacts, the path of HAPUS; the other kinds are rows that
name nobody by themselves once their person is gone, deleted by age.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Retention
from bot.db import execute_dml
from bot.models import (
    LEAD_OUTCOMES,
    MESSAGE_KINDS,
    AuditEvent,
    Campaign,
    CampaignStatus,
    Contact,
    DailyJob,
    Delivery,
    FollowUp,
    FollowUpStatus,
    Invite,
    Lead,
    Miss,
)
from bot.services.campaigns import keep_counts

PEOPLE = ("open_lead", "ended_lead", "chat")  # kinds removed by erasing the person
# Messages the ticker has finished with (sent, or given up): a pending or sending one is still work.
_SETTLED = (FollowUpStatus.SENT, FollowUpStatus.FAILED, FollowUpStatus.CANCELLED, FollowUpStatus.UNKNOWN)
_CAMPAIGN_OVER = (CampaignStatus.DONE, CampaignStatus.CANCELLED)


def _days(days: int) -> timedelta:
    return timedelta(days=days)


def _quiet_since(cutoff: datetime) -> Any:
    """Nothing from the person, and nothing recorded on their lead, since `cutoff`."""
    return and_(Contact.last_seen_at < cutoff, Lead.last_contact_at < cutoff)


def _officer_was_told(retention: Retention, now: datetime) -> Any:
    """A lead in the pool has nobody working on it; an officer's lead, only once its officer was told (the
    digest) `notice_days` ago, with nothing from the person or the officer since."""
    warned = Lead.expiry_warned_at
    return or_(
        Lead.officer_id.is_(None),
        and_(
            warned.is_not(None),
            warned <= now - _days(retention.notice_days),
            warned > Lead.last_contact_at,
            warned > Contact.last_seen_at,
        ),
    )


def _people(kind: str, retention: Retention, now: datetime) -> Any:
    """The contacts of one kind past their period, as a query of their ids."""
    workers = select(Contact.id).where(Contact.role.is_(None))
    if kind == "chat":
        return (
            workers.outerjoin(Lead, Lead.contact_id == Contact.id)
            .where(Lead.id.is_(None), Contact.last_seen_at < now - _days(retention.chat_days))
        )  # fmt: skip
    ended = kind == "ended_lead"
    days = retention.ended_lead_days if ended else retention.open_lead_days
    return workers.join(Lead, Lead.contact_id == Contact.id).where(
        Lead.status.in_(LEAD_OUTCOMES) if ended else Lead.status.not_in(LEAD_OUTCOMES),
        _quiet_since(now - _days(days)),
        _officer_was_told(retention, now),
    )


def _rows(kind: str, retention: Retention, now: datetime) -> tuple[Any, Any]:
    """The other kinds: (the table's id column, the condition of its rows past their period)."""
    if kind == "delivery":  # a finished campaign's rows, and the messages the ticker sent, with their receipts
        over = select(Campaign.id).where(
            Campaign.status.in_(_CAMPAIGN_OVER), Campaign.finished_at < now - _days(retention.delivery_days)
        )
        return Delivery.id, Delivery.campaign_id.in_(over)
    if kind == "message":
        return FollowUp.id, and_(
            FollowUp.kind.in_(MESSAGE_KINDS),
            FollowUp.status.in_(_SETTLED),
            FollowUp.updated_at < now - _days(retention.delivery_days),
        )
    if kind == "not_understood":
        return Miss.id, Miss.created_at < now - _days(retention.not_understood_days)
    if kind == "audit":
        return AuditEvent.id, AuditEvent.at < now - _days(retention.audit_days)
    if kind == "invite":  # a role waiting for a phone number or a link nobody used: it names them, and is over
        return Invite.id, and_(Invite.used_at.is_(None), Invite.expires_at < now)
    raise ValueError(kind)


# Every kind the purge takes, in its order: people first (their own rows go with them), then rows by age.
KINDS = (*PEOPLE, "delivery", "message", "not_understood", "audit", "invite")


async def count_expired(session: AsyncSession, retention: Retention, now: datetime) -> dict[str, int]:
    """How many of each kind the purge would remove now (people, or rows)."""
    counts = {}
    for kind in KINDS:
        if kind in PEOPLE:
            query = select(func.count()).select_from(_people(kind, retention, now).subquery())
        else:
            column, expired = _rows(kind, retention, now)
            query = select(func.count(column)).where(expired)
        counts[kind] = (await session.execute(query)).scalar_one()
    return counts


def _id_column(kind: str, retention: Retention, now: datetime) -> Any:
    return Contact.id if kind in PEOPLE else _rows(kind, retention, now)[0]


async def last_id(session: AsyncSession, kind: str, retention: Retention, now: datetime) -> int:
    """The highest id of the table a kind is walked along (0 when empty): where the purge's walk ends."""
    column = _id_column(kind, retention, now)
    return (await session.execute(select(func.max(column)))).scalar_one() or 0


async def expired_people(
    session: AsyncSession, kind: str, retention: Retention, now: datetime, limit: int, after: int, upto: int
) -> list[int]:  # fmt: skip
    """Up to `limit` contacts of a kind past their period, with ids above `after` and up to `upto`.

    The purge walks the table along its primary key, a window at a time, so each statement reads at most the
    window's rows, however few are expired: from the start each time, a batch would read again every contact
    kept before it, and the last look, finding nothing, every contact (bench/retention.py: 0.4 s among
    1,000,000, on the event loop). The same bound on the lead's side lets PostgreSQL's join start there too."""
    query = _people(kind, retention, now).where(Contact.id > after, Contact.id <= upto)
    if kind != "chat":
        query = query.where(Lead.contact_id > after, Lead.contact_id <= upto)
    query = query.order_by(Contact.id).limit(limit)
    return list((await session.execute(query)).scalars())


async def delete_expired_rows(
    session: AsyncSession, kind: str, retention: Retention, now: datetime, limit: int, after: int, upto: int
) -> list[int]:  # fmt: skip
    """Delete up to `limit` rows of a kind past their period with ids above `after` and up to `upto` (a
    campaign keeps the counts of its deliveries); returns their ids."""
    column, expired = _rows(kind, retention, now)
    query = select(column).where(expired, column > after, column <= upto).order_by(column).limit(limit)
    batch = list((await session.execute(query)).scalars())
    if not batch:
        return []
    if kind == "delivery":
        await keep_counts(session, Delivery.id.in_(batch))
    await session.execute(delete(column.table).where(column.in_(batch)))
    return batch


async def leads_to_warn(
    session: AsyncSession, officer_id: int, retention: Retention, now: datetime
) -> list[tuple[Lead, datetime]]:  # fmt: skip
    """An officer's leads that will be removed within `notice_days` unless something is recorded, each with
    the day it would go, soonest first. The first time since the last contact, each is marked as told
    (`expiry_warned_at`): the purge waits `notice_days` from then."""
    soon = now + _days(retention.notice_days)
    leads: list[tuple[Lead, datetime, bool]] = []
    for ended, days in ((True, retention.ended_lead_days), (False, retention.open_lead_days)):
        rows = await session.execute(
            select(Lead, Contact.last_seen_at)
            .join(Contact, Contact.id == Lead.contact_id)
            .where(
                Lead.officer_id == officer_id,
                Lead.status.in_(LEAD_OUTCOMES) if ended else Lead.status.not_in(LEAD_OUTCOMES),
                _quiet_since(soon - _days(days)),
            )
        )
        for lead, last_seen in rows:
            last_contact = max(lead.last_contact_at, last_seen)
            told = lead.expiry_warned_at if lead.expiry_warned_at and lead.expiry_warned_at > last_contact else None
            # Told now (or when first told since the last contact), it goes `notice_days` later at the earliest.
            goes = max(last_contact + _days(days), (told or now) + _days(retention.notice_days))
            leads.append((lead, goes, told is None))
    leads.sort(key=lambda item: item[1])
    first_told = [lead.id for lead, _, new in leads if new]
    if first_told:
        await execute_dml(
            session,
            update(Lead).where(Lead.id.in_(first_told)).values(expiry_warned_at=now),
        )
    return [(lead, goes) for lead, goes, _ in leads]


async def daily_job_due(session: AsyncSession, name: str, now: datetime, tz: ZoneInfo, at: time) -> str | None:
    """The local day (YYYY-MM-DD) a daily job should run for now, or None: before `at`, or done today."""
    local = now.astimezone(tz)
    if local.time() < at:
        return None
    today = local.date().isoformat()
    done_on = (await session.execute(select(DailyJob.done_on).where(DailyJob.name == name))).scalar_one_or_none()
    return None if done_on is not None and done_on >= today else today


async def finish_daily_job(session: AsyncSession, name: str, day: str) -> None:
    job = await session.get(DailyJob, name)
    if job is None:
        session.add(DailyJob(name=name, done_on=day))
    else:
        job.done_on = day
    await session.flush()
