"""/dasbor: a one-time link into the staff dashboard in the browser, for officers, staff and admins.

The link works once, within 15 minutes, and signs in only the person who asked (bot/services/dashboard_access.py).
Workers are refused by the router, like every staff command, and the attempt is audited. Opening the link
shows a button first: link previews and scanners that fetch it do not use it up.
"""

from __future__ import annotations

from bot.config import DASHBOARD_LOGIN_PATH
from bot.conversation.router import Router
from bot.conversation.turn import Turn
from bot.models import Role
from bot.services.audit import record_event
from bot.services.dashboard_access import LINK_LIFETIME, create_link

router = Router("dashboard")


@router.command("dasbor", "dashboard", role=Role.OFFICER)
async def dashboard_link(turn: Turn) -> None:
    token = await create_link(turn.session, turn.contact, turn.now)
    await record_event(turn.session, turn.actor, "dashboard", turn.now, change="link", via="chat")
    url = turn.settings.dashboard_base + DASHBOARD_LOGIN_PATH + token
    turn.say("dashboard.link", url=url, minutes=int(LINK_LIFETIME.total_seconds() // 60))
    await turn.prompt()
