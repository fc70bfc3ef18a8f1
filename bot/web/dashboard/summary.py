"""Ringkasan: the funnel of a chosen period, from a started chat to a registration, as a bar chart and a table
with the conversion between steps.

Staff and admins see every step; an officer sees the steps from the lead on, in their own regions (the steps
before have no region: people say where they live when they leave their contact). "Asked the cost" is not a
step: the bot does not record who used the calculator. How erased people are still counted:
bot/services/dashboard.py.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.dashboard import funnel
from bot.services.dashboard_access import Viewer
from bot.web.dashboard.auth import signed_in
from bot.web.dashboard.rendering import DASHBOARD, bars, chosen_period, number, page, percent

# Each step's conversion is from the step it follows; a registration and a refusal both follow a call.
FROM_STEP = {"registered": "reached", "declined": "reached"}


@signed_in
async def summary(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    t = dashboard.messages[viewer.contact.locale]
    period = chosen_period(request, dashboard)  # a date it cannot take: signed_in answers 400
    settings = dashboard.settings
    steps = await funnel(session, period, settings.tz, viewer.regions, settings.admin_telegram_ids)
    counts = {step.name: step.count for step in steps}
    rows = []
    for index, step in enumerate(steps):
        before = FROM_STEP.get(step.name) or (steps[index - 1].name if index else None)
        rows.append(
            {
                "name": step.name,
                "label": t(f"dashboard.step.{step.name}"),
                "count": number(step.count, t),
                "erased": number(step.erased, t),
                "conversion": percent(step.count, counts[before], t) if before in counts else "",
                "from": t(f"dashboard.step.{before}") if before in counts else "",
            }
        )
    chart = bars([(row["label"], step.count) for row, step in zip(rows, steps, strict=True)], t)
    return page(request, viewer, t, period, "summary", "summary.html", rows=rows, chart=chart)
