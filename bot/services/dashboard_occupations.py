"""The dashboard's Pekerjaan figures: leads saved and registrations recorded in a period per occupation, counted by
the database, with the people erased since added from `erased_counts` the way bot/services/dashboard.py says
(months only: an erased lead counts in a period when the first day of the month it was saved lies in it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import ErasedCount, Lead, LeadStatus, Occupation
from bot.services.dashboard import Period, registered_in

NOT_CHOSEN = ""  # the line of leads with no occupation the bot knows (none stored, or a value no longer offered)


@dataclass(frozen=True)
class OccupationLine:
    occupation: str  # an Occupation, or NOT_CHOSEN
    leads: int
    registered: int


async def per_occupation(
    session: AsyncSession, period: Period, tz: ZoneInfo, regions: Sequence[str] | None = None
) -> list[OccupationLine]:
    """Leads saved and leads registered in the period per occupation, limited to `regions` (an officer's): every
    occupation in the bot's order (at zero too), then the leads without one, when there are any."""
    start, end = period.bounds(tz)
    months = period.months
    leads = (
        select(Lead.occupation, func.count())
        .where(Lead.created_at >= start, Lead.created_at < end)
        .group_by(Lead.occupation)
    )
    registered = (
        select(Lead.occupation, func.count())
        .where(Lead.id.in_(registered_in(start, end)))  # each lead once, however many times recorded
        .group_by(Lead.occupation)
    )
    erased = (
        select(
            ErasedCount.occupation,
            func.sum(ErasedCount.count),
            func.sum(case((ErasedCount.outcome == LeadStatus.TERDAFTAR, ErasedCount.count), else_=literal(0))),
        )
        .where(ErasedCount.lead_month.in_(months))
        .group_by(ErasedCount.occupation)
    )
    if regions is not None:
        leads, registered = leads.where(Lead.region.in_(regions)), registered.where(Lead.region.in_(regions))
        erased = erased.where(ErasedCount.region.in_(regions))
    counts: dict[str, list[int]] = {occupation.value: [0, 0] for occupation in Occupation}
    known = set(counts)

    def line(occupation: str | None) -> list[int]:
        return counts.setdefault(occupation if occupation in known else NOT_CHOSEN, [0, 0])

    for occupation, count in await session.execute(leads):
        line(occupation)[0] += count
    for occupation, count in await session.execute(registered):
        line(occupation)[1] += count
    if months:
        for occupation, count, done in await session.execute(erased):
            figures = line(occupation)
            figures[0], figures[1] = figures[0] + int(count), figures[1] + int(done)
    return [OccupationLine(occupation, leads_, done) for occupation, (leads_, done) in counts.items()]
