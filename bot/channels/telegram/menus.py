"""Telegram's command menus: the default one every chat shows, and the own menu of each officer's, staff
member's and admin's chat (given by bot/workers/menus.py)."""

from __future__ import annotations

import logging

from telegram import BotCommand, BotCommandScopeChat
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import Application

from bot.app import BotApp
from bot.channels.telegram.sending import NETWORK_RETRY_SECONDS, retry_seconds
from bot.i18n import Translator
from bot.models import Role
from bot.workers.delivery import NetworkDown, RetryLater

log = logging.getLogger(__name__)

# Shown in Telegram's command menu, in this order; the handlers accept English aliases too.
MENU_COMMANDS = ("start", "menu", "bahasa", "datasaya", "berhenti", "mulai", "hapus", "bantuan")
# A role's own menu: its work first (as its /bantuan lists it), then the everyday commands.
_EVERYDAY = ("menu", "bantuan", "bahasa", "datasaya")
_STAFF = ("tugas", "cari", "siaran", "ekspor", "dasbor", "petugas", "undang", *_EVERYDAY)
ROLE_COMMANDS = {
    Role.OFFICER: ("tugas", "cari", "kode", "siaran", "ekspor", "dasbor", *_EVERYDAY),
    Role.STAFF: _STAFF,
    Role.ADMIN: _STAFF,
}


def _commands(t: Translator, names: tuple[str, ...]) -> list[BotCommand]:
    return [BotCommand(name, t(f"telegram.command.{name}")) for name in names]


async def set_commands(application: Application, app: BotApp) -> None:
    """The command menu in both languages: Indonesian by default, English for English-language apps."""
    for locale in app.messages.locales:
        language = None if locale == app.settings.default_locale else locale
        await application.bot.set_my_commands(_commands(app.messages[locale], MENU_COMMANDS), language_code=language)


class TelegramMenus:
    """A chat's own command menu (bot/workers/menus.py's MenuHolder), in the person's language: Telegram shows
    it instead of the default, whatever language their app is in."""

    def __init__(self, bot, messages):
        self.bot = bot
        self.messages = messages

    async def show_menu(self, external_id: str, role: Role, locale: str) -> bool:
        scope = BotCommandScopeChat(int(external_id))
        try:
            if role is Role.WORKER:
                await self.bot.delete_my_commands(scope=scope)
            else:
                await self.bot.set_my_commands(_commands(self.messages[locale], ROLE_COMMANDS[role]), scope=scope)
        except Forbidden:  # blocked the bot
            return False
        except BadRequest as error:
            if "not found" in error.message.lower():  # chat or user not found: the account is gone
                return False
            # Something in what we sent (a description too long in a translation): said, and tried again.
            log.error("telegram refused a command menu: %s", error.message)
            raise RetryLater(NETWORK_RETRY_SECONDS, reason="refused") from None
        except RetryAfter as error:
            raise RetryLater(retry_seconds(error)) from None
        except NetworkError:  # a timeout too: giving the same menu twice does no harm
            raise NetworkDown(NETWORK_RETRY_SECONDS) from None
        return True
