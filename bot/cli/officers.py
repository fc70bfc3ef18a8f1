"""`bpu-bot officers ...`: add, list and remove field officers, and print an officer's personal link or QR code."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.cli.common import CommandError, command_line_actor, database, officer_id, print_table
from bot.config import Settings


def add_parser(commands: Any) -> None:
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


def run(settings: Settings, args: argparse.Namespace) -> None:
    asyncio.run(_officers(settings, args))


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
                officer = await officers.get_officer(session, officer_id(args.id))
                moved = await officers.remove_officer(session, officer, utcnow())
                contact = await session.get_one(Contact, officer.contact_id)
                who = f"{contact.channel}:{contact.external_id}"
                await record_event(
                    session, command_line_actor(), "officer", utcnow(), subject=who, change="remove", officer=officer.id
                )
                print(f"officer {officer.id} removed: {officer.name}; {moved} leads reassigned")
            else:
                officer = await officers.get_officer(session, officer_id(args.id))
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
    from bot.channels.whatsapp.inbound import personal_link
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
