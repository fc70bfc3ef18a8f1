"""Officers' tasks: calls to make and questions to answer, their outcomes, and the messages they cause.

Tasks are follow-up rows (kind `call` or `question`) with an officer and a region. An officer may work the
tasks of their own regions only; an admin may work any, including the unassigned pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import (
    TASK_KINDS,
    Contact,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Lead,
    LeadEvent,
    LeadStatus,
    Officer,
)
from bot.services.followups import cancel_followups, record_lead_status
from bot.services.officers import choose_officer, officer_regions

# What an officer can record after a call, and the lead status each one sets.
CALL_OUTCOMES = {
    "dihubungi": LeadStatus.DIHUBUNGI,
    "terdaftar": LeadStatus.TERDAFTAR,
    "tidak_tertarik": LeadStatus.TIDAK_TERTARIK,
    "tidak_bisa_dihubungi": LeadStatus.TIDAK_BISA_DIHUBUNGI,
}
# After these the worker hears nothing more unasked: reminders and further calls end.
_FINAL = (LeadStatus.TERDAFTAR, LeadStatus.TIDAK_TERTARIK)
NOTE_MAX = 280
QUESTION_MAX = 4000


@dataclass(frozen=True)
class Task:
    followup: FollowUp
    contact: Contact
    lead: Lead | None
    question: str | None  # what the worker asked: the question itself, or their latest one for a call


async def due_tasks(
    session: AsyncSession, officer: Officer | None, until: datetime, limit: int, offset: int = 0
) -> tuple[list[Task], int]:
    """Open tasks due by `until`, oldest first: the officer's own, or every one (the pool too) for an admin.
    Returns one page and the total."""
    where = [FollowUp.kind.in_(TASK_KINDS), FollowUp.status == FollowUpStatus.PENDING, FollowUp.due_at <= until]
    if officer is not None:
        where.append(FollowUp.officer_id == officer.id)
    total = (await session.execute(select(func.count()).select_from(FollowUp).where(*where))).scalar_one()
    rows = await session.execute(
        select(FollowUp, Contact, Lead)
        .join(Contact, Contact.id == FollowUp.contact_id)
        .outerjoin(Lead, Lead.id == FollowUp.lead_id)
        .where(*where)
        .order_by(FollowUp.due_at, FollowUp.id)
        .offset(offset)
        .limit(limit)
    )
    tasks = [Task(row, contact, lead, await _question_of(session, row)) for row, contact, lead in rows.all()]
    return tasks, total


async def _question_of(session: AsyncSession, task: FollowUp) -> str | None:
    if task.kind == FollowUpKind.QUESTION:
        return task.text
    latest = await session.execute(
        select(FollowUp.text)
        .where(FollowUp.contact_id == task.contact_id, FollowUp.kind == FollowUpKind.QUESTION)
        .order_by(FollowUp.id.desc())
        .limit(1)
    )
    return latest.scalar_one_or_none()


async def may_work(session: AsyncSession, officer: Officer | None, sees_all: bool, task: FollowUp) -> bool:
    """Admins work any task; an officer only those of the regions they cover."""
    if sees_all:
        return True
    return officer is not None and task.region in await officer_regions(session, officer.id)


async def find_task(session: AsyncSession, task_id: str) -> FollowUp | None:
    task = await session.get(FollowUp, int(task_id)) if task_id.isdigit() else None
    return task if task is not None and task.kind in TASK_KINDS else None


async def record_call_outcome(
    session: AsyncSession, task: FollowUp, outcome: str, actor: str, now: datetime
) -> LeadEvent | None:
    """Close a call task with what came of it; the lead's status follows and the change is kept as history
    (a repeated outcome too: each call is worth remembering). Returns the history entry for a note."""
    task.status = FollowUpStatus.DONE
    task.outcome = outcome
    lead = await session.get(Lead, task.lead_id) if task.lead_id else None
    if lead is None:
        await session.flush()
        return None
    status = CALL_OUTCOMES[outcome]
    event = await record_lead_status(session, lead, status, actor, now)
    if status in _FINAL:
        await cancel_followups(
            session, lead.contact_id, outcome=status, kinds=(FollowUpKind.REMINDER, FollowUpKind.CALL)
        )
    return event


async def add_note(session: AsyncSession, event_id: int, note: str) -> None:
    event = await session.get(LeadEvent, event_id)
    if event is not None:
        event.note = note[:NOTE_MAX]


async def open_question(session: AsyncSession, contact: Contact) -> FollowUp | None:
    query = select(FollowUp).where(
        FollowUp.contact_id == contact.id,
        FollowUp.kind == FollowUpKind.QUESTION,
        FollowUp.status == FollowUpStatus.PENDING,
    )
    return (await session.execute(query)).scalars().first()


async def ask_officer(
    session: AsyncSession, contact: Contact, lead: Lead | None, region: str, text: str, now: datetime
) -> tuple[FollowUp, bool]:
    """The worker's question becomes a task for an officer of their region (or the pool). A second question
    while one is open is added to it, so the officer answers both at once. Returns (task, new)."""
    waiting = await open_question(session, contact)
    if waiting is not None:
        waiting.text = f"{waiting.text}\n\n{text}"[-QUESTION_MAX:]
        await session.flush()
        return waiting, False
    if lead is not None and lead.region == region and lead.officer_id is not None:
        officer_id: int | None = lead.officer_id
    else:
        officer = await choose_officer(session, region, contact.source_code)
        officer_id = officer.id if officer else None
    task = FollowUp(
        contact_id=contact.id,
        lead_id=lead.id if lead else None,
        kind=FollowUpKind.QUESTION,
        due_at=now,
        officer_id=officer_id,
        region=region,
        text=text[:QUESTION_MAX],
    )
    session.add(task)
    await session.flush()
    return task, True


async def queue_message(session: AsyncSession, contact_id: int, kind: FollowUpKind, text: str, now: datetime) -> None:
    """A message for the ticker to send at once, at most once: an answer to a worker, a notice to an officer."""
    session.add(FollowUp(contact_id=contact_id, kind=kind, due_at=now, text=text))
    await session.flush()


async def close_question(session: AsyncSession, task: FollowUp, outcome: str) -> None:
    task.status = FollowUpStatus.DONE
    task.outcome = outcome
    await session.flush()
