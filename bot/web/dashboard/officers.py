"""Petugas: each officer's work, as tables and bar charts: open and overdue tasks now, tasks done and outcomes
recorded in the period, and the median wait from a lead's saving to the officer's first call on it.

Staff and admins see every officer (one removed only with work in the period) and the unassigned pool's tasks; an
officer sees her own line and no other name. What each figure counts: bot/services/dashboard_officers.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from babel.units import format_unit
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.services.dashboard_access import Viewer
from bot.services.dashboard_officers import OfficerLine, per_officer
from bot.services.officers import find_officer
from bot.services.tasks import CALL_OUTCOMES
from bot.web.dashboard.auth import signed_in
from bot.web.dashboard.charts import Bar, bars
from bot.web.dashboard.rendering import DASHBOARD, chosen_period, number, page


@dataclass(frozen=True)
class OpenBar:
    """An officer's open tasks, with the overdue part drawn over the start of the bar."""

    bar: Bar
    overdue: int
    overdue_width: int


def duration(delta: timedelta, t: Translator) -> str:
    """A wait in the two largest units that matter, in the page's language: "2 hari 3 jam", "5 jam", "40 menit"."""
    minutes = round(delta.total_seconds() / 60)
    if minutes < 60:
        return format_unit(minutes, "duration-minute", length="long", locale=t.locale)
    hours, minutes = divmod(minutes, 60)
    larger, smaller = (hours, "duration-hour"), (minutes, "duration-minute")
    if hours >= 24:
        (days, hours) = divmod(hours, 24)
        larger, smaller = (days, "duration-day"), (hours, "duration-hour")
    shown = format_unit(larger[0], larger[1], length="long", locale=t.locale)
    if not smaller[0]:
        return shown
    rest = format_unit(smaller[0], smaller[1], length="long", locale=t.locale)
    return t("dashboard.officers.duration", larger=shown, smaller=rest)


def _name(line: OfficerLine, t: Translator) -> str:
    if line.officer_id is None:
        return t("dashboard.officers.pool")
    return t("dashboard.officers.removed", name=line.name) if line.removed else line.name


@signed_in
async def officers(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    t = dashboard.messages[viewer.contact.locale]
    period = chosen_period(request, dashboard)  # a date it cannot take: signed_in answers 400
    settings, now = dashboard.settings, dashboard.clock()
    if viewer.sees_all:
        lines = await per_officer(session, period, settings.tz, now)
    else:  # an officer: her own line, and nobody else's (none at all if she is no officer row any more)
        me = await find_officer(session, viewer.contact.id)
        lines = await per_officer(session, period, settings.tz, now, me.id) if me is not None else []
    names = [_name(line, t) for line in lines]
    tasks = [
        {
            "name": name,
            "pool": line.officer_id is None,
            "late": bool(line.overdue),
            "open": number(line.open_tasks, t),
            "overdue": number(line.overdue, t),
            "done": number(line.done, t),
        }
        for line, name in zip(lines, names, strict=True)
    ]
    calls = [
        {
            "name": name,
            "outcomes": [number(line.outcomes.get(outcome, 0), t) for outcome in CALL_OUTCOMES],
            "first_calls": number(line.first_calls, t),
            "wait": duration(line.first_call_wait, t) if line.first_call_wait is not None else "–",
        }
        for line, name in zip(lines, names, strict=True)
        if line.officer_id is not None  # the pool records nothing: people do
    ]
    open_bars = [
        OpenBar(bar, line.overdue, 0 if not line.overdue else max(2, round(bar.width * line.overdue / line.open_tasks)))
        for bar, line in zip(
            bars([(name, line.open_tasks) for line, name in zip(lines, names, strict=True)], t), lines, strict=True
        )
    ]
    return page(
        request,
        viewer,
        t,
        period,
        "officers",
        "officers.html",
        tasks=tasks,
        calls=calls,
        done_chart=bars([(name, line.done) for line, name in zip(lines, names, strict=True)], t),
        open_chart=open_bars,
    )
