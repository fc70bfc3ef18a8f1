"""Wilayah: leads and registrations of the period per kabupaten/kota, as a bar chart and a table with each
region's share of the total. An officer sees their own regions only, every other name left out."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.dashboard import per_region
from bot.services.dashboard_access import Viewer
from bot.web.dashboard.auth import signed_in
from bot.web.dashboard.charts import bars
from bot.web.dashboard.rendering import DASHBOARD, chosen_period, number, page, percent


@signed_in
async def regions(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    t = dashboard.messages[viewer.contact.locale]
    period = chosen_period(request, dashboard)  # a date it cannot take: signed_in answers 400
    lines = await per_region(session, period, dashboard.settings.tz, dashboard.content.regions, viewer.regions)
    leads, registered = sum(line.leads for line in lines), sum(line.registered for line in lines)
    rows = [
        {
            "region": line.region,
            "leads": number(line.leads, t),
            "leads_share": percent(line.leads, leads, t),
            "registered": number(line.registered, t),
            "registered_share": percent(line.registered, registered, t),
            "conversion": percent(line.registered, line.leads, t),
        }
        for line in lines
    ]
    return page(
        request,
        viewer,
        t,
        period,
        "regions",
        "regions.html",
        rows=rows,
        total={"leads": number(leads, t), "registered": number(registered, t)},
        lead_chart=bars([(line.region, line.leads) for line in lines], t),
        registered_chart=bars([(line.region, line.registered) for line in lines], t),
    )
