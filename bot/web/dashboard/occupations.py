"""Pekerjaan: leads and registrations of the period per occupation, as bar charts and a table with each occupation's
share of the total. An officer sees the leads of her own regions only."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.dashboard_access import Viewer
from bot.services.dashboard_occupations import NOT_CHOSEN, per_occupation
from bot.web.dashboard.auth import signed_in
from bot.web.dashboard.charts import bars
from bot.web.dashboard.rendering import DASHBOARD, chosen_period, number, page, percent


@signed_in
async def occupations(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    t = dashboard.messages[viewer.contact.locale]
    period = chosen_period(request, dashboard)  # a date it cannot take: signed_in answers 400
    lines = await per_occupation(session, period, dashboard.settings.tz, viewer.regions)
    leads, registered = sum(line.leads for line in lines), sum(line.registered for line in lines)
    labels = [
        t(
            "dashboard.occupations.not_chosen"
            if line.occupation == NOT_CHOSEN
            else f"export.occupation.{line.occupation}"
        )
        for line in lines
    ]
    rows = [
        {
            "occupation": line.occupation or "none",
            "label": label,
            "leads": number(line.leads, t),
            "leads_share": percent(line.leads, leads, t),
            "registered": number(line.registered, t),
            "registered_share": percent(line.registered, registered, t),
            "conversion": percent(line.registered, line.leads, t),
        }
        for line, label in zip(lines, labels, strict=True)
    ]
    return page(
        request,
        viewer,
        t,
        period,
        "occupations",
        "occupations.html",
        rows=rows,
        total={"leads": number(leads, t), "registered": number(registered, t)},
        lead_chart=bars([(label, line.leads) for line, label in zip(lines, labels, strict=True)], t),
        registered_chart=bars([(label, line.registered) for line, label in zip(lines, labels, strict=True)], t),
    )
