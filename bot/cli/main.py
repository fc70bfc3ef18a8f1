"""`bpu-bot`: the parser of every command, and `run`, `chat` and `db upgrade`; the other groups have modules of
their own beside this one (officers, followups, broadcast, export, access, consent, retention,
understanding).

Every failure a person can fix (configuration, database, catalogs) ends in one line on stderr and exit code
2, without a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError

from bot.cli import access as access_cli
from bot.cli import broadcast as broadcast_cli
from bot.cli import consent as consent_cli
from bot.cli import dashboard as dashboard_cli
from bot.cli import export as export_cli
from bot.cli import followups as followups_cli
from bot.cli import officers as officers_cli
from bot.cli import retention as retention_cli
from bot.cli import understanding as understanding_cli
from bot.cli.common import CommandError
from bot.config import SUPPORTED_LOCALES, ConfigError, Settings, load_settings
from bot.content import ContentError
from bot.db import DatabaseNotReady, check_database, upgrade_database
from bot.i18n import CatalogError
from bot.logs import configure_logging

EXIT_USAGE = 2
# The command groups of their own modules, by command: each runs to completion, logging only warnings.
_GROUPS: dict[str, Callable[[Settings, argparse.Namespace], None]] = {
    "followups": followups_cli.run,
    "officers": officers_cli.run,
    "broadcast": broadcast_cli.run,
    "export": export_cli.run,
    "roles": access_cli.run,
    "audit": access_cli.run,
    "consent": consent_cli.run,
    "dashboard": dashboard_cli.run,
    "retention": retention_cli.run,
    "understand": understanding_cli.run,
    "understanding": understanding_cli.run,
}


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="bpu-bot", description="BPU outreach bot for BPJS Ketenagakerjaan")
    commands = main.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run every configured channel (the terminal chat when none is)")
    chat = commands.add_parser("chat", help="chat with the bot in this terminal (reads standard input)")
    chat.add_argument("--lang", choices=SUPPORTED_LOCALES, help="language of the conversation")
    chat.add_argument("--user", default="local", help="who is chatting (each user has their own conversation)")
    followups_cli.add_parser(commands)
    officers_cli.add_parser(commands)
    broadcast_cli.add_parser(commands)
    export_cli.add_parser(commands)
    access_cli.add_parsers(commands)
    consent_cli.add_parser(commands)
    dashboard_cli.add_parser(commands)
    retention_cli.add_parser(commands)
    understanding_cli.add_parsers(commands)
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply the database migrations")
    return main


async def _chat(settings: Settings, user: str, lang: str | None) -> None:
    from bot.app import create_app
    from bot.channels.terminal import CHANNEL, TerminalChat
    from bot.services.contacts import set_locale

    if lang is not None:
        settings = dataclasses.replace(settings, default_locale=lang)
    app = create_app(settings)
    try:
        await check_database(app.engine)
        if lang is not None:
            async with app.dispatcher.sessions.begin() as session:
                await set_locale(session, CHANNEL, user, lang)
        await TerminalChat(app.dispatcher, user).run()
    finally:
        await app.close()


def _serve(settings: Settings) -> None:
    from bot.app import create_app
    from bot.cli.run import Runtime

    async def serve() -> None:
        app = create_app(settings)
        try:
            await check_database(app.engine)
        except BaseException:
            await app.close()
            raise
        await Runtime(app).run_until_stopped()

    asyncio.run(serve())


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        if (run := _GROUPS.get(args.command)) is not None:
            configure_logging("WARNING", settings.secrets)
            run(settings, args)
        elif args.command == "db":
            configure_logging("WARNING", settings.secrets)
            upgrade_database(settings.database_url)
            print("database is up to date")
        elif args.command == "chat" or (
            args.command == "run" and not (settings.telegram_enabled or settings.whatsapp_enabled)
        ):
            # The conversation owns the terminal: only warnings go to stderr.
            configure_logging("WARNING", settings.secrets)
            asyncio.run(_chat(settings, getattr(args, "user", "local"), getattr(args, "lang", None)))
        else:
            configure_logging(settings.log_level, settings.secrets)
            _serve(settings)
    except (ConfigError, ContentError, CatalogError, DatabaseNotReady, CommandError) as error:
        print(f"bpu-bot: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except DBAPIError as error:  # not a database file, no permission, disk full...
        print(f"bpu-bot: error: the database at DATABASE_URL cannot be used: {error.orig}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return 0
