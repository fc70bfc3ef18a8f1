"""`bpu-bot`: run the bot, chat with it in the terminal, migrate its database.

Every failure a person can fix (configuration, database, catalogs) ends in one line on stderr and exit code
2, without a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys

from sqlalchemy.exc import DBAPIError

from bot.config import SUPPORTED_LOCALES, ConfigError, Settings, load_settings
from bot.content import ContentError
from bot.db import DatabaseNotReady, check_database, upgrade_database
from bot.i18n import CatalogError
from bot.phone import mask_numbers

EXIT_USAGE = 2


class _MaskingFilter(logging.Filter):
    """Phone numbers and NIK-like digit runs never reach a log line, whoever logged them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_numbers(record.getMessage())
        record.args = None
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_MaskingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # httpx logs every request URL at INFO, and a Bot API URL contains the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="bpu-bot", description="BPU outreach bot for BPJS Ketenagakerjaan")
    commands = main.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run every configured channel (the terminal chat when none is)")
    chat = commands.add_parser("chat", help="chat with the bot in this terminal (reads standard input)")
    chat.add_argument("--lang", choices=SUPPORTED_LOCALES, help="language of the conversation")
    chat.add_argument("--user", default="local", help="who is chatting (each user has their own conversation)")
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


def _run_telegram(settings: Settings) -> None:
    from bot.app import create_app
    from bot.channels.telegram import build_application

    app = create_app(settings)

    async def check() -> None:
        await check_database(app.engine)
        await app.engine.dispose()  # its connections belong to this loop; PTB's loop opens its own

    asyncio.run(check())
    application = build_application(app)
    logging.getLogger("bpu-bot").info("serving Telegram through %s", settings.telegram_base_url.split("/bot")[0])
    application.run_polling(allowed_updates=["message", "callback_query"])


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "db":
            configure_logging("WARNING")
            upgrade_database(settings.database_url)
            print("database is up to date")
        elif args.command == "chat" or (args.command == "run" and not settings.telegram_enabled):
            # The conversation owns the terminal: only warnings go to stderr.
            configure_logging("WARNING")
            asyncio.run(_chat(settings, getattr(args, "user", "local"), getattr(args, "lang", None)))
        else:
            configure_logging(settings.log_level)
            _run_telegram(settings)
    except (ConfigError, ContentError, CatalogError, DatabaseNotReady) as error:
        print(f"bpu-bot: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except DBAPIError as error:  # not a database file, no permission, disk full...
        print(f"bpu-bot: error: the database at DATABASE_URL cannot be used: {error.orig}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
