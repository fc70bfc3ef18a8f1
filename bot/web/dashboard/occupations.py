"""Pekerjaan: leads and registrations of the period per occupation, as bar charts and a table with each occupation's
share of the total. An officer sees the leads of her own regions only."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.dashboard_access import Viewer
from bot.services.dashboard_occupations import NOT_CHOSEN, per_occupation
from bot.web.dashboard.auth import signed_in
from bot.web.dashboard.charts import breakdown
from bot.web.dashboard.rendering import DASHBOARD, chosen_period, page


@signed_in
async def occupations(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    t = dashboard.messages[viewer.contact.locale]
    period = chosen_period(request, dashboard)  # a date it cannot take: signed_in answers 400
    lines = await per_occupation(session, period, dashboard.settings.tz, viewer.regions)
    figures = breakdown(
        [
            (
                line.occupation or "none",
                t(
                    "dashboard.occupations.not_chosen"
                    if line.occupation == NOT_CHOSEN
                    else f"export.occupation.{line.occupation}"
                ),
                line.leads,
                line.registered,
            )
            for line in lines
        ],
        t,
    )
    return page(request, viewer, t, period, "occupations", "occupations.html", **figures)
