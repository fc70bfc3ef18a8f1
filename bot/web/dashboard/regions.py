"""Wilayah: leads and registrations of the period per kabupaten/kota, as a bar chart and a table with each
region's share of the total. An officer sees their own regions only, every other name left out."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.dashboard import per_region
from bot.services.dashboard_access import Viewer
from bot.web.dashboard.auth import signed_in
from bot.web.dashboard.charts import breakdown
from bot.web.dashboard.rendering import DASHBOARD, chosen_period, page


@signed_in
async def regions(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    t = dashboard.messages[viewer.contact.locale]
    period = chosen_period(request, dashboard)  # a date it cannot take: signed_in answers 400
    lines = await per_region(session, period, dashboard.settings.tz, dashboard.content.regions, viewer.regions)
    figures = breakdown([(line.region, line.region, line.leads, line.registered) for line in lines], t)
    return page(request, viewer, t, period, "regions", "regions.html", **figures)
