"""Follow-ups: reminders to workers and call tasks for officers, as rows with a due time and a status.

Nothing of this lives in the scheduler: the ticker (bot/workers/ticker.py) only claims due rows. Sending is at most
once: a row is claimed (`sending`, committed) before the request leaves, and one left in `sending` by a
crash becomes `unknown`, never resent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import execute_dml
from bot.models import (
    INTERRUPTED,
    MESSAGE_KINDS,
    TASK_KINDS,
    Contact,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Lead,
    LeadEvent,
    LeadStatus,
)

_OPEN = (FollowUpStatus.PENDING,)


@dataclass(frozen=True)
class Cadence:
    reminder_days: tuple[int, ...]
    call_after_working_days: int
    window: tuple[time, time]  # local hours in which a worker may be messaged or called
    tz: ZoneInfo

    @classmethod
    def from_settings(cls, settings: Settings) -> Cadence:
        return cls(settings.reminder_days, settings.call_after_working_days, settings.send_window, settings.tz)

    def in_window(self, moment: datetime) -> bool:
        start, end = self.window
        return start <= moment.astimezone(self.tz).time() < end

    def next_allowed(self, moment: datetime) -> datetime:
        """The moment itself inside the window; otherwise the start of the next window (quiet hours)."""
        if self.in_window(moment):
            return moment
        local = moment.astimezone(self.tz)
        day = local.date() if local.time() < self.window[0] else local.date() + timedelta(days=1)
        return datetime.combine(day, self.window[0], tzinfo=self.tz).astimezone(UTC)

    def after_working_days(self, moment: datetime, days: int) -> datetime:
        """Same local time `days` working days later (Saturday and Sunday skipped; holidays are not known)."""
        local = moment.astimezone(self.tz)
        day: date = local.date()
        while days > 0:
            day += timedelta(days=1)
            if day.weekday() < 5:
                days -= 1
        return datetime.combine(day, local.time(), tzinfo=self.tz).astimezone(UTC)


def local_day(moment: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local calendar day `moment` falls in, as [start, end) in UTC: "today" for officers' lists."""
    day = moment.astimezone(tz).date()
    start, end = (datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC) for d in (day, day + timedelta(days=1)))
    return start, end


async def schedule_lead_followups(
    session: AsyncSession, lead: Lead, now: datetime, cadence: Cadence, reminders: bool
) -> list[FollowUp]:
    """A new lead: reminders to the worker (only with their consent) and a call task for an officer."""
    rows = [
        FollowUp(
            contact_id=lead.contact_id,
            lead_id=lead.id,
            kind=FollowUpKind.CALL,
            due_at=cadence.next_allowed(cadence.after_working_days(now, cadence.call_after_working_days)),
        )
    ]
    if reminders:
        rows += [
            FollowUp(
                contact_id=lead.contact_id,
                lead_id=lead.id,
                kind=FollowUpKind.REMINDER,
                due_at=cadence.next_allowed(now + timedelta(days=days)),
            )
            for days in cadence.reminder_days
        ]
    session.add_all(rows)
    await session.flush()
    return rows


async def cancel_followups(
    session: AsyncSession, contact_id: int, outcome: str, kinds: tuple[FollowUpKind, ...] = tuple(FollowUpKind)
) -> int:
    """End what is still pending for a person (STOP, an outcome, unreachable); returns how many."""
    result = await execute_dml(
        session,
        update(FollowUp)
        .where(FollowUp.contact_id == contact_id, FollowUp.status.in_(_OPEN), FollowUp.kind.in_(kinds))
        .values(status=FollowUpStatus.CANCELLED, outcome=outcome),
    )
    return result.rowcount


async def claim_due_messages(
    session: AsyncSession, now: datetime, limit: int, kinds: tuple[FollowUpKind, ...] = MESSAGE_KINDS
) -> list[int]:
    """Mark up to `limit` due messages of these kinds as `sending` and return their ids, oldest due first.

    One UPDATE ... RETURNING over the (status, kind, due_at) index: its cost follows the due rows, not the
    pending ones, nor the officers' tasks. The caller commits before anything is sent.
    """
    due = (
        select(FollowUp.id)
        .where(
            FollowUp.status == FollowUpStatus.PENDING,
            FollowUp.kind.in_(kinds),
            FollowUp.due_at <= now,
        )
        .order_by(FollowUp.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL: two ticks take different rows, neither waits
    )
    claimed = await session.execute(
        update(FollowUp)
        .where(FollowUp.id.in_(due.scalar_subquery()))
        .values(status=FollowUpStatus.SENDING, attempts=FollowUp.attempts + 1, updated_at=now)
        .returning(FollowUp.id)
    )
    return sorted(claimed.scalars())


async def later_reminder_due(session: AsyncSession, row: FollowUp, now: datetime) -> bool:
    """Is a later reminder of the same lead due too? Then this one is stale news."""
    later = await session.execute(
        select(FollowUp.id)
        .where(
            FollowUp.lead_id == row.lead_id,
            FollowUp.kind == FollowUpKind.REMINDER,
            FollowUp.status.in_((FollowUpStatus.PENDING, FollowUpStatus.SENDING)),
            FollowUp.due_at > row.due_at,
            FollowUp.due_at <= now,
        )
        .limit(1)
    )
    return later.first() is not None


async def settle_followup(
    session: AsyncSession,
    followup_id: int,
    status: FollowUpStatus | str,  # a str: the row's own stored status, when only the outcome changes
    outcome: str | None = None,
    due_at: datetime | None = None,
    platform_message_id: str | None = None,
    via: str | None = None,
    claimed: bool = False,
    error_code: int | None = None,
) -> None:
    """`claimed`: only if the row is still the sender's (`sending`, or `unknown` because a new leader took over
    meanwhile). The ticker settles what it claimed this way, so a WhatsApp status callback that got there first
    (a failure, a re-queue) is not undone."""
    values: dict[str, object] = {"status": status}
    for name, value in (("outcome", outcome), ("due_at", due_at), ("platform_message_id", platform_message_id)):
        if value is not None:
            values[name] = value
    if via is not None:
        values["via"] = via
    if error_code is not None:
        values["error_code"] = error_code
    query = update(FollowUp).where(FollowUp.id == followup_id)
    if claimed:
        if outcome is None:  # what a new leader wrote meanwhile is undone with its status
            values["outcome"] = func.nullif(FollowUp.outcome, INTERRUPTED)
        query = query.where(
            or_(
                FollowUp.status == FollowUpStatus.SENDING,
                and_(FollowUp.status == FollowUpStatus.UNKNOWN, FollowUp.outcome == INTERRUPTED),
            )
        )
    await session.execute(query.values(**values))


async def give_up_interrupted_sends(session: AsyncSession) -> int:
    """Rows a crash left in `sending` may or may not have reached the worker: `unknown`, never resent."""
    result = await execute_dml(
        session,
        update(FollowUp)
        .where(FollowUp.status == FollowUpStatus.SENDING)
        .values(status=FollowUpStatus.UNKNOWN, outcome=INTERRUPTED),
    )
    return result.rowcount


async def mark_unreachable(session: AsyncSession, contact_ids: list[int], now: datetime) -> None:
    """The platform refused for good (blocked, deleted): flag the people and end their follow-ups."""
    await session.execute(
        update(Contact).where(Contact.id.in_(contact_ids), Contact.unreachable_at.is_(None)).values(unreachable_at=now)
    )
    for contact_id in contact_ids:
        await cancel_followups(session, contact_id, outcome="unreachable")


async def record_lead_status(
    session: AsyncSession, lead: Lead, status: LeadStatus, actor: str, at: datetime
) -> LeadEvent:
    """Set a lead's status and keep the step in its history, even an unchanged one (a call that reached
    the worker again is worth remembering). Returns the history entry, for a note added later."""
    event = LeadEvent(lead_id=lead.id, from_status=lead.status, to_status=status, actor=actor, at=at)
    session.add(event)
    lead.status = status
    lead.last_contact_at = at  # a step recorded is a contact: the lead's retention period starts again
    await session.flush()
    return event


async def change_lead_status(session: AsyncSession, lead: Lead, status: LeadStatus, actor: str, at: datetime) -> None:
    """Move a lead on and keep the change in its history; nothing to keep when it is already there."""
    if lead.status != status:
        await record_lead_status(session, lead, status, actor, at)


async def ask_for_a_call(session: AsyncSession, lead: Lead, now: datetime) -> FollowUp:
    """The worker asked for help: a call task due now, unless one is already waiting."""
    waiting = await session.execute(
        select(FollowUp).where(
            FollowUp.lead_id == lead.id, FollowUp.kind == FollowUpKind.CALL, FollowUp.status.in_(_OPEN)
        )
    )
    task = waiting.scalars().first()
    if task is None:
        task = FollowUp(contact_id=lead.contact_id, lead_id=lead.id, kind=FollowUpKind.CALL, due_at=now)
        session.add(task)
    else:
        task.due_at = min(task.due_at, now)
    await session.flush()
    return task


@dataclass(frozen=True)
class FollowUpLine:
    followup: FollowUp
    lead: Lead | None
    channel: str


UNASSIGNED = 0  # the officer filter that means "the unassigned pool"


async def list_followups(
    session: AsyncSession,
    due_before: datetime | None = None,
    statuses: tuple[str, ...] = (),
    officer_id: int | None = None,
) -> list[FollowUpLine]:
    """Follow-ups with their lead, soonest due first, for staff at the command line. `officer_id`: one
    officer's tasks, or UNASSIGNED for the tasks waiting in the pool."""
    query = (
        select(FollowUp, Lead, Contact.channel)
        .join(Contact, Contact.id == FollowUp.contact_id)
        .outerjoin(Lead, Lead.id == FollowUp.lead_id)
        .order_by(FollowUp.due_at, FollowUp.id)
    )
    if due_before is not None:
        query = query.where(FollowUp.due_at < due_before)
    if statuses:
        query = query.where(FollowUp.status.in_(statuses))
    if officer_id == UNASSIGNED:
        query = query.where(FollowUp.officer_id.is_(None), FollowUp.kind.in_(TASK_KINDS))
    elif officer_id is not None:
        query = query.where(FollowUp.officer_id == officer_id)
    return [FollowUpLine(*row) for row in (await session.execute(query)).all()]
