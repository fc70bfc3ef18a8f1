"""Ringkasan: today's figures beside the same weekday a week before, the funnel of a chosen period, from a started
chat to a registration, as a bar chart and a table with the conversion between steps, and the same steps per
week as a line chart.

Staff and admins see every step; an officer sees the steps from the lead on, in their own regions (the steps
before have no region: people say where they live when they leave their contact). How erased people are still
counted: bot/services/dashboard.py.
"""

from __future__ import annotations

from aiohttp import web
from babel.dates import format_date, format_time
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.services.dashboard import Beside, funnel, funnel_by_week, today_beside_last_week
from bot.services.dashboard_access import Viewer
from bot.web.dashboard.auth import signed_in
from bot.web.dashboard.charts import bars, lines
from bot.web.dashboard.rendering import DASHBOARD, chosen_period, number, page, percent

# Each step's conversion is from the step it follows; agreeing is from choosing an occupation (nobody has to ask
# the cost first), a registration and a refusal both follow a call.
FROM_STEP = {"agreed": "occupation", "registered": "reached", "declined": "reached"}


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
    weekly = await funnel_by_week(session, period, settings.tz, viewer.regions, settings.admin_telegram_ids)
    pattern = "d MMM" if period.first.year == period.last.year else "d MMM yy"
    weeks = lines(
        [(step, t(f"dashboard.step.{step}"), counts) for step, counts in weekly.lines.items()],
        [format_date(monday, pattern, locale=t.locale) for monday in weekly.mondays],
        t,
    )
    now = dashboard.clock()
    today = await today_beside_last_week(session, now, settings.tz, viewer.regions, settings.admin_telegram_ids)
    local = now.astimezone(settings.tz)
    return page(
        request,
        viewer,
        t,
        period,
        "summary",
        "summary.html",
        rows=rows,
        chart=chart,
        weeks=weeks,
        today=[_beside(figures, t) for figures in today],
        weekday=format_date(local.date(), "EEEE", locale=t.locale),
        time=format_time(local, "short", tzinfo=settings.tz, locale=t.locale),
    )


def _beside(figures: Beside, t: Translator) -> dict[str, str]:
    change = figures.today - figures.week_before
    return {
        "name": figures.step,
        "label": t(f"dashboard.step.{figures.step}"),
        "today": number(figures.today, t),
        "week_before": number(figures.week_before, t),
        "change": number(abs(change), t),
        "direction": "up" if change > 0 else "down" if change < 0 else "same",
    }
