"""Officers' work: tasks (calls to make, questions to answer), a lead's stages and story, and the messages they cause.

Tasks are follow-up rows (kind `call` or `question`) with an officer and a region. An officer may work the
tasks and leads of their own regions only; staff and admins any, including the unassigned pool. A lead moves
through stages (baru -> dihubungi -> akan_daftar -> terdaftar / tidak_tertarik / tidak_bisa_dihubungi), each kept
with its time, who set it and a note; "akan_daftar" leaves a call task for the date to check back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import (
    LEAD_OUTCOMES,
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
from bot.services.leads import find_lead
from bot.services.officers import choose_officer, officer_regions

# The stages an officer can move a lead to, after a call or at any time later (the lead's own status words).
CALL_OUTCOMES = {
    "dihubungi": LeadStatus.DIHUBUNGI,
    "akan_daftar": LeadStatus.AKAN_DAFTAR,
    "terdaftar": LeadStatus.TERDAFTAR,
    "tidak_tertarik": LeadStatus.TIDAK_TERTARIK,
    "tidak_bisa_dihubungi": LeadStatus.TIDAK_BISA_DIHUBUNGI,
}
# After these the worker hears nothing more unasked: reminders and further calls end.
NOTE_MAX = 280
QUESTION_MAX = 4000
# A search needs this much to be worth running: a few letters of a name, or a few digits of a phone.
SEARCH_MIN_LETTERS = 2
SEARCH_MIN_DIGITS = 3
ROW_ID_DIGITS = 18  # within a 64-bit integer, which PostgreSQL's ids are
# A lead named in a stored notice (a new lead's, the daily digest): the name is filled in when the notice is sent,
# so the row keeps no name (and none a worker typed, which could pose as such a mark), and a lead erased
# meanwhile shows as ERASED_NAME.
LEAD_NAME = "[[lead:{}]]"
LEAD_FIRST_NAME = "[[lead_first:{}]]"
_LEAD_NAME = re.compile(r"\[\[lead(_first)?:(\d{1,18})\]\]")
ERASED_NAME = "…"


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


async def may_work(session: AsyncSession, officer: Officer | None, sees_all: bool, region: str | None) -> bool:
    """Staff and admins work any task or lead; an officer only those of the regions they cover."""
    if sees_all:
        return True
    return officer is not None and region in await officer_regions(session, officer.id)


def _row_id(text: str) -> int | None:
    """A row id from a button, if it can be one (a forged "²" or a 30-digit number cannot)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= ROW_ID_DIGITS else None


async def find_task(session: AsyncSession, task_id: str) -> FollowUp | None:
    task = await session.get(FollowUp, row_id) if (row_id := _row_id(task_id)) is not None else None
    return task if task is not None and task.kind in TASK_KINDS else None


async def move_lead(
    session: AsyncSession,
    lead: Lead,
    stage: str,
    actor: str,
    now: datetime,
    check_back: datetime | None = None,
    officer: Officer | None = None,
) -> LeadEvent:
    """Move a lead to `stage` and keep the step in its history (a repeated stage too: each call is worth
    remembering). Its call tasks due by now are done: the call happened. "akan_daftar" replaces any call to come
    with one due at `check_back`, for the lead's officer (or `officer`, who took it from the pool); an end stops
    the reminders and calls. Returns the history entry, for a note."""
    status = CALL_OUTCOMES[stage]
    done = [FollowUp.lead_id == lead.id, FollowUp.kind == FollowUpKind.CALL, FollowUp.status == FollowUpStatus.PENDING]
    if status != LeadStatus.AKAN_DAFTAR:  # a check-back still to come stays (a new date replaces it)
        done.append(FollowUp.due_at <= now)
    # The moment a task is done is kept in updated_at (the dashboard counts the tasks done in a period).
    await session.execute(
        update(FollowUp).where(*done).values(status=FollowUpStatus.DONE, outcome=stage, updated_at=now)
    )
    event = await record_lead_status(session, lead, status, actor, now)
    if status in LEAD_OUTCOMES:
        await cancel_followups(
            session, lead.contact_id, outcome=status, kinds=(FollowUpKind.REMINDER, FollowUpKind.CALL)
        )
    if status == LeadStatus.AKAN_DAFTAR and check_back is not None:
        if lead.officer_id is None and officer is not None:
            lead.officer_id = officer.id
        session.add(
            FollowUp(
                contact_id=lead.contact_id,
                lead_id=lead.id,
                kind=FollowUpKind.CALL,
                due_at=check_back,
                officer_id=lead.officer_id,
                region=lead.region,
            )
        )
        await session.flush()
    return event


async def end_lead_without_consent(session: AsyncSession, contact: Contact, now: datetime) -> None:
    """The worker declined a new consent text: their lead, if still open, ends as not interested by their own
    hand ("worker" in its history), so no officer calls them and no reminder goes; an ended one stays as it is
    (a registration stays a registration)."""
    lead = await find_lead(session, contact)
    if lead is not None and lead.status not in LEAD_OUTCOMES:
        await move_lead(session, lead, "tidak_tertarik", "worker", now)


async def record_call_outcome(
    session: AsyncSession, task: FollowUp, outcome: str, actor: str, now: datetime
) -> LeadEvent | None:
    """Close a call task with what came of it; the lead moves to that stage (see `move_lead`). Returns the
    history entry for a note; None for a task without a lead (its worker erased their data meanwhile)."""
    lead = await session.get(Lead, task.lead_id) if task.lead_id else None
    if lead is None:
        task.status = FollowUpStatus.DONE
        task.outcome = outcome
        task.updated_at = now
        await session.flush()
        return None
    return await move_lead(session, lead, outcome, actor, now)


async def find_lead_by_id(session: AsyncSession, lead_id: str) -> Lead | None:
    return await session.get(Lead, row_id) if (row_id := _row_id(lead_id)) is not None else None


def search_terms(text: str) -> tuple[str, str] | None:
    """What a typed search looks for: (letters of a name, digits of a phone), or None when too short to be
    worth it. A local number (08...) is matched as stored (+628...)."""
    typed = re.sub(r"\D", "", text)
    digits = "62" + typed[1:] if typed.startswith("0") else typed
    letters = " ".join(re.sub(r"[\d+()-]", " ", text).split()).casefold()
    digits = digits if len(typed) >= SEARCH_MIN_DIGITS else ""
    letters = letters if len(letters) >= SEARCH_MIN_LETTERS else ""
    return (letters, digits) if letters or digits else None


async def search_leads(
    session: AsyncSession, officer: Officer | None, letters: str, digits: str, limit: int
) -> tuple[list[Lead], int]:
    """Leads whose name contains `letters` or whose phone contains `digits`: the officer's regions only, or every
    region (None: staff and admins). Returns the first `limit`, most recent first, and how many there are."""
    found = []
    if letters:
        found.append(func.lower(Lead.name).contains(letters, autoescape=True))
    if digits:
        found.append(Lead.phone.contains(digits, autoescape=True))
    where = [or_(*found)]
    if officer is not None:
        where.append(Lead.region.in_(await officer_regions(session, officer.id)))
    total = (await session.execute(select(func.count()).select_from(Lead).where(*where))).scalar_one()
    leads = await session.execute(
        select(Lead).where(*where).order_by(Lead.updated_at.desc(), Lead.id.desc()).limit(limit)
    )
    return list(leads.scalars().all()), total


@dataclass(frozen=True)
class LeadStory:
    events: list[LeadEvent]  # oldest first
    check_back: datetime | None  # the open call task's due time


async def lead_story(session: AsyncSession, lead: Lead) -> LeadStory:
    """A lead with every step of its history and when its officer is due to call."""
    events = await session.execute(
        select(LeadEvent).where(LeadEvent.lead_id == lead.id).order_by(LeadEvent.at, LeadEvent.id)
    )
    due = await session.execute(
        select(func.min(FollowUp.due_at)).where(
            FollowUp.lead_id == lead.id, FollowUp.kind == FollowUpKind.CALL, FollowUp.status == FollowUpStatus.PENDING
        )
    )
    return LeadStory(list(events.scalars().all()), due.scalar_one_or_none())


async def waiting_leads(session: AsyncSession, officer_id: int, until: datetime, limit: int) -> tuple[list[Lead], int]:
    """The leads whose call is due by `until` for an officer (oldest first, at most `limit`) and how many."""
    where = (
        FollowUp.officer_id == officer_id,
        FollowUp.kind == FollowUpKind.CALL,
        FollowUp.status == FollowUpStatus.PENDING,
        FollowUp.due_at <= until,
    )
    total = (await session.execute(select(func.count(func.distinct(FollowUp.lead_id))).where(*where))).scalar_one()
    leads = await session.execute(
        select(Lead)
        .join(FollowUp, FollowUp.lead_id == Lead.id)
        .where(*where)
        .group_by(Lead.id)
        .order_by(func.min(FollowUp.due_at), Lead.id)
        .limit(limit)
    )
    return list(leads.scalars().all()), total


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


async def queue_message(
    session: AsyncSession, contact_id: int, kind: FollowUpKind, text: str, now: datetime, lead_id: int | None = None
) -> None:
    """A message for the ticker to send at once, at most once: an answer to a worker, a notice to an officer
    (about `lead_id`: the notice then carries the lead's buttons, and goes with the lead when it is erased)."""
    session.add(FollowUp(contact_id=contact_id, kind=kind, due_at=now, text=text, lead_id=lead_id))
    await session.flush()


async def close_question(session: AsyncSession, task: FollowUp, outcome: str, now: datetime) -> None:
    task.status = FollowUpStatus.DONE
    task.outcome = outcome
    task.updated_at = now  # when it was done: see move_lead
    await session.flush()


async def fill_lead_names(session: AsyncSession, text: str) -> str:
    """A stored notice as it is sent: each LEAD_NAME replaced by that lead's name (ERASED_NAME if gone)."""
    ids = {int(lead_id) for _, lead_id in _LEAD_NAME.findall(text)}
    if not ids:
        return text
    rows = await session.execute(select(Lead.id, Lead.name).where(Lead.id.in_(ids)))
    names: dict[int, str] = {lead_id: name for lead_id, name in rows}

    def name(found: re.Match[str]) -> str:
        full = names.get(int(found[2]))
        return ERASED_NAME if full is None else full.split()[0] if found[1] else full

    return _LEAD_NAME.sub(name, text)
