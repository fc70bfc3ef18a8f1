"""`bpu-bot`: run the bot, chat with it in the terminal, manage officers and roles, list follow-ups, broadcast,
export leads, read the audit log, migrate.

Every failure a person can fix (configuration, database, catalogs) ends in one line on stderr and exit code
2, without a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
from datetime import date, datetime, time

from sqlalchemy.exc import DBAPIError

from bot.cli import access as access_cli
from bot.cli import broadcast as broadcast_cli
from bot.cli import export as export_cli
from bot.cli.common import CommandError, command_line_actor, database, print_table
from bot.config import SUPPORTED_LOCALES, ConfigError, Settings, load_settings
from bot.content import ContentError
from bot.db import DatabaseNotReady, check_database, upgrade_database
from bot.i18n import CatalogError
from bot.logs import configure_logging
from bot.models import FollowUpStatus

EXIT_USAGE = 2


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
    listing.add_argument("--officer", metavar="ID", help="an officer's ID (`officers list`), or `none` for the pool")
    officers = commands.add_parser("officers", help="field officers: who covers which kabupaten/kota")
    officers_commands = officers.add_subparsers(dest="officers_command", required=True)
    adding = officers_commands.add_parser("add", help="make a Telegram user an officer of one or more regions")
    adding.add_argument("--name", required=True, help="the officer's name, as workers will see it")
    adding.add_argument("--telegram-id", required=True, metavar="ID", help="their numeric Telegram user id")
    adding.add_argument(
        "--region", required=True, action="append", metavar="NAME", help="a kabupaten/kota they cover (repeatable)"
    )
    officers_commands.add_parser("list", help="print the active officers as a table")
    removing = officers_commands.add_parser("remove", help="end an officer's role; their leads go to colleagues")
    removing.add_argument("id", metavar="ID", help="the officer's ID (see `officers list`)")
    link = officers_commands.add_parser("link", help="print an officer's personal link, optionally as a QR code")
    link.add_argument("id", metavar="ID", help="the officer's ID (see `officers list`)")
    link.add_argument("--qr", metavar="FILE.png", help="also write the link as a printable QR code (PNG)")
    link.add_argument(
        "--whatsapp", action="store_true", help="the wa.me link to the WhatsApp number (WHATSAPP_DISPLAY_NUMBER)"
    )
    broadcast_cli.add_parser(commands)
    export_cli.add_parser(commands)
    access_cli.add_parsers(commands)
    understand = commands.add_parser(
        "understand", help="show how the bot reads a message at a step (on a throwaway database, not the real one)"
    )
    understand.add_argument("text", metavar="TEXT", help="the message, as a worker would type it")
    understand.add_argument(
        "--state", default="menu", metavar="STEP", help="the step it is typed at, e.g. menu or consent (default: menu)"
    )
    understanding = commands.add_parser("understanding", help="what the bot did not understand in real chats")
    understanding_commands = understanding.add_subparsers(dest="understanding_command", required=True)
    missed = understanding_commands.add_parser(
        "misses", help="print the messages the bot missed as a table, most frequent first (numbers masked)"
    )
    missed.add_argument("--since", metavar="YYYY-MM-DD", help="only messages from this local date on")
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


def _officer_id(value: str) -> int:
    if not value.isdigit():
        raise CommandError(f"officer ID {value!r} is not a number (see `bpu-bot officers list`)")
    return int(value)


def _followup_filters(settings: Settings, due_before: str | None, status: str | None):
    when = None
    if due_before:
        try:
            when = datetime.fromisoformat(due_before)
        except ValueError:
            raise CommandError(
                f"--due-before {due_before!r} is not a date such as 2026-12-01 or 2026-12-01T12:00"
            ) from None
        when = when.replace(tzinfo=settings.tz) if when.tzinfo is None else when
    statuses = tuple(s.strip() for s in status.split(",")) if status else ()
    if unknown := [s for s in statuses if s not in FollowUpStatus.__members__.values()]:
        raise CommandError(f"--status {unknown[0]!r} is not one of {', '.join(FollowUpStatus)}")
    return when, statuses


async def _list_followups(settings: Settings, due_before: str | None, status: str | None, officer: str | None) -> None:
    from bot.phone import mask_phone
    from bot.services.followups import UNASSIGNED, list_followups

    when, statuses = _followup_filters(settings, due_before, status)
    officer_id = None if officer is None else UNASSIGNED if officer.lower() == "none" else _officer_id(officer)
    async with database(settings) as sessions, sessions() as session:
        lines = await list_followups(session, when, statuses, officer_id)
    header = ("ID", "KIND", "STATUS", "DUE", "TRIES", "OUTCOME", "OFFICER", "NAME", "PHONE", "REGION", "CHANNEL")
    rows = [
        (
            str(line.followup.id),
            line.followup.kind,
            line.followup.status,
            line.followup.due_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M"),
            str(line.followup.attempts),
            line.followup.outcome or "",
            str(line.followup.officer_id or ""),
            line.lead.name if line.lead else "",
            mask_phone(line.lead.phone) if line.lead else "",
            line.lead.region if line.lead else (line.followup.region or ""),
            line.channel,
        )
        for line in lines
    ]
    print_table(header, rows)
    print(f"{len(rows)} follow-ups ({settings.timezone})", file=sys.stderr)


def _regions(settings: Settings, names: list[str]) -> list[str]:
    """The regions as the bot spells them (any letter case accepted), or a one-line error."""
    from bot.content import load_content, match_region

    known = load_content().with_regions(settings.regions).regions
    regions = []
    for name in names:
        region = match_region(name, known)
        if region is None:
            raise CommandError(f"--region {name!r} is not one of: {', '.join(known)}")
        regions.append(region)
    return regions


async def _officers(settings: Settings, args: argparse.Namespace) -> None:
    from bot.models import Contact, utcnow
    from bot.services import officers
    from bot.services.audit import record_event

    try:
        async with database(settings) as sessions, sessions.begin() as session:
            if args.officers_command == "add":
                if not (args.telegram_id.isascii() and args.telegram_id.isdigit()):
                    raise CommandError(f"--telegram-id {args.telegram_id!r} is not a Telegram user id (digits only)")
                regions = _regions(settings, args.region)
                contact = await officers.ensure_contact(session, "telegram", args.telegram_id, settings.default_locale)
                officer, taken = await officers.add_officer(session, contact, args.name, regions, utcnow())
                await record_event(
                    session,
                    command_line_actor(),
                    "officer",
                    utcnow(),
                    subject=f"telegram:{args.telegram_id}",
                    change="add",
                    officer=officer.id,
                    regions=regions,
                )
                print(f"officer {officer.id} added: {officer.name}, {', '.join(regions)}, code {officer.code}")
                print(f"{taken} waiting leads of those regions assigned to them", file=sys.stderr)
            elif args.officers_command == "list":
                lines = await officers.list_officers(session)
                header = ("ID", "NAME", "TELEGRAM", "REGIONS", "CODE", "LEADS", "OPEN TASKS")
                print_table(
                    header,
                    [
                        (
                            str(line.officer.id),
                            line.officer.name,
                            line.contact.external_id,
                            ", ".join(line.regions),
                            line.officer.code,
                            str(line.leads),
                            str(line.open_tasks),
                        )
                        for line in lines
                    ],
                )
                print(f"{len(lines)} officers", file=sys.stderr)
            elif args.officers_command == "remove":
                officer = await officers.get_officer(session, _officer_id(args.id))
                moved = await officers.remove_officer(session, officer, utcnow())
                contact = await session.get_one(Contact, officer.contact_id)
                who = f"{contact.channel}:{contact.external_id}"
                await record_event(
                    session, command_line_actor(), "officer", utcnow(), subject=who, change="remove", officer=officer.id
                )
                print(f"officer {officer.id} removed: {officer.name}; {moved} leads reassigned")
            else:
                officer = await officers.get_officer(session, _officer_id(args.id))
                if args.whatsapp:
                    link = _whatsapp_link(settings, officer.code)
                else:
                    link = await _personal_link(settings, officer.code)
                if args.qr:
                    _write_qr(link, args.qr)
                print(link)
    except officers.OfficerError as error:
        raise CommandError(str(error)) from None


async def _personal_link(settings: Settings, code: str) -> str:
    """t.me/<bot>?start=<code>: the bot's username is asked from Telegram with the configured token."""
    from telegram import Bot
    from telegram.error import TelegramError

    if settings.telegram_token is None:  # (not settings.telegram_enabled)
        raise CommandError("TELEGRAM_BOT_TOKEN is not set: the link needs the bot's username from Telegram")
    try:
        async with Bot(settings.telegram_token, base_url=settings.telegram_base_url) as bot:
            return f"https://t.me/{bot.username}?start={code}"
    except TelegramError as error:
        raise CommandError(f"could not ask Telegram for the bot's username: {error.message}") from None


def _whatsapp_link(settings: Settings, code: str) -> str:
    """wa.me/<number>?text=…: the message it types carries the code, which credits the worker to the officer."""
    from bot.channels.whatsapp import personal_link
    from bot.content import load_content
    from bot.i18n import Messages, load_catalogs

    if settings.whatsapp_display_number is None:
        raise CommandError("WHATSAPP_DISPLAY_NUMBER is not set: the link needs the business number (6281100000000)")
    t = Messages(load_content(), load_catalogs())[settings.default_locale]
    return personal_link(settings.whatsapp_display_number, t("whatsapp.link_text", code=code))


def _write_qr(link: str, path: str) -> None:
    from bot.qr import qr_png

    try:
        with open(path, "wb") as file:
            file.write(qr_png(link))
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror}") from None


def _understand(settings: Settings, step: str, text: str) -> None:
    """`text` typed at `step` by a made-up person, in a database of its own that is deleted afterwards: the
    real one is never opened."""
    from bot.app import create_app
    from bot.conversation.rehearsal import STEPS, Rehearsal

    if step not in STEPS:
        raise CommandError(f"--state {step!r} is not one of: {', '.join(STEPS)}")

    async def tell(url: str):
        app = create_app(dataclasses.replace(settings, database_url=url))
        try:
            return await Rehearsal(app.dispatcher).tell(step, text)
        finally:
            await app.close()

    with tempfile.TemporaryDirectory(prefix="bpu-bot-understand-") as folder:
        url = f"sqlite+aiosqlite:///{folder}/understand.sqlite3"
        upgrade_database(url)
        tried = asyncio.run(tell(url))
    reading = tried.turn.reading
    print(f"step: {step}")
    print(f"text: {text}")
    if reading is None:
        print("read: not by the understanding (the step takes the text as typed)")
    else:
        print(f"words: {' '.join(reading.words)}")
        print(f"understood: {reading.best or 'nothing'}")
        print(f"runner-up: {reading.runner_up or 'nothing'}")
        if reading.also:
            print(f"also asked: {', '.join(reading.also)}")
        print(f"sure: {'yes' if reading.sure else 'no'}")
    print("the bot answers:")
    for reply in tried.replies:
        for line in reply.text.splitlines():
            print(f"  {line}".rstrip())
        columns = max(reply.columns, 1)
        labels = [f"[{choice.label}]" for choice in reply.choices]
        for start in range(0, len(labels), columns):
            print("  " + " ".join(labels[start : start + columns]))


async def _misses(settings: Settings, since: str | None) -> None:
    from bot.services.misses import grouped_misses

    start = None
    if since:
        try:
            start = datetime.combine(date.fromisoformat(since), time(), settings.tz)
        except ValueError:
            raise CommandError(f"--since {since!r} is not a date such as 2026-12-01") from None
    async with database(settings) as sessions, sessions() as session:
        groups = await grouped_misses(session, start)
    if not groups:
        print("no messages were missed" + (f" since {since}" if since else ""))
        return
    header = ("COUNT", "LAST SEEN", "STATE", "TEXT")
    rows = [
        (str(group.count), group.last_seen.astimezone(settings.tz).strftime("%Y-%m-%d"), group.state, group.text)
        for group in groups
    ]
    print_table(header, rows)
    print(f"{sum(group.count for group in groups)} missed messages, {len(groups)} different", file=sys.stderr)


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
        if args.command == "followups":
            configure_logging("WARNING", settings.secrets)
            asyncio.run(_list_followups(settings, args.due_before, args.status, args.officer))
        elif args.command == "officers":
            configure_logging("WARNING", settings.secrets)
            asyncio.run(_officers(settings, args))
        elif args.command == "broadcast":
            configure_logging("WARNING", settings.secrets)
            broadcast_cli.run(settings, args)
        elif args.command == "export":
            configure_logging("WARNING", settings.secrets)
            export_cli.run(settings, args)
        elif args.command in ("roles", "audit"):
            configure_logging("WARNING", settings.secrets)
            access_cli.run(settings, args)
        elif args.command == "understand":
            configure_logging("WARNING", settings.secrets)
            _understand(settings, args.state, args.text)
        elif args.command == "understanding":
            configure_logging("WARNING", settings.secrets)
            asyncio.run(_misses(settings, args.since))
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
