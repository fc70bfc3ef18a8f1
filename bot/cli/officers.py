"""`bpu-bot officers ...`: add (by Telegram id or phone), list, edit, remove and invite field officers, and print
an officer's personal link or QR code."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.common import (
    CommandError,
    add_yes_option,
    command_line_actor,
    confirm,
    database,
    officer_id,
    one_line_errors,
    print_table,
    typed_phone,
)
from bot.config import Settings
from bot.models import Role, utcnow
from bot.phone import mask_phone


def add_parser(commands: Any) -> None:
    officers = one_line_errors(commands.add_parser("officers", help="field officers: who covers which kabupaten/kota"))
    officers_commands = officers.add_subparsers(dest="officers_command", required=True)
    adding = one_line_errors(
        officers_commands.add_parser("add", help="make someone an officer of one or more regions, by id or phone")
    )
    adding.add_argument("--name", required=True, help="the officer's name, as workers will see it")
    who = adding.add_mutually_exclusive_group(required=True)
    who.add_argument("--telegram-id", metavar="ID", help="their numeric Telegram user id (they send /id to the bot)")
    who.add_argument(
        "--phone",
        metavar="NUMBER",
        help="their mobile number (08... or +62...): theirs once they write from it on WhatsApp, or share it on "
        "Telegram after /id",
    )
    add_region_option(adding, "--region", required=True, help="a kabupaten/kota they cover (repeatable)")
    one_line_errors(officers_commands.add_parser("list", help="print the active officers as a table"))
    editing = one_line_errors(
        officers_commands.add_parser("edit", help="rename an officer or change their regions; their code stays")
    )
    editing.add_argument("id", metavar="ID", help="the officer's ID (see `officers list`)")
    editing.add_argument("--name", help="their new name")
    add_region_option(editing, "--add-region", help="a kabupaten/kota they now cover too (repeatable)")
    add_region_option(editing, "--remove-region", help="one they no longer cover; its work moves on (repeatable)")
    add_yes_option(editing)
    removing = one_line_errors(
        officers_commands.add_parser("remove", help="end an officer's role; their leads go to colleagues")
    )
    removing.add_argument("id", metavar="ID", help="the officer's ID (see `officers list`)")
    add_yes_option(removing)
    inviting = one_line_errors(
        officers_commands.add_parser(
            "invite", help="a one-time link (Telegram, WhatsApp) that makes its user an officer"
        )
    )
    inviting.add_argument("--name", required=True, help="the officer's name, as workers will see it")
    add_region_option(inviting, "--region", required=True, help="a kabupaten/kota they cover (repeatable)")
    link = officers_commands.add_parser("link", help="print an officer's personal link, optionally as a QR code")
    link.add_argument("id", metavar="ID", help="the officer's ID (see `officers list`)")
    link.add_argument("--qr", metavar="FILE.png", help="also write the link as a printable QR code (PNG)")
    link.add_argument(
        "--whatsapp", action="store_true", help="the wa.me link to the WhatsApp number (WHATSAPP_DISPLAY_NUMBER)"
    )


def add_region_option(parser: argparse.ArgumentParser, flag: str, required: bool = False, help: str = "") -> None:
    parser.add_argument(flag, required=required, action="append", default=[], metavar="NAME", help=help)


def run(settings: Settings, args: argparse.Namespace) -> None:
    asyncio.run(_officers(settings, args))


def _regions(settings: Settings, names: list[str], flag: str = "--region") -> list[str]:
    """The regions as the bot spells them (any letter case accepted), or a one-line error."""
    from bot.content import load_content, match_region

    known = load_content().with_regions(settings.regions).regions
    regions = []
    for name in names:
        region = match_region(name, known)
        if region is None:
            raise CommandError(f"{flag} {name!r} is not one of: {', '.join(known)}")
        regions.append(region)
    return regions


async def _officers(settings: Settings, args: argparse.Namespace) -> None:
    from bot.services import officers

    try:
        async with database(settings) as sessions:
            if args.officers_command == "add":
                await _add(settings, sessions, args)
            elif args.officers_command == "list":
                async with sessions() as session:
                    await _list(session)
            elif args.officers_command == "edit":
                await _edit(settings, sessions, args)
            elif args.officers_command == "remove":
                await _remove(sessions, officer_id(args.id), args.yes)
            elif args.officers_command == "invite":
                await _invite(settings, sessions, args)
            else:
                async with sessions() as session:
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


async def _add(settings: Settings, sessions: async_sessionmaker[AsyncSession], args: argparse.Namespace) -> None:
    from bot.services import officers
    from bot.services.audit import record_event
    from bot.services.roles import grant_to_phone, known_by_phone

    regions = _regions(settings, args.region)
    phone = typed_phone(args.phone) if args.phone is not None else None
    if args.telegram_id is not None and not (args.telegram_id.isascii() and args.telegram_id.isdigit()):
        raise CommandError(f"--telegram-id {args.telegram_id!r} is not a Telegram user id (digits only)")
    async with sessions.begin() as session:
        known = await known_by_phone(session, phone) if phone is not None else None
        if phone is not None and known is None:
            invite = await grant_to_phone(
                session, phone, Role.OFFICER, command_line_actor(), utcnow(), name=args.name, regions=regions
            )
            print(f"officer role for {invite.name} ({', '.join(regions)}) waits for {mask_phone(phone)}")
            print(waiting_for(settings, invite.expires_at), file=sys.stderr)
            return
        contact = known or await officers.ensure_contact(session, "telegram", args.telegram_id, settings.default_locale)
        officer, taken = await officers.add_officer(session, contact, args.name, regions, utcnow())
        subject = f"{contact.channel}:{contact.external_id}"
        await record_event(
            session,
            command_line_actor(),
            "officer",
            utcnow(),
            subject=subject,
            change="add",
            officer=officer.id,
            regions=regions,
        )
    print(f"officer {officer.id} added: {officer.name}, {', '.join(regions)}, code {officer.code}")
    print(f"{taken} waiting leads of those regions assigned to them", file=sys.stderr)


async def _list(session: AsyncSession) -> None:
    from bot.services import officers

    lines = await officers.list_officers(session)
    header = ("ID", "NAME", "ACCOUNT", "REGIONS", "CODE", "LEADS", "OPEN TASKS")
    print_table(
        header,
        [
            (
                str(line.officer.id),
                line.officer.name,
                f"{line.contact.channel}:{line.contact.external_id}",
                ", ".join(line.regions),
                line.officer.code,
                str(line.leads),
                str(line.open_tasks),
            )
            for line in lines
        ],
    )
    print(f"{len(lines)} officers", file=sys.stderr)


async def _edit(settings: Settings, sessions: async_sessionmaker[AsyncSession], args: argparse.Namespace) -> None:
    from bot.services import officers
    from bot.services.audit import record_event

    if args.name is None and not args.add_region and not args.remove_region:
        raise CommandError("nothing to change: give --name, --add-region or --remove-region")
    added = _regions(settings, args.add_region, "--add-region")
    removed = _regions(settings, args.remove_region, "--remove-region")
    if removed:  # work that moves on is asked about first, as when an officer is removed; mistakes come before
        async with sessions() as session:
            officer = await officers.get_officer(session, officer_id(args.id))
            who = f"officer {officer.id} ({officer.name})"
            work = await officers.handover(session, officer, removed)
            await officers.edit_officer(session, officer, args.name, added, removed)  # a trial: its one-line error
            await session.rollback()
        if any(line.leads or line.tasks for line in work):
            confirm(f"{who} stops covering {', '.join(removed)}", work, args.yes)
    async with sessions.begin() as session:
        officer = await officers.get_officer(session, officer_id(args.id))
        taken, moved = await officers.edit_officer(session, officer, args.name, added, removed)
        regions = await officers.officer_regions(session, officer.id)
        await record_event(
            session,
            command_line_actor(),
            "officer",
            utcnow(),
            subject=f"officer:{officer.id}",
            change="edit",
            officer=officer.id,
            name=officer.name,
            added=added,
            removed=removed,
        )
    print(f"officer {officer.id} edited: {officer.name}, {', '.join(regions)}, code {officer.code} (unchanged)")
    print(f"{taken} waiting leads taken in added regions; {moved} leads of removed ones handed over", file=sys.stderr)


async def _remove(sessions: async_sessionmaker[AsyncSession], officer_number: int, yes: bool) -> None:
    from bot.models import Contact
    from bot.services import officers
    from bot.services.audit import record_event

    async with sessions() as session:
        officer = await officers.get_officer(session, officer_number)
        work = await officers.handover(session, officer)
    confirm(f"officer {officer.id} ({officer.name}) stops being an officer", work, yes)
    async with sessions.begin() as session:
        officer = await officers.get_officer(session, officer_number)
        moved = await officers.remove_officer(session, officer, utcnow())
        contact = await session.get_one(Contact, officer.contact_id)
        who = f"{contact.channel}:{contact.external_id}"
        await record_event(
            session, command_line_actor(), "officer", utcnow(), subject=who, change="remove", officer=officer.id
        )
    print(f"officer {officer.id} removed: {officer.name}; {moved} leads reassigned")


async def _invite(settings: Settings, sessions: async_sessionmaker[AsyncSession], args: argparse.Namespace) -> None:
    from bot.services import officers
    from bot.services.audit import record_event

    regions = _regions(settings, args.region)
    async with sessions.begin() as session:
        actor = command_line_actor()
        payload = await officers.create_invite(session, actor.label[:32], utcnow(), name=args.name, regions=regions)
        await record_event(session, actor, "officer", utcnow(), change="invite", name=args.name, regions=regions)
        links = await invite_links(settings, payload)  # before the commit: no invite nobody can open
    for link in links:
        print(link)
    print(f"for {args.name} ({', '.join(regions)}): send it to them only; it works once", file=sys.stderr)
    until = utcnow() + officers.INVITE_LIFETIME
    print(f"valid until {until.astimezone(settings.tz):%Y-%m-%d %H:%M} ({settings.timezone})", file=sys.stderr)


async def invite_links(settings: Settings, payload: str) -> list[str]:
    """The invite's t.me link and wa.me link, for each platform configured (a one-line error for none)."""
    from bot.channels.whatsapp.inbound import personal_link
    from bot.content import load_content
    from bot.i18n import Messages, load_catalogs

    links = []
    if settings.telegram_token is not None:
        links.append(await _personal_link(settings, payload))
    if settings.whatsapp_display_number is not None:
        t = Messages(load_content(), load_catalogs())[settings.default_locale]
        links.append(personal_link(settings.whatsapp_display_number, t("whatsapp.invite_text", code=payload)))
    if not links:
        raise CommandError("an invite link needs TELEGRAM_BOT_TOKEN or WHATSAPP_DISPLAY_NUMBER")
    return links


def waiting_for(settings: Settings, expires_at: datetime) -> str:
    """How a grant by phone is taken, and until when."""
    until = f"{expires_at.astimezone(settings.tz):%Y-%m-%d %H:%M} ({settings.timezone})"
    return (
        f"they take it when they write from that number on WhatsApp, or send /id to the Telegram bot and share it;"
        f" until {until}, once"
    )


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
