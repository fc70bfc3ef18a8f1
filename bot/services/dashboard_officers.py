"""The dashboard's Petugas figures, per officer, counted by the database: open and overdue tasks now, tasks done and
outcomes recorded in a period, and the median wait from a lead's saving to the officer's first call on it.

Tasks are follow-up rows of the task kinds (calls, questions) and belong to the officer they are assigned to, the
unassigned pool when none. A task done keeps the moment it was done in `updated_at` (bot/services/tasks.py). An
outcome is a lead's history entry written by the officer ("officer:<id>"); the first of them on a lead is the first
call, whatever it recorded (could not reach is a call tried). The wait runs from the lead's saving, not from its
assignment, of which no moment is kept (round robin, a colleague leaving, the pool taken by a new officer): it is
how long the worker waited, including any time before the lead came to this officer.

The median is the database's too, on SQLite and PostgreSQL alike: each officer's waits are ranked with window
functions (row_number, count over the officer), and the middle one, or the mean of the middle two, is averaged.
Erased people take their tasks and history with them, and `erased_counts` keeps no officer: what they did for
people since erased is no longer counted here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Float, Select, and_, case, distinct, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from bot.models import TASK_KINDS, FollowUp, FollowUpStatus, Lead, LeadEvent, Officer
from bot.services.dashboard import Period
from bot.services.tasks import CALL_OUTCOMES

OFFICER_ACTOR = "officer:"  # how an officer is named in a lead's history (bot/services/officers.py actor_of)


class seconds_between(FunctionElement[float]):  # noqa: N801 (used as a SQL function, as func.* are)
    """`later - earlier` in seconds, as a number: SQLite keeps times as text, PostgreSQL as timestamps."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "sqlite")
def _seconds_on_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: object) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


@compiles(seconds_between)
def _seconds_on_postgresql(element: seconds_between, compiler: SQLCompiler, **kw: object) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


@dataclass
class OfficerLine:
    officer_id: int | None  # None: the unassigned pool
    name: str
    removed: bool
    open_tasks: int = 0
    overdue: int = 0
    done: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # per CALL_OUTCOMES key: leads recorded so
    first_calls: int = 0  # leads this officer called first in the period
    first_call_wait: timedelta | None = None  # their median wait from saving to that call

    @property
    def worked(self) -> bool:
        return bool(self.open_tasks or self.done or self.outcomes or self.first_calls)


def _officer_id(actor: str) -> int | None:
    number = actor.removeprefix(OFFICER_ACTOR)
    return int(number) if actor.startswith(OFFICER_ACTOR) and number.isdigit() else None


async def per_officer(
    session: AsyncSession, period: Period, tz: ZoneInfo, now: datetime, officer_id: int | None = None
) -> list[OfficerLine]:
    """Every officer's line, by name (those removed after them, and only with figures in the period), then the
    pool's when it has any; with `officer_id` (an officer looking) that officer's line only."""
    start, end = period.bounds(tz)
    officers = select(Officer.id, Officer.name, Officer.removed_at)
    if officer_id is not None:
        officers = officers.where(Officer.id == officer_id)
    lines: dict[int | None, OfficerLine] = {
        officer: OfficerLine(officer, name, removed_at is not None)
        for officer, name, removed_at in await session.execute(officers)
    }
    if officer_id is None:
        lines[None] = OfficerLine(None, "", False)

    tasks: list[ColumnElement[bool]] = [FollowUp.kind.in_(TASK_KINDS)]
    if officer_id is not None:
        tasks.append(FollowUp.officer_id == officer_id)
    waiting = (
        select(FollowUp.officer_id, func.count(), func.sum(case((FollowUp.due_at < now, 1), else_=literal(0))))
        .where(*tasks, FollowUp.status == FollowUpStatus.PENDING)
        .group_by(FollowUp.officer_id)
    )
    for officer, count, overdue in await session.execute(waiting):
        if (line := lines.get(officer)) is not None:
            line.open_tasks, line.overdue = count, int(overdue or 0)
    done = (
        select(FollowUp.officer_id, func.count())
        .where(*tasks, FollowUp.status == FollowUpStatus.DONE, FollowUp.updated_at >= start, FollowUp.updated_at < end)
        .group_by(FollowUp.officer_id)
    )
    for officer, count in await session.execute(done):
        if (line := lines.get(officer)) is not None:
            line.done = count

    by_officers = (
        LeadEvent.actor == f"{OFFICER_ACTOR}{officer_id}"
        if officer_id is not None
        else LeadEvent.actor.startswith(OFFICER_ACTOR, autoescape=True)
    )
    called = and_(by_officers, LeadEvent.to_status.in_(CALL_OUTCOMES.values()))
    in_period = and_(LeadEvent.at >= start, LeadEvent.at < end)
    outcomes = (
        select(LeadEvent.actor, LeadEvent.to_status, func.count(distinct(LeadEvent.lead_id)))
        .where(called, in_period)
        .group_by(LeadEvent.actor, LeadEvent.to_status)
    )
    for actor, status, count in await session.execute(outcomes):
        if (line := lines.get(_officer_id(actor))) is not None and line.officer_id is not None:
            line.outcomes[status] = count
    for actor, count, seconds in await session.execute(_first_call_medians(called, in_period, start)):
        if (line := lines.get(_officer_id(actor))) is not None and line.officer_id is not None:
            line.first_calls, line.first_call_wait = count, timedelta(seconds=round(float(seconds)))

    shown = [line for line in lines.values() if line.officer_id is not None and (not line.removed or line.worked)]
    shown.sort(key=lambda line: (line.removed, line.name.casefold(), line.officer_id))
    pool = lines.get(None)
    return [*shown, pool] if pool is not None and pool.worked else shown


def _first_call_medians(
    called: ColumnElement[bool], in_period: ColumnElement[bool], start: datetime
) -> Select[str, int, float]:
    """Per officer (as named in the history): how many leads they first called in the period, and the median
    seconds from each lead's saving to that call. The officer's calls of the period, per lead, whose first is a
    first call unless she called that lead before the period (for a lead saved before it, one look-up in the
    history's index by lead and officer); then each officer's waits ranked (row_number and count over the
    officer, in one ordering) and the middle one or two averaged: rank r of n is a middle one when
    n <= 2r <= n + 2."""
    first_at = func.min(LeadEvent.at)
    first = (
        select(LeadEvent.lead_id.label("lead_id"), LeadEvent.actor.label("actor"), first_at.label("first_at"))
        .where(called, in_period)
        .group_by(LeadEvent.lead_id, LeadEvent.actor)
        .subquery()
    )
    earlier = aliased(LeadEvent)
    called_before = (
        select(earlier.id)
        .where(
            earlier.lead_id == first.c.lead_id,
            earlier.actor == first.c.actor,
            earlier.at < start,
            earlier.to_status.in_(CALL_OUTCOMES.values()),
        )
        .exists()
    )
    wait = seconds_between(first.c.first_at, Lead.created_at)
    ranked = (
        select(
            first.c.actor,
            wait.label("wait"),
            func.row_number().over(partition_by=first.c.actor, order_by=wait).label("place"),
            func.count().over(partition_by=first.c.actor, order_by=wait, rows=(None, None)).label("total"),
        )
        .join(Lead, Lead.id == first.c.lead_id)
        # A lead's history starts when it is saved: only a lead saved before the period can have been called before
        # it, so the others need no look-up.
        .where(or_(Lead.created_at >= start, ~called_before))
        .subquery()
    )
    middle = and_(ranked.c.total <= 2 * ranked.c.place, 2 * ranked.c.place <= ranked.c.total + 2)
    return (
        select(ranked.c.actor, func.max(ranked.c.total), func.avg(ranked.c.wait)).where(middle).group_by(ranked.c.actor)
    )
