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
from datetime import datetime

from sqlalchemy.exc import DBAPIError

from bot.config import SUPPORTED_LOCALES, ConfigError, Settings, load_settings
from bot.content import ContentError
from bot.db import DatabaseNotReady, check_database, upgrade_database
from bot.i18n import CatalogError
from bot.models import FollowUpStatus
from bot.phone import mask_numbers

EXIT_USAGE = 2


class UsageError(Exception):
    """A command-line value that cannot be used; said in one line."""


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
    followups = commands.add_parser("followups", help="reminders and call tasks")
    followups_commands = followups.add_subparsers(dest="followups_command", required=True)
    listing = followups_commands.add_parser("list", help="print follow-ups as a table, soonest due first")
    listing.add_argument(
        "--due-before", metavar="WHEN", help="local date or date and time, e.g. 2026-12-01 or 2026-12-01T12:00"
    )
    listing.add_argument("--status", metavar="S[,S]", help=f"one or more of {', '.join(FollowUpStatus)}")
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


def _followup_filters(settings: Settings, due_before: str | None, status: str | None):
    when = None
    if due_before:
        try:
            when = datetime.fromisoformat(due_before)
        except ValueError:
            raise UsageError(
                f"--due-before {due_before!r} is not a date such as 2026-12-01 or 2026-12-01T12:00"
            ) from None
        when = when.replace(tzinfo=settings.tz) if when.tzinfo is None else when
    statuses = tuple(s.strip() for s in status.split(",")) if status else ()
    if unknown := [s for s in statuses if s not in FollowUpStatus.__members__.values()]:
        raise UsageError(f"--status {unknown[0]!r} is not one of {', '.join(FollowUpStatus)}")
    return when, statuses


async def _list_followups(settings: Settings, due_before: str | None, status: str | None) -> None:
    from bot.db import create_engine, session_factory
    from bot.phone import mask_phone
    from bot.services.followups import list_followups

    when, statuses = _followup_filters(settings, due_before, status)
    engine = create_engine(settings.database_url)
    try:
        await check_database(engine)
        async with session_factory(engine)() as session:
            lines = await list_followups(session, when, statuses)
    finally:
        await engine.dispose()
    header = ("ID", "KIND", "STATUS", "DUE", "TRIES", "OUTCOME", "NAME", "PHONE", "REGION", "CHANNEL")
    rows = [
        (
            str(line.followup.id),
            line.followup.kind,
            line.followup.status,
            line.followup.due_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M"),
            str(line.followup.attempts),
            line.followup.outcome or "",
            line.lead.name if line.lead else "",
            mask_phone(line.lead.phone) if line.lead else "",
            line.lead.region if line.lead else "",
            line.channel,
        )
        for line in lines
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print(f"{len(rows)} follow-ups ({settings.timezone})", file=sys.stderr)


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
        if args.command == "followups":
            configure_logging("WARNING")
            asyncio.run(_list_followups(settings, args.due_before, args.status))
        elif args.command == "db":
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
    except (ConfigError, ContentError, CatalogError, DatabaseNotReady, UsageError) as error:
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
