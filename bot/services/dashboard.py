"""The dashboard's figures: the funnel of a period, the same per local week, today beside the same weekday a week
before, and leads and registrations per kabupaten/kota, each counted by the database (COUNT, SUM, GROUP BY over
indexed columns), never by loading rows. The funnel, its weeks and today's figures are each one statement over a
table of windows (the period, each week, today and the same time a week before): every step is a subquery per
window, read from an index that holds all the columns it needs (migration 0012).

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

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, Select, and_, case, column, distinct, func, literal, or_, select, values
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Consent, ConsentPurpose, Contact, ErasedCount, Lead, LeadEvent, LeadStatus, UTCDateTime

# The stages that mean an officer talked with the person (whatever they answered).
REACHED = (LeadStatus.DIHUBUNGI, LeadStatus.AKAN_DAFTAR, LeadStatus.TERDAFTAR, LeadStatus.TIDAK_TERTARIK)
# Lead history written by the person themselves (a reminder's answer) or by the bot: nobody called.
NOT_AN_OFFICER = ("worker", "system")
# The funnel's steps in order; the first three have no region (people say where they live with their contact).
STEPS = ("started", "occupation", "asked_cost", "agreed", "lead", "reached", "registered", "declined")
REGIONLESS_STEPS = ("started", "occupation", "asked_cost", "agreed")


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


async def _live_counts(
    session: AsyncSession,
    windows: Sequence[tuple[datetime, datetime]],
    regions: Sequence[str] | None,
    configured_admins: frozenset[str],
) -> dict[str, list[int]]:
    """Each step's count of the rows still held in each window (a moment from `start` to before `end`), one per
    window in order: the windows are a table of their own (VALUES), and each step a subquery on each window,
    counted from an index that holds every column it reads (migration 0012), so that neither a row nor a per-row
    date function is read, and nothing is sorted but the ids a distinct count needs. Limited to `regions` (an
    officer's), the steps without a region are left out (zero) and the leads moved are a second statement."""
    table = (
        values(column("key", Integer), column("since", UTCDateTime()), column("until", UTCDateTime()), name="windows")
        .data([(key, start, end) for key, (start, end) in enumerate(windows)])
        .cte()
    )

    def within(moment) -> ColumnElement[bool]:
        return and_(moment >= table.c.since, moment < table.c.until)

    steps: dict[str, Any] = {}
    if regions is None:
        # People with a role (officers, staff trying the bot) are not the audience: the index holds only the
        # others, under this very condition. Admins by ADMIN_TELEGRAM_IDS may have none: theirs are taken off,
        # found by channel and id (unique), rather than checked on every contact.
        audience = (within(Contact.created_at), Contact.role.is_(None))
        started: ColumnElement[Any] = select(func.count()).select_from(Contact).where(*audience).scalar_subquery()
        chose: ColumnElement[Any] = select(func.count(Contact.occupation)).where(*audience).scalar_subquery()
        asked: ColumnElement[Any] = select(func.count(Contact.asked_cost_at)).where(*audience).scalar_subquery()
        if configured_admins:
            admins = (Contact.channel == "telegram", Contact.external_id.in_(sorted(configured_admins)), *audience)
            started = started - select(func.count()).select_from(Contact).where(*admins).scalar_subquery()
            chose = chose - select(func.count(Contact.occupation)).where(*admins).scalar_subquery()
            asked = asked - select(func.count(Contact.asked_cost_at)).where(*admins).scalar_subquery()
        steps["started"], steps["occupation"], steps["asked_cost"] = started, chose, asked
        steps["agreed"] = (
            select(func.count(distinct(Consent.contact_id)))
            .where(Consent.purpose == ConsentPurpose.LEAD_CONTACT, Consent.granted, within(Consent.decided_at))
            .scalar_subquery()
        )
    leads = select(func.count()).select_from(Lead).where(within(Lead.created_at))
    if regions is not None:
        leads = leads.where(Lead.region.in_(regions))
    steps["lead"] = leads.scalar_subquery()
    by_an_officer = and_(LeadEvent.to_status.in_(REACHED), LeadEvent.actor.not_in(NOT_AN_OFFICER))
    registered, declined = LeadEvent.to_status == LeadStatus.TERDAFTAR, LeadEvent.to_status == LeadStatus.TIDAK_TERTARIK
    if regions is None:
        # Each a distinct count of lead ids read from the index by status and moment.
        for step, condition in (("reached", by_an_officer), ("registered", registered), ("declined", declined)):
            steps[step] = (
                select(func.count(distinct(LeadEvent.lead_id))).where(condition, within(LeadEvent.at)).scalar_subquery()
            )

    counts = {step: [0] * len(windows) for step in STEPS}

    async def keep(query: Select[Any], *names: str) -> None:
        for key, *figures in await session.execute(query):
            for step, figure in zip(names, figures, strict=True):
                counts[step][key] = int(figure)

    await keep(select(table.c.key, *steps.values()), *steps)
    if regions is not None:
        # An officer's leads moved: her region's lead ids gathered once, each event of the windows checked against
        # them (rather than its lead read for its region), one pass for the three steps, grouped by window.
        def leads_where(condition: ColumnElement[bool]):
            return func.count(distinct(case((condition, LeadEvent.lead_id))))

        hers = LeadEvent.lead_id.in_(select(Lead.id).where(Lead.region.in_(regions)))
        steps_moved = (leads_where(by_an_officer), leads_where(registered), leads_where(declined))
        bind = session.bind
        assert bind is not None  # every session comes from session_factory(engine)
        if bind.dialect.name == "postgresql":
            # PostgreSQL would join each of her events to every window: its window is found by bisection instead.
            bucket, keys = _buckets(LeadEvent.at, windows)
            moved = (
                select(bucket, *steps_moved)
                .where(
                    LeadEvent.to_status.in_(REACHED), hers, or_(*(_in(LeadEvent.at, *span) for span in _spans(windows)))
                )
                .group_by(bucket)
            )
            for number, *figures in await session.execute(moved):
                for step, figure in zip(("reached", "registered", "declined"), figures, strict=True):
                    counts[step][keys[number]] = int(figure)
        else:  # SQLite reads each window's events from the index, window by window
            moved = (
                select(table.c.key, *steps_moved)
                .join(LeadEvent, and_(within(LeadEvent.at), LeadEvent.to_status.in_(REACHED), hers))
                .group_by(table.c.key)
            )
            await keep(moved, "reached", "registered", "declined")
    return counts


def _spans(windows: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The windows joined where one ends as the next starts (the weeks of a period make one span)."""
    spans: list[tuple[datetime, datetime]] = []
    for start, end in sorted(windows):
        if spans and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _buckets(moment, windows: Sequence[tuple[datetime, datetime]]) -> tuple[ColumnElement[int], dict[int, int]]:
    """PostgreSQL's width_bucket of `moment` among the windows' bounds (in order, a gap between two windows a
    bucket of its own), and which window (its place in `windows`) each bucket of a window is."""
    bounds: list[datetime] = []
    keys = {}
    for key, (start, end) in sorted(enumerate(windows), key=lambda item: item[1][0]):
        if not bounds or bounds[-1] != start:
            bounds.append(start)
        keys[len(bounds)] = key  # width_bucket: n when bounds[n - 1] <= moment < bounds[n]
        bounds.append(end)
    array = postgresql.array([literal(bound, UTCDateTime()) for bound in bounds])
    return func.width_bucket(moment, array), keys


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
    counts = await _live_counts(session, [(start, end)], regions, configured_admins)
    live = {step: figures[0] for step, figures in counts.items()}

    erased = dict.fromkeys(STEPS, 0)
    if months:
        came, left = ErasedCount.started_month.in_(months), ErasedCount.lead_month.in_(months)

        def total(condition: ColumnElement[bool], counted=ErasedCount.count):
            return func.coalesce(func.sum(case((condition, counted), else_=literal(0))), 0)

        query = select(
            total(came),
            total(and_(came, ErasedCount.occupation != "")),
            total(came, ErasedCount.asked_cost),
            total(left),
            total(and_(left, ErasedCount.outcome.in_(REACHED))),
            total(and_(left, ErasedCount.outcome == LeadStatus.TERDAFTAR)),
            total(and_(left, ErasedCount.outcome == LeadStatus.TIDAK_TERTARIK)),
        ).where(came | left)
        if regions is not None:
            query = query.where(ErasedCount.region.in_(regions))
        started, occupation, asked, lead, reached, registered, declined = (await session.execute(query)).one()
        erased["started"], erased["occupation"], erased["asked_cost"] = started, occupation, asked
        erased["lead"] = erased["agreed"] = lead  # a lead is only saved after the person agreed
        erased["reached"], erased["registered"], erased["declined"] = reached, registered, declined
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
    """The steps of the period per local week, each week counted by the database as a window of its own: from its
    Monday's local midnight (the period's first moment for the first week) to the next Monday's (the period's end
    for the last). The midnights are found here with the zone's rules, summer time included, so the database
    compares stored moments only. People erased are left out: their counts know months only, which cannot be
    split into weeks."""
    start, end = period.bounds(tz)
    mondays = []
    monday = monday_of(period.first)
    while monday <= period.last:
        mondays.append(monday)
        monday += timedelta(days=7)
    midnights = [datetime.combine(day, time(), tz) for day in mondays] + [end]
    windows = [(max(since, start), min(until, end)) for since, until in itertools.pairwise(midnights)]
    counts = await _live_counts(session, windows, regions, configured_admins)
    return Weekly(mondays, {step: counts[step] for step in _shown(regions)})


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

    # Up to and including `now`: moments are kept to the microsecond.
    tick = timedelta(microseconds=1)
    windows = [(today, now + tick), (before[0], before[1] + tick)]
    counts = await _live_counts(session, windows, regions, configured_admins)
    return [Beside(step, counts[step][0], counts[step][1]) for step in _shown(regions, TODAY_STEPS)]


def registered_in(start: datetime, end: datetime) -> Select[int]:
    """The ids of the leads recorded as registered from `start` to before `end`: read from the index of the history
    by status and moment alone, then each lead's region or occupation read once (not once per record)."""
    return select(LeadEvent.lead_id).where(LeadEvent.to_status == LeadStatus.TERDAFTAR, _in(LeadEvent.at, start, end))


async def leads_and_registered(
    session: AsyncSession, period: Period, tz: ZoneInfo, by: str, regions: Sequence[str] | None = None
) -> list[tuple[str, int, int]]:
    """Leads saved and leads registered in the period, per value of the lead's column `by` ("region" or
    "occupation"), the people erased since added from their months; limited to `regions` (an officer's). Values
    as stored: what each page shows of them (every configured region, every occupation) is the page's."""
    start, end = period.bounds(tz)
    months = period.months
    column, kept = getattr(Lead, by), getattr(ErasedCount, by)
    leads = select(column, func.count()).where(_in(Lead.created_at, start, end)).group_by(column)
    registered = (
        select(column, func.count())
        .where(Lead.id.in_(registered_in(start, end)))  # each lead once, however many times recorded
        .group_by(column)
    )
    erased = (
        select(
            kept,
            func.sum(ErasedCount.count),
            func.sum(case((ErasedCount.outcome == LeadStatus.TERDAFTAR, ErasedCount.count), else_=literal(0))),
        )
        .where(ErasedCount.lead_month.in_(months))
        .group_by(kept)
    )
    if regions is not None:
        leads, registered = leads.where(Lead.region.in_(regions)), registered.where(Lead.region.in_(regions))
        erased = erased.where(ErasedCount.region.in_(regions))
    counts: dict[str, list[int]] = {}
    for value, count in await session.execute(leads):
        counts.setdefault(value or "", [0, 0])[0] += count
    for value, count in await session.execute(registered):
        counts.setdefault(value or "", [0, 0])[1] += count
    if months:
        for value, count, done in await session.execute(erased):
            line = counts.setdefault(value or "", [0, 0])
            line[0], line[1] = line[0] + int(count), line[1] + int(done)
    return [(value, leads_, done) for value, (leads_, done) in counts.items()]


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
    counts: dict[str, list[int]] = {region: [0, 0] for region in listed if regions is None or region in regions}
    for region, leads, done in await leads_and_registered(session, period, tz, "region", regions):
        if region:  # an erased person who left no region is counted in no region
            line = counts.setdefault(region, [0, 0])
            line[0], line[1] = line[0] + leads, line[1] + done
    lines = [RegionLine(region, leads_, done) for region, (leads_, done) in counts.items()]
    return sorted(lines, key=lambda line: (-line.leads, -line.registered, line.region))
