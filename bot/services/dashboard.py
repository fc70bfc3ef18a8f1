"""The dashboard's figures: the funnel of a period, the same per local week, today beside the same weekday a week
before, and leads and registrations per kabupaten/kota, each counted by the database (COUNT, SUM, GROUP BY over
indexed columns), never by loading rows: one query per kind of step, grouped by week or by day where asked.

A period is a range of local days. Each step counts what happened in it by the step's own time: people who
started a chat (their contact's creation), who agreed to be contacted (the consent's decision), leads saved,
leads an officer reached, registered or declined (the lead's history). A later step can therefore exceed an
earlier one when people who came before the period moved on during it.

People erased (at their request, or by retention) are still counted, from `erased_counts`, so that a period's
figures do not drop when the daily purge removes rows. Those counts know months only: an erased person is
counted in a period when the first day of their month lies in it. Adjacent periods thus count each erased
person once, never twice; a period that holds no first of a month (a week mid-month) counts no erased person.
Their started-a-chat and chose-an-occupation steps fall in the month they started; the later steps in the month
they left their contact, as the month of an officer's call or of a registration is not kept. Months cannot be
split into weeks or hours: the weekly lines and today's figures count the rows still held only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, and_, case, cast, distinct, func, literal, null, or_, select, type_coerce
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


# Which moments a count takes (a step's own time in a range or two), and what it groups them by (None: not at all).
Within = Callable[[Any], ColumnElement[bool]]
GroupBy = Callable[[Any], ColumnElement[Any]] | None


async def _live_counts(
    session: AsyncSession,
    within: Within,
    group_by: GroupBy,
    regions: Sequence[str] | None,
    configured_admins: frozenset[str],
) -> dict[str, dict[Any, int]]:
    """Each step's count of the rows still held, per value of `group_by` of the step's moment (the key None when
    not grouped): one query per kind of step, whatever the number of groups. Limited to `regions`, the steps
    without a region are left out."""
    counts: dict[str, dict[Any, int]] = {step: {} for step in STEPS}

    def grouped(moment, *aggregates):
        if group_by is None:
            return select(null(), *aggregates)
        key = group_by(moment)
        return select(key, *aggregates).group_by(key)

    async def keep(query, *steps: str) -> None:
        for key, *values in await session.execute(query):
            for step, value in zip(steps, values, strict=True):
                counts[step][key] = int(value)

    if regions is None:
        # People with a role (officers, staff trying the bot, admins by ADMIN_TELEGRAM_IDS) are not the audience.
        admins = and_(Contact.channel == "telegram", Contact.external_id.in_(configured_admins))
        started = grouped(Contact.created_at, func.count(), func.count(Contact.occupation)).where(
            within(Contact.created_at), Contact.role.is_(None), ~admins
        )
        await keep(started, "started", "occupation")
        agreed = grouped(Consent.decided_at, func.count(distinct(Consent.contact_id))).where(
            Consent.purpose == ConsentPurpose.LEAD_CONTACT, Consent.granted.is_(True), within(Consent.decided_at)
        )
        await keep(agreed, "agreed")
    leads = grouped(Lead.created_at, func.count()).select_from(Lead).where(within(Lead.created_at))
    if regions is not None:
        leads = leads.where(Lead.region.in_(regions))
    await keep(leads, "lead")

    def leads_where(condition: ColumnElement[bool]):
        return func.count(distinct(case((condition, LeadEvent.lead_id))))

    by_an_officer = and_(LeadEvent.to_status.in_(REACHED), LeadEvent.actor.not_in(NOT_AN_OFFICER))
    moved = (
        grouped(
            LeadEvent.at,
            leads_where(by_an_officer),
            leads_where(LeadEvent.to_status == LeadStatus.TERDAFTAR),
            leads_where(LeadEvent.to_status == LeadStatus.TIDAK_TERTARIK),
        )
        .select_from(LeadEvent)
        .where(LeadEvent.to_status.in_(REACHED), within(LeadEvent.at))
    )
    if regions is not None:
        moved = moved.join(Lead, Lead.id == LeadEvent.lead_id).where(Lead.region.in_(regions))
    await keep(moved, "reached", "registered", "declined")
    return counts


def _shown(regions: Sequence[str] | None, steps: Sequence[str] = STEPS) -> list[str]:
    return [step for step in steps if regions is None or step not in REGIONLESS_STEPS]


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
    counts = await _live_counts(session, lambda moment: _in(moment, start, end), None, regions, configured_admins)
    live = {step: by_key.get(None, 0) for step, by_key in counts.items()}

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
    return [Step(step, live[step] + int(erased[step]), int(erased[step])) for step in _shown(regions)]


# ------------------------------------------------------------------------------------------ per week


@dataclass(frozen=True)
class Weekly:
    """The funnel per local week (Monday to Sunday) of a period: the weeks' Mondays in order and each shown step's
    counts, one per week. The first and the last week hold only the period's days."""

    mondays: list[date]
    lines: dict[str, list[int]]


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


async def funnel_by_week(
    session: AsyncSession,
    period: Period,
    tz: ZoneInfo,
    regions: Sequence[str] | None = None,
    configured_admins: frozenset[str] = frozenset(),
) -> Weekly:
    """The steps of the period per local week, grouped by the database on the week of each step's moment. People
    erased are left out: their counts know months only, which cannot be split into weeks."""
    start, end = period.bounds(tz)
    week = _local_week(session, tz, start, end)
    counts = await _live_counts(session, lambda moment: _in(moment, start, end), week, regions, configured_admins)
    mondays = []
    monday = monday_of(period.first)
    while monday <= period.last:
        mondays.append(monday)
        monday += timedelta(days=7)
    return Weekly(mondays, {step: [counts[step].get(day, 0) for day in mondays] for step in _shown(regions)})


def _local_week(session: AsyncSession, tz: ZoneInfo, start: datetime, end: datetime) -> GroupBy:
    """The Monday (a local date) of the week a UTC moment between `start` and `end` falls in: a week starts at
    local midnight, so the moment is moved into the zone before its week is taken."""
    bind = session.bind
    assert bind is not None  # every session comes from session_factory(engine)
    if bind.dialect.name == "postgresql":
        return lambda moment: cast(func.date_trunc("week", func.timezone(tz.key, moment)), Date)
    # SQLite knows no zones: the moment is moved by the zone's offset from UTC (a CASE picks it where summer time
    # changes it within the period; Asia/Jakarta's never changes), then taken back to its Monday.
    changes, last = _utc_offsets(tz, start, end)

    def week(moment):
        shift: ColumnElement[str] = literal(_minutes(last))
        if changes:
            shift = case(*((moment < until, _minutes(offset)) for until, offset in changes), else_=_minutes(last))
        return type_coerce(func.date(moment, shift, "-6 days", "weekday 1"), Date)

    return week


def _minutes(offset: int) -> str:
    return f"{offset:+d} minutes"  # an SQLite date modifier


def _utc_offsets(tz: ZoneInfo, start: datetime, end: datetime) -> tuple[list[tuple[datetime, int]], int]:
    """The zone's offsets from UTC (minutes) from `start` to `end`: each that changes with the moment it ends,
    then the last one. A change is looked for day by day, then found to the second (zones change on whole
    seconds; `start` is a local midnight)."""

    def offset(moment: datetime) -> int:
        shift = moment.astimezone(tz).utcoffset()
        return int(shift.total_seconds()) // 60 if shift is not None else 0

    changes = []
    moment, current = start, offset(start)
    while moment < end:
        later = min(moment + timedelta(days=1), end)
        if offset(later) == current:
            moment = later
            continue
        low, high = moment, later
        while high - low > timedelta(seconds=1):
            middle = low + timedelta(seconds=(high - low).total_seconds() // 2)
            low, high = (middle, high) if offset(middle) == current else (low, middle)
        changes.append((high, current))
        moment, current = high, offset(high)
    return changes, current


# ------------------------------------------------------------------------------------------ today


# The figures of today beside the same weekday a week before.
TODAY_STEPS = ("started", "agreed", "lead", "reached", "registered")


@dataclass(frozen=True)
class Beside:
    step: str
    today: int
    week_before: int


async def today_beside_last_week(
    session: AsyncSession,
    now: datetime,
    tz: ZoneInfo,
    regions: Sequence[str] | None = None,
    configured_admins: frozenset[str] = frozenset(),
) -> list[Beside]:
    """Today's steps so far (from local midnight to `now`) beside the same weekday a week before, from its
    midnight to the same local time: a morning is set against a morning, not against a whole day. Erased people
    are not counted (their counts know months only)."""
    local = now.astimezone(tz)
    today = datetime.combine(local.date(), time(), tz)
    day_before = local.date() - timedelta(days=7)
    before = (datetime.combine(day_before, time(), tz), datetime.combine(day_before, local.time(), tz))

    def within(moment) -> ColumnElement[bool]:
        return or_(and_(moment >= today, moment <= now), and_(moment >= before[0], moment <= before[1]))

    counts = await _live_counts(session, within, lambda moment: moment >= today, regions, configured_admins)
    # The key is the comparison's truth: True (1 on SQLite) today, False (0) the week before.
    return [
        Beside(step, counts[step].get(True, 0), counts[step].get(False, 0)) for step in _shown(regions, TODAY_STEPS)
    ]


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
