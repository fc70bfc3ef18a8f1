"""The dashboard's figures: the funnel of a period and leads and registrations per kabupaten/kota, each counted
by the database (COUNT, SUM, GROUP BY over indexed columns), never by loading rows.

A period is a range of local days. Each step counts what happened in it by the step's own time: people who
started a chat (their contact's creation), who agreed to be contacted (the consent's decision), leads saved,
leads an officer reached, registered or declined (the lead's history). A later step can therefore exceed an
earlier one when people who came before the period moved on during it.

People erased (at their request, or by retention) are still counted, from `erased_counts`, so that a period's
figures do not drop when the daily purge removes rows. Those counts know months only: an erased person is
counted in a period when the first day of their month lies in it. Adjacent periods thus count each erased
person once, never twice; a period that holds no first of a month (a week mid-month) counts no erased person.
Their started-a-chat and chose-an-occupation steps fall in the month they started; the later steps in the month
they left their contact, as the month of an officer's call or of a registration is not kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, distinct, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Consent, ConsentPurpose, Contact, ErasedCount, Lead, LeadEvent, LeadStatus

# The stages that mean an officer talked with the person (whatever they answered).
REACHED = (LeadStatus.DIHUBUNGI, LeadStatus.AKAN_DAFTAR, LeadStatus.TERDAFTAR, LeadStatus.TIDAK_TERTARIK)
# Lead history written by the person themselves (a reminder's answer) or by the bot: nobody called.
NOT_AN_OFFICER = ("worker", "system")
# The funnel's steps in order; the first three have no region (people say where they live with their contact).
STEPS = ("started", "occupation", "agreed", "lead", "reached", "registered", "declined")
REGIONLESS_STEPS = ("started", "occupation", "agreed")


@dataclass(frozen=True)
class Period:
    """Local days `first` to `last`, both included."""

    first: date
    last: date

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as UTC moments: from the first day's midnight to the midnight after the last day."""
        start = datetime.combine(self.first, datetime.min.time(), tz)
        end = datetime.combine(self.last + timedelta(days=1), datetime.min.time(), tz)
        return start, end

    @property
    def months(self) -> list[str]:
        """The months (YYYY-MM) whose first day lies in the period: those whose erased people it counts."""
        months = []
        day = self.first if self.first.day == 1 else (self.first.replace(day=28) + timedelta(days=4)).replace(day=1)
        while day <= self.last:
            months.append(f"{day:%Y-%m}")
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        return months


@dataclass(frozen=True)
class Step:
    name: str
    count: int
    erased: int  # of `count`, people since erased (erased_counts)


def _in(column, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


async def funnel(
    session: AsyncSession,
    period: Period,
    tz: ZoneInfo,
    regions: Sequence[str] | None = None,
    configured_admins: frozenset[str] = frozenset(),
) -> list[Step]:
    """The steps of the period, in order. Limited to `regions` (an officer's) the steps without a region are left
    out: they cannot be told apart by place."""
    start, end = period.bounds(tz)
    months = period.months
    live: dict[str, int] = {}
    if regions is None:
        # People with a role (officers, staff trying the bot, admins by ADMIN_TELEGRAM_IDS) are not the audience.
        admins = and_(Contact.channel == "telegram", Contact.external_id.in_(configured_admins))
        started = select(func.count(), func.count(Contact.occupation)).where(
            _in(Contact.created_at, start, end), Contact.role.is_(None), ~admins
        )
        live["started"], live["occupation"] = (await session.execute(started)).one()
        agreed = select(func.count(distinct(Consent.contact_id))).where(
            Consent.purpose == ConsentPurpose.LEAD_CONTACT,
            Consent.granted.is_(True),
            _in(Consent.decided_at, start, end),
        )
        live["agreed"] = (await session.execute(agreed)).scalar_one()
    leads = select(func.count()).select_from(Lead).where(_in(Lead.created_at, start, end))
    if regions is not None:
        leads = leads.where(Lead.region.in_(regions))
    live["lead"] = (await session.execute(leads)).scalar_one()

    def leads_where(condition: ColumnElement[bool]):
        return func.count(distinct(case((condition, LeadEvent.lead_id))))

    by_an_officer = and_(LeadEvent.to_status.in_(REACHED), LeadEvent.actor.not_in(NOT_AN_OFFICER))
    moved = (
        select(
            leads_where(by_an_officer),
            leads_where(LeadEvent.to_status == LeadStatus.TERDAFTAR),
            leads_where(LeadEvent.to_status == LeadStatus.TIDAK_TERTARIK),
        )
        .select_from(LeadEvent)
        .where(LeadEvent.to_status.in_(REACHED), _in(LeadEvent.at, start, end))
    )
    if regions is not None:
        moved = moved.join(Lead, Lead.id == LeadEvent.lead_id).where(Lead.region.in_(regions))
    live["reached"], live["registered"], live["declined"] = (await session.execute(moved)).one()

    erased = dict.fromkeys(STEPS, 0)
    if months:
        came, left = ErasedCount.started_month.in_(months), ErasedCount.lead_month.in_(months)

        def total(condition: ColumnElement[bool]):
            return func.coalesce(func.sum(case((condition, ErasedCount.count), else_=literal(0))), 0)

        query = select(
            total(came),
            total(and_(came, ErasedCount.occupation != "")),
            total(left),
            total(and_(left, ErasedCount.outcome.in_(REACHED))),
            total(and_(left, ErasedCount.outcome == LeadStatus.TERDAFTAR)),
            total(and_(left, ErasedCount.outcome == LeadStatus.TIDAK_TERTARIK)),
        ).where(came | left)
        if regions is not None:
            query = query.where(ErasedCount.region.in_(regions))
        values = (await session.execute(query)).one()
        erased["started"], erased["occupation"], erased["lead"] = values[0], values[1], values[2]
        erased["agreed"] = values[2]  # a lead is only saved after the person agreed
        erased["reached"], erased["registered"], erased["declined"] = values[3], values[4], values[5]
    shown = [step for step in STEPS if regions is None or step not in REGIONLESS_STEPS]
    return [Step(step, int(live[step]) + int(erased[step]), int(erased[step])) for step in shown]


@dataclass(frozen=True)
class RegionLine:
    region: str
    leads: int
    registered: int


async def per_region(
    session: AsyncSession, period: Period, tz: ZoneInfo, listed: Sequence[str], regions: Sequence[str] | None = None
) -> list[RegionLine]:
    """Leads saved and leads registered in the period, per kabupaten/kota, most leads first: every region of
    `listed` (the configured ones, shown even at zero) and any other with figures, all limited to `regions`."""
    start, end = period.bounds(tz)
    months = period.months
    leads = select(Lead.region, func.count()).where(_in(Lead.created_at, start, end)).group_by(Lead.region)
    registered = (
        select(Lead.region, func.count(distinct(LeadEvent.lead_id)))
        .join(Lead, Lead.id == LeadEvent.lead_id)
        .where(LeadEvent.to_status == LeadStatus.TERDAFTAR, _in(LeadEvent.at, start, end))
        .group_by(Lead.region)
    )
    erased = (
        select(
            ErasedCount.region,
            func.sum(ErasedCount.count),
            func.sum(case((ErasedCount.outcome == LeadStatus.TERDAFTAR, ErasedCount.count), else_=literal(0))),
        )
        .where(ErasedCount.lead_month.in_(months), ErasedCount.region != "")
        .group_by(ErasedCount.region)
    )
    if regions is not None:
        leads, registered = leads.where(Lead.region.in_(regions)), registered.where(Lead.region.in_(regions))
        erased = erased.where(ErasedCount.region.in_(regions))
    counts: dict[str, list[int]] = {region: [0, 0] for region in listed if regions is None or region in regions}
    for region, count in await session.execute(leads):
        counts.setdefault(region, [0, 0])[0] += count
    for region, count in await session.execute(registered):
        counts.setdefault(region, [0, 0])[1] += count
    if months:
        for region, count, done in await session.execute(erased):
            line = counts.setdefault(region, [0, 0])
            line[0], line[1] = line[0] + int(count), line[1] + int(done)
    lines = [RegionLine(region, leads_, done) for region, (leads_, done) in counts.items()]
    return sorted(lines, key=lambda line: (-line.leads, -line.registered, line.region))
