"""Officers', staff's and admins' own Telegram command menus: given when a role is granted, taken back when it
goes, and given again in the person's language when they change it.

The leader looks every IDLE_SECONDS (and at once when it takes up the work) for the chats whose menu is not the
one their role calls for (bot/services/menus.py) and tells Telegram, one chat after another. A chat Telegram
refuses (the person blocked the bot) is recorded as done: there is nobody to show a menu to.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.conversation.dispatcher import Dispatcher
from bot.models import Role
from bot.services.menus import MenuChange, menus_to_change, record_menu
from bot.workers.background import Worker
from bot.workers.delivery import RetryLater

log = logging.getLogger(__name__)

IDLE_SECONDS = 30.0  # a role granted from the command line or another process shows in the menu within this


class MenuHolder(Protocol):
    """A platform that keeps a command menu per chat (Telegram)."""

    async def show_menu(self, external_id: str, role: Role, locale: str) -> bool:
        """Give the chat the menu of `role` (a worker's: the default) in `locale`; False when the platform refused
        that chat for good. Raises RetryLater when it should be tried again later."""
        ...


class CommandMenus(Worker):
    idle_seconds = IDLE_SECONDS

    def __init__(self, dispatcher: Dispatcher, holder: MenuHolder):
        super().__init__()
        self.dispatcher = dispatcher
        self.holder = holder

    async def step(self) -> bool:
        """Give every chat whose menu is out of date its menu. Always False: roles change seldom, and what
        changes later (or what Telegram asked to wait) is found at the next look or wake."""
        async with self.dispatcher.sessions() as session:
            changes = await menus_to_change(session, self.dispatcher.settings.admin_telegram_ids)
        for change in changes:
            if self.stopping or not await self._change(change):
                break
        return False

    async def _change(self, change: MenuChange) -> bool:
        try:
            shown = await self.holder.show_menu(change.external_id, change.role, change.locale)
        except RetryLater as later:
            log.warning("telegram's command menus wait for the next look (%s)", type(later).__name__)
            return False
        if not shown:
            log.info("contact %s's chat refused a command menu: recorded as done", change.contact_id)
        async with self.dispatcher.sessions.begin() as session:
            await record_menu(session, change)
        return True
