"""Officers', staff's and admins' own command menus on Telegram: given with the role, in the person's language,
taken back with the role, given once, and tried again when Telegram could not be reached or refused what was
sent."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select
from telegram import BotCommandScopeChat

from bot.app import BotApp
from bot.channels.telegram.menus import TelegramMenus
from bot.config import Settings
from bot.models import Contact, Role
from bot.services.audit import Actor
from bot.services.roles import set_role
from bot.workers.menus import CommandMenus
from tests.conftest import welcomed
from tests.test_officers import make_officer
from tests.transcript import dialog

ADMIN_ID = 900001
RINA_ID = 700001
OFFICER_MENU = ["tugas", "cari", "kode", "siaran", "ekspor", "dasbor", "menu", "bantuan", "bahasa", "datasaya"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, admin_telegram_ids=frozenset({str(ADMIN_ID)}))


@pytest.fixture
def menus(app: BotApp, telegram) -> CommandMenus:
    """The leader's worker, on the fake Bot API."""
    return CommandMenus(app.dispatcher, TelegramMenus(telegram.bot, app.messages))


async def menu_of(telegram, user_id: int) -> list[tuple[str, str]]:
    """What Telegram shows in this person's chat when they type "/" (nothing of its own: the default)."""
    commands = await telegram.bot.get_my_commands(scope=BotCommandScopeChat(user_id))
    return [(command.command, command.description) for command in commands]


def recorded_menu(db) -> str | None:
    """The menu the database says Rina's chat was given (None: the default)."""
    [(menu,)] = db("select command_menu from contacts where external_id = ?", str(RINA_ID))
    return menu


async def made_a_worker(app: BotApp, user_id: int) -> None:
    """Every role taken away, as `bpu-bot roles set ... worker` does."""
    admin = Actor("cli:test", Role.ADMIN)
    async with app.dispatcher.sessions.begin() as session:
        contact = (await session.scalars(select(Contact).where(Contact.external_id == str(user_id)))).one()
        await set_role(session, contact, Role.WORKER, admin, frozenset(), app.dispatcher.clock())


async def test_an_officer_gets_their_own_menu_in_their_language_and_loses_it_with_the_role(
    app, telegram, new_chat, bot_api, menus, db
):
    rina = await welcomed(new_chat("Rina", user_id=RINA_ID))
    await menus.step()
    assert await menu_of(telegram, RINA_ID) == [], "a worker has the default menu"

    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await menus.step()

    menu = await menu_of(telegram, RINA_ID)
    assert [command for command, _ in menu] == OFFICER_MENU
    assert ("tugas", "Tugas hari ini dan yang terlambat") in menu
    assert recorded_menu(db) == "officer:id"
    given = len(bot_api.calls_of("setMyCommands"))
    await menus.step()
    assert len(bot_api.calls_of("setMyCommands")) == given, "given once, not at every look"

    await dialog(rina).play("""
        > /bahasa
        > [English]
        < Language changed
    """)
    await menus.step()
    assert ("tugas", "Today's tasks and overdue ones") in await menu_of(telegram, RINA_ID)

    await made_a_worker(app, RINA_ID)
    await menus.step()
    assert await menu_of(telegram, RINA_ID) == [], "the officer's menu went with the role"
    assert recorded_menu(db) is None


async def test_a_configured_admin_gets_the_staff_menu_once_they_wrote(telegram, new_chat, menus):
    await menus.step()
    assert await menu_of(telegram, ADMIN_ID) == []

    await new_chat("Admin", user_id=ADMIN_ID).command("start")
    await menus.step()

    menu = [command for command, _ in await menu_of(telegram, ADMIN_ID)]
    assert menu[:7] == ["tugas", "cari", "siaran", "ekspor", "dasbor", "petugas", "undang"]
    assert ("undang", "Undang petugas baru") in await menu_of(telegram, ADMIN_ID)


async def test_a_menu_telegram_could_not_take_is_given_at_the_next_look_and_a_blocked_chat_is_left(
    app, telegram, new_chat, bot_api, menus, db
):
    await welcomed(new_chat("Rina", user_id=RINA_ID))
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    bot_api.fail_next("setMyCommands", 502, "Bad Gateway")

    await menus.step()
    assert await menu_of(telegram, RINA_ID) == []
    assert recorded_menu(db) is None

    # Refused for what was sent (as a translation too long would be): not recorded as given either.
    bot_api.fail_next("setMyCommands", 400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
    await menus.step()
    assert recorded_menu(db) is None

    await menus.step()
    assert [command for command, _ in await menu_of(telegram, RINA_ID)] == OFFICER_MENU

    await made_a_worker(app, RINA_ID)
    bot_api.fail_next("deleteMyCommands", 403, "Forbidden: bot was blocked by the user")
    await menus.step()
    tried = len(bot_api.calls_of("deleteMyCommands"))
    await menus.step()

    assert len(bot_api.calls_of("deleteMyCommands")) == tried, "a chat that refuses is not asked again and again"
    assert recorded_menu(db) is None
