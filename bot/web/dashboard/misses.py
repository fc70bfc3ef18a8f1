"""Belum dimengerti: the messages the bot did not understand in the period, most frequent first, with the step they
were typed at, for staff and admins (an officer is refused: the words are not any region's figures).

The texts are those `bpu-bot understanding misses` lists (bot/services/misses.py): masked when kept, and masked
again here, so a row kept before a masking rule was added shows no number either.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.dashboard_access import Viewer
from bot.services.misses import count_misses, grouped_misses, mask_miss
from bot.web.dashboard.auth import signed_in, staff_only
from bot.web.dashboard.charts import bars
from bot.web.dashboard.rendering import DASHBOARD, chosen_period, excerpt, moment, number, page

LISTED = 50
CHARTED = 10
LABEL_LENGTH = 26  # characters of a message beside its bar (the whole message is in the table)


@signed_in
@staff_only
async def misses(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    t = dashboard.messages[viewer.contact.locale]
    tz = dashboard.settings.tz
    period = chosen_period(request, dashboard)  # a date it cannot take: signed_in answers 400
    start, end = period.bounds(tz)
    groups = await grouped_misses(session, start, end, LISTED)
    total = await count_misses(session, start, end)

    rows = [
        {
            "text": mask_miss(group.text),
            "state": group.state,
            "count": number(group.count, t),
            "first_seen": moment(group.first_seen, t, tz),
            "last_seen": moment(group.last_seen, t, tz),
        }
        for group in groups
    ]
    chart = bars(
        [(excerpt(row["text"], LABEL_LENGTH), group.count) for row, group in zip(rows[:CHARTED], groups, strict=False)],
        t,
    )
    return page(request, viewer, t, period, "misses", "misses.html", rows=rows, chart=chart, total=number(total, t))
